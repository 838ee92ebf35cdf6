"""Timing, memory and asset helpers shared by the benchmark scripts."""

import gc
import os
import statistics
import time
from pathlib import Path

import keras


def fit_seconds(model, x, y=None, *, epochs=1, batch_size=32) -> float:
    """Seconds per epoch of `model.fit` over `epochs` epochs."""
    start = time.perf_counter()
    if y is None:  # a dataset of batches
        model.fit(x, epochs=epochs, verbose=0)
    else:
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return (time.perf_counter() - start) / epochs


class EpochTimer(keras.callbacks.Callback):
    """Seconds of each epoch, measured inside `fit`."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def interleaved(measure, names, rounds: int) -> dict:
    """`{name: [measure(name) for each round]}`, every round in another
    order (rotated by one), so whatever drifts over the run (the machine's
    load, the heap, caches) falls on every name alike."""
    results = {name: [] for name in names}
    order = list(names)
    for _ in range(rounds):
        for name in order:
            results[name].append(measure(name))
        order = order[1:] + order[:1]
    return results


def median_ratio(numerators, denominators) -> float:
    """The median of the paired ratios."""
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def rss_mib() -> float:
    """This process's resident memory in MiB, after a garbage collection."""
    gc.collect()
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def add_assets_argument(parser) -> None:
    """`--assets`: the shared assets folder (default `$TLKERAS_ASSETS`, else
    `../shared/assets` beside the checkout)."""
    default = Path(__file__).resolve().parents[2] / "shared" / "assets"
    parser.add_argument(
        "--assets", default=os.environ.get("TLKERAS_ASSETS") or default
    )
