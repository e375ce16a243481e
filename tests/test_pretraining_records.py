"""Offline pretraining data: sharded TFRecords written atomically, read back as static-shape batches."""

import json
import os

import numpy as np
import pytest

from tfbert.data.masking import MaskedLMMasker
from tfbert.data.pretraining_data import create_instances
from tfbert.data.pretraining_records import read_pretraining_records, write_pretraining_records

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(95)]


def instances(num_docs=12, seed=0):
    rng = np.random.default_rng(seed)
    docs = [[list(rng.integers(5, 100, int(rng.integers(3, 9)))) for _ in range(int(rng.integers(2, 7)))]
            for _ in range(num_docs)]
    return create_instances(docs, cls_id=2, sep_id=3, max_seq_length=24, seed=seed)


def test_round_trip_keeps_every_feature(tmp_path):
    inst = instances()
    masker = MaskedLMMasker(VOCAB, max_predictions=5)
    out = str(tmp_path / "records")
    meta = write_pretraining_records(inst, masker, out, num_shards=3, seed=4)
    n = len(inst["token_ids"])
    assert meta["num_examples"] == n and meta["max_seq_length"] == 24 and meta["max_predictions_per_seq"] == 5
    assert json.load(open(os.path.join(out, "metadata.json")))["shards"] == meta["shards"]
    data = read_pretraining_records(out, batch_size=1, shuffle=False, drop_remainder=False)
    rows = [(x, y) for x, y in data]
    assert len(rows) == n
    # Shards are written round-robin and read shard after shard: rebuild the write order.
    order = [i for shard in range(3) for i in range(shard, n, 3)]
    for (x, y), i in zip(rows, order):
        for name in ("segment_ids", "padding_mask"):
            assert np.array_equal(x[name].numpy()[0], inst[name][i])
        assert y["next_sentence_label"].numpy()[0] == inst["next_sentence_label"][i]
        assert y["mask_weights"].dtype.name == "float32" and x["token_ids"].dtype.name == "int32"
        # A valid masking of this instance: only mask positions changed, labels are the originals.
        positions = x["mask_positions"].numpy()[0][y["mask_weights"].numpy()[0] > 0]
        assert len(positions) == min(5, round(0.15 * inst["padding_mask"][i].sum()))
        assert np.array_equal(y["mask_ids"].numpy()[0][:len(positions)], inst["token_ids"][i][positions])
        unchanged = np.ones(24, bool)
        unchanged[positions] = False
        assert np.array_equal(x["token_ids"].numpy()[0][unchanged], inst["token_ids"][i][unchanged])
    # Same seed, same files; another seed, other masks.
    write_pretraining_records(inst, masker, str(tmp_path / "same"), num_shards=3, seed=4)
    write_pretraining_records(inst, masker, str(tmp_path / "other"), num_shards=3, seed=5)
    shard = meta["shards"][0]
    read = lambda d: open(os.path.join(d, shard), "rb").read()  # noqa: E731
    assert read(out) == read(str(tmp_path / "same")) and read(out) != read(str(tmp_path / "other"))


def test_static_shapes_drop_remainder_and_readers(tmp_path):
    inst = instances(num_docs=20)
    out = str(tmp_path / "r")
    write_pretraining_records(inst, MaskedLMMasker(VOCAB, max_predictions=4), out, num_shards=4)
    data = read_pretraining_records(out, batch_size=8, seed=1)
    x, y = data.element_spec
    assert x["token_ids"].shape.as_list() == [8, 24] and x["mask_positions"].shape.as_list() == [8, 4]
    assert y["next_sentence_label"].shape.as_list() == [8]
    n = len(inst["token_ids"])
    assert int(data.cardinality()) == n // 8 == sum(1 for _ in data)
    half = read_pretraining_records(out, batch_size=1, shard_index=1, num_readers=2, drop_remainder=False)
    assert sum(1 for _ in half) == len(range(1, n, 4)) + len(range(3, n, 4))


def test_writes_are_atomic_and_bad_input_is_clear(tmp_path):
    inst = instances()
    out = str(tmp_path / "r")
    masker = MaskedLMMasker(VOCAB, max_predictions=5)
    write_pretraining_records(inst, masker, out)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_pretraining_records(inst, masker, out)
    broken = dict(inst, token_ids=inst["token_ids"][:, :3])  # shapes disagree: fails mid-write
    with pytest.raises(Exception):
        write_pretraining_records(broken, masker, str(tmp_path / "never"))
    assert sorted(os.listdir(tmp_path)) == ["r"]  # no half-written directory, no temporary left
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        read_pretraining_records(str(tmp_path), batch_size=2)
    with pytest.raises(ValueError, match="fewer than one batch"):
        read_pretraining_records(out, batch_size=10_000)
