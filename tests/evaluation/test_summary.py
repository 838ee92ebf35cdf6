import keras

import tlkeras as tlk
from tests.helpers import tiny_cnn


def test_summary_counts_match_the_model():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze=1, bn="frozen")
    lines = []
    table = tlk.summary(model, print_fn=lines.append)
    assert lines == [table]
    rows = {
        line.split()[0]: line.split()
        for line in table.splitlines()
        if line and not line.startswith("-")
    }
    trainable = sum(int(v.numpy().size) for v in model.trainable_variables)
    frozen = model.count_params() - trainable
    assert rows["total"][1:] == [f"{trainable:,}", f"{frozen:,}"]
    # conv_c trains its kernel and bias; its BN is frozen (bn="frozen").
    assert rows["conv_c"] == ["conv_c", "3", "584", "32", "inference"]
    assert rows["conv_a"][2] == "0"
    assert rows["head"][:3] == ["head", "1", "27"]


def test_summary_shows_bn_training_mode():
    model = tlk.build_classifier(tiny_cnn(), 3, freeze="none", bn="train")
    table = tlk.summary(model, print_fn=lambda s: None)
    assert table.count("training") == 3


def test_summary_of_a_plain_model():
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(2, name="hidden"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    table = tlk.summary(model, print_fn=lambda s: None)
    assert [line.split()[0] for line in table.splitlines()[2:4]] == [
        "hidden",
        "head",
    ]
