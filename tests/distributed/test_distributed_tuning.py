"""KerasTuner's distributed mode: a chief (the oracle) and two workers, as
three processes on 127.0.0.1, tune a TransferHyperModel."""

import json
import os
import sys
from pathlib import Path

import pytest

from tests.distributed.processes import HERE
from tests.distributed.processes import free_ports
from tests.distributed.processes import logs

pytestmark = pytest.mark.distributed


def test_a_chief_and_two_workers_run_every_trial_once(tmp_path):
    import subprocess

    (port,) = free_ports(1)
    children, files = [], []
    try:
        for me in ("chief", "tuner0", "tuner1"):
            env = dict(
                os.environ,
                KERASTUNER_TUNER_ID=me,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=str(port),
                TF_CPP_MIN_LOG_LEVEL="3",
            )
            log = open(tmp_path / f"{me}.log", "w")
            files.append(log)
            children.append(
                subprocess.Popen(
                    [sys.executable, str(HERE / "tune_process.py"), tmp_path],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
        codes = [child.wait(timeout=300) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
        for log in files:
            log.close()
    assert codes == [0, 0, 0], logs(tmp_path)
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
