"""Generic CSV/TSV reader: a text column (optionally a second text column) and a label column.

``read_text_table`` reads ``.csv``/``.tsv``/``.txt`` files, plain or compressed
(``.bz2``, ``.gz``, ``.xz``), with a header row naming the columns. The column
delimiter is found from the file's content (``sniff_delimiter``: tab, comma,
semicolon or pipe), so a tab-separated ``.txt`` such as MRPC's
``msr_paraphrase_test.txt`` reads as a table. Texts are
kept exactly as written (no stripping). Labels become class ids:

- with ``label_names``: a value equal to a name gets that name's index, and
  an integer value is taken as the id itself;
- without ``label_names``: integer labels are used as they are; string labels
  get ids in sorted order and become the ``label_names``;
- ``num_classes=1`` means regression: labels are read as floats.

Every label is checked against ``num_classes``; a bad one raises an error that
names the file and line. A missing column names the file and the columns it
has. Tab-separated files are read without quote processing (``csv.QUOTE_NONE``), as GLUE
and ERNIE files are written; other delimiters use standard quoting, so quoted fields
may hold commas and newlines. A UTF-8 byte-order mark is skipped.

Example:
>>> import os, tempfile
>>> from tfbert.data.csv_text import read_text_table
>>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
>>> _ = open(path, "w").write('review,stars\\n"Great, really",good\\nmeh,bad\\n')
>>> data = read_text_table(path, text_column="review", label_column="stars")
>>> data.label_names, [(e.text, e.label, os.path.basename(e.origin)) for e in data]
(('bad', 'good'), [('Great, really', 1, 'reviews.csv:2'), ('meh', 0, 'reviews.csv:3')])
>>> read_text_table(path, text_column="text", label_column="stars")
Traceback (most recent call last):
...
KeyError: "...reviews.csv has no column 'text' (the text_column). Its columns are ['review', 'stars']. ..."
"""

import bz2
import csv
import gzip
import itertools
import lzma
import os
import sys

from tfbert.data.examples import ClassificationData, TextExample

_OPENERS = {".bz2": bz2.open, ".gz": gzip.open, ".xz": lzma.open}


def _split_compression(path):
    root, ext = os.path.splitext(path)
    if ext.lower() in _OPENERS:
        return root, _OPENERS[ext.lower()]
    return path, open


