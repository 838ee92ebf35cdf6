"""KerasTuner's distributed mode: a chief (the oracle) and two workers, as
three processes on 127.0.0.1, tune a TransferHyperModel."""

import json
from pathlib import Path

import pytest

from tests.distributed.processes import HERE
from tests.distributed.processes import free_ports
from tests.distributed.processes import logs
from tests.distributed.processes import started
from tests.distributed.processes import wait_all

pytestmark = pytest.mark.distributed


def test_a_chief_and_two_workers_run_every_trial_once(tmp_path):
    (port,) = free_ports(1)
    roles = ("chief", "tuner0", "tuner1")
    envs = [
        {
            "KERASTUNER_TUNER_ID": me,
            "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": str(port),
        }
        for me in roles
    ]
    command = [HERE / "tune_process.py", tmp_path]
    with started([command] * 3, tmp_path, envs) as children:
        assert wait_all(children, 300) == [0, 0, 0], logs(tmp_path)
    chief = json.loads((tmp_path / "chief.json").read_text())
    assert len(chief["trials"]) == 4
    assert set(chief["trials"].values()) == {"COMPLETED"}
    ran = [
        line
        for path in Path(tmp_path).glob("ran-tuner*.txt")
        for line in path.read_text().split()
    ]
    assert sorted(ran) == sorted(chief["trials"])  # each once, by a worker
    assert not (tmp_path / "ran-chief.txt").exists()
    assert chief["reproduced"] == pytest.approx(chief["best_score"], abs=1e-6)
