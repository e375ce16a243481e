"""Labelled texts for classification: one record type shared by every reader.

A :class:`TextExample` is one text (or text pair) with its label and the place
it came from (``"train.tsv:12"``), so that every later error can name the row.
:class:`ClassificationData` holds the examples of one file or split with the
label names and ``num_classes``; it validates every label on construction and
turns into an unbatched ``tf.data.Dataset`` of ``(text, label)`` or
``((text_a, text_b), label)``.

Example:
>>> from tfbert.data.examples import ClassificationData, TextExample
>>> data = ClassificationData([TextExample("a fine film ", 1, origin="demo:2"),
...                            TextExample("dull", 0, origin="demo:3")],
...                           label_names=["negative", "positive"])
>>> len(data), data.num_classes, data.is_pair, data.label_counts()
(2, 2, False, {'negative': 1, 'positive': 1})
>>> [(t.numpy(), int(y)) for t, y in data.to_dataset()]
[(b'a fine film ', 1), (b'dull', 0)]
>>> ClassificationData([TextExample("x", 2, origin="demo:7")], num_classes=2)
Traceback (most recent call last):
...
ValueError: demo:7: label 2 is outside num_classes=2 (expected an integer in 0..1). ...
"""

import collections
from typing import NamedTuple, Optional

import numpy as np


class TextExample(NamedTuple):
    """One labelled text or text pair.

    Fields:
        text: the (first) text, exactly as read.
        label: the class id (int), or a float target when ``num_classes=1``.
        text_pair: the second text of a pair, or None.
        origin: where it came from, e.g. ``"train.tsv:12"``; used in errors.
        group: an optional grouping key (e.g. the movie a review is about),
            used by grouped splits so a group never lands on both sides.

    Example:
    >>> TextExample("good", 1).text_pair is None
    True
    """

    text: str
    label: object
    text_pair: Optional[str] = None
    origin: str = ""
    group: Optional[str] = None


def _where(example, index):
    return example.origin or f"example {index}"


def check_label(label, num_classes, where):
    """Return ``label`` as an int class id (float for regression) or raise naming ``where``."""
    if num_classes == 1:
        try:
            return float(label)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: regression target {label!r} is not a number.") from None
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
        raise ValueError(
            f"{where}: label {label!r} is not an integer class id (expected 0..{num_classes - 1}). "
            "Map string labels to ids with label_names=[...]."
        )
    if not 0 <= int(label) < num_classes:
        raise ValueError(
            f"{where}: label {label} is outside num_classes={num_classes} "
            f"(expected an integer in 0..{num_classes - 1}). Fix the row, or pass a larger num_classes."
        )
    return int(label)