def open_text(path, encoding="utf-8-sig"):
    """Open a text file for the csv module, decompressing ``.bz2``/``.gz``/``.xz`` by extension."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Data file not found: {path!r}.")
    _, opener = _split_compression(path)
    # Invalid UTF-8 becomes U+FFFD (which the tokenizer drops), as for every other text input.
    return opener(path, "rt", encoding=encoding, errors="replace", newline="")


def default_delimiter(path):
    """``"\\t"`` for ``.tsv``/``.tab`` files (also compressed), ``","`` otherwise."""
    root, _ = _split_compression(path)
    return "\t" if os.path.splitext(root)[1].lower() in (".tsv", ".tab") else ","


#: the delimiters ``sniff_delimiter`` chooses from, and their names for messages.
DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}
SNIFF_LINES = 50


def sniff_delimiter(path, encoding="utf-8-sig", sample_lines=SNIFF_LINES):
    """The column delimiter of a table file, read from its first ``sample_lines`` lines.

    ``csv.Sniffer`` guesses among tab, comma, semicolon and pipe; its guess
    counts only if the header line holds it. Otherwise the candidate the
    header holds most often wins (ties in the order tab, comma, semicolon,
    pipe), and a header holding none of them (one column) gets the
    extension's default (tab for ``.tsv``/``.tab``, else comma).

    Example:
    >>> import os, tempfile
    >>> from tfbert.data.csv_text import sniff_delimiter
    >>> path = os.path.join(tempfile.mkdtemp(), "pairs.txt")
    >>> _ = open(path, "w").write('Quality\\t#1 String\\t#2 String\\n1\\tHe said "yes", then left.\\tHe left.\\n')
    >>> sniff_delimiter(path) == "\\t"
    True
    """
    with open_text(path, encoding) as f:
        lines = list(itertools.islice(f, sample_lines))
    header = lines[0] if lines else ""
    if not header.strip():
        return default_delimiter(path)
    try:
        found = csv.Sniffer().sniff("".join(lines), delimiters="".join(DELIMITER_NAMES)).delimiter
    except csv.Error:  # no consistent candidate in the sample: decide from the header below
        found = None
    if found in DELIMITER_NAMES and found in header:
        return found
    counts = {d: header.count(d) for d in DELIMITER_NAMES}
    best = max(counts, key=counts.get)
    return best if counts[best] else default_delimiter(path)


def iter_rows(path, delimiter=None, quoting=None, encoding="utf-8-sig"):
    """Yield ``(line_number, row_dict)`` for every data row, after checking the header.

    ``delimiter`` defaults to ``sniff_delimiter(path)``; ``quoting`` to
    ``csv.QUOTE_NONE`` for tabs, ``csv.QUOTE_MINIMAL`` otherwise.
    ``line_number`` is the 1-based line where the row starts. A row with a
    different number of fields than the header raises ``ValueError`` naming it.
    The header is available as the first item: ``(1, header_list)``.
    """
    delimiter = sniff_delimiter(path, encoding) if delimiter is None else delimiter
    if quoting is None:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    _raise_field_limit()
    with open_text(path, encoding) as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path} is empty; expected a header row naming the columns.") from None
        except csv.Error as e:
            raise ValueError(f"{path}:1: cannot parse the header ({e}).") from None
        yield 1, header
        line = reader.line_num
        while True:
            start = line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise ValueError(f"{path}:{start}: cannot parse this row ({e}).") from None
            line = reader.line_num
            if not row:  # blank line
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}:{start}: row has {len(row)} fields but the header has {len(header)} "
                    f"({header}). Check the delimiter ({delimiter!r}) and quoting of this row."
                )
            yield start, dict(zip(header, row))


def _raise_field_limit():
    limit = sys.maxsize
    while True:  # csv's limit is a C long, smaller than sys.maxsize on some platforms
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


def _check_columns(path, header, wanted):
    for role, column in wanted:
        if column is not None and column not in header:
            raise KeyError(
                f"{path} has no column {column!r} (the {role}). Its columns are {header}. "
                f"Pass {role}=<one of those names>."
            )


def read_text_table(path, text_column="text", label_column="label", text_pair_column=None, *,
                    label_names=None, num_classes=None, skip_labels=(), group_column=None,
                    delimiter=None, quoting=None, encoding="utf-8-sig"):
    """Read a CSV/TSV file of labelled texts into :class:`ClassificationData`.

    Args:
        path: a ``.csv``/``.tsv``/``.txt`` file, optionally ``.bz2``/``.gz``/``.xz``.
        text_column, label_column: header names of the text and the label.
        text_pair_column: header name of the second text for pair tasks.
        label_names: class names in id order (see the module docstring).
        num_classes: number of classes (1 = regression); default from
            ``label_names`` or the labels.
        skip_labels: label values whose rows are not examples (dropped).
        group_column: a column copied into ``TextExample.group`` (for
            grouped splits).
        delimiter: default from the content (``sniff_delimiter``).
        quoting: a ``csv.QUOTE_*`` constant; default ``QUOTE_NONE`` for
            tab-separated files, ``QUOTE_MINIMAL`` otherwise.
        encoding: default ``"utf-8-sig"`` (UTF-8, byte-order mark skipped).
    """
    rows = iter_rows(path, delimiter, quoting, encoding)
    _, header = next(rows)
    _check_columns(path, header, [("text_column", text_column), ("label_column", label_column),
                                  ("text_pair_column", text_pair_column), ("group_column", group_column)])
    skip = {str(s) for s in skip_labels}
    raw = []
    for line, row in rows:
        label = row[label_column]
        if label in skip:
            continue
        raw.append((line, row, label))
    if label_names is None and num_classes != 1:
        values = {label for _, _, label in raw}
        if values and not all(_as_int(v) is not None for v in values):
            label_names = sorted(values)
    examples = []
    for line, row, label in raw:
        examples.append(TextExample(
            text=row[text_column],
            label=_label_id(label, label_names, num_classes, f"{path}:{line}"),
            text_pair=row[text_pair_column] if text_pair_column else None,
            origin=f"{path}:{line}",
            group=row[group_column] if group_column else None,
        ))
    return ClassificationData(examples, num_classes, label_names, source=path)


def _as_int(value):
    try:
        return int(value.strip())
    except ValueError:
        return None


def _label_id(label, label_names, num_classes, where):
    if num_classes == 1:
        return label  # ClassificationData parses the float and names the row if it is not a number
    if label_names is not None:
        names = [str(n) for n in label_names]
        if label in names:
            return names.index(label)
        if _as_int(label) is None:
            raise ValueError(
                f"{where}: label {label!r} is not one of the label_names {names} (nor an integer id). "
                "Fix the row, or pass the full list of label_names."
            )
    as_int = _as_int(label)
    if as_int is None:
        raise ValueError(f"{where}: label {label!r} is not an integer class id; pass label_names=[...].")
    return as_int
