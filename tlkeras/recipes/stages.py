"""What the recipes' stages share: compiling for a stage, one History
for all stages."""

import keras

from tlkeras.tasks import task_of


def compile_for(model, optimizer, loss="auto", metrics="auto") -> None:
    """Compile `model` with `optimizer`; `"auto"` loss and metrics follow
    a tlkeras model's task (other models must pass them)."""
    if task_of(model) is not None:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        return
    if loss == "auto":
        raise ValueError(
            "Pass `loss` (and `metrics`) for models not built by tlkeras."
        )
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=None if metrics == "auto" else metrics,
    )


def merge_histories(histories) -> keras.callbacks.History:
    """One History for all stages; `stage_starts` lists the index of each
    stage's first epoch (`tlkeras.plots.history` marks them)."""
    merged = keras.callbacks.History()
    merged.history = {}
    merged.epoch = []
    merged.stage_starts = []
    for history in histories:
        merged.stage_starts.append(len(merged.epoch))
        merged.epoch += history.epoch
        for key, values in history.history.items():
            merged.history.setdefault(key, []).extend(values)
    if histories:
        merged.set_model(histories[-1].model)
    return merged
