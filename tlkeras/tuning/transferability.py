"""Transferability estimates: how well a base's frozen features suit a
labelled target task, computed before any training."""

import numpy as np


def logme(features, labels, *, max_iterations: int = 100) -> float:
    """LogME (You et al., ICML 2021): the log marginal evidence per example
    of a Bayesian linear model from the features to each class's one-hot
    target, averaged over classes. Higher is better; it ranks bases by how
    well they transfer without training any of them.

    Follows the paper's Algorithm 1: one SVD of the features, then the
    fixed-point updates of the prior precision `alpha` and the noise
    precision `beta` for each class.

    Args:
        features: array `(n, d)`.
        labels: integer array `(n,)`.
        max_iterations: int, cap on the fixed-point iterations. Defaults
            to `100`.

    Returns:
        The LogME value (float).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> good = np.c_[y + 0.1 * rng.normal(size=200), rng.normal(size=200)]
    >>> noise = rng.normal(size=(200, 2))
    >>> bool(logme(good, y) > logme(noise, y))
    True
    """
    f = np.asarray(features, dtype="float64")
    y = np.asarray(labels).astype("int64").ravel()
    if f.ndim != 2 or len(f) != len(y):
        raise ValueError(
            "`features` must be (n, d) with n labels. Received: "
            f"features.shape={f.shape}, labels.shape={y.shape}"
        )
    n, d = f.shape
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    sigma = s**2  # eigenvalues of F^T F (k = min(n, d) of them)
    evidences = []
    for c in range(int(y.max()) + 1):
        target = (y == c).astype("float64")
        z = u.T @ target  # the target in the features' column space
        outside = max(float(target @ target - z @ z), 0.0)
        alpha, beta = 1.0, 1.0
        for _ in range(max_iterations):
            ratio = beta * sigma / (alpha + beta * sigma)
            gamma = float(np.sum(ratio))
            m2 = float(np.sum((beta * s * z / (alpha + beta * sigma)) ** 2))
            residual = outside + float(
                np.sum((z * alpha / (alpha + beta * sigma)) ** 2)
            )
            new_alpha = gamma / max(m2, 1e-12)
            new_beta = (n - gamma) / max(residual, 1e-12)
            done = abs(new_alpha - alpha) / alpha < 1e-5 and (
                abs(new_beta - beta) / beta < 1e-5
            )
            alpha, beta = new_alpha, new_beta
            if done:
                break
        m2 = float(np.sum((beta * s * z / (alpha + beta * sigma)) ** 2))
        residual = outside + float(
            np.sum((z * alpha / (alpha + beta * sigma)) ** 2)
        )
        log_det = float(np.sum(np.log(alpha + beta * sigma))) + (
            d - len(sigma)
        ) * np.log(alpha)
        evidence = (
            d / 2 * np.log(alpha)
            + n / 2 * np.log(beta)
            - alpha / 2 * m2
            - beta / 2 * residual
            - log_det / 2
            - n / 2 * np.log(2 * np.pi)
        )
        evidences.append(evidence / n)
    return float(np.mean(evidences))


def h_score(features, labels, *, shrinkage: float = 1e-6) -> float:
    """H-score (Bao et al., 2019): `tr(cov(f)^-1 cov(E[f | y]))`, the
    share of the feature variance the classes explain. Higher is better.

    Args:
        features: array `(n, d)`.
        labels: integer array `(n,)`.
        shrinkage: float, ridge added to the covariance's diagonal (relative
            to its mean variance) for a stable inverse. Defaults to `1e-6`.

    Example:

    >>> y = np.arange(100) % 2
    >>> round(h_score(np.c_[y, np.zeros(100)], y), 3)
    1.0
    """
    f = np.asarray(features, dtype="float64")
    y = np.asarray(labels).astype("int64").ravel()
    f = f - f.mean(0)
    covariance = f.T @ f / len(f)
    mean_variance = float(np.trace(covariance)) / len(covariance)
    ridge = shrinkage * max(mean_variance, 1e-12)
    class_means = np.zeros_like(f)
    for c in np.unique(y):
        class_means[y == c] = f[y == c].mean(0)
    between = class_means.T @ class_means / len(f)
    inverse = np.linalg.pinv(covariance + ridge * np.eye(len(covariance)))
    return float(np.trace(inverse @ between))


def leep(source_probabilities, labels) -> float:
    """LEEP (Nguyen et al., ICML 2020), the log expected empirical
    prediction: how well the source model's own head, re-read through the
    empirical conditional P(target class | source class), predicts the
    target labels. Higher (closer to 0) is better.

    With `theta(x)` the source model's probabilities over its `Z` classes:
    `P(y, z) = mean_i theta(x_i)_z [y_i = y]`, `P(y | z) = P(y, z) / P(z)`,
    and `LEEP = mean_i log sum_z P(y_i | z) theta(x_i)_z`.

    Args:
        source_probabilities: array `(n, Z)`, the source head's softmax
            outputs (e.g. ImageNet's 1000 classes).
        labels: integer array `(n,)`, the target labels.

    Example:

    >>> theta = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    >>> round(leep(theta, [0, 0, 1, 1]), 4)
    -0.2955
    """
    theta, y = _probabilities_and_labels(source_probabilities, labels)
    n = len(y)
    joint = np.zeros((int(y.max()) + 1, theta.shape[1]))
    np.add.at(joint, y, theta)
    joint /= n
    source = joint.sum(axis=0)
    conditional = joint / np.maximum(source, 1e-300)
    expected = np.sum(theta * conditional[y], axis=1)
    return float(np.mean(np.log(np.maximum(expected, 1e-300))))


def nce(source_probabilities, labels) -> float:
    """NCE (Tran et al., ICCV 2019), the negative conditional entropy
    `-H(Y | Z)` of the target labels given the source model's hard
    predictions `z_i = argmax theta(x_i)`. At most 0; higher is better.

    Args:
        source_probabilities: array `(n, Z)` of source probabilities (or
            any scores: only their argmax counts).
        labels: integer array `(n,)`, the target labels.

    Example:

    >>> theta = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    >>> nce(theta, [0, 0, 1, 1])
    0.0
    """
    theta, y = _probabilities_and_labels(source_probabilities, labels)
    z = theta.argmax(axis=1)
    joint = np.zeros((int(y.max()) + 1, theta.shape[1]))
    np.add.at(joint, (y, z), 1.0)
    joint /= len(y)
    source = joint.sum(axis=0)
    nonzero = joint > 0
    conditional = joint[nonzero] / np.broadcast_to(source, joint.shape)[nonzero]
    return float(np.sum(joint[nonzero] * np.log(conditional)))


def _probabilities_and_labels(probabilities, labels):
    theta = np.asarray(probabilities, dtype="float64")
    y = np.asarray(labels).astype("int64").ravel()
    if theta.ndim != 2 or len(theta) != len(y):
        raise ValueError(
            "`source_probabilities` must be (n, Z) with n labels. Received: "
            f"source_probabilities.shape={theta.shape}, labels.shape="
            f"{y.shape}"
        )
    if y.min() < 0:
        raise ValueError(f"Labels must be >= 0. Received: min {y.min()}")
    return theta, y
