"""Run by test_resume.py in separate processes: train with BackupAndRestore,
ProgressiveUnfreezing and discriminative rates, optionally SIGKILL the
process in the middle of an epoch, and write the final weights.

    python tests/training/kill_and_resume.py {full,kill,resume} SEED BACKUP OUT
"""

import os
import signal
import sys

import keras
import numpy as np

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn

SCHEDULE = {0: "base", 1: tlk.freezing.TrainTop(1), 2: "none"}
KILL_AT = (2, 2)  # epoch, batch: after both transitions, mid-epoch


class Kill(keras.callbacks.Callback):
    """What an out-of-memory killer or a preempted machine does: SIGKILL,
    no Python clean-up, no exception, in the middle of an epoch."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == KILL_AT:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def main(mode, seed, backup, out):
    x, y = image_data(n=32, size=16)
    keras.utils.set_random_seed(int(seed))
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="base", bn="train")
    model.compile(
        optimizer=tlk.training.discriminative(model, "adam", lr=(1e-3, 1e-2))
    )
    callbacks = [
        keras.callbacks.BackupAndRestore(backup),
        tlk.callbacks.ProgressiveUnfreezing(SCHEDULE, verbose=0),
    ]
    if mode == "kill":
        callbacks.append(Kill())
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    print("epochs", history.epoch)
    np.savez(out, *[np.asarray(v) for v in model.weights])


if __name__ == "__main__":
    main(*sys.argv[1:])
