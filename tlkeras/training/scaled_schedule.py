"""A learning-rate schedule times a constant factor."""

import keras


@keras.saving.register_keras_serializable(package="tlkeras")
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule(step) * factor`: one group's share of a shared schedule.

    Args:
        schedule: a `keras.optimizers.schedules.LearningRateSchedule`.
        factor: float, the group's multiplier.

    Example:

    >>> base = keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.5)
    >>> round(float(ScaledSchedule(base, 0.1)(0)), 6)
    0.0001
    """

    def __init__(self, schedule, factor: float):
        self.schedule = schedule
        self.factor = float(factor)

    def __call__(self, step):
        return self.schedule(step) * self.factor

    def get_config(self):
        return {
            "schedule": keras.optimizers.schedules.serialize(self.schedule),
            "factor": self.factor,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.optimizers.schedules.deserialize(
            config["schedule"]
        )
        return cls(**config)
