"""Multi-worker training: two processes under MultiWorkerMirroredStrategy
on 127.0.0.1 train as one process does, and resume after being killed."""

import numpy as np
import pytest

from tests.distributed.processes import HERE
from tests.distributed.processes import free_ports
from tests.distributed.processes import logs
from tests.distributed.processes import started
from tests.distributed.processes import wait_all

pytestmark = pytest.mark.distributed
WORKER = HERE / "train_worker.py"
TIMEOUT = 240


def weights(path):
    with np.load(path) as data:
        return [data[k] for k in sorted(data, key=lambda k: int(k[4:]))]


def run_workers(out, stop_after=None):
    ports = ",".join(map(str, free_ports(2)))
    extra = [] if stop_after is None else ["--stop-after", stop_after]
    commands = [
        [WORKER, out, "--ports", ports, "--index", i, *extra] for i in (0, 1)
    ]
    with started(commands, out) as children:
        return wait_all(children, TIMEOUT)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    with started([[WORKER, out]], out) as children:
        assert wait_all(children, TIMEOUT) == [0], logs(out)
    return weights(out / "weights-single.npz")


def test_two_workers_train_as_one_process(tmp_path, reference):
    # Discriminative rates, BN frozen, ProgressiveUnfreezing after the
    # first epoch, tlk.callbacks.BackupAndRestore.
    assert run_workers(tmp_path) == [0, 0], logs(tmp_path)
    first = weights(tmp_path / "weights-0.npz")
    second = weights(tmp_path / "weights-1.npz")
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)  # mirrored: identical
    # One process over the same global batches: equal up to the order of
    # float additions (two half-batch gradients summed, not one).
    for a, b in zip(first, reference):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # The other worker's temporary backup folder is gone with the end of
    # training (the chief's too: delete_checkpoint=True).
    assert not list(tmp_path.glob("backup_workertemp_*"))


def test_killed_workers_resume_from_the_backup(tmp_path, reference):
    # Both killed (SIGKILL) after epoch 2 of 3, then restarted.
    codes = run_workers(tmp_path, stop_after=2)
    assert all(code != 0 for code in codes), logs(tmp_path)
    assert not (tmp_path / "weights-0.npz").exists()
    assert run_workers(tmp_path) == [0, 0], logs(tmp_path)
    for a, b in zip(weights(tmp_path / "weights-0.npz"), reference):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
