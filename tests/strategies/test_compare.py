"""`tlk.compare`: same budget and seeds; each row is the strategy alone."""

import json
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk
from tests.helpers import image_data
from tests.helpers import tiny_cnn

X, Y = image_data(n=32, size=16, num_classes=3)
XT, YT = image_data(n=24, size=16, num_classes=3, seed=5)
STRATEGIES = ["linear_probe", "fine_tune", "lp_ft"]


@pytest.fixture(scope="module")
def base():
    keras.utils.set_random_seed(11)
    return tiny_cnn()


@pytest.fixture(scope="module")
def comparison(base, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    table = run_compare(
        STRATEGIES, base, seeds=(0, 1), out=str(out), title="tiny"
    )
    return table, out


def run_compare(names, base, **kwargs):
    """`tlk.compare` on the tiny data: 4 epochs at 1e-2, batches of 8."""
    return tlk.compare(
        names,
        (X, Y),
        (XT, YT),
        base=base,
        epochs=4,
        lr=1e-2,
        batch_size=8,
        log=lambda line: None,
        **kwargs,
    )


def alone(base, name, seed):
    """The strategy run by hand, as a user would, with the same seed."""
    strategy = tlk.strategies.STRATEGIES[name]
    keras.utils.set_random_seed(seed)
    copy = keras.models.clone_model(base)
    copy.set_weights(base.get_weights())
    model = tlk.build_classifier(
        copy,
        3,
        head=strategy.head,
        freeze=strategy.freeze,
        bn=strategy.bn,
        regularization=strategy.regularization and strategy.regularization(),
    )
    strategy.train(
        model, (X, Y), (XT, YT), epochs=4, lr=1e-2, batch_size=8, verbose=0
    )
    return tlk.evaluation.report(model, XT, YT), model


def test_rows_match_each_strategy_run_alone(base, comparison):
    table, _ = comparison
    assert [(r.strategy, r.seed) for r in table.rows] == [
        (s, seed) for seed in (0, 1) for s in STRATEGIES
    ]
    for row in table.rows[:3]:
        report, _ = alone(base, row.strategy, row.seed)
        assert row.accuracy == pytest.approx(report.metrics["accuracy"])
        assert row.macro_f1 == pytest.approx(report.metrics["macro_f1"])
    # The budget is the same: every run has 4 epochs of history.
    assert all(len(r.history["loss"]) == 4 for r in table.rows)
    # A linear probe trains the head only; fine-tuning the whole network.
    params = {r.strategy: r.trainable_params for r in table.rows}
    assert params["linear_probe"] < params["fine_tune"] == params["lp_ft"]


def test_outputs_are_written(comparison):
    table, out = comparison
    written = json.loads((out / "results.json").read_text())
    assert written["title"] == "tiny"
    assert [s["strategy"] for s in written["summary"]] == STRATEGIES
    assert all(s["seeds"] == 2 for s in written["summary"])
    mean = np.mean([r.accuracy for r in table.rows if r.strategy == "lp_ft"])
    assert written["summary"][2]["accuracy"] == pytest.approx(mean)
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    text = (out / "table.txt").read_text()
    assert "range" in text and "linear_probe" in text and "macro F1" in text


def test_bad_arguments(base):
    with pytest.raises(ValueError, match="Unknown strategy 'lp-ft'"):
        tlk.compare(["lp-ft"], (X, Y), (XT, YT), base=base)
    with pytest.raises(ValueError, match="cannot be trained from scratch"):
        tlk.compare(
            ["scratch"],
            (X, Y),
            (XT, YT),
            base="hub:/nowhere",
            epochs=1,
            log=lambda line: None,
        )


def test_no_strategy_selects_on_the_test_data(base, monkeypatch):
    # compare's test data draws each run's validation curves; a recipe
    # that stops early or keeps its best epoch must not see it.
    seen = []

    def fine_tune(model, train, validation_data=None, **kwargs):
        seen.append(validation_data)
        return original(model, train, validation_data, **kwargs)

    original = tlk.recipes.fine_tune
    monkeypatch.setattr(tlk.recipes, "fine_tune", fine_tune)
    tlk.compare(
        ["default"],
        (X, Y),
        (XT, YT),
        base=base,
        epochs=2,
        batch_size=8,
        log=lambda line: None,
    )
    assert seen == [None]


def test_augmenting_data_is_cached_as_augmented_passes(base, monkeypatch):
    # Before, linear_probe refused data that augments (fit_cached would
    # freeze one draw); now it caches AUGMENTED_COPIES passes of it, and
    # the strategies that train the base augment live.
    module = sys.modules["tlkeras.strategies.compare"]
    copies = []

    def fit_cached(model, *args, augment_copies=None, **kwargs):
        copies.append(augment_copies)
        return original(model, *args, augment_copies=augment_copies, **kwargs)

    original = module.fit_cached
    monkeypatch.setattr(module, "fit_cached", fit_cached)
    flip = keras.layers.RandomFlip()
    augmented = (
        tf.data.Dataset.from_tensor_slices((X, Y))
        .batch(8)
        .map(lambda x, y: (flip(x), y))
    )
    table = tlk.compare(
        ["linear_probe", "fine_tune"],
        augmented,
        (XT, YT),
        base=base,
        num_classes=3,
        epochs=1,
        log=lambda line: None,
    )
    assert [r.strategy for r in table.rows] == ["linear_probe", "fine_tune"]
    assert copies == [tlk.cached.AUGMENTED_COPIES]


MORE = ["fine_tune", "gradual_unfreezing", "lora", "l2_sp"]


@pytest.fixture(scope="module")
def more(base):
    return run_compare(MORE, base)


def test_gradual_unfreezing_adds_a_group_at_equal_intervals(base, more):
    row = next(r for r in more.rows if r.strategy == "gradual_unfreezing")
    report, model = alone(base, "gradual_unfreezing", 0)
    assert row.accuracy == pytest.approx(report.metrics["accuracy"])
    # tiny_cnn has 3 base groups: 4 epochs, one more group each epoch.
    assert len(tlk.layer_groups(model)) == 4
    assert row.history["trainable_groups"] == [0, 1, 2, 3]
    # ULMFiT's rates: each group 2.6 times slower than the one above.
    rates = [float(o.learning_rate) for o in model.optimizer.optimizers]
    assert rates == pytest.approx([1e-2 / 2.6**k for k in (3, 2, 1, 0)])


def test_lora_trains_adapters_and_head_only(base, more):
    row = next(r for r in more.rows if r.strategy == "lora")
    report, model = alone(base, "lora", 0)
    assert row.accuracy == pytest.approx(report.metrics["accuracy"])
    assert tlk.freezing.has_lora(model)
    adapters = tlk.freezing.lora_variables(model.base)
    head = model.head.trainable_variables
    assert row.trainable_params == sum(
        int(np.prod(v.shape)) for v in adapters + head
    )
    kernel = model.base.get_layer("conv_a")._kernel
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(kernel),
        base.get_layer("conv_a").get_weights()[0],
    )


def test_l2_sp_adds_its_penalty_to_fine_tune(base, more):
    rows = {r.strategy: r for r in more.rows}
    report, model = alone(base, "l2_sp", 0)
    assert isinstance(model.regularization, tlk.regularizers.L2SP)
    assert rows["l2_sp"].accuracy == pytest.approx(report.metrics["accuracy"])
    # The same run as fine_tune but for the penalty in its loss.
    assert rows["l2_sp"].trainable_params == rows["fine_tune"].trainable_params
    assert (
        rows["l2_sp"].history["loss"][0] > rows["fine_tune"].history["loss"][0]
    )
