"""`BackupAndRestore` that several workers can share."""

import os
import shutil

import keras

from tlkeras._utils import keras_internals


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's `BackupAndRestore`, safe under `MultiWorkerMirroredStrategy`.

    Keras 3's callback has every worker write the same files in
    `backup_dir`, so two workers collide (h5py cannot lock the file) or
    overwrite each other. Here, as Keras 2 did, the chief (worker 0) writes
    to `backup_dir` and every other worker to a temporary folder beside it
    (`<backup_dir>_workertemp_<i>`), removed when training ends; on a
    restart every worker restores from the chief's backup, so all resume
    from the same step. On one machine it is
    Keras's callback unchanged. Arguments as Keras's.

    Example:

    >>> import tempfile
    >>> backup = BackupAndRestore(tempfile.mkdtemp())
    """

    def on_train_begin(self, logs=None):
        # Restores from the chief's files (the paths set in __init__).
        super().on_train_begin(logs)
        strategy = self.model.distribute_strategy
        worker = keras_internals.worker_index(strategy)
        if worker:
            self._chief_backup_dir = self.backup_dir
            # Beside the chief's folder, not in it: the chief removes its
            # folder at the end of training, maybe while this worker still
            # writes or removes its own.
            folder = f"{os.path.normpath(self.backup_dir)}_workertemp_{worker}"
            os.makedirs(folder, exist_ok=True)
            keras_internals.set_backup_dir(self, folder)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        chief = getattr(self, "_chief_backup_dir", None)
        if chief is not None:
            shutil.rmtree(self.backup_dir, ignore_errors=True)
            keras_internals.set_backup_dir(self, chief)
            self._chief_backup_dir = None
