"""BERT's basic tokenizer (cleaning, casing, accents, CJK and punctuation splits) in the TF graph.

``BasicTokenizer.split`` turns a batch of strings into the words the
reference's ``BasicTokenizer`` produces (google-research/bert
``tokenization.py``; Hugging Face's slow ``BertTokenizer``), each with the
source span of every one of its characters, so that word pieces can be mapped
back to the input. It runs only TensorFlow ops (no ``py_function``), vectorized
over all code points of the batch; the per-character rules come from
:mod:`tfbert.preprocessing.unicode_tables`.

The pipeline, per input string:

1. keep at most ``max_input_chars`` characters, decode UTF-8 (invalid bytes
   become U+FFFD);
2. find special tokens written in the text ("[MASK]"...), which the reference
   keeps whole; each becomes one isolated word;
3. map every code point through the table: drop NUL, U+FFFD and C* characters,
   whitespace to a space, and for uncased vocabularies ``str.lower`` then NFD
   without ``Mn`` marks; Greek capital sigma becomes final sigma by Python's
   Final_Sigma rule;
4. for vocabularies without accent stripping (cased), NFC-normalize, as the
   reference does after cleaning;
5. split words at spaces and around punctuation and CJK ideographs.

Example:
>>> import tensorflow as tf
>>> from tfbert.preprocessing.basic_tokenizer import BasicTokenizer
>>> words = BasicTokenizer(lowercase=True).split(tf.constant(["Héllo, ΟΔΟΣ!", "中文"]))
>>> [w.decode() for w in words["words"].numpy()]
['hello', ',', 'οδος', '!', '中', '文']
>>> words["row_splits"].numpy().tolist(), words["char_starts"].numpy().tolist()[:6]
([0, 4, 6], [0, 1, 2, 3, 4, 5])
"""

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.preprocessing import unicode_tables as ut

_INT64 = tf.int64


