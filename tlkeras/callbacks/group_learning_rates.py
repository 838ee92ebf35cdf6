"""`GroupLearningRates`: each group's learning rate in the logs."""

import keras

from tlkeras.training import group_learning_rates


class GroupLearningRates(keras.callbacks.Callback):
    """Adds `lr/<group>` to the epoch logs for per-group optimizers.

    The rates land in `History`, CSV and TensorBoard logs as `lr/head`,
    `lr/conv5`... `tlkeras.TransferModel.fit` adds this callback by itself
    when the optimizer is a `tlkeras.training.GroupOptimizer`.

    Example:

    >>> callback = GroupLearningRates()
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for group, rate in group_learning_rates(self.model.optimizer).items():
            logs[f"lr/{group}"] = rate
