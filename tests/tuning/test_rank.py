"""LogME against the paper's equations; rank_bases on informative vs noise
bases."""

import keras
import numpy as np
import pytest

import tlkeras as tlk


def reference_logme(f, y):
    """LogME written directly from You et al. 2021 (Algorithm 1, with the
    evidence of their eq. 2): dense matrices, no SVD shortcuts."""
    n, d = f.shape
    evidences = []
    for c in range(y.max() + 1):
        t = (y == c).astype("float64")
        alpha, beta = 1.0, 1.0
        for _ in range(100):
            a = alpha * np.eye(d) + beta * f.T @ f
            m = beta * np.linalg.solve(a, f.T @ t)
            eigenvalues = np.linalg.eigvalsh(f.T @ f)
            gamma = np.sum(beta * eigenvalues / (alpha + beta * eigenvalues))
            new_alpha = gamma / (m @ m)
            new_beta = (n - gamma) / np.sum((f @ m - t) ** 2)
            done = abs(new_alpha - alpha) / alpha < 1e-5 and (
                abs(new_beta - beta) / beta < 1e-5
            )
            alpha, beta = new_alpha, new_beta
            if done:
                break
        a = alpha * np.eye(d) + beta * f.T @ f
        m = beta * np.linalg.solve(a, f.T @ t)
        evidence = (
            n / 2 * np.log(beta)
            + d / 2 * np.log(alpha)
            - n / 2 * np.log(2 * np.pi)
            - beta / 2 * np.sum((f @ m - t) ** 2)
            - alpha / 2 * (m @ m)
            - np.linalg.slogdet(a)[1] / 2
        )
        evidences.append(evidence / n)
    return np.mean(evidences)


@pytest.mark.parametrize("n, d", [(60, 8), (10, 25)])
def test_logme_matches_the_papers_equations(n, d):
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, n)
    f = rng.normal(size=(n, d)) + y[:, None] * rng.normal(size=d)
    np.testing.assert_allclose(
        tlk.tuning.logme(f, y), reference_logme(f, y), rtol=1e-5
    )


def _cropping_base(columns, name):
    """A base whose pooled features come from some image columns only."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Cropping2D(((0, 0), columns), name=f"{name}_crop")(inputs)
    x = keras.layers.Conv2D(
        3, 1, kernel_initializer="ones", name=f"{name}_conv"
    )(x)
    return keras.Model(inputs, x, name=name)


def test_informative_base_ranks_first(capsys):
    rng = np.random.default_rng(0)
    y = np.arange(64) % 2
    images = rng.uniform(0, 255, (64, 8, 8, 3)).astype("float32")
    images[:, :, :4, 0] = np.where(y, 200.0, 50.0)[:, None, None]  # signal
    noise = _cropping_base((4, 0), "noise")  # right half: random pixels
    signal = _cropping_base((0, 4), "signal")  # left half: the label
    scores = tlk.tuning.rank_bases(
        [noise, signal], images, labels=y, image_size=(8, 8), batch_size=16
    )
    assert [s.base for s in scores] == ["signal", "noise"]
    assert scores[0].h_score > scores[1].h_score
    table = capsys.readouterr().out
    assert "rank" in table and "signal" in table and "seconds" in table
    by_h = tlk.tuning.rank_bases(
        [noise, signal],
        images,
        labels=y,
        image_size=(8, 8),
        metric="h_score",
        verbose=0,
    )
    assert by_h[0].base == "signal"


def test_rank_bases_bad_arguments():
    with pytest.raises(ValueError, match="metric"):
        tlk.tuning.rank_bases(["vgg16"], None, image_size=(8, 8), metric="x")
    with pytest.raises(ValueError, match="empty"):
        tlk.tuning.rank_bases([], None, image_size=(8, 8))
