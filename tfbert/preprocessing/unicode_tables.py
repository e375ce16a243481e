"""Per-code-point tables that let the TF graph reproduce BERT's basic tokenizer.

The reference basic tokenizer (google-research/bert ``tokenization.py``, Hugging
Face's slow ``BertTokenizer``) works character by character in Python: it drops
control characters, maps whitespace to a space, isolates CJK ideographs and
punctuation, and, for uncased vocabularies, applies ``str.lower`` and NFD and
drops the ``Mn`` marks. Apart from two context rules (Greek final sigma and
NFC composition, handled by ``tokenizer.py``) every step maps one code point to
a fixed string, so it can be tabulated once and looked up in the graph.

The tables are computed at run time from the running Python's
``unicodedata`` and ``str.lower``, so that they agree with the reference
tokenizer run by the same Python (character categories change between Unicode
versions). They are built once per process and option set (about one second)
and stored as two-level lookup tables (a block index and the distinct 256-entry
blocks), a few hundred kilobytes instead of one entry per code point.

Source table (``source_index``/``source_blocks``, int32, indexed by the input code point):

- bits 0-20: the single output code point minus the input one (modulo 2**21, so
  that identical mappings make identical blocks), or, when it maps to 2-3 code
  points, the offset of its output in ``expansions``;
- bit 23: skipped by the final-sigma context scan (dropped, or Case_Ignorable);
- bit 24: Cased;
- bits 25-27: the output flags (below) of the single output code point;
  ``expansions`` entries carry theirs the same way;
- bit 28: the character may take the tokenizer's short path (string ops);
- bits 29-30: the number of output code points (0 = dropped, 1, 2 or 3), so
  that ``value >= 1 << 29`` tests "kept" in one comparison.

Output flags (``output_index``/``output_blocks``, uint8, indexed by an output
code point): bits 0-1 the class, 1 a space (splits words) or 2 isolated
(punctuation or a CJK ideograph: a word of its own); bit 2 may change under NFC
(used only when the text is not NFD-stripped).

Example:
>>> from tfbert.preprocessing.unicode_tables import tables, lookup_python, is_punctuation, is_cjk
>>> t = tables(lowercase=True, strip_accents=True)
>>> [chr(c) for c in lookup_python(t, "É")]
['e']
>>> [chr(c) for c in lookup_python(t, "\\u00a0")], lookup_python(t, "\\u200b")
([' '], [])
>>> is_punctuation("$"), is_punctuation("a"), is_cjk(ord("中"))
(True, False, True)
"""

import functools
import unicodedata

import numpy as np

MAX_CODE_POINT = 0x10FFFF
NUM_CODE_POINTS = MAX_CODE_POINT + 1
BLOCK_BITS = 8
BLOCK_SIZE = 1 << BLOCK_BITS

VALUE_MASK = (1 << 21) - 1
SIGMA_SKIP_BIT = 1 << 23
CASED_BIT = 1 << 24
OUT_FLAGS_SHIFT = 25
SHORT_PATH_BIT = 1 << 28
COUNT_SHIFT = 29

SPACE_BIT = 1
ISOLATED_BIT = 2
NFC_BIT = 4

#: Private-use code points that the tokenizer writes in place of special
#: tokens found in the input ("[MASK]"...); the reference drops private-use
#: input characters, so these can never come from the text itself.
SENTINEL_BASE = 0x10FF00

CAPITAL_SIGMA, SMALL_SIGMA, FINAL_SIGMA = 0x3A3, 0x3C3, 0x3C2

# The reference's "CJK character" ranges, copied by value from its definition.
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def is_cjk(cp):
    """True for a code point in the reference's CJK ideograph ranges."""
    for lo, hi in _CJK_RANGES:
        if lo <= cp <= hi:
            return True
    return False


