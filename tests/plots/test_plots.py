"""Plots are written as PNGs, and mark what the History says."""

from pathlib import Path

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tlkeras.freezing import TrainTop
from tlkeras.plots import history_plot as history_module

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=8000):
    data = Path(path).read_bytes()
    assert data[:8] == PNG and len(data) > min_bytes


@pytest.fixture(scope="module")
def unfreezing_history():
    x, y = image_data(n=16, size=16)
    model = tlk.build_classifier(tiny_cnn(), 3)
    model.compile(
        optimizer=tlk.training.discriminative(model, "adam", lr=(1e-4, 1e-2))
    )
    schedule = {0: "base", 2: TrainTop(1), 3: "none"}
    return model.fit(
        x,
        y,
        validation_data=(x, y),
        batch_size=8,
        epochs=5,
        verbose=0,
        callbacks=[tlk.callbacks.ProgressiveUnfreezing(schedule, verbose=0)],
    )


def test_history_marks_unfreezing_where_the_history_says(
    unfreezing_history, tmp_path, monkeypatch
):
    assert unfreezing_history.history["trainable_groups"] == [0, 0, 1, 3, 3]
    assert tlk.plots.transitions(unfreezing_history) == [(2, 1), (3, 3)]
    figures = []
    original = history_module.save_figure

    def capture(figure, path):
        figures.append(figure)
        return original(figure, path)

    monkeypatch.setattr(history_module, "save_figure", capture)
    path = tlk.plots.history(unfreezing_history, tmp_path / "h.png")
    assert_png(path)
    axes = figures[0].axes
    model = unfreezing_history.model.name
    assert figures[0].get_suptitle() == (
        f"learning curves of {model}, 5 epochs"
    )
    # loss, accuracy and the learning-rate panel (log scale).
    assert [a.get_ylabel() for a in axes] == [
        "loss",
        "accuracy",
        "learning rate",
    ]
    assert axes[-1].get_yscale() == "log"
    marked = sorted(
        {
            line.get_xdata()[0]
            for line in axes[0].lines
            if line.get_linestyle() == "-."
        }
    )
    assert marked == [2.5, 3.5]  # epochs 3 and 4 (1-based) start there
    assert {t.get_text() for t in axes[0].texts} == {
        "1 base group",
        "3 base groups",
    }


def test_history_marks_stages_of_a_recipe(tmp_path, monkeypatch):
    x, y = image_data(n=16, size=16)
    model = tlk.build_classifier(tiny_cnn(), 3)
    recipe = tlk.recipes.fine_tune(
        model, (x, y), head_epochs=2, fine_tune_epochs=2, verbose=0
    )
    assert recipe.stage_starts == [0, 2]
    figures = []
    original = history_module.save_figure
    monkeypatch.setattr(
        history_module,
        "save_figure",
        lambda f, p: figures.append(f) or original(f, p),
    )
    tlk.plots.history([recipe, {"loss": [0.5]}], tmp_path / "s.png")
    stages = sorted(
        {
            line.get_xdata()[0]
            for line in figures[0].axes[0].lines
            if line.get_linestyle() == ":"
        }
    )
    assert stages == [2.5, 4.5]  # the fine-tuning stage, then the list's 2nd


def test_history_errors():
    with pytest.raises(ValueError, match="empty"):
        tlk.plots.history({}, "never.png")
    with pytest.raises(ValueError, match=r"No metric \['auc'\]"):
        tlk.plots.history({"loss": [1.0]}, "never.png", metrics=["auc"])


def test_confusion_matrix_plot(tmp_path):
    keras.utils.set_random_seed(0)
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    model = tlk.build_classifier(base, 3, class_names=["ant", "bee", "wasp"])
    x = np.random.default_rng(0).normal(size=(30, 4)).astype("float32")
    report = tlk.evaluation.report(model, x, np.arange(30) % 3)
    assert_png(tlk.plots.confusion_matrix(report, tmp_path / "c.png"))
    assert_png(
        tlk.plots.confusion_matrix(report, tmp_path / "n.png", normalize="true")
    )
    with pytest.raises(ValueError, match="normalize='rows'"):
        tlk.plots.confusion_matrix(report, tmp_path / "x.png", normalize="rows")
    report.confusion = None
    with pytest.raises(ValueError, match="no confusion matrix"):
        tlk.plots.confusion_matrix(report, tmp_path / "x.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "n.png"]


def test_normalized_equals_sklearn():
    from sklearn.metrics import confusion_matrix

    from tlkeras.plots.confusion_plot import normalized

    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    counts = confusion_matrix(y, p).astype(float)
    for how in ("true", "pred", "all"):
        np.testing.assert_allclose(
            normalized(counts, how), confusion_matrix(y, p, normalize=how)
        )


def test_compare_plot(tmp_path):
    rows = [
        {"strategy": s, "accuracy": a, "macro_f1": a - 0.01, "seconds": t}
        for s, a, t in [
            ("linear_probe", 0.90, 3.0),
            ("linear_probe", 0.92, 3.2),
            ("fine_tune", 0.93, 40.0),
            ("fine_tune", 0.95, 41.0),
        ]
    ]
    assert_png(tlk.plots.compare(rows, tmp_path / "compare.png"))
    with pytest.raises(ValueError, match="no rows"):
        tlk.plots.compare([], tmp_path / "empty.png")
