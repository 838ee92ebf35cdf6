"""text_dataset: CSV/TSV files, the real SMS corpus, arrays, tfds."""

import keras
import numpy as np
import pytest

import tlkeras as tlk
from tests.bases.hub_modules import write_text_module

SMS = "datasets/sms_spam_collection/SMSSpamCollection"


def collect(ds):
    texts, labels = [], []
    for x, y in ds:
        texts += [t.decode("utf-8") for t in x.numpy()]
        labels += y.numpy().tolist()
    return texts, labels


def test_arrays_with_string_labels():
    ds = tlk.data.text_dataset(
        (["b", "a", "c", "d"], ["spam", "ham", "spam", "eggs"]),
        batch_size=3,
        shuffle=False,
    )
    assert ds.class_names == ["eggs", "ham", "spam"]
    assert collect(ds) == (["b", "a", "c", "d"], [2, 1, 2, 0])


def test_csv_with_header_and_quoting(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text(
        'id,label,text\n1,1,"great, really great"\n'
        '2,0,"bad ""movie""\non two lines"\n3,1,fine\n',
        encoding="utf-8",
    )
    ds = tlk.data.text_dataset(path, shuffle=False)
    texts, labels = collect(ds)
    assert texts == ["great, really great", 'bad "movie"\non two lines', "fine"]
    assert labels == [1, 0, 1]
    assert ds.class_names == ["0", "1"]


def test_real_sms_corpus_keeps_every_line(assets):
    path = assets / SMS
    if not path.is_file():
        pytest.skip(f"asset missing: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    train, val = tlk.data.text_dataset(
        path,
        text_column=1,
        label_column=0,
        validation_split=0.2,
        subset="both",
        seed=0,
        batch_size=256,
    )
    assert train.class_names == ["ham", "spam"]
    train_texts, train_labels = collect(train)
    val_texts, val_labels = collect(val)
    # CSV quoting would merge the lines holding a lone '"'.
    assert len(train_texts) + len(val_texts) == len(lines)
    spam = sum(line.startswith("spam\t") for line in lines)
    assert sum(train_labels) + sum(val_labels) == spam
    quoted = next(line.split("\t", 1)[1] for line in lines if '"' in line)
    assert quoted in train_texts + val_texts
    assert len(val_texts) == round(0.2 * len(lines))


def test_file_errors_name_the_problem(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("ham\thello\nspam\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no text column 'text'.*text_col"):
        tlk.data.text_dataset(path)
    with pytest.raises(ValueError, match="line 2 has fewer than 2 columns"):
        tlk.data.text_dataset(path, text_column=1, label_column=0)
    with pytest.raises(ValueError, match="No file at"):
        tlk.data.text_dataset(str(tmp_path / "missing.csv"))


def test_tfds_text_source_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=5):
        ds = tlk.data.text_dataset(
            "tfds:imdb_reviews", split="train", batch_size=2
        )
        texts, labels = collect(ds)
    assert len(texts) == 5 and all(isinstance(t, str) for t in texts)
    assert ds.class_names == ["neg", "pos"]
    assert set(labels) <= {0, 1}


def test_text_module_trains_on_a_text_dataset(tmp_path):
    module = write_text_module(tmp_path / "text")
    model = tlk.build_classifier(f"hub:{module}", num_classes=2, freeze="none")
    texts = ["win cash now", "lunch at noon?", "free prize, call", "ok see you"]
    ds = tlk.data.text_dataset(
        (texts * 4, ["spam", "ham", "spam", "ham"] * 4), batch_size=4, seed=0
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    history = model.fit(ds, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    probabilities = model.predict(np.array(texts, object), verbose=0)
    assert probabilities.argmax(1).tolist() == [1, 0, 1, 0]


def test_blank_lines_are_counted_and_said(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("text,label\nhi,ham\n\nwin,spam\n\n\nok,ham\n")
    with pytest.warns(UserWarning, match=r"Skipped 3 blank line\(s\).*3, 5, 6"):
        ds = tlk.data.text_dataset(str(path), shuffle=False)
    assert sum(int(b[1].shape[0]) for b in ds) == 3


def test_a_header_read_by_column_number_is_refused(tmp_path):
    path = tmp_path / "header.csv"
    rows = ["label,text"] + [
        f"{'spam' if i % 3 else 'ham'},msg {i}" for i in range(9)
    ]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match="looks like a header.*'label'"):
        tlk.data.text_dataset(str(path), text_column=1, label_column=0)
    skipped = tlk.data.text_dataset(
        str(path), text_column=1, label_column=0, header=True, shuffle=False
    )
    assert skipped.class_names == ["ham", "spam"]
    kept = tlk.data.text_dataset(
        str(path), text_column=1, label_column=0, header=False, shuffle=False
    )
    assert kept.class_names == ["ham", "label", "spam"]
    with pytest.raises(ValueError, match="need a header row"):
        tlk.data.text_dataset(str(path), header=False)
