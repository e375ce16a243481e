"""Classification data -> a ``tf.data`` pipeline of padded batches that ``model.fit`` takes.

:func:`classification_dataset` turns :class:`ClassificationData` into batches
of ``(inputs, labels)``: ``inputs`` is the model's dict (``token_ids``,
``segment_ids``, ``padding_mask``, int32 [B, S]) and ``labels`` int32 [B]
(float32 for regression). The steps:

1. labels checked against the model's ``num_classes`` (the error names the row);
2. seeded shuffling of the whole set, reshuffled every epoch;
3. length bucketing with ``tfbert.preprocessing.bucketing.bucket_by_length``:
   each example's packed length is measured once with the preprocessor, and
   texts of similar length (buckets 8 tokens wide) are batched together;
4. the ``BertPreprocessor`` mapped over each batch of raw strings, in the
   graph: it tokenizes, packs ``[CLS] a [SEP] (b [SEP])``, truncates to its
   ``sequence_length`` and pads to the batch's longest row rounded up to a
   multiple of 8 (dynamic padding), so a batch of short texts stays short;
5. ``prefetch``. The number of batches is set on the dataset, so ``len()``
   and ``fit``'s progress bar know it.

With ``bucket=False`` the examples keep their order and the preprocessor is
used as given: a static ``sequence_length`` then gives fixed [B, L] batches
(with ``drop_remainder=True``, fully static shapes for TPUs and XLA).
Training and serving tokenize with the same preprocessor, so they cannot
differ.

Example:
>>> from tfbert.data.examples import ClassificationData, TextExample
>>> from tfbert.data.pipeline import classification_dataset
>>> from tfbert.preprocessing import BertPreprocessor, BertTokenizer
>>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "film", "bad"])
>>> data = ClassificationData([TextExample("a good film", 1), TextExample(" ".join(["bad"] * 9), 0),
...                            TextExample("bad", 0)], num_classes=2)
>>> batches = classification_dataset(data, BertPreprocessor(tokenizer, sequence_length=32), batch_size=2)
>>> len(batches), sorted((tuple(x["token_ids"].shape), y.numpy().tolist()) for x, y in batches)
(2, [((1, 16), [0]), ((2, 8), [1, 0])])
"""

import numpy as np
import tensorflow as tf

from tfbert.data.examples import ClassificationData
from tfbert.preprocessing import BertPreprocessor
from tfbert.preprocessing.bucketing import bucket_by_length

#: Bucket width in tokens: buckets hold rows of 1-8, 9-16, ... tokens.
BUCKET_WIDTH = 8


def dynamic_preprocessor(preprocessor):
    """A copy of a ``BertPreprocessor`` that pads each batch dynamically but still truncates
    at its ``sequence_length`` (the same tokenizer object is shared)."""
    if not isinstance(preprocessor, BertPreprocessor) or preprocessor.sequence_length is None:
        return preprocessor
    return BertPreprocessor(preprocessor.tokenizer, sequence_length=None, truncate=preprocessor.truncate,
                            max_sequence_length=preprocessor.sequence_length,
                            max_input_chars=preprocessor.max_input_chars)


def packed_lengths(data, preprocessor, chunk=1024):
    """Number of tokens of each example once packed by ``preprocessor`` ([CLS]/[SEP] and truncation included)."""
    lengths = []
    for start in range(0, len(data), chunk):
        texts = tf.constant(data.texts[start:start + chunk], tf.string)
        inputs = (texts, tf.constant(data.text_pairs[start:start + chunk], tf.string)) if data.is_pair else texts
        lengths.append(tf.reduce_sum(preprocessor(inputs)["padding_mask"], axis=1).numpy())
    return np.concatenate(lengths).astype("int32") if lengths else np.zeros(0, "int32")


def classification_dataset(data, preprocessor, batch_size=32, *, shuffle=False, seed=0, num_classes=None,
                           bucket=True, drop_remainder=False):
    """A batched, padded ``tf.data.Dataset`` of ``(inputs, labels)`` for ``fit``/``evaluate``/``predict``.

    Args:
        data: :class:`ClassificationData` (single texts or pairs).
        preprocessor: a ``tfbert.preprocessing.BertPreprocessor`` (any
            callable taking a batch of strings, or a ``(texts, pairs)``
            tuple, and returning the input dict works). With bucketing, a
            static ``sequence_length`` becomes the truncation length and
            batches are padded dynamically.
        batch_size: rows per batch.
        shuffle: shuffle all examples with ``seed``, again each epoch.
        num_classes: the model's number of classes; labels are checked
            against it (default ``data.num_classes``).
        bucket: group examples of similar length into batches (the order of
            the examples changes; turn it off to keep the data order).
        drop_remainder: drop the last short batch of each bucket (static
            batch size, e.g. for TPUs).
    """
    if not isinstance(data, ClassificationData):
        raise TypeError(f"data must be a tfbert.data.ClassificationData, got {type(data).__name__}.")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if not len(data):
        raise ValueError(f"{data.source or 'data'} holds no examples; nothing to batch.")
    if num_classes is not None and int(num_classes) != data.num_classes:
        data = ClassificationData(data.examples, int(num_classes), source=data.source)  # re-checks every label
    dataset = data.to_dataset()
    if bucket:
        preprocessor = dynamic_preprocessor(preprocessor)
        lengths = packed_lengths(data, preprocessor)
        dataset = tf.data.Dataset.zip((dataset, tf.data.Dataset.from_tensor_slices(tf.constant(lengths))))
    if shuffle:
        dataset = dataset.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    if bucket:
        boundaries = list(range(BUCKET_WIDTH + 1, int(lengths.max()) + 1, BUCKET_WIDTH)) or [BUCKET_WIDTH + 1]
        sizes = np.bincount(np.searchsorted(boundaries, lengths, side="right"))
        batches = sum((n // batch_size) if drop_remainder else -(-n // batch_size) for n in sizes)
        dataset = bucket_by_length(dataset, batch_size, boundaries, length_fn=lambda example, length: length,
                                   drop_remainder=drop_remainder)
        # bucketing hides the number of batches from tf.data; it is known, so say it (len() and fit use it)
        dataset = dataset.map(lambda example, length: example).apply(
            tf.data.experimental.assert_cardinality(int(batches)))
    else:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(lambda x, y: (preprocessor(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)

