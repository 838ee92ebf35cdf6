"""Per-group optimizer state survives saving; resumed runs match."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.helpers import Interrupt
from tests.helpers import assert_all_equal
from tests.helpers import image_data
from tests.helpers import tiny_cnn
from tests.helpers import values

X, Y = image_data(n=32, size=16)
EPOCHS = 4


def fresh_model(seed=11):
    keras.utils.set_random_seed(seed)
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none", bn="train")
    model.compile(
        optimizer=tlk.training.discriminative(model, "adam", lr=(1e-4, 1e-2))
    )
    return model


def fit(model, **kwargs):
    kwargs.setdefault("epochs", EPOCHS)
    return model.fit(X, Y, batch_size=8, shuffle=False, verbose=0, **kwargs)


@pytest.fixture(scope="module")
def uninterrupted():
    model = fresh_model()
    fit(model)
    return values(model.weights), values(model.optimizer.variables)


def test_keras_file_resume_matches(uninterrupted, tmp_path):
    model = fresh_model()
    fit(model, epochs=2)
    model.save(tmp_path / "mid.keras")
    loaded = keras.saving.load_model(tmp_path / "mid.keras")
    assert isinstance(loaded.optimizer, tlk.training.GroupOptimizer)
    history = fit(loaded, initial_epoch=2)
    assert history.epoch == [2, 3]
    weights, optimizer_state = uninterrupted
    assert_all_equal(weights, values(loaded.weights))
    assert_all_equal(optimizer_state, values(loaded.optimizer.variables))


def test_backup_and_restore_resume_matches(uninterrupted, tmp_path):
    backup = str(tmp_path / "backup")
    model = fresh_model()
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(
            model,
            callbacks=[keras.callbacks.BackupAndRestore(backup), Interrupt(1)],
        )
    assert os.listdir(backup)  # the backup existed before the resume
    # Another seed: only the restored state can make it end bit-identical
    # (a plain rerun from this seed would not).
    resumed = fresh_model(seed=99)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(values(resumed.weights), values(fresh_model().weights))
    )
    history = fit(resumed, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert history.epoch == [2, 3]  # only the remaining epochs ran
    assert_all_equal(uninterrupted[0], values(resumed.weights))


def test_model_checkpoint_resume_matches(uninterrupted, tmp_path):
    path = str(tmp_path / "epoch{epoch}.keras")
    model = fresh_model()
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(
            model,
            callbacks=[keras.callbacks.ModelCheckpoint(path), Interrupt(2)],
        )
    resumed = keras.saving.load_model(tmp_path / "epoch3.keras")
    history = fit(resumed, initial_epoch=3)
    assert history.epoch == [3]
    assert_all_equal(uninterrupted[0], values(resumed.weights))


def test_sigkill_mid_epoch_then_a_new_process_resumes_exactly(tmp_path):
    """The hard case: the process is killed (SIGKILL: no exception, no
    clean-up) in the middle of epoch 2, after two unfreezing transitions,
    with discriminative rates; a new process, from another seed, resumes
    from BackupAndRestore's last epoch and ends bit-identical to a run that
    was never interrupted."""
    root = Path(__file__).resolve().parents[2]

    def run(mode, seed, backup, out):
        return subprocess.run(
            [
                sys.executable,
                str(root / "tests" / "training" / "kill_and_resume.py"),
                mode,
                str(seed),
                str(backup),
                str(out),
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            timeout=600,
        )

    full = run("full", 11, tmp_path / "full-backup", tmp_path / "full.npz")
    assert full.returncode == 0, full.stderr[-3000:]
    backup = tmp_path / "backup"
    killed = run("kill", 11, backup, tmp_path / "never.npz")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (tmp_path / "never.npz").exists()
    assert os.listdir(backup)  # the backup existed before the resume
    resumed = run("resume", 99, backup, tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Epoch 2 was cut short: it runs again from its start, then epoch 3.
    assert "epochs [2, 3]" in resumed.stdout
    with (
        np.load(tmp_path / "full.npz") as a,
        np.load(tmp_path / "resumed.npz") as b,
    ):
        assert len(a.files) == len(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
