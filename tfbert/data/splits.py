"""Deterministic held-out splits of ``ClassificationData``.

Benchmarks report on a validation split cut from the training file, so the
split has to be reproducible and must not leak held-out text into training:

- :func:`random_split`: a seeded random fraction (MRPC, ChnSentiCorp).
- :func:`group_split`: whole groups (``TextExample.group``, e.g. the movie a
  review is about) go to one side, chosen by a hash of the group name, so the
  split does not depend on the file order, the seed or the Python version.
- :func:`sentence_holdout_split`: for phrase-level data such as GLUE SST-2
  ``train.tsv``, where most rows are sub-phrases of other rows. It holds out
  whole sentences (rows that are part of no other row) and removes from
  training every row that is a part of a held-out sentence, so no held-out
  text, and none of its phrases, is trained on. A random row split would
  put phrases of a held-out sentence into training.

Example:
>>> from tfbert.data.examples import ClassificationData, TextExample
>>> from tfbert.data.splits import group_split, sentence_holdout_split
>>> data = ClassificationData([TextExample(f"review {i}", i % 2, group=f"movie {i % 5}") for i in range(20)])
>>> train, test = group_split(data, 0.4)
>>> sorted({e.group for e in test}), len(train) + len(test)
(['movie 0', 'movie 1'], 20)
>>> sst = ClassificationData([TextExample(t, 1) for t in
...     ["a gem", "a gem of a film", "gem", "dull", "dull and long", "long"]])
>>> train, held = sentence_holdout_split(sst, 0.5, seed=0)
>>> held.texts, train.texts
(['a gem of a film'], ['dull', 'dull and long', 'long'])
"""

import hashlib

import numpy as np


def random_split(data, fraction, seed=0):
    """Split ``data`` into ``(train, held_out)`` with ``round(fraction * n)`` held-out examples.

    Both sides keep the file order. The same ``seed`` gives the same split.
    """
    _check_fraction(fraction)
    n_held = int(round(fraction * len(data)))
    held = np.zeros(len(data), bool)
    held[np.random.default_rng(seed).permutation(len(data))[:n_held]] = True
    return _sides(data, held, f"random {fraction:g} split, seed {seed}")


def group_hash(group, salt=""):
    """A number in [0, 1) from the sha256 of ``salt + group``: the same on every machine."""
    digest = hashlib.sha256(f"{salt}{group}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def group_split(data, fraction, salt=""):
    """Split by ``TextExample.group``: a group is held out when ``group_hash(group, salt) < fraction``.

    Every example of a group lands on the same side. The held-out share of
    examples is close to ``fraction`` but not exact (groups differ in size).
    """
    _check_fraction(fraction)
    missing = [e.origin or f"example {i}" for i, e in enumerate(data) if e.group is None]
    if missing:
        raise ValueError(
            f"group_split needs a group for every example; {len(missing)} have none (first: {missing[0]}). "
            "Read the data with group_column=..., or use random_split."
        )
    cache = {}
    held = np.array([cache.setdefault(e.group, group_hash(e.group, salt) < fraction) for e in data], bool)
    return _sides(data, held, f"group split {fraction:g}, salt {salt!r}")


def sentence_holdout_split(data, fraction, seed=0):
    """Hold out whole sentences of phrase-level data; drop their phrases from training.

    Texts are compared as whitespace-separated token sequences (SST-2 is
    tokenized that way). A "sentence" is a text that is not a contiguous part
    of any other text. ``round(fraction * number of sentences)`` sentences,
    drawn with ``seed``, are held out (one example each; duplicates of a
    held-out sentence are dropped). Training keeps every other example that
    is not a contiguous part of a held-out sentence.
    """
    _check_fraction(fraction)
    keys = [" ".join(e.text.split()) for e in data]
    known = set(keys)
    inside_other = set()
    for key in known:
        for part in _proper_parts(key.split()):
            if part in known:
                inside_other.add(part)
    sentences = sorted(k for k in known if k not in inside_other)
    n_held = int(round(fraction * len(sentences)))
    order = np.random.default_rng(seed).permutation(len(sentences))
    held_sentences = {sentences[i] for i in order[:n_held]}
    held_parts = set(held_sentences)
    for sentence in held_sentences:
        held_parts.update(_proper_parts(sentence.split()))
    held, drop, seen = np.zeros(len(data), bool), np.zeros(len(data), bool), set()
    for i, key in enumerate(keys):
        if key in held_sentences and key not in seen:
            held[i] = True
            seen.add(key)
        elif key in held_parts:
            drop[i] = True
    train, held_out = _sides(data, held, f"sentence hold-out {fraction:g}, seed {seed}", drop=drop)
    return train, held_out


def _proper_parts(tokens):
    n = len(tokens)
    for i in range(n):
        for j in range(i + 1, n + 1):
            if j - i < n:
                yield " ".join(tokens[i:j])


def _check_fraction(fraction):
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction!r}.")


def _sides(data, held, how, drop=None):
    keep = ~held if drop is None else ~held & ~drop
    train = data.with_examples([e for e, k in zip(data, keep) if k], f"{data.source} [train: {how}]")
    test = data.with_examples([e for e, h in zip(data, held) if h], f"{data.source} [held out: {how}]")
    return train, test
