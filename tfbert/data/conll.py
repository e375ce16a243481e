"""CoNLL column files (CoNLL-2003 NER and the like): words and tags per sentence.

One token per line, columns separated by whitespace (``word POS chunk NER``
in CoNLL-2003), a blank line between sentences. ``-DOCSTART-`` lines mark
document boundaries and are not words; they end the current sentence. Every
sentence remembers where it started (``"train.txt:3"``), and a line with a
different number of columns than the file's first token line, or a tag that
is neither ``O`` nor ``PREFIX-TYPE``, is an error naming the file and line.

Example:
>>> import os, tempfile
>>> from tfbert.data.conll import read_conll, tag_names
>>> path = os.path.join(tempfile.mkdtemp(), "mini.txt")
>>> _ = open(path, "w").write("-DOCSTART- -X- -X- O\\n\\nEU NNP B-NP B-ORG\\nrejects VBZ B-VP O\\n\\n"
...                           "Peter NNP B-NP B-PER\\nBlackburn NNP I-NP I-PER\\n")
>>> sentences = read_conll(path)
>>> [(s.words, s.tags, s.origin) for s in sentences]
[(['EU', 'rejects'], ['B-ORG', 'O'], 'mini.txt:3'), (['Peter', 'Blackburn'], ['B-PER', 'I-PER'], 'mini.txt:6')]
>>> tag_names(sentences)
['O', 'B-ORG', 'B-PER', 'I-PER']
>>> _ = open(path, "a").write("Oops\\n")
>>> read_conll(path)
Traceback (most recent call last):
...
ValueError: mini.txt:8: expected 4 whitespace-separated columns (like line 3), got 1: 'Oops'. ...
"""

import os
import re
from typing import List, NamedTuple

DOCSTART = "-DOCSTART-"
_TAG = re.compile(r"^(O|[A-Z]+-\S+)$")


class TaggedSentence(NamedTuple):
    """One sentence of a column file.

    Fields:
        words: the tokens as written.
        tags: one tag per word (e.g. ``B-PER``, ``I-LOC``, ``O``).
        origin: ``"file:line"`` of the sentence's first token.
    """

    words: List[str]
    tags: List[str]
    origin: str = ""


def read_conll(path, tag_column=-1, word_column=0, iob_tags=True, encoding="utf-8"):
    """Read a CoNLL column file into a list of :class:`TaggedSentence`.

    Args:
        path: the file (CoNLL-2003 ``train.txt``/``valid.txt``/``test.txt``).
        tag_column: column holding the tag (-1: the last, CoNLL-2003's NER;
            1 for POS).
        word_column: column holding the word (0).
        iob_tags: check that every tag is ``O`` or ``PREFIX-TYPE`` (NER
            chunks); pass False for plain labels such as POS tags.
    Raises:
        FileNotFoundError if ``path`` is missing; ValueError naming
        ``file:line`` for a line with the wrong number of columns or a tag
        that is neither ``O`` nor ``PREFIX-TYPE``.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"CoNLL file not found: {path}")
    name = os.path.basename(path)
    sentences, words, tags, origin = [], [], [], ""
    columns, columns_line = None, None

    def flush():
        if words:
            sentences.append(TaggedSentence(list(words), list(tags), origin))
        words.clear()
        tags.clear()

    with open(path, encoding=encoding, errors="replace") as f:  # invalid UTF-8 -> U+FFFD, as everywhere
        for number, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                flush()
                continue
            if fields[0] == DOCSTART:
                flush()
                continue
            where = f"{name}:{number}"
            if columns is None:
                columns, columns_line = len(fields), number
                needed = max(tag_column if tag_column >= 0 else -tag_column - 1, word_column) + 1
                if columns < max(needed, 2):
                    raise ValueError(
                        f"{where}: expected at least {max(needed, 2)} whitespace-separated columns "
                        f"(a word and a tag), got {columns}: {line.rstrip()!r}."
                    )
            elif len(fields) != columns:
                raise ValueError(
                    f"{where}: expected {columns} whitespace-separated columns (like line {columns_line}), "
                    f"got {len(fields)}: {line.rstrip()!r}. Each token line needs the word and its tags; "
                    "sentences are separated by blank lines."
                )
            tag = fields[tag_column]
            if iob_tags and not _TAG.match(tag):
                raise ValueError(
                    f"{where}: tag {tag!r} is neither 'O' nor PREFIX-TYPE (like 'B-PER'); "
                    f"check tag_column={tag_column}, or pass iob_tags=False for plain labels such as POS tags."
                )
            if not words:
                origin = where
            words.append(fields[word_column])
            tags.append(tag)
    flush()
    if not sentences:
        raise ValueError(f"{path} holds no tagged sentences; is it a CoNLL column file?")
    return sentences


def tag_names(sentences):
    """Every tag of ``sentences``, ``O`` first, then sorted by type and prefix (B before I)."""
    tags = {tag for sentence in sentences for tag in sentence.tags}
    others = sorted(tags - {"O"}, key=lambda t: (t.partition("-")[2], t.partition("-")[0]))
    return ["O"] + others
