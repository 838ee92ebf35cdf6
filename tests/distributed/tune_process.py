"""One process of the distributed-tuning test: the KerasTuner chief (the
oracle) or a worker, as KERASTUNER_TUNER_ID says.

    KERASTUNER_TUNER_ID=chief|tuner0|tuner1 KERASTUNER_ORACLE_IP=127.0.0.1 \\
    KERASTUNER_ORACLE_PORT=P python tune_process.py DIRECTORY

Every process runs the same search: a `TransferHyperModel` with a frozen
base (cached-feature trials), 4 trials of `RandomSearch`. Workers append
each trial they run to DIRECTORY/ran-<id>.txt; the chief writes
DIRECTORY/chief.json with the oracle's trials and the best model's score.
"""


def main():  # a script: nothing runs on import (pytest collects it)
    import json
    import os
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(
        0,
        os.path.dirname(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        ),
    )

    import keras  # noqa: E402
    import keras_tuner  # noqa: E402
    import numpy as np  # noqa: E402

    import tlkeras as tlk  # noqa: E402

    directory = sys.argv[1]
    me = os.environ["KERASTUNER_TUNER_ID"]
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (96, 8, 8, 3)).astype("float32")
    y = (x[:, :, :, 0].mean((1, 2)) > 0.5).astype("int64")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    base = keras.Model(inputs, h, name="cnn")
    hypermodel = tlk.tuning.TransferHyperModel(
        base, 2, input_shape=(8, 8, 3), search={"unfreeze": 0}, batch_size=16
    )

    class Logged(keras_tuner.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            with open(os.path.join(directory, f"ran-{me}.txt"), "a") as f:
                f.write(trial.trial_id + "\n")
            return super().run_trial(trial, *args, **kwargs)

    tuner = Logged(
        hypermodel,
        objective="val_accuracy",
        max_trials=4,
        seed=0,
        directory=directory,
        project_name="search",
    )
    tuner.search(x, y, validation_data=(x, y), epochs=2, verbose=0)
    if me == "chief":
        trials = tuner.oracle.trials
        best = tuner.oracle.get_best_trials(1)[0]
        model = tuner.get_best_models(1)[0]
        model.compile(metrics=["accuracy"])
        score = model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
        with open(os.path.join(directory, "chief.json"), "w") as f:
            json.dump(
                {
                    "trials": {t.trial_id: t.status for t in trials.values()},
                    "best": best.trial_id,
                    "best_score": best.score,
                    "reproduced": score,
                },
                f,
            )
    print("done", me, flush=True)


if __name__ == "__main__":
    main()
