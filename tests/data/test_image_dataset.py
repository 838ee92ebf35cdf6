import os

import numpy as np
import pytest
import tensorflow as tf

import tlkeras as tlk


def write_image(path, value, fmt="png"):
    image = np.full((12, 10, 3), value, "uint8")
    encode = tf.io.encode_png if fmt == "png" else tf.io.encode_jpeg
    tf.io.write_file(str(path), encode(image))


@pytest.fixture
def folder(tmp_path):
    for label, name in enumerate(["cats", "dogs"]):
        (tmp_path / name).mkdir()
        for i in range(3):
            write_image(tmp_path / name / f"{i}.png", 40 * label + i)
    write_image(tmp_path / "dogs" / "photo.jpeg", 90, fmt="jpeg")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"\x00garbage" * 10)
    return tmp_path


def collect(dataset):
    images, labels = [], []
    for x, y in dataset:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_folder_skips_bad_files_with_one_warning(folder):
    with pytest.warns(
        UserWarning,
        match=r"Skipped 2 file\(s\).*"
        r"notes.txt \(not an image file name\).*"
        r"broken.jpg \(content is not an image\)",
    ):
        ds = tlk.data.image_dataset(
            folder, image_size=(8, 8), batch_size=2, shuffle=False
        )
    assert ds.class_names == ["cats", "dogs"]
    images, labels = collect(ds)
    assert images.shape == (7, 8, 8, 3) and images.dtype == np.float32
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert images.min() >= 0 and images.max() <= 255
    np.testing.assert_allclose(images[0], 0.0)
    np.testing.assert_allclose(images[3], 40.0)


def test_validation_split_is_disjoint_and_seeded(folder):
    with pytest.warns(UserWarning):
        train, val = tlk.data.image_dataset(
            folder,
            image_size=(8, 8),
            validation_split=0.3,
            subset="both",
            seed=3,
            shuffle=False,
        )
    (xt, _), (xv, _) = collect(train), collect(val)
    assert len(xt) + len(xv) == 7 and len(xv) == 2
    # Every file has its own constant value: the two sides hold different
    # files, and together all of them.
    train_files = {round(float(v)) for v in xt[:, 0, 0, 0]}
    val_files = {round(float(v)) for v in xv[:, 0, 0, 0]}
    assert not train_files & val_files
    assert train_files | val_files == {0, 1, 2, 40, 41, 42, 90}
    with pytest.warns(UserWarning):
        again = tlk.data.image_dataset(
            folder,
            image_size=(8, 8),
            validation_split=0.3,
            subset="validation",
            seed=3,
            shuffle=False,
        )
    np.testing.assert_array_equal(collect(again)[0], xv)


def test_augmentation_only_in_training():
    x = np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3))
    y = np.arange(8) % 2
    train, val = tlk.data.image_dataset(
        (x, y),
        image_size=(16, 16),
        validation_split=0.5,
        subset="both",
        seed=1,
        shuffle=False,
        augment="standard",
    )
    assert not np.array_equal(collect(train)[0], collect(train)[0])
    np.testing.assert_array_equal(collect(val)[0], collect(val)[0])


def test_arrays_are_resized_and_grayscale_becomes_rgb():
    x = np.zeros((4, 6, 6, 1), "uint8")
    ds = tlk.data.image_dataset(
        (x, np.array([0, 1, 2, 1])), image_size=(12, 12), batch_size=4
    )
    images, _ = collect(ds)
    assert images.shape == (4, 12, 12, 3)
    assert ds.class_names == ["0", "1", "2"]


def test_tfds_source_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6):
        ds = tlk.data.image_dataset(
            "tfds:mnist", image_size=(8, 8), split="train", batch_size=3
        )
        images, labels = collect(ds)
    assert images.shape == (6, 8, 8, 3)
    assert ds.class_names == [str(i) for i in range(10)]
    assert labels.dtype == np.int64


