"""classification_dataset: labels checked, seeded shuffling, length buckets, dynamic padding, fit."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import tfbert
from test_case import TINY
from tfbert.data.examples import ClassificationData, TextExample
from tfbert.data.pipeline import classification_dataset, packed_lengths
from tfbert.preprocessing import BertPreprocessor, BertTokenizer

WORDS = "a an the good bad film movie plot dull great fun long short not very".split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


TOKENIZER = BertTokenizer(VOCAB)
PREPROCESSOR = BertPreprocessor(TOKENIZER, sequence_length=32)


def _preprocessor(sequence_length=32):
    if sequence_length == 32:
        return PREPROCESSOR
    return BertPreprocessor(TOKENIZER, sequence_length=sequence_length)


def _data(n=40, seed=0, pairs=False):
    rng = np.random.default_rng(seed)
    examples = []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(1, 20)))
        pair = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 6)))) if pairs else None
        examples.append(TextExample(" ".join(words), int("good" in words), pair, origin=f"mem:{i}"))
    return ClassificationData(examples, num_classes=2)


def _rows(dataset):
    """(token ids without padding, label) of every example, in pipeline order."""
    rows = []
    for inputs, labels in dataset:
        ids, mask = inputs["token_ids"].numpy(), inputs["padding_mask"].numpy()
        for r in range(ids.shape[0]):
            rows.append((tuple(ids[r][mask[r] > 0]), int(labels[r])))
    return rows


def test_every_example_once_with_its_label():
    data = _data()
    packed = PREPROCESSOR(tf.constant(data.texts))
    expected = sorted((tuple(ids[mask > 0]), e.label)
                      for ids, mask, e in zip(packed["token_ids"].numpy(), packed["padding_mask"].numpy(), data))
    assert sorted(_rows(classification_dataset(data, PREPROCESSOR, 8, shuffle=True, seed=3))) == expected


def test_batches_are_bucketed_and_padded_to_multiples_of_8():
    data = _data(200)
    lengths = packed_lengths(data, _preprocessor())
    widths = []
    for inputs, _ in classification_dataset(data, _preprocessor(), 16):
        width = inputs["token_ids"].shape[1]
        rows = inputs["padding_mask"].numpy().sum(axis=1)
        assert width % 8 == 0 and rows.max() > width - 8     # no more padding than the rounding
        assert rows.max() - rows.min() < 8                    # one bucket per batch
        widths.append(width)
    assert min(widths) < max(widths)
    assert max(widths) == int(np.ceil(lengths.max() / 8) * 8)


def test_pairs_get_segment_ids():
    data = _data(10, pairs=True)
    inputs, _ = next(iter(classification_dataset(data, _preprocessor(), 4, bucket=False)))
    segments = inputs["segment_ids"].numpy()
    assert segments.max() == 1 and set(np.unique(segments)) <= {0, 1}


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    data = _data(64)
    dataset = classification_dataset(data, PREPROCESSOR, 8, shuffle=True, seed=1)
    first, second = _rows(dataset), _rows(dataset)
    assert first != second and sorted(first) == sorted(second)
    assert _rows(classification_dataset(data, PREPROCESSOR, 8, shuffle=True, seed=1)) == first


def test_no_bucket_keeps_the_order():
    data = _data(20)
    labels = [y for _, y in _rows(classification_dataset(data, _preprocessor(), 6, bucket=False))]
    assert labels == data.labels.tolist()


def test_label_outside_the_models_classes_names_the_row():
    data = ClassificationData([TextExample("good", 0, origin="a.tsv:2"), TextExample("bad", 2, origin="a.tsv:3")])
    with pytest.raises(ValueError, match=r"a.tsv:3: label 2 is outside num_classes=2"):
        classification_dataset(data, _preprocessor(), 4, num_classes=2)


def test_long_texts_are_truncated_to_sequence_length():
    data = ClassificationData([TextExample(" ".join(["good"] * 100), 1)], num_classes=2)
    inputs, _ = next(iter(classification_dataset(data, _preprocessor(sequence_length=16), 4)))
    assert inputs["token_ids"].shape == (1, 16)


def test_fit_on_the_pipeline_lowers_the_loss():
    keras.utils.set_random_seed(0)
    data = ClassificationData([TextExample(f"{w} film", int(w == "good")) for w in ["good", "bad"] * 16])
    config = tfbert.BertConfig(**{**TINY, "vocab_size": len(VOCAB)})
    model = tfbert.BertClassifier(tfbert.BERT(config), num_classes=2)
    model.compile(learning_rate=3e-2, num_train_steps=40, jit_compile=False)  # tiny models need a push off the plateau
    dataset = classification_dataset(data, PREPROCESSOR, 16, shuffle=True, seed=0)
    assert len(dataset) == 2
    history = model.fit(dataset, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