def is_punctuation(char):
    """The reference's punctuation: ASCII non-alphanumeric symbols, or Unicode category P*."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _case_properties(char):
    """(Case_Ignorable, Cased) as Python's final-sigma rule sees them.

    Python does not expose these properties, so they are read off ``str.lower``
    itself: Σ is final after a cased letter (skipping case-ignorable ones).
    """
    after_cased = ("A" + char + "Σ").lower()[-1] == "ς"   # ignorable or cased
    directly = (char + "Σ").lower()[-1] == "ς"            # cased and not ignorable
    return after_cased and not directly, directly


def _strip_marks(text):
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _composition_seconds(assigned):
    """Code points that NFC can merge into the character before them."""
    seconds = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
    for cp in assigned:
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                seconds.add(int(parts[1], 16))
    return seconds


def _two_level(values, dtype):
    """Split a [NUM_CODE_POINTS] array into (block index, distinct blocks)."""
    values = np.asarray(values, dtype)
    padded = np.zeros(-(-NUM_CODE_POINTS // BLOCK_SIZE) * BLOCK_SIZE, dtype)
    padded[:NUM_CODE_POINTS] = values
    blocks = padded.reshape(-1, BLOCK_SIZE)
    first_seen, index = {}, np.empty(len(blocks), np.int32)
    for i, block in enumerate(blocks):
        index[i] = first_seen.setdefault(block.tobytes(), len(first_seen))
    unique = np.stack([np.frombuffer(key, dtype) for key in first_seen])
    return index, unique.reshape(-1)


@functools.lru_cache(maxsize=None)
def tables(lowercase=True, strip_accents=True, tokenize_chinese_chars=True):
    """The lookup tables for one option set, as a dict of numpy arrays (cached).

    Returns ``source_index``, ``source_blocks``, ``output_index``,
    ``output_blocks`` and ``expansions`` (numpy arrays), ``short_path_ranges``
    (the characters with ``SHORT_PATH_BIT``, as (first, last) runs) and the
    ``unicode_version`` they were computed from.
    """
    categories = [unicodedata.category(chr(cp)) for cp in range(NUM_CODE_POINTS)]
    # U+FFFD and every C* character are dropped by the reference's cleaning
    # (tab, LF and CR are whitespace instead); only the others need a closer look.
    kept = [cp for cp, cat in enumerate(categories)
            if (cat[0] != "C" or cp in (9, 10, 13)) and cp != 0xFFFD]
    source = np.full(NUM_CODE_POINTS, SIGMA_SKIP_BIT, np.int64)   # dropped: no output
    output = np.zeros(NUM_CODE_POINTS, np.uint8)
    output[SENTINEL_BASE:] = ISOLATED_BIT
    expansions = []
    seconds = None if strip_accents else _composition_seconds(kept)
    for cp in kept:
        char = chr(cp)
        category = categories[cp]
        # Output table: how a character of the normalized text splits words.
        if char.isspace():
            out_flags = SPACE_BIT
        elif (category[0] == "P" or 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96
              or 123 <= cp <= 126 or (tokenize_chinese_chars and cp >= 0x3400 and is_cjk(cp))):
            out_flags = ISOLATED_BIT
        else:
            out_flags = 0
        if seconds is not None and (
            unicodedata.combining(char) or cp in seconds or unicodedata.normalize("NFC", char) != char
        ):
            out_flags |= NFC_BIT
        output[cp] = out_flags

    def output_flags(out_cp):
        return int(output[out_cp])

    for cp in kept:
        char = chr(cp)
        category = categories[cp]
        # Source table: what the character becomes.
        if char in " \t\n\r" or category == "Zs":
            mapped = " "
        else:
            mapped = char.lower() if lowercase else char
            if strip_accents and not (mapped.isascii()):
                mapped = _strip_marks(mapped)
        ignorable, cased = _case_properties(char) if lowercase else (False, False)
        flags = (SIGMA_SKIP_BIT if ignorable else 0) | (CASED_BIT if cased else 0)
        if len(mapped) == 1:
            value = (ord(mapped) - cp) & VALUE_MASK   # a delta: runs of identical blocks compress
            flags |= output_flags(ord(mapped)) << OUT_FLAGS_SHIFT
        elif len(mapped) == 0:
            value = 0
        else:
            if len(mapped) > 3:  # never happens up to Unicode 16; guard the bit layout
                raise AssertionError(f"U+{cp:04X} maps to {len(mapped)} code points")
            value = len(expansions)
            expansions.extend(ord(c) | (output_flags(ord(c)) << OUT_FLAGS_SHIFT) for c in mapped)
        source[cp] = value | (len(mapped) << COUNT_SHIFT) | flags
    # Characters for which tensorflow-text's string ops give the reference's result (the
    # tokenizer's short path): kept, BMP, mapped to at most one code point, and, without
    # accent stripping, untouched by NFC.
    simple = [cp for cp in kept if cp < 0x10000 and (source[cp] >> COUNT_SHIFT) <= 1
              and (strip_accents or not output[cp] & NFC_BIT)]
    source[simple] |= SHORT_PATH_BIT
    source_index, source_blocks = _two_level(source, np.int32)
    output_index, output_blocks = _two_level(output, np.uint8)
    return {
        "source_index": source_index,
        "source_blocks": source_blocks,
        "output_index": output_index,
        "output_blocks": output_blocks,
        "expansions": np.asarray(expansions or [0], np.int32),
        "short_path_ranges": _ranges(simple),
        "unicode_version": unicodedata.unidata_version,
    }


def _ranges(code_points):
    """Sorted code points → list of inclusive (first, last) runs."""
    runs = []
    for cp in code_points:
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return [tuple(r) for r in runs]


def _lookup(index, blocks, cp):
    return blocks[index[cp >> BLOCK_BITS] * BLOCK_SIZE + (cp & (BLOCK_SIZE - 1))]


def lookup_python(t, char):
    """The output code points of one input character (no context rules), for checks."""
    value = int(_lookup(t["source_index"], t["source_blocks"], ord(char)))
    count = value >> COUNT_SHIFT
    if count == 1:
        return [(ord(char) + value) & VALUE_MASK]
    offset = value & VALUE_MASK
    return [int(c) & VALUE_MASK for c in t["expansions"][offset:offset + count]]
