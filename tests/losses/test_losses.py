"""MMD, CORAL and MCC against their formulas."""

import keras
import numpy as np
import pytest

import tlkeras as tlk


def gaussian(n, d=6, shift=0.0, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * scale + shift).astype("float32")


@pytest.mark.parametrize("estimator", ["linear", "quadratic"])
def test_mmd_is_zero_for_identical_batches_and_grows_with_a_shift(estimator):
    x = gaussian(64)
    assert abs(float(tlk.losses.mmd(x, x, estimator=estimator))) < 1e-5
    values = [
        float(
            tlk.losses.mmd(
                x, gaussian(64, shift=s, seed=1), estimator=estimator
            )
        )
        for s in (0.0, 0.5, 1.0, 2.0)
    ]
    assert values == sorted(values)
    assert values[-1] > 0.1


def test_mmd_quadratic_against_numpy():
    s, t = gaussian(10), gaussian(7, shift=0.5, seed=1)
    s = s[:7]  # the estimators pair s_i with t_i
    joint = np.concatenate([s, t])
    m = ((joint[:, None] - joint[None]) ** 2).sum(-1).mean()

    def k(a, b):
        d = ((a[:, None] - b[None]) ** 2).sum(-1)
        return sum(
            np.exp(-d / (2 * a_ * m)) for a_ in (1 / 8, 1 / 4, 1 / 2, 1, 2)
        )

    h = k(s, s) + k(t, t) - k(s, t) - k(t, s)
    expected = (h.sum() - np.trace(h)) / (7 * 6)
    actual = float(tlk.losses.mmd(s, t, estimator="quadratic"))
    np.testing.assert_allclose(actual, expected, rtol=1e-4)
    uncut = float(tlk.losses.mmd(gaussian(10), t, estimator="quadratic"))
    np.testing.assert_allclose(uncut, expected, rtol=1e-4)


def test_linear_and_quadratic_mmd_agree_in_expectation():
    linear, quadratic = [], []
    for seed in range(150):
        s = gaussian(32, seed=2 * seed)
        t = gaussian(32, shift=0.7, seed=2 * seed + 1)
        linear.append(float(tlk.losses.mmd(s, t, estimator="linear")))
        quadratic.append(float(tlk.losses.mmd(s, t, estimator="quadratic")))
    # The linear estimator is far noisier; both estimate the same value.
    error = np.std(linear) / np.sqrt(len(linear))
    assert abs(np.mean(linear) - np.mean(quadratic)) < 3 * error
    assert np.std(linear) > np.std(quadratic)
    # Single batches can be negative at no shift: that is normal.
    same = [
        float(tlk.losses.mmd(gaussian(32, seed=i), gaussian(32, seed=i + 500)))
        for i in range(20)
    ]
    assert min(same) < 0 < max(same)


def test_coral_against_the_paper():
    s, t = gaussian(40, d=5), gaussian(30, d=5, scale=2.0, seed=3)
    expected = ((np.cov(s, rowvar=False) - np.cov(t, rowvar=False)) ** 2).sum()
    expected /= 4 * 5**2
    np.testing.assert_allclose(
        float(tlk.losses.coral(s, t)), expected, rtol=1e-4
    )
    assert float(tlk.losses.coral(s, s)) == 0.0
    values = [
        float(tlk.losses.coral(s, gaussian(40, d=5, scale=c, seed=4)))
        for c in (1.0, 1.5, 3.0)
    ]
    assert values == sorted(values)


def test_mcc_against_the_paper():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(16, 4)).astype("float32") * 3
    t = 2.5
    z = logits / t
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    h = -(p * np.log(p + 1e-5)).sum(1)
    w = 1 + np.exp(-h)
    w = 16 * w / w.sum()
    c = (p * w[:, None]).T @ p
    c = c / c.sum(0, keepdims=True)  # category normalization
    expected = (c.sum() - np.trace(c)) / 4
    np.testing.assert_allclose(
        float(tlk.losses.mcc(logits)), expected, rtol=1e-4
    )
    np.testing.assert_allclose(
        float(tlk.losses.MCC()(None, logits)), expected, rtol=1e-4
    )


def test_losses_serialize():
    for loss in (
        tlk.losses.MMD(estimator="quadratic"),
        tlk.losses.CORAL(),
        tlk.losses.MCC(temperature=3.0),
    ):
        again = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(again) is type(loss)
        assert again.get_config() == loss.get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match="estimator='cubic'"):
        tlk.losses.MMD(estimator="cubic")
    with pytest.raises(ValueError, match="temperature=0"):
        tlk.losses.MCC(temperature=0)