class BasicTokenizer:
    """Strings to words, exactly as the reference basic tokenizer splits them.

    Args:
        lowercase: ``str.lower`` the text (uncased vocabularies).
        strip_accents: NFD + drop ``Mn`` marks; ``None`` follows ``lowercase``
            (the reference's rule).
        tokenize_chinese_chars: make every CJK ideograph its own word.
        special_tokens: strings (like "[MASK]") kept whole when the text holds
            them verbatim; ``split`` reports which word is which special token.
    """

    def __init__(self, lowercase=True, strip_accents=None, tokenize_chinese_chars=True, special_tokens=()):
        self.lowercase = bool(lowercase)
        self.strip_accents = self.lowercase if strip_accents is None else bool(strip_accents)
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.special_tokens = tuple(special_tokens)
        if len(self.special_tokens) > ut.NUM_CODE_POINTS - ut.SENTINEL_BASE:
            raise ValueError(f"At most {ut.NUM_CODE_POINTS - ut.SENTINEL_BASE} special tokens are supported.")
        if any(not isinstance(t, str) or not t or any(ch.isspace() for ch in t) for t in self.special_tokens):
            raise ValueError(f"Special tokens must be non-empty strings without spaces, got {self.special_tokens!r}.")
        self._tables = ut.tables(self.lowercase, self.strip_accents, self.tokenize_chinese_chars)

    def _constants(self):
        # Created inside the traced function, so they become graph constants.
        t = self._tables
        return {k: tf.constant(t[k]) for k in
                ("source_index", "source_blocks", "output_index", "output_blocks", "expansions")}

    @staticmethod
    def _two_level(index, blocks, cps):
        block = tf.gather(index, tf.bitwise.right_shift(cps, ut.BLOCK_BITS))
        return tf.gather(blocks, block * ut.BLOCK_SIZE + tf.bitwise.bitwise_and(cps, ut.BLOCK_SIZE - 1))

    def short_path_rows(self, strings):
        """bool [B]: whether every character of each string has ``SHORT_PATH_BIT`` (invalid UTF-8 has not)."""
        c = self._constants()
        splits, cps = tf.raw_ops.UnicodeDecode(
            input=strings, input_encoding="UTF-8", errors="replace", replacement_char=0xFFFD,
            replace_control_characters=False, Tsplits=_INT64)
        value = self._two_level(c["source_index"], c["source_blocks"], cps)
        not_ok = tf.cumsum(tf.cast(tf.equal(tf.bitwise.bitwise_and(value, ut.SHORT_PATH_BIT), 0), _INT64))
        not_ok = tf.concat([[0], not_ok], 0)
        return tf.equal(tf.gather(not_ok, splits[1:]), tf.gather(not_ok, splits[:-1]))

    def split(self, strings, max_input_chars=None, with_offsets=True):
        """Split a 1-D string tensor into words.

        Returns a dict of tensors:

        - ``words`` tf.string [W]: the normalized words of all strings, in order;
        - ``row_splits`` int64 [B + 1]: words of string b are ``words[row_splits[b]:row_splits[b + 1]]``;
        - ``lengths`` int64 [W]: code points per word;
        - ``chars`` int32 [K], ``char_splits`` int64 [W + 1]: the code points of the words;
        - ``special_found``: scalar bool, whether the text held a special token; such a word is
          the single code point ``SENTINEL_BASE + index`` in ``chars``;
        - with ``with_offsets``, ``char_starts``/``char_ends`` int64 [K]: the source span
          [start, end) of each normalized character, in code points of its input string (a
          character that NFD expanded shares its source span; marks and control characters
          that vanished belong to the character before them).
        """
        c = self._constants()
        # Batches of short strings: the number of ops matters more than their arithmetic.
        if max_input_chars is not None:
            strings = tf.strings.substr(strings, 0, max_input_chars, unit="UTF8_CHAR")
        # A space before every string: words never run across strings, and context scans
        # (special tokens, final sigma) stop at string starts without row bookkeeping.
        src_splits, flat = tf.raw_ops.UnicodeDecode(
            input=tf.strings.join([" ", strings]), input_encoding="UTF-8", errors="replace",
            replacement_char=0xFFFD, replace_control_characters=False, Tsplits=_INT64)   # [B + 1], [N]
        value = self._two_level(c["source_index"], c["source_blocks"], flat)     # [N] int32
        # No tf.cond: inside tf.data every cond costs a function call (see tokenizer.py).
        special_found = tf.constant(False)
        if self.special_tokens:
            value, special_found = self._mark_special_tokens(flat, value)
        if self.lowercase:
            value = self._final_sigma(flat, value)
        out_cp, out_flags, out_src = self._expand(flat, value, c["expansions"])
        if not self.strip_accents:
            out_cp, out_flags, out_src = self._nfc(out_cp, out_src, src_splits, c)
        words = self._words(out_cp, out_flags, out_src, src_splits, with_offsets)
        words["special_found"] = special_found
        return words

    def _mark_special_tokens(self, flat, value):
        """Replace each verbatim special token by one sentinel code point (the rest vanish)."""
        tokens = self.special_tokens
        width = max(len(t) for t in tokens)
        table = np.array([[ord(ch) for ch in t] + [-1] * (width - len(t)) for t in tokens], np.int32)  # [T, L]
        lengths = tf.constant([len(t) for t in tokens], _INT64)
        n = tf.size(flat, out_type=_INT64)
        first_chars = sorted({ord(t[0]) for t in tokens})
        is_first = tf.equal(flat, first_chars[0])
        for ch in first_chars[1:]:
            is_first |= tf.equal(flat, ch)
        cand = _where(is_first)                                                  # [P]
        idx = cand[:, None] + np.arange(width, dtype=np.int64)[None, :]           # [P, L]
        window = tf.where(idx < n, tf.gather(flat, tf.minimum(idx, n - 1)), -2)
        match = tf.reduce_all(tf.equal(window[:, None, :], table[None]) | (table[None] < 0), axis=-1)  # [P, T]
        found = tf.reduce_any(match, axis=1)
        hits = _where(found)
        starts = tf.gather(cand, hits)                                           # [S]
        which = tf.gather(tf.argmax(tf.cast(match, tf.int32), axis=1, output_type=tf.int32), hits)
        after = tf.constant(np.arange(1, width, dtype=np.int64)[None, :])        # [1, L - 1]
        rest = tf.gather_nd(starts[:, None] + after, tf.where(after < tf.gather(lengths, which)[:, None]))
        # value: sentinel - cp (mod 2**21), one isolated output code point, no case flags
        first_values = tf.bitwise.bitwise_or(
            tf.bitwise.bitwise_and(ut.SENTINEL_BASE + which - tf.gather(flat, starts), ut.VALUE_MASK),
            (1 << ut.COUNT_SHIFT) | (ut.ISOLATED_BIT << ut.OUT_FLAGS_SHIFT))
        value = tf.tensor_scatter_nd_update(value, rest[:, None], tf.zeros_like(rest, tf.int32))
        value = tf.tensor_scatter_nd_update(value, starts[:, None], first_values)
        return value, tf.size(starts) > 0

    @staticmethod
    def _final_sigma(flat, value):
        """Python's Final_Sigma: Σ → ς after a cased letter and not before one (skipping ignorables).

        Every string starts with the added space (solid and uncased), so scans stop there.
        """
        solid = tf.equal(tf.bitwise.bitwise_and(value, ut.SIGMA_SKIP_BIT), 0)   # [N]
        solid_pos = _where(solid)                                                # [S]
        num_solid = tf.size(solid_pos, out_type=_INT64)
        sig = _where(tf.equal(flat, ut.CAPITAL_SIGMA))                           # [K]; Σ is solid
        sig_rank = tf.gather(tf.cumsum(tf.cast(solid, _INT64)), sig) - 1         # its index in solid_pos

        def cased(pos):
            return tf.bitwise.bitwise_and(tf.gather(value, pos), ut.CASED_BIT) > 0

        after_cased = cased(tf.gather(solid_pos, tf.maximum(sig_rank - 1, 0))) & (sig_rank >= 1)
        before_cased = cased(tf.gather(solid_pos, tf.minimum(sig_rank + 1, num_solid - 1))) & (sig_rank + 1 < num_solid)
        final = after_cased & ~before_cased
        old = tf.gather(value, sig)
        delta = (ut.FINAL_SIGMA - ut.CAPITAL_SIGMA) & ut.VALUE_MASK
        new = tf.where(final, tf.bitwise.bitwise_or(tf.bitwise.bitwise_and(old, ~ut.VALUE_MASK), delta), old)
        return tf.tensor_scatter_nd_update(value, sig[:, None], new)

    @staticmethod
    def _expand(flat, value, expansions):
        """The table applied in general: each source code point becomes 0-3 output code points."""
        count = tf.bitwise.right_shift(value, ut.COUNT_SHIFT)                     # [N]
        ends = tf.cumsum(tf.cast(count, _INT64))                                    # [N]
        out_index = tf.range(tf.reduce_sum(tf.cast(count, _INT64)))                 # [M]
        src = _bucket(ends, out_index, "UpperBound")                                # source of each
        rank = tf.cast(out_index - tf.gather(ends, src), tf.int32) + tf.gather(count, src)
        v = tf.gather(value, src)
        single = tf.equal(tf.gather(count, src), 1)
        expanded = tf.gather(expansions, tf.where(single, 0, tf.bitwise.bitwise_and(v, ut.VALUE_MASK) + rank))
        out_cp = tf.where(single, tf.bitwise.bitwise_and(tf.gather(flat, src) + v, ut.VALUE_MASK),
                          tf.bitwise.bitwise_and(expanded, ut.VALUE_MASK))
        out_flags = tf.bitwise.right_shift(tf.where(single, v, expanded), ut.OUT_FLAGS_SHIFT)
        return out_cp, out_flags, src

    @staticmethod
    def _nfc(out_cp, out_src, src_splits, c):
        """NFC-normalize the cleaned text, carrying each character's source index along."""
        num_rows = tf.size(src_splits, out_type=_INT64) - 1
        out_row = _bucket(src_splits[1:], out_src, "UpperBound")
        text = tf.RaggedTensor.from_value_rowids(out_cp, out_row, nrows=num_rows, validate=False)
        # No row is empty (each starts with the added space), and one extra row: tf-text's
        # offset-map ops crash on an empty batch and fail on empty rows.
        encoded = tf.concat([tf.strings.unicode_encode(text, "UTF-8"), [" "]], 0)
        normalized, offset_map = tf_text.normalize_utf8_with_offsets_map(encoded, "NFC")
        new_cps, new_bytes = tf.strings.unicode_decode_with_offsets(normalized, "UTF-8")
        end = new_cps.row_splits[-2]                                                # drop the extra row
        old_bytes = tf_text.find_source_offsets(offset_map, new_bytes).flat_values[:end]   # [M']
        cps, rows = new_cps.flat_values[:end], new_cps.value_rowids()[:end]
        # ICU maps canonically reordered marks to the end of their sequence; bound each
        # character's source byte by the next one's, so spans stay inside the word.
        next_bytes = tf.where(tf.equal(rows, _shift(rows, -1, -1)), _shift(old_bytes, -1, 0), old_bytes + 1)
        source = tf.maximum(tf.minimum(old_bytes, next_bytes - 1), 0)
        # The byte offsets of the pre-NFC characters, over the whole batch.
        width = 1 + tf.cast(out_cp >= 0x80, _INT64) + tf.cast(out_cp >= 0x800, _INT64) \
            + tf.cast(out_cp >= 0x10000, _INT64)
        char_byte = tf.cumsum(width, exclusive=True)                               # [M]
        row_byte_start = tf.cumsum(tf.math.unsorted_segment_sum(width, out_row, num_rows), exclusive=True)
        old_char = _bucket(char_byte, tf.gather(row_byte_start, rows) + source, "UpperBound") - 1
        flags = tf.cast(BasicTokenizer._two_level(c["output_index"], c["output_blocks"], cps), tf.int32)
        return cps, flags, tf.gather(out_src, old_char)

    @staticmethod
    def _words(out_cp, out_flags, out_src, src_splits, with_offsets):
        """Group the output characters into words; compute each character's source span."""
        klass = tf.bitwise.bitwise_and(out_flags, 3)
        is_space = tf.equal(klass, ut.SPACE_BIT)
        isolated = tf.equal(klass, ut.ISOLATED_BIT)
        # The stream starts with a space, so the first character's filler never matters.
        prev_breaks = _shift(klass > 0, 1, True)
        word_start = isolated | (prev_breaks & ~is_space)                      # [M]
        kept = _where(~is_space)                                                # [K]
        chars = tf.gather(out_cp, kept)
        word_first = _where(tf.gather(word_start, kept))                        # [W]
        char_splits = tf.concat([word_first, tf.shape(kept, out_type=_INT64)], 0)   # [W + 1]
        words = tf.raw_ops.UnicodeEncode(input_values=chars, input_splits=char_splits,
                                         output_encoding="UTF-8", errors="replace")
        kept_src = tf.gather(out_src, kept)
        word_row = _bucket(src_splits[1:], tf.gather(kept_src, word_first), "UpperBound")
        num_rows = tf.size(src_splits, out_type=_INT64) - 1
        # Source spans: a character ends where the next output character starts (so vanished
        # marks and control characters stay with the one before them), at least one further;
        # positions count from each string's start, after the added space.
        out = {
            "words": words,
            "row_splits": _bucket(word_row, tf.range(num_rows + 1), "LowerBound"),
            "lengths": char_splits[1:] - char_splits[:-1],
            "chars": chars,
            "char_splits": char_splits,
        }
        if with_offsets:
            src_end = tf.maximum(out_src + 1, _shift(out_src, -1, src_splits[-1]))
            char_base = tf.gather(src_splits, _bucket(src_splits[1:], kept_src, "UpperBound")) + 1
            out.update(char_starts=kept_src - char_base, char_ends=tf.gather(src_end, kept) - char_base)
        return out


def _where(mask):
    """Indices (int64 [R]) where a 1-D boolean mask is true."""
    return tf.reshape(tf.where(mask), [-1])


def _shift(x, by, fill):
    """``x`` shifted by one place (by=1: right, by=-1: left), the gap filled with ``fill``; works when empty."""
    gap = tf.reshape(tf.cast(fill, x.dtype), [1])
    if by == 1:
        return tf.concat([gap, x], 0)[:-1]
    return tf.concat([x, gap], 0)[1:]


def _bucket(sorted_values, values, op):
    """``tf.searchsorted`` on 1-D tensors as one raw op (UpperBound: side right; LowerBound: left)."""
    return getattr(tf.raw_ops, op)(sorted_inputs=sorted_values[None], values=values[None], out_type=_INT64)[0]