@pytest.mark.assets
def test_real_photos(assets):
    folder = assets / "datasets" / "hymenoptera" / "train"
    ds = tlk.data.image_dataset(folder, image_size=(32, 32), batch_size=64)
    images, labels = collect(ds)
    assert ds.class_names == ["ants", "bees"]
    assert len(labels) == 244 and sorted(np.bincount(labels)) == [121, 123]
    assert images.shape[1:] == (32, 32, 3) and images.max() <= 255


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="no class subfolders"):
        tlk.data.image_dataset(tmp_path, image_size=(8, 8))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No images found"):
        tlk.data.image_dataset(tmp_path, image_size=(8, 8))
    with pytest.raises(ValueError, match="No folder at"):
        tlk.data.image_dataset(tmp_path / "nope", image_size=(8, 8))
    with pytest.raises(ValueError, match=r"image_size=\(8,\)"):
        tlk.data.image_dataset(tmp_path, image_size=(8,))
    with pytest.raises(ValueError, match="subset='train'"):
        tlk.data.image_dataset(
            tmp_path, image_size=(8, 8), validation_split=0.2, subset="train"
        )
    with pytest.raises(ValueError, match="go together"):
        tlk.data.image_dataset(
            tmp_path, image_size=(8, 8), validation_split=0.2
        )
    with pytest.raises(ValueError, match="augment='heavy'"):
        tlk.data.augmentation_layers("heavy")


def test_broken_and_unreadable_files_are_named_before_training(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            image = rng.integers(0, 256, (64, 64, 3)).astype("uint8")
            data = tf.io.encode_jpeg(image).numpy()
            (tmp_path / name / f"{i}.jpg").write_bytes(data)
    whole = (tmp_path / "b" / "1.jpg").read_bytes()
    # A valid header and the start of the scan, then nothing: the name and
    # the first bytes say JPEG, only the end shows it broken.
    (tmp_path / "b" / "1.jpg").write_bytes(whole[: len(whole) // 3])
    assert tf.io.is_jpeg(whole[: len(whole) // 3])
    # A PNG named .jpg is a readable image: kept, read as PNG.
    tf.io.write_file(
        str(tmp_path / "a" / "png.jpg"),
        tf.io.encode_png(np.full((8, 8, 3), 7, "uint8")),
    )
    locked = tmp_path / "b" / "2.jpg"
    locked.chmod(0)
    unreadable = not os.access(locked, os.R_OK)  # False when run as root
    with pytest.warns(UserWarning) as caught:
        ds = tlk.data.image_dataset(
            str(tmp_path), image_size=(16, 16), batch_size=2, shuffle=False
        )
    message = str(caught[0].message)
    assert os.path.join("b", "1.jpg") + " (JPEG cut short)" in message
    if unreadable:
        assert "2.jpg (unreadable: PermissionError)" in message
    assert "png.jpg" not in message
    # The length is known before the first pass (no "1/Unknown").
    kept = 7 - 1 - (1 if unreadable else 0)
    assert int(ds.cardinality()) == -(-kept // 2)
    images, labels = collect(ds)
    assert len(labels) == kept and images.shape[1:] == (16, 16, 3)
    assert labels.tolist().count(0) == 4


def test_a_file_broken_after_the_dataset_was_made_is_an_error(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_image(tmp_path / name / "0.png", 10)
        write_image(tmp_path / name / "1.png", 20)
    ds = tlk.data.image_dataset(
        str(tmp_path), image_size=(8, 8), batch_size=2, shuffle=False
    )
    (tmp_path / "b" / "1.png").unlink()  # deleted mid-run
    with pytest.raises(
        tf.errors.FailedPreconditionError,
        match="expected to contain 4 elements but contained only 3",
    ):
        collect(ds)


@pytest.mark.parametrize("fits", [True, False])
def test_cache_auto_keeps_decoded_images_when_they_fit(
    fits, tmp_path, monkeypatch
):
    import importlib

    module = importlib.import_module("tlkeras.data.image_dataset")
    monkeypatch.setattr(module, "fits_in_memory", lambda nbytes: fits)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(2):
            write_image(tmp_path / name / f"{i}.png", 10 * i)
    ds = tlk.data.image_dataset(
        str(tmp_path), image_size=(8, 8), batch_size=2, shuffle=False
    )
    first = collect(ds)[0]
    (tmp_path / "b" / "1.png").unlink()
    if fits:  # the second pass reads memory, not the files
        np.testing.assert_array_equal(first, collect(ds)[0])
    else:
        with pytest.raises(tf.errors.OpError):
            collect(ds)
    with pytest.raises(ValueError, match="cache='yes'"):
        tlk.data.image_dataset(str(tmp_path), image_size=(8, 8), cache="yes")
