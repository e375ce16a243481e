"""GLUE TSV and generic CSV/TSV readers: exact texts, BOMs, quotes, labels and clear errors."""

import bz2
import os

import numpy as np
import pytest

from test_case import shared_data_path
from tfbert.data.csv_text import read_text_table
from tfbert.data.examples import ClassificationData, TextExample
from tfbert.data.glue import read_mrpc, read_sst2


def _write(tmp_path, name, text, encoding="utf-8"):
    path = os.path.join(tmp_path, name)
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return path


def test_sst2_keeps_text_exactly(tmp_path):
    path = _write(tmp_path, "train.tsv", 'sentence\tlabel\nit \'s a "gem" \t1\n  two  spaces \t0\n')
    data = read_sst2(path)
    assert [e.text for e in data] == ['it \'s a "gem" ', "  two  spaces "]
    assert data.labels.tolist() == [1, 0]
    assert data.label_names == ("negative", "positive")
    assert data[1].origin == f"{path}:3"


def test_mrpc_bom_and_unbalanced_quotes(tmp_path):
    text = ("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
            '1\t1\t2\tHe said "yes.\tHe agreed, "yes".\n'
            "0\t3\t4\tA 5\" screen\tA small screen\n")
    data = read_mrpc(_write(tmp_path, "train.tsv", text))
    assert data.is_pair and len(data) == 2
    assert data[0].text == 'He said "yes.' and data[0].text_pair == 'He agreed, "yes".'
    assert data[1].text == 'A 5" screen'
    assert data.labels.tolist() == [1, 0]


def test_missing_column_names_file_and_columns(tmp_path):
    path = _write(tmp_path, "d.tsv", "label\ttext_a\n1\thi\n")
    with pytest.raises(KeyError) as err:
        read_text_table(path, text_column="text", label_column="label")
    message = str(err.value)
    assert path in message and "'text'" in message and "['label', 'text_a']" in message


def test_missing_pair_column(tmp_path):
    path = _write(tmp_path, "d.csv", "a,label\nx,0\n")
    with pytest.raises(KeyError, match="text_pair_column"):
        read_text_table(path, text_column="a", text_pair_column="b")


def test_label_out_of_range_names_the_row(tmp_path):
    path = _write(tmp_path, "d.tsv", "text\tlabel\nok\t1\nfine\t0\nbad\t3\n")
    with pytest.raises(ValueError, match=rf"{path}:4: label 3 is outside num_classes=2"):
        read_text_table(path, num_classes=2)
    data = read_text_table(path, num_classes=4)
    assert data.labels.tolist() == [1, 0, 3]


def test_unknown_label_name_names_the_row(tmp_path):
    path = _write(tmp_path, "d.csv", "text,label\na,pos\nb,neutral\n")
    with pytest.raises(ValueError, match=rf"{path}:3: label 'neutral' is not one of the label_names"):
        read_text_table(path, label_names=["neg", "pos"])


def test_string_labels_are_inferred_in_sorted_order(tmp_path):
    path = _write(tmp_path, "d.csv", 'text,label\n"multi\nline, text",pos\nb,neg\nc,pos\n')
    data = read_text_table(path)
    assert data.label_names == ("neg", "pos")
    assert data.labels.tolist() == [1, 0, 1]
    assert data[0].text == "multi\nline, text"
    assert [e.origin.rsplit(":", 1)[1] for e in data] == ["2", "4", "5"]


def test_wrong_field_count_names_the_row(tmp_path):
    path = _write(tmp_path, "d.tsv", "text\tlabel\na\t1\nb\tc\t0\n")
    with pytest.raises(ValueError, match=rf"{path}:3: row has 3 fields but the header has 2"):
        read_text_table(path)


def test_compressed_csv_with_skip_and_group(tmp_path):
    path = os.path.join(tmp_path, "d.csv.bz2")
    with bz2.open(path, "wt", encoding="utf-8") as f:
        f.write("category,text,movie\nplot,story,m1\nfresh,good,m1\nrotten,bad,m2\n")
    data = read_text_table(path, label_column="category", label_names=["rotten", "fresh"],
                           skip_labels=["plot"], group_column="movie")
    assert [(e.text, e.label, e.group) for e in data] == [("good", 1, "m1"), ("bad", 0, "m2")]


def test_regression_labels(tmp_path):
    path = _write(tmp_path, "sts.tsv", "s1\ts2\tscore\na\tb\t3.8\nc\td\tx\n")
    with pytest.raises(ValueError, match=r"sts.tsv:3: regression target 'x' is not a number"):
        read_text_table(path, text_column="s1", text_pair_column="s2", label_column="score", num_classes=1)


def test_classification_data_to_dataset_pairs():
    data = ClassificationData([TextExample("a", 1, "b"), TextExample("c", 0, "d")])
    (first, second), label = next(iter(data.to_dataset()))
    assert (first.numpy(), second.numpy(), int(label)) == (b"a", b"b", 1)
    assert data.to_dataset().element_spec[1].dtype.name == "int32"


def test_classification_data_rejects_mixed_pairs():
    with pytest.raises(ValueError, match="mixes single texts"):
        ClassificationData([TextExample("a", 1, "b", origin="f:2"), TextExample("c", 0, origin="f:3")])


def test_sample_is_seeded_and_ordered():
    data = ClassificationData([TextExample(str(i), i % 2) for i in range(50)])
    a, b = data.sample(10, seed=3), data.sample(10, seed=3)
    assert a.texts == b.texts and a.texts != data.sample(10, seed=4).texts
    assert [int(t) for t in a.texts] == sorted(int(t) for t in a.texts)


# ---- real files in ../shared/data -------------------------------------------
def test_real_sst2():
    data = read_sst2(shared_data_path("sst2", "train.tsv"))
    assert len(data) == 67349
    assert data[0].text == "hide new secretions from the parental units "
    assert data.label_counts() == {"negative": 29780, "positive": 37569}


def test_real_mrpc():
    data = read_mrpc(shared_data_path("mrpc", "train.tsv"))
    assert len(data) == 3668 and data.is_pair
    assert data[0].text.startswith("Amrozi accused his brother, whom he called \"the witness\"")
    assert int(np.sum(data.labels)) == 2474


def test_real_chnsenticorp():
    train = read_text_table(shared_data_path("chnsenticorp", "train.tsv"), text_column="text_a")
    dev = read_text_table(shared_data_path("chnsenticorp", "dev.tsv"), text_column="text_a")
    assert (len(train), len(dev)) == (9600, 1200)
    assert train.num_classes == 2 and train[0].text.startswith("选择珠江花园")
