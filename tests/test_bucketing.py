"""bucket_by_length: similar lengths together, every example once, padding to a multiple of 8."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.preprocessing import BertPreprocessor, BertTokenizer
from tfbert.preprocessing.bucketing import bucket_by_length

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]


@pytest.fixture(scope="module")
def preprocessor():
    return BertPreprocessor(BertTokenizer(VOCAB))


def texts_of_lengths(lengths):
    return [" ".join(["a"] * n) for n in lengths]


def test_batches_group_similar_lengths_and_keep_every_example(preprocessor):
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 60, 200).tolist()
    labels = list(range(200))
    ds = tf.data.Dataset.from_tensor_slices((texts_of_lengths(lengths), labels)).map(
        lambda t, y: (preprocessor(t), y))
    boundaries = [8, 16, 32]
    seen = []
    for features, y in bucket_by_length(ds, batch_size=16, boundaries=boundaries):
        real = features["padding_mask"].numpy().sum(axis=1)            # [CLS] + text + [SEP]
        buckets = np.searchsorted(boundaries, real, side="right")
        assert len(set(buckets.tolist())) == 1, real
        width = features["token_ids"].shape[1]
        assert width % 8 == 0 and width - 8 < real.max() <= width
        for key in ("segment_ids", "padding_mask"):
            assert features[key].shape == features["token_ids"].shape
        ids = features["token_ids"].numpy()
        for row, n, label in zip(ids, real, y.numpy()):
            assert row[0] == 2 and row[n - 1] == 3 and (row[n:] == 0).all()
            assert n - 2 == lengths[label]                               # the label travels with its text
        seen += y.numpy().tolist()
    assert sorted(seen) == labels


def test_padding_wastes_less_than_dynamic_padding_alone(preprocessor):
    lengths = [2, 120, 3, 100, 4, 90, 5, 110] * 8
    texts = texts_of_lengths(lengths)
    plain = tf.data.Dataset.from_tensor_slices(texts).batch(8).map(preprocessor)
    single = tf.data.Dataset.from_tensor_slices(texts).map(preprocessor)
    bucketed = bucket_by_length(single, batch_size=8, boundaries=[16, 64])

    def padded_positions(ds):
        return sum(int(np.prod(b["token_ids"].shape)) for b in ds)

    real = sum(n + 2 for n in lengths)
    assert padded_positions(bucketed) < 0.6 * padded_positions(plain)
    assert padded_positions(bucketed) >= real


def test_offsets_pad_with_minus_one_and_custom_length_fn():
    pre = BertPreprocessor(BertTokenizer(VOCAB))
    ds = tf.data.Dataset.from_tensor_slices(texts_of_lengths([1, 2, 3, 30])).map(pre.call_with_offsets)
    batches = list(bucket_by_length(ds, batch_size=2, boundaries=[10], length_fn=lambda f: tf.size(f["token_ids"])))
    first = batches[0]
    assert first["token_ids"].shape == (2, 8)
    assert first["start_offsets"].numpy()[0].tolist() == [-1, 0, -1, -1, -1, -1, -1, -1]


def test_drop_remainder_and_no_rounding(preprocessor):
    ds = tf.data.Dataset.from_tensor_slices(texts_of_lengths([1, 1, 1, 9, 9])).map(preprocessor)
    kept = list(bucket_by_length(ds, batch_size=2, boundaries=[8], drop_remainder=True))
    assert [b["token_ids"].shape[0] for b in kept] == [2, 2]
    exact = list(bucket_by_length(ds, batch_size=3, boundaries=[8], pad_to_multiple_of=1))
    assert sorted(b["token_ids"].shape[1] for b in exact) == [8, 16]   # the preprocessor already padded to 8


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2, boundaries=[32, 16]), ValueError, "increasing"),
    (dict(batch_size=2, pad_to_multiple_of=0), ValueError, "pad_to_multiple_of"),
])
def test_bad_arguments(preprocessor, kwargs, error, match):
    ds = tf.data.Dataset.from_tensor_slices(["a"]).map(preprocessor)
    with pytest.raises(error, match=match):
        bucket_by_length(ds, **kwargs)


def test_rejects_batched_datasets_and_non_datasets(preprocessor):
    batched = tf.data.Dataset.from_tensor_slices(["a", "b"]).batch(2).map(preprocessor)
    with pytest.raises(ValueError, match="unbatched"):
        bucket_by_length(batched, batch_size=2)
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        bucket_by_length(["a"], batch_size=2)
    strings = tf.data.Dataset.from_tensor_slices(["a"])
    with pytest.raises(TypeError, match="features dict"):
        list(bucket_by_length(strings, batch_size=2))