class ClassificationData:
    """The examples of one file or split, their label names and ``num_classes``.

    Args:
        examples: an iterable of :class:`TextExample` (all single texts or
            all pairs).
        num_classes: number of classes (1 means regression). Default: the
            number of ``label_names``, else the largest label + 1 (at least 2).
        label_names: optional class names, index = class id.
        source: a description used in messages (usually the file path).

    Every label is checked against ``num_classes`` here, and the error names
    the row (``origin``) of the first bad one.

    Example:
    >>> from tfbert.data.examples import ClassificationData, TextExample
    >>> pairs = ClassificationData([TextExample("a", 1, text_pair="b")], num_classes=2)
    >>> pairs.is_pair, pairs.texts, pairs.text_pairs
    (True, ['a'], ['b'])
    """

    def __init__(self, examples, num_classes=None, label_names=None, source=""):
        examples = [e if isinstance(e, TextExample) else TextExample(*e) for e in examples]
        if label_names is not None:
            label_names = tuple(str(n) for n in label_names)
            if len(set(label_names)) != len(label_names):
                raise ValueError(f"label_names has duplicates: {list(label_names)}.")
        if num_classes is None:
            if label_names is not None:
                num_classes = len(label_names)
            else:
                ints = [e.label for e in examples if isinstance(e.label, (int, np.integer))]
                num_classes = max(2, max(ints, default=0) + 1)
        num_classes = int(num_classes)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 (1 means regression), got {num_classes}.")
        if label_names is not None and len(label_names) != num_classes:
            raise ValueError(
                f"{source or 'data'}: {len(label_names)} label_names {list(label_names)} "
                f"but num_classes={num_classes}; give one name per class."
            )
        pair_flags = {e.text_pair is not None for e in examples}
        if len(pair_flags) > 1:
            single = next(i for i, e in enumerate(examples) if e.text_pair is None)
            paired = next(i for i, e in enumerate(examples) if e.text_pair is not None)
            raise ValueError(
                f"{source or 'data'}: mixes single texts ({_where(examples[single], single)}) and text "
                f"pairs ({_where(examples[paired], paired)}); every example must have a text_pair or none must."
            )
        checked = []
        for i, e in enumerate(examples):
            if not isinstance(e.text, str) or (e.text_pair is not None and not isinstance(e.text_pair, str)):
                raise ValueError(f"{_where(e, i)}: text must be a string, got {type(e.text).__name__}.")
            label = check_label(e.label, num_classes, _where(e, i))
            checked.append(e if label is e.label else e._replace(label=label))
        self.examples = checked
        self.num_classes = num_classes
        self.label_names = label_names
        self.source = source

    # ---- sequence protocol ---------------------------------------------
    def __len__(self):
        return len(self.examples)

    def __iter__(self):
        return iter(self.examples)

    def __getitem__(self, index):
        return self.examples[index]

    def __repr__(self):
        kind = "pairs" if self.is_pair else "texts"
        return (f"ClassificationData({len(self)} {kind}, num_classes={self.num_classes}, "
                f"label_names={list(self.label_names) if self.label_names else None}, source={self.source!r})")

    # ---- views -----------------------------------------------------------
    @property
    def is_pair(self):
        """True when the examples are text pairs."""
        return bool(self.examples) and self.examples[0].text_pair is not None

    @property
    def texts(self):
        return [e.text for e in self.examples]

    @property
    def text_pairs(self):
        return [e.text_pair for e in self.examples] if self.is_pair else None

    @property
    def labels(self):
        dtype = "float32" if self.num_classes == 1 else "int32"
        return np.array([e.label for e in self.examples], dtype=dtype)

    @property
    def class_names(self):
        """``label_names``, or "0", "1", ... when there are none."""
        return list(self.label_names) if self.label_names else [str(i) for i in range(self.num_classes)]

    def label_counts(self):
        """{class name: number of examples}, in class-id order."""
        if self.num_classes == 1:
            raise ValueError("label_counts is for classification; this data is a regression (num_classes=1).")
        counts = collections.Counter(e.label for e in self.examples)
        return {name: counts.get(i, 0) for i, name in enumerate(self.class_names)}

    # ---- new data from this one ----------------------------------------
    def with_examples(self, examples, source=None):
        """Same label set, other examples (e.g. a split or a sample)."""
        return ClassificationData(examples, self.num_classes, self.label_names,
                                  self.source if source is None else source)

    def sample(self, n, seed=0):
        """``n`` examples drawn without replacement with ``seed``, kept in file order."""
        if n is None or n >= len(self):
            return self
        keep = np.sort(np.random.default_rng(seed).permutation(len(self))[:n])
        return self.with_examples([self.examples[i] for i in keep], f"{self.source} (sample of {n}, seed {seed})")

    # ---- tf.data ---------------------------------------------------------
    def to_dataset(self):
        """Unbatched ``tf.data``: ``(text, label)`` or ``((text_a, text_b), label)`` string/int32 tensors."""
        import tensorflow as tf

        texts = tf.constant(self.texts, dtype=tf.string, shape=[len(self)])
        labels = tf.constant(self.labels)
        if self.is_pair:
            pairs = tf.constant(self.text_pairs, dtype=tf.string, shape=[len(self)])
            return tf.data.Dataset.from_tensor_slices(((texts, pairs), labels))
        return tf.data.Dataset.from_tensor_slices((texts, labels))
