"""The tf.data service: a dispatcher and two workers, started with
`tlkeras data-service`, decode an image folder for training."""

import time

import keras
import numpy as np
import pytest
from PIL import Image

import tlkeras as tlk
from tests.distributed.processes import free_ports
from tests.distributed.processes import logs
from tests.distributed.processes import started

pytestmark = pytest.mark.distributed


def wait_for(check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError("the service did not come up")


@pytest.fixture
def folder(tmp_path):
    """24 images, each one flat colour (its index): which file an image came
    from can be read from its pixels."""
    for i in range(24):
        cls = tmp_path / "photos" / ("ant" if i % 2 else "bee")
        cls.mkdir(parents=True, exist_ok=True)
        pixels = np.full((12, 12, 3), 10 * i, "uint8")
        Image.fromarray(pixels).save(cls / f"{i:02d}.png")
    return tmp_path / "photos"


def test_every_file_once_per_epoch_through_two_workers(folder, tmp_path):
    dispatcher, *workers = free_ports(3)
    command = ["-m", "tlkeras_cli", "data-service"]
    commands = [[*command, "dispatcher", "--port", dispatcher]] + [
        [
            *command,
            "worker",
            "--port",
            port,
            "--dispatcher",
            f"localhost:{dispatcher}",
        ]
        for port in workers
    ]
    with started(commands, tmp_path):
        service = f"grpc://localhost:{dispatcher}"
        wait_for(
            lambda: (
                "serving" in logs(tmp_path)
                and logs(tmp_path).count("serving on port") == 3
            )
        )
        data = tlk.data.image_dataset(
            folder, image_size=(8, 8), batch_size=5, seed=0, service=service
        )
        for _ in range(2):  # two epochs
            seen = sorted(
                int(round(float(image[0, 0, 0]))) // 10
                for images, _ in data
                for image in images.numpy()
            )
            assert seen == list(range(24)), logs(tmp_path)
        # Each of the two workers makes its own pass in "parallel_epochs":
        # proof that the service, not this process, reads the files.
        parallel = tlk.data.image_dataset(
            folder,
            image_size=(8, 8),
            batch_size=5,
            service=service,
            processing_mode="parallel_epochs",
        )
        seen = sorted(
            int(round(float(image[0, 0, 0]))) // 10
            for images, _ in parallel
            for image in images.numpy()
        )
        assert seen == sorted(list(range(24)) * 2)
        # text_dataset reads through the service the same way.
        texts = [f"message {i}" for i in range(20)]
        lines = tlk.data.text_dataset(
            (texts, [i % 2 for i in range(20)]),
            batch_size=3,
            seed=0,
            service=service,
        )
        read = sorted(t.decode() for batch, _ in lines for t in batch.numpy())
        assert read == sorted(texts)
        model = tlk.build_classifier(
            keras.Sequential(
                [
                    keras.Input((8, 8, 3)),
                    keras.layers.Conv2D(4, 3, activation="relu"),
                ]
            ),
            2,
            freeze="none",
        )
        model.compile()
        history = model.fit(data, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="processing_mode"):
        tlk.data.image_dataset(
            folder,
            image_size=(8, 8),
            service=service,
            processing_mode="sharded",
        )
    with pytest.raises(ValueError, match="cache=True"):
        tlk.data.image_dataset(
            folder, image_size=(8, 8), service=service, cache=True
        )
