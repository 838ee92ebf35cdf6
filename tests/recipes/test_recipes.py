import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import assert_all_changed
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values
from tlkeras.recipes.lr_find import suggest

X, Y = image_data(n=32, size=16)


def base_variables(model):
    return [
        v
        for g in tlk.layer_groups(model)[:-1]
        for v in g.variables
        if "moving" not in v.path
    ]


def test_fine_tune_trains_head_then_base():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    start = values(base_variables(model))
    after_head = {}

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            after_head.setdefault(epoch, values(base_variables(self.model)))

    history = tlk.recipes.fine_tune(
        model,
        (X, Y),
        validation_data=(X, Y),
        head_epochs=2,
        fine_tune_epochs=2,
        callbacks=[Record()],
        batch_size=8,
        verbose=0,
        lr_spread=10,
        target="near",
        keep_best=False,  # the last epoch's weights, to compare below
    )
    assert history.epoch == [0, 1, 2, 3]
    assert len(history.history["val_accuracy"]) == 4
    assert_all_equal(start, after_head[1])  # stage 1: base frozen
    kernels = [v for v in base_variables(model) if "kernel" in v.path]
    assert_all_changed(
        [
            a
            for a, v in zip(after_head[1], base_variables(model))
            if "kernel" in v.path
        ],
        values(kernels),
    )
    assert isinstance(model.optimizer, tlk.training.GroupOptimizer)
    rates = model.optimizer.group_learning_rates()
    # A near target fine-tunes at lr / 100; lr_spread=10 down to the first
    # group.
    assert rates["head"] == pytest.approx(1e-5, rel=1e-5)
    assert rates["conv_a"] == pytest.approx(1e-6, rel=1e-5)


def test_lp_ft_needs_a_linear_head():
    model = tlk.build_classifier(tiny_cnn(), 3, head=tlk.heads.MLP((8,)))
    with pytest.raises(ValueError, match="LP-FT needs a linear head"):
        tlk.recipes.lp_ft(model, (X, Y))
    model = tlk.build_classifier(tiny_cnn(), 3)
    history = tlk.recipes.lp_ft(
        model, (X, Y), probe_epochs=1, fine_tune_epochs=1, verbose=0
    )
    assert history.epoch == [0, 1]
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)


def test_one_cycle_follows_fastai():
    schedule = tlk.recipes.OneCycle(1e-2, total_steps=100, pct_start=0.3)
    rates = np.array([float(schedule(s)) for s in range(101)])
    assert rates[0] == pytest.approx(1e-2 / 25)
    assert rates[30] == pytest.approx(1e-2)
    assert rates[100] == pytest.approx(1e-2 / 1e5, abs=1e-9)  # float32
    assert np.all(np.diff(rates[:31]) > 0) and np.all(np.diff(rates[30:]) < 0)
    config = schedule.get_config()
    assert tlk.recipes.OneCycle.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="pct_start=1.5"):
        tlk.recipes.OneCycle(1e-2, 100, pct_start=1.5)


def test_one_cycle_per_group_and_saved():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    schedule = tlk.recipes.OneCycle(1e-2, total_steps=8)
    model.compile(
        optimizer=tlk.training.discriminative(
            model, "adam", lr=schedule, decay=0.5
        )
    )
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    rates = model.optimizer.group_learning_rates()
    assert rates["conv_c"] == pytest.approx(float(schedule(4)) / 2, rel=1e-5)


def test_warmup_cosine():
    schedule = tlk.recipes.warmup_cosine(1e-3, total_steps=20, warmup_steps=5)
    assert float(schedule(0)) == 0.0
    assert float(schedule(5)) == pytest.approx(1e-3)
    assert float(schedule(20)) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="warmup_steps=30"):
        tlk.recipes.warmup_cosine(1e-3, total_steps=20, warmup_steps=30)


def test_lr_find_restores_everything_and_suggests(tmp_path):
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    model.compile(
        optimizer=tlk.training.discriminative(model, "adam", lr=(1e-4, 1e-2))
    )
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    weights = values(model.weights)
    state = values(model.optimizer.variables)
    rates = model.optimizer.group_learning_rates()
    result = tlk.lr_find(
        model,
        (X, Y),
        num_iter=60,
        batch_size=8,
        plot=str(tmp_path / "lr.png"),
        verbose=0,
    )
    assert_all_equal(weights, values(model.weights))
    assert_all_equal(state, values(model.optimizer.variables))
    assert model.optimizer.group_learning_rates() == rates
    assert 5 <= len(result.losses) <= 60
    assert result.learning_rates[0] == pytest.approx(1e-7)
    for name, rate in result.suggestions.items():
        assert 1e-8 <= rate <= 10, name
    assert (tmp_path / "lr.png").read_bytes().startswith(b"\x89PNG")


def test_lr_find_suggestions_follow_fastais_rules():
    """A synthetic sweep whose answers are known: fastai drops the first
    tenth (here falling from 5.0, which would start the valley at 0) and the
    last 5 points (here 0.1, which would be the minimum)."""
    rates = np.logspace(-7, 1, 100)
    losses = np.empty(100)
    losses[:10] = 5.0 - 0.1 * np.arange(10)
    losses[10:31] = 4.0  # a plateau
    descent = np.arange(31, 71)
    losses[31:71] = 2.5 + 1.5 * np.cos(np.pi * (descent - 30) / 40)
    losses[61:71] -= 0.5  # the steepest step: from index 60 to 61
    losses[71:95] = np.linspace(1.0, 3.0, 24)
    losses[95:] = 0.1
    found = suggest(rates, losses, num_iter=100)
    assert found["minimum"] == pytest.approx(rates[70] / 10)
    assert found["steep"] == pytest.approx(rates[60])
    # The longest strictly decreasing subsequence of indices 10..94: one
    # plateau point, then 31..70 (41 points, ending at 70); fastai's start
    # is end - length = 29, its valley start + int(41/3) + int(41/6) = 48.
    assert found["valley"] == pytest.approx(rates[48])


def test_lr_find_stops_when_the_loss_diverges():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    result = tlk.lr_find(
        model,
        (X, Y),
        start_lr=1e-3,
        end_lr=1e4,
        num_iter=100,
        batch_size=8,
        verbose=0,
    )
    assert len(result.losses) < 100


def test_lr_find_errors():
    model = tlk.build_classifier(tiny_cnn(), 3)
    with pytest.raises(ValueError, match="compiled model"):
        tlk.lr_find(model, (X, Y))
    model.compile(
        optimizer=keras.optimizers.Adam(tlk.recipes.OneCycle(1e-3, 10))
    )
    with pytest.raises(ValueError, match="not a schedule"):
        tlk.lr_find(model, (X, Y))
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        tlk.lr_find(model, (X, Y), start_lr=1.0, end_lr=0.1)


def test_lr_find_on_fewer_examples_than_a_batch():
    from tlkeras.recipes.lr_find import _batches

    x, y = X[:5], Y[:5]
    first = next(_batches((x, y), 32))
    assert len(first[0]) == 5  # one short batch, not an endless empty loop
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    result = tlk.lr_find(model, (x, y), num_iter=6, verbose=0)
    assert len(result.losses) >= 5
