"""One training process for the multi-worker tests.

    python train_worker.py OUT [--ports P0,P1 --index I] [--stop-after E]

With `--ports`, it joins a `MultiWorkerMirroredStrategy` cluster on
127.0.0.1 as worker `--index`; without, it trains alone: the reference.
The dataset's batches of 32 are global batches (the strategy gives each
of two workers 16 of them), so both see the same 32 examples per step.
Both train a
small `TransferModel` (BN frozen) with discriminative rates for 3 epochs,
unfreezing the top base group after the first, with `BackupAndRestore`,
and write the final weights to OUT/weights-<index|single>.npz.
`--stop-after E` kills the process (SIGKILL) at the end of epoch E.
"""


def main():  # a script: nothing runs on import (pytest collects it)
    import argparse
    import json
    import os
    import signal
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--ports")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--stop-after", type=int)
    args = parser.parse_args()
    if args.ports:
        os.environ["TF_CONFIG"] = json.dumps(
            {
                "cluster": {
                    "worker": [f"127.0.0.1:{p}" for p in args.ports.split(",")]
                },
                "task": {"type": "worker", "index": args.index},
            }
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(
        0,
        os.path.dirname(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        ),
    )

    import keras  # noqa: E402
    import numpy as np  # noqa: E402
    import tensorflow as tf  # noqa: E402

    import tlkeras as tlk  # noqa: E402

    strategy = (
        tf.distribute.MultiWorkerMirroredStrategy()
        if args.ports
        else tf.distribute.get_strategy()
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (128, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 128)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if args.stop_after is not None and epoch + 1 == args.stop_after:
                os.kill(os.getpid(), signal.SIGKILL)

    with strategy.scope():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((8, 8, 1))
        h = inputs
        for i, filters in enumerate((4, 8)):
            h = keras.layers.Conv2D(
                filters, 3, padding="same", name=f"conv{i}"
            )(h)
            h = keras.layers.BatchNormalization(name=f"bn{i}")(h)
            h = keras.layers.ReLU(name=f"relu{i}")(h)
        base = keras.Model(inputs, h, name="cnn")
        model = tlk.build_classifier(base, 3, bn="frozen")
        model.compile(
            optimizer=tlk.training.discriminative(model, "sgd", lr=(1e-2, 1e-1))
        )
    name = "single" if not args.ports else str(args.index)
    model.fit(
        data,
        epochs=3,
        verbose=0,
        callbacks=[
            tlk.callbacks.ProgressiveUnfreezing({1: tlk.freezing.TrainTop(1)}),
            tlk.callbacks.BackupAndRestore(os.path.join(args.out, "backup")),
            Stop(),
        ],
    )
    np.savez(
        os.path.join(args.out, f"weights-{name}.npz"),
        *[np.asarray(v) for v in model.get_weights()],
    )
    print("finished", name, flush=True)


if __name__ == "__main__":
    main()
