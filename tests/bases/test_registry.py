import keras
import numpy as np
import pytest

import tlkeras as tlk
from tlkeras.bases import ApplicationPreprocessing
from tlkeras.bases import WeightsUnavailableError
from tlkeras.bases import get_spec
from tlkeras.bases import resolve_base


def test_list_bases_covers_keras_applications():
    names = tlk.list_bases()
    assert len(names) == 40
    for name in (
        "MobileNetV2",
        "ResNet50",
        "EfficientNetV2B0",
        "ConvNeXtTiny",
        "DenseNet121",
        "VGG16",
        "InceptionV3",
    ):
        assert name in names
        assert get_spec(name).constructor is getattr(keras.applications, name)


@pytest.mark.parametrize(
    "given, expected",
    [
        ("mobilenet_v2", "MobileNetV2"),
        ("MobileNetV2", "MobileNetV2"),
        ("MOBILENETV2", "MobileNetV2"),
        ("resnet50", "ResNet50"),
        ("efficientnetv2b0", "EfficientNetV2B0"),
        ("convnext_tiny", "ConvNeXtTiny"),
        ("resnet-50-v2", "ResNet50V2"),
    ],
)
def test_names_ignore_case_and_separators(given, expected):
    assert get_spec(given).name == expected


def test_unknown_name_lists_close_matches():
    with pytest.raises(
        ValueError,
        match=r"Unknown base 'resnet05'\. Did "
        r"you mean 'ResNet50'.*list_bases\(\)",
    ):
        tlk.build_classifier("resnet05", 2, weights=None)


def test_unknown_name_with_nothing_close():
    with pytest.raises(ValueError, match="Unknown base 'zzz'. tlkeras"):
        get_spec("zzz")


def test_input_too_small_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"Base ResNet50 cannot take "
        r"input_shape=\(8, 8, 3\)",
    ):
        tlk.build_classifier("resnet50", 2, input_shape=(8, 8, 3), weights=None)


def test_missing_weights_file_names_it(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5.*MobileNetV2"):
        tlk.build_classifier(
            "mobilenet_v2", 2, input_shape=(32, 32, 3), weights=str(missing)
        )


def test_offline_imagenet_error_names_base_cache_and_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise Exception(
            "URL fetch failure on https://example.invalid/w.h5: None -- "
            "[Errno -2] Name or service not known"
        )

    import keras.src.applications.mobilenet_v2 as module

    monkeypatch.setattr(module.file_utils, "get_file", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        tlk.build_classifier(
            "mobilenet_v2",
            2,
            input_shape=(32, 32, 3),
            base_kwargs={"alpha": 0.35},
        )
    message = str(info.value)
    assert "MobileNetV2" in message
    assert str(tmp_path / "models") in message
    assert "weights='/path/to/" in message
    assert isinstance(info.value, OSError)


def test_base_kwargs_are_passed_and_checked():
    model = tlk.build_classifier(
        "mobilenet_v2",
        2,
        input_shape=(32, 32, 3),
        weights=None,
        base_kwargs={"alpha": 0.35},
    )
    reference = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.35
    )
    assert model.base.count_params() == reference.count_params()
    with pytest.raises(ValueError, match=r"may not set \['include_top'\]"):
        tlk.build_classifier(
            "mobilenet_v2",
            2,
            input_shape=(32, 32, 3),
            weights=None,
            base_kwargs={"include_top": True},
        )
    with pytest.raises(TypeError, match="rejected `base_kwargs`.*alphaa"):
        tlk.build_classifier(
            "mobilenet_v2",
            2,
            input_shape=(32, 32, 3),
            weights=None,
            base_kwargs={"alphaa": 0.35},
        )


def test_model_base_rejects_weights_and_kwargs():
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="weights='w.h5'"):
        resolve_base(base, weights="w.h5")
    with pytest.raises(TypeError, match="keras.Model or a base name"):
        resolve_base(keras.layers.Dense(3))
    with pytest.raises(TypeError, match="Received: base=3"):
        resolve_base(3)


@pytest.mark.parametrize(
    "family",
    [
        "mobilenet_v2",
        "resnet",
        "densenet",
        "inception_v3",
        "vgg16",
        "xception",
        "resnet_v2",
        "nasnet",
    ],
)
def test_preprocessing_matches_keras(family):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    module = getattr(keras.applications, family)
    expected = module.preprocess_input(images.copy())
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, ApplicationPreprocessing(family)(inputs))
    np.testing.assert_allclose(
        model.predict(images, verbose=0), expected, rtol=1e-6, atol=1e-5
    )


def test_preprocessing_rejects_unknown_family():
    with pytest.raises(ValueError, match="family='mobilenet_v9'"):
        ApplicationPreprocessing("mobilenet_v9")


def test_passthrough_families_get_no_extra_layer():
    model = tlk.build_classifier(
        "efficientnetb0", 2, input_shape=(32, 32, 3), weights=None
    )
    assert model.preprocessing is None
    model = tlk.build_classifier(
        "resnet50", 2, input_shape=(32, 32, 3), weights=None
    )
    assert model.preprocessing.family == "resnet"


@pytest.mark.assets
def test_weights_from_file_equal_keras_applications(mobilenet_v2_weights):
    model = tlk.build_classifier(
        "mobilenet_v2",
        2,
        input_shape=(96, 96, 3),
        weights=mobilenet_v2_weights,
        base_kwargs={"alpha": 0.35},
    )
    reference = keras.applications.MobileNetV2(
        include_top=False,
        weights=mobilenet_v2_weights,
        input_shape=(96, 96, 3),
        alpha=0.35,
    )
    ours = model.base.get_weights()
    theirs = reference.get_weights()
    assert len(ours) == len(theirs) == 260
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    # And the model feeds the base what Keras's preprocess_input gives it.
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    features = tlk.build_feature_extractor(
        "mobilenet_v2",
        input_shape=(96, 96, 3),
        weights=mobilenet_v2_weights,
        base_kwargs={"alpha": 0.35},
    )
    expected = reference.predict(
        keras.applications.mobilenet_v2.preprocess_input(images.copy()),
        verbose=0,
    ).mean(axis=(1, 2))
    np.testing.assert_allclose(
        features.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-5
    )


def test_a_weights_file_of_another_alpha_or_with_a_top_says_so(assets):
    weights = assets / "weights"
    cases = [
        # The alpha 0.5 file into an alpha 0.35 network.
        (
            "mobilenet_v2",
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224_no_top.h5",
            {"alpha": 0.35},
        ),
        # The file with the 1000-class top into a network without it.
        ("mobilenet", "mobilenet_v1_0.25_224.h5", {"alpha": 0.25}),
    ]
    for base, name, kwargs in cases:
        if not (weights / name).is_file():
            pytest.skip(f"asset missing: {weights / name}")
        with pytest.raises(ValueError) as info:
            tlk.build_classifier(
                base,
                2,
                input_shape=(96, 96, 3),
                weights=str(weights / name),
                base_kwargs=kwargs,
            )
        message = str(info.value)
        assert f"The weights file {str(weights / name)!r} does not fit" in (
            message
        )
        assert f"base_kwargs={kwargs!r}" in message
        assert "input_shape" not in message  # not the cause
