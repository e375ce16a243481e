"""Multiple-choice tables (SWAG layout): a context, N candidate columns and the index of the right one.

``read_choice_table`` reads a CSV/TSV/TXT file (plain or compressed, delimiter
found from its content as in ``tfbert.data.csv_text``) with a header row. By
default the candidates are the columns named ``ending0``, ``ending1``, ... (SWAG)
or ``choice0``, ``choice1``, ... in the order of their numbers; the label is
the 0-based index of the right candidate. Every label is checked, and an error
names the file and line.

Example:
>>> import os, tempfile
>>> from tfbert.data.choices import read_choice_table
>>> path = os.path.join(tempfile.mkdtemp(), "swag.csv")
>>> _ = open(path, "w").write("startphrase,ending0,ending1,label\\nShe opens the door,and walks in.,and eats it.,0\\n")
>>> examples = read_choice_table(path, context_column="startphrase")
>>> examples[0].context, examples[0].choices, examples[0].label
('She opens the door', ('and walks in.', 'and eats it.'), 0)
>>> read_choice_table(path, context_column="startphrase", choice_columns=["ending0"])
Traceback (most recent call last):
...
ValueError: ...swag.csv: multiple choice needs at least 2 choice columns, got ['ending0']. ...
"""

import re
from typing import NamedTuple, Tuple

import numpy as np

from tfbert.data.csv_text import iter_rows

_CHOICE_PATTERN = re.compile(r"^(ending|choice|option)(\d+)$")


class ChoiceExample(NamedTuple):
    """One multiple-choice question: its context, the candidates, the right index and where it came from."""

    context: str
    choices: Tuple[str, ...]
    label: int
    origin: str = ""


def find_choice_columns(header):
    """The header's ``ending<i>`` (else ``choice<i>``, ``option<i>``) columns, in the order of their numbers."""
    for prefix in ("ending", "choice", "option"):
        numbered = [(int(m.group(2)), name) for name in header
                    for m in [_CHOICE_PATTERN.match(name)] if m and m.group(1) == prefix]
        if numbered:
            return [name for _, name in sorted(numbered)]
    return []


def read_choice_table(path, context_column="startphrase", choice_columns=None, label_column="label", *,
                      delimiter=None, encoding="utf-8-sig"):
    """Read a multiple-choice table into a list of :class:`ChoiceExample`.

    Args:
        path: a table file with a header row.
        context_column: the column of the context (SWAG: ``startphrase``).
        choice_columns: the candidate columns (default ``find_choice_columns``).
        label_column: the column holding the right candidate's 0-based index.
        delimiter: default from the content (``tfbert.data.csv_text.sniff_delimiter``).
    """
    rows = iter_rows(path, delimiter, None, encoding)
    _, header = next(rows)
    choice_columns = list(choice_columns) if choice_columns else find_choice_columns(header)
    if len(choice_columns) < 2:
        raise ValueError(f"{path}: multiple choice needs at least 2 choice columns, got {choice_columns}. "
                         f"Its columns are {header}; name the candidates ending0, ending1, ... or pass "
                         "choice_columns.")
    for role, column in [("context column", context_column), ("label column", label_column)] + [
            ("choice column", c) for c in choice_columns]:
        if column not in header:
            raise KeyError(f"{path} has no {role} {column!r}. Its columns are {header}.")
    examples = []
    for line, row in rows:
        label = row[label_column].strip()
        if not label.isdigit() or int(label) >= len(choice_columns):
            raise ValueError(f"{path}:{line}: label {row[label_column]!r} is not the index of one of the "
                             f"{len(choice_columns)} choices (expected 0..{len(choice_columns) - 1}).")
        examples.append(ChoiceExample(row[context_column], tuple(row[c] for c in choice_columns), int(label),
                                      f"{path}:{line}"))
    if not examples:
        raise ValueError(f"{path} holds no rows after its header.")
    return examples


def sample_examples(examples, n, seed=0):
    """``n`` of the examples drawn without replacement with ``seed``, in their order (all when ``n`` is None)."""
    if n is None or n >= len(examples):
        return list(examples)
    keep = np.sort(np.random.default_rng(seed).permutation(len(examples))[:n])
    return [examples[i] for i in keep]
