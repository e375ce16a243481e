"""Batching examples of similar length together, with dynamic padding to a multiple of 8.

Dynamic padding (``BertPreprocessor(sequence_length=None)``) pads each batch to
its longest sequence, but a batch that mixes a 10-token and a 300-token example
still pays for 300 positions on every row. ``bucket_by_length`` first sorts
examples into length buckets (tf.data's ``bucket_by_sequence_length``), then
batches within a bucket, so rows in a batch have similar lengths; every
variable-length feature is then padded to a multiple of 8 (tensor-core friendly).

Input: an unbatched ``tf.data.Dataset`` whose elements are a features dict
(e.g. ``BertPreprocessor`` applied to single strings, which gives rank-1
features), or a tuple ``(features, label[, sample_weight])``. Every rank-1
component of unknown length is a sequence and gets padded: with 0, or with -1
for ``start_offsets``, ``end_offsets`` and ``word_ids`` (override with
``padding_values``). Batches come out in bucket order, not input order
(shuffle before bucketing for training).

Example:
>>> import tensorflow as tf
>>> from tfbert.preprocessing import BertTokenizer, BertPreprocessor
>>> from tfbert.preprocessing.bucketing import bucket_by_length
>>> pre = BertPreprocessor(BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]))
>>> texts = ["a", "a a a a a a a a a a a a a a a a a a a a", "a a", "a a a a a a a a a a a a a a a a a a"]
>>> ds = tf.data.Dataset.from_tensor_slices(texts).map(pre)
>>> for batch in bucket_by_length(ds, batch_size=2, boundaries=[16]):
...     print(batch["token_ids"].shape, batch["padding_mask"].numpy().sum(axis=1).tolist())
(2, 8) [3, 4]
(2, 24) [22, 20]
"""

import tensorflow as tf

#: Upper bounds (exclusive) of the default length buckets, in tokens.
DEFAULT_BOUNDARIES = (16, 32, 64, 128, 256)
OFFSET_KEYS = ("start_offsets", "end_offsets", "word_ids")


def default_length(element):
    """Number of real tokens of an example: the sum of its ``padding_mask`` (else ``token_ids`` length)."""
    features = element[0] if isinstance(element, tuple) else element
    if not isinstance(features, dict) or "token_ids" not in features:
        raise TypeError("bucket_by_length needs elements that are a features dict with 'token_ids' (or a tuple "
                        "starting with one); pass length_fn for other layouts.")
    if "padding_mask" in features:
        return tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32))
    return tf.shape(features["token_ids"])[0]


def _padding_values(spec):
    """0 for every component; -1 for offset and word-id features."""
    def walk(s, key=None):
        if isinstance(s, dict):
            return {k: walk(v, k) for k, v in s.items()}
        if isinstance(s, (tuple, list)):
            return type(s)(walk(v) for v in s)
        return tf.constant(-1 if key in OFFSET_KEYS else 0, s.dtype) if s.dtype != tf.string else tf.constant("")
    return walk(spec)


def bucket_by_length(dataset, batch_size, boundaries=DEFAULT_BOUNDARIES, length_fn=None, pad_to_multiple_of=8,
                     drop_remainder=False, padding_values=None):
    """Group an unbatched dataset into batches of similar length, padded to a multiple of 8.

    Args:
        dataset: unbatched ``tf.data.Dataset`` of feature dicts or (features, label[, weight]).
        batch_size: examples per batch, in every bucket.
        boundaries: increasing bucket bounds in tokens; lengths below ``boundaries[0]`` form the
            first bucket, lengths at or above ``boundaries[-1]`` the last.
        length_fn: element → scalar int length; default :func:`default_length`.
        pad_to_multiple_of: round every sequence feature's length up to this (1 to disable).
        drop_remainder: drop each bucket's last incomplete batch (static batch size).
        padding_values: same structure as an element; default 0, -1 for offsets and word ids.

    Returns:
        The batched ``tf.data.Dataset``.
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"bucket_by_length expects a tf.data.Dataset, got {type(dataset).__name__}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    boundaries = [int(b) for b in boundaries]
    if not boundaries or any(b < 1 for b in boundaries) or boundaries != sorted(set(boundaries)):
        raise ValueError(f"boundaries must be increasing positive integers, got {boundaries!r}.")
    if isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1:
        raise ValueError(f"pad_to_multiple_of must be a positive integer, got {pad_to_multiple_of!r}.")
    spec = dataset.element_spec
    for s in tf.nest.flatten(spec):
        if s.shape.rank is None or s.shape.rank > 1:
            raise ValueError(f"bucket_by_length expects unbatched examples (scalars and rank-1 sequences); a "
                             f"component has shape {s.shape}. Apply it before .batch(), and map the "
                             "preprocessor over single strings.")
    if padding_values is None:
        padding_values = _padding_values(spec)
    length_fn = length_fn or (lambda *element: default_length(element[0] if len(element) == 1 else element))
    batched = dataset.bucket_by_sequence_length(
        element_length_func=length_fn,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=padding_values,
        drop_remainder=drop_remainder)
    if pad_to_multiple_of == 1:
        return batched
    sequence = tf.nest.map_structure(lambda s: s.shape.rank == 1 and s.shape[0] is None, spec)

    def pad(*element):
        element = element[0] if len(element) == 1 else element
        flat = tf.nest.flatten(element)
        is_seq = tf.nest.flatten(sequence)
        values = tf.nest.flatten(padding_values)
        out = []
        for tensor, seq, value in zip(flat, is_seq, values):
            if seq:
                length = tf.shape(tensor)[1]
                extra = (-length) % pad_to_multiple_of
                tensor = tf.pad(tensor, [[0, 0], [0, extra]], constant_values=value)
            out.append(tensor)
        return tf.nest.pack_sequence_as(element, out)

    return batched.map(pad, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
