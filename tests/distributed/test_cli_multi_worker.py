"""`tlkeras train` under TF_CONFIG: two workers, one model file."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.distributed.processes import free_ports
from tests.distributed.processes import logs
from tests.distributed.processes import started
from tests.distributed.processes import wait_all

pytestmark = pytest.mark.distributed


def test_train_runs_on_the_cluster_tf_config_describes(tmp_path):
    for i in range(32):
        folder = tmp_path / "photos" / ("ant" if i % 2 else "bee")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.random.default_rng(i).integers(0, 255, (20, 20, 3))
        Image.fromarray(pixels.astype("uint8")).save(folder / f"{i}.png")
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    envs = [
        {
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": i}}
            )
        }
        for i in (0, 1)
    ]
    command = [
        "-m",
        "tlkeras_cli",
        "train",
        "--base",
        "mobilenet_v2",
        "--weights",
        "none",
        "--base-kwargs",
        '{"alpha": 0.35}',
        "--data",
        tmp_path / "photos",
        "--out",
        tmp_path / "out",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--strategy",
        "fine_tune",
        "--batch-size",
        "8",
        "--verbose",
        "0",
    ]
    with started([command, command], tmp_path, envs) as children:
        assert wait_all(children, 300) == [0, 0], logs(tmp_path)
    for i in (0, 1):
        text = (tmp_path / f"process-{i}-{i}.log").read_text()
        first = [line for line in text.splitlines() if "Training on" in line]
        assert (
            first and "2 workers with MultiWorkerMirroredStrategy" in (first[0])
        )
    # The chief alone wrote the results.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "model.keras",
        "report.json",
    ]
