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


def reference_leep(theta, y):
    """LEEP from Nguyen et al. 2020, eqs. (1)-(3), with explicit loops."""
    n, classes = len(y), theta.shape[1]
    joint = np.zeros((y.max() + 1, classes))
    for i in range(n):
        for z in range(classes):
            joint[y[i], z] += theta[i, z] / n
    marginal = joint.sum(axis=0)
    total = 0.0
    for i in range(n):
        total += np.log(
            sum(
                joint[y[i], z] / marginal[z] * theta[i, z]
                for z in range(classes)
            )
        )
    return total / n


def reference_nce(theta, y):
    """NCE from Tran et al. 2019: -H(Y|Z), Z the source argmax."""
    z = theta.argmax(1)
    n = len(y)
    entropy = 0.0
    for a in np.unique(z):
        p_z = np.mean(z == a)
        for b in np.unique(y):
            p_yz = np.mean((z == a) & (y == b))
            if p_yz > 0:
                entropy -= p_yz * np.log(p_yz / p_z)
    assert n
    return -entropy


def test_leep_and_nce_match_the_papers_formulas():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(40, 6))
    theta = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 3, 40)
    assert tlk.tuning.leep(theta, y) == pytest.approx(
        reference_leep(theta, y), rel=1e-10
    )
    assert tlk.tuning.nce(theta, y) == pytest.approx(
        reference_nce(theta, y), rel=1e-10
    )
    # A source head that separates the target classes scores higher.
    informative = np.eye(3)[y] * 0.9 + 0.1 / 3
    assert tlk.tuning.leep(informative, y) > tlk.tuning.leep(theta, y)
    assert tlk.tuning.nce(informative, y) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="must be"):
        tlk.tuning.leep(theta[:5], y)


def test_source_metrics_need_source_weights():
    with pytest.raises(ValueError, match="pass `source_weights` for"):
        tlk.tuning.rank_bases(
            ["mobilenet"], None, image_size=(8, 8), metric="leep"
        )
    with pytest.raises(ValueError, match="not candidates"):
        tlk.tuning.rank_bases(
            ["mobilenet"],
            None,
            image_size=(8, 8),
            source_weights={"vgg16": "imagenet"},
        )


@pytest.mark.assets
def test_leep_on_real_imagenet_weights(assets, capsys):
    top = assets / "weights" / "mobilenet_v1_0.25_224.h5"
    features = assets / "weights" / "mobilenet_2_5_224_tf_no_top.h5"
    if not top.is_file() or not features.is_file():
        pytest.skip(f"asset missing: {top} or {features}")
    photos = tlk.data.image_dataset(
        str(assets / "datasets" / "hymenoptera" / "val"),
        image_size=(96, 96),
        batch_size=32,
        shuffle=False,
    )

    def score(source):
        (result,) = tlk.tuning.rank_bases(
            ["mobilenet"],
            photos,
            image_size=(96, 96),
            weights={"mobilenet": str(features)},
            base_kwargs={"mobilenet": {"alpha": 0.25}},
            source_weights={"mobilenet": source},
            metric="leep",
        )
        return result

    real, random = score(str(top)), score(None)
    # The real ImageNet head says much about ants vs bees; a random one
    # says almost nothing (LEEP near log(1/2), NCE near -log 2).
    assert real.leep > random.leep + 0.1
    assert real.nce > random.nce
    assert random.leep == pytest.approx(np.log(0.5), abs=0.05)
    assert "LEEP" in capsys.readouterr().out
