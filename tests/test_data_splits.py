"""Held-out splits: seeded, grouped by movie, and free of SST-2 phrase leakage."""

import pytest

from test_case import shared_data_path
from tfbert.data.examples import ClassificationData, TextExample
from tfbert.data.splits import group_hash, group_split, random_split, sentence_holdout_split


def _data(n=100, groups=10):
    return ClassificationData([TextExample(f"t{i}", i % 2, group=f"g{i % groups}", origin=f"f:{i}")
                               for i in range(n)])


def test_random_split_is_seeded_and_complete():
    data = _data()
    train, held = random_split(data, 0.2, seed=5)
    assert len(held) == 20 and len(train) == 80
    assert sorted(train.texts + held.texts) == sorted(data.texts)
    assert random_split(data, 0.2, seed=5)[1].texts == held.texts
    assert random_split(data, 0.2, seed=6)[1].texts != held.texts


def test_group_split_keeps_groups_whole_and_follows_the_hash():
    data = _data(300, groups=40)
    train, test = group_split(data, 0.3)
    assert not {e.group for e in train} & {e.group for e in test}
    assert len(train) + len(test) == 300
    assert {e.group for e in test} == {f"g{i}" for i in range(40) if group_hash(f"g{i}") < 0.3}
    reordered = data.with_examples(list(reversed(data.examples)))
    assert sorted(group_split(reordered, 0.3)[1].texts) == sorted(test.texts)


def test_group_split_needs_groups():
    data = ClassificationData([TextExample("a", 0, origin="x.csv:2")])
    with pytest.raises(ValueError, match="x.csv:2"):
        group_split(data, 0.5)


def test_group_hash_is_stable():
    # sha256("abandon")[:8] as a fraction of 2**64: fixed for every machine and Python version.
    import hashlib
    expected = int(hashlib.sha256(b"abandon").hexdigest()[:16], 16) / 2**64
    assert group_hash("abandon") == expected


def test_sentence_holdout_removes_every_part_of_held_sentences():
    texts = ["a gem of a film", "a gem", "gem", "of a film", "dull and long", "dull", "long",
             "a film", "the end", "end", "a gem of a film"]
    data = ClassificationData([TextExample(t, 1) for t in texts])
    train, held = sentence_holdout_split(data, 0.34, seed=1)   # 3 sentences -> 1 held out
    assert len(held) == 1
    sentence = held[0].text
    for e in train:
        assert e.text not in sentence, (e.text, sentence)
    # Nothing is lost except parts of the held-out sentence.
    assert all(t in sentence for t in texts if t not in train.texts)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_fraction_must_be_inside(fraction):
    with pytest.raises(ValueError, match="between 0 and 1"):
        random_split(_data(), fraction)


def test_real_sst2_sentence_split_has_no_leak():
    from tfbert.data.glue import read_sst2

    data = read_sst2(shared_data_path("sst2", "train.tsv"))
    train, held = sentence_holdout_split(data, 0.12, seed=0)
    assert 800 <= len(held) <= 850
    held_texts = [" ".join(e.text.split()) for e in held]
    train_keys = {" ".join(e.text.split()) for e in train}
    spans = set()
    for sentence in held_texts[:100]:
        tokens = sentence.split()
        spans.update(" ".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1))
    assert not spans & train_keys
