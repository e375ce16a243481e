"""A simple, rule-based sentence splitter for building pretraining documents.

BERT's pretraining data is documents made of sentences (NSP pairs and segment
boundaries fall between sentences). ``split_sentences`` cuts a paragraph with
these rules, no model involved:

- after ``.``, ``!`` or ``?`` (and any closing quotes or brackets right after
  them) when whitespace follows and the next character is not lowercase;
  but not after a single capital letter ("J. R. R. Tolkien") or a listed
  abbreviation ("Dr.", "e.g.", "etc.", see ``ABBREVIATIONS``);
- after the full-width ``。``, ``！``, ``？`` (and closing quotes), whitespace or
  not, for Chinese and Japanese text;
- at line breaks.

Pass ``abbreviations=`` to change the list, or give the pretraining builder
your own splitter (any function ``str -> list[str]``).

Example:
>>> from tfbert.data.sentences import split_sentences
>>> split_sentences('Dr. Smith met J. R. R. Tolkien in 1950. "Was it fun?" he asked. It was, e.g. at tea.')
['Dr. Smith met J. R. R. Tolkien in 1950.', '"Was it fun?" he asked.', 'It was, e.g. at tea.']
>>> split_sentences("今天天气很好。我们去公园吧！好的")
['今天天气很好。', '我们去公园吧！', '好的']
"""

import re

#: Lowercased words (without their final period) after which "." ends no sentence.
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "etc", "e.g", "i.e", "cf", "al",
    "no", "nos", "vol", "vols", "pp", "p", "fig", "figs", "eq", "ed", "eds", "inc", "ltd", "co", "corp",
    "gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep", "rev", "approx", "ca", "c", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "a.d", "b.c",
})

_LATIN_END = re.compile(r"[.!?]+[\"'”’»)\]]*(?=\s+\S)")
_CJK_END = re.compile(r"[。！？]+[」』”’\"）)]*")


def _ends_sentence(text, match, abbreviations):
    rest = text[match.end():].lstrip()
    if rest[:1].islower():
        return False
    if text[match.start()] != "." or match.group().count(".") > 1:
        return True  # "!" / "?" / "..." always end
    word = text[:match.start()].rsplit(None, 1)[-1] if text[:match.start()].strip() else ""
    word = word.lstrip("\"'“‘«([")
    if len(word) == 1 and word.isupper():
        return False  # an initial
    return word.lower() not in abbreviations


def split_sentences(text, abbreviations=ABBREVIATIONS):
    """Split ``text`` into sentences (stripped, non-empty) by the rules above."""
    if not isinstance(text, str):
        raise TypeError(f"split_sentences expects a str, got {type(text).__name__}.")
    sentences = []
    for line in text.splitlines():
        cuts = [m.end() for m in _LATIN_END.finditer(line) if _ends_sentence(line, m, abbreviations)]
        cuts += [m.end() for m in _CJK_END.finditer(line)]
        start = 0
        for cut in sorted(set(cuts)):
            piece = line[start:cut].strip()
            if piece:
                sentences.append(piece)
            start = cut
        piece = line[start:].strip()
        if piece:
            sentences.append(piece)
    return sentences
