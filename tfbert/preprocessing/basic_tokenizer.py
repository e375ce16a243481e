"""BERT's basic tokenizer (cleaning, casing, accents, CJK and punctuation splits) in the TF graph.

``BasicTokenizer.split`` turns a batch of strings into the words the
reference's ``BasicTokenizer`` produces (google-research/bert
``tokenization.py``; Hugging Face's slow ``BertTokenizer``), each with the
source span of every one of its characters, so that word pieces can be mapped
back to the input. It runs only TensorFlow ops (no ``py_function``), vectorized
over all code points of the batch; the per-character rules come from
:mod:`tfbert.preprocessing.unicode_tables`.

The pipeline, per input string:

1. decode UTF-8 (invalid bytes become U+FFFD), keep at most ``max_input_chars``
   code points;
2. find special tokens written in the text ("[MASK]"...), which the reference
   keeps whole; each becomes one isolated word;
3. map every code point through the table: drop NUL, U+FFFD and C* characters,
   whitespace to a space, and for uncased vocabularies ``str.lower`` then NFD
   without ``Mn`` marks; Greek capital sigma becomes final sigma by Python's
   Final_Sigma rule;
4. for vocabularies without accent stripping (cased), NFC-normalize, as the
   reference does after cleaning (only when the batch holds a character NFC can
   change);
5. split words at spaces and around punctuation and CJK ideographs.

Example:
>>> import tensorflow as tf
>>> from tfbert.preprocessing.basic_tokenizer import BasicTokenizer
>>> words = BasicTokenizer(lowercase=True).split(tf.constant(["Héllo, ΟΔΟΣ!", "中文"]))
>>> [w.decode() for w in words["words"].numpy()]
['hello', ',', 'οδος', '!', '中', '文']
>>> words["row_splits"].numpy().tolist()
[0, 4, 6]
"""

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
        if any(not isinstance(t, str) or not t for t in self.special_tokens):
            raise ValueError(f"Special tokens must be non-empty strings, got {self.special_tokens!r}.")
        self._tables = ut.tables(self.lowercase, self.strip_accents, self.tokenize_chinese_chars)

    # -- table lookups -------------------------------------------------------------------------

    def _constants(self):
        # Created inside the traced function, so they become graph constants.
        t = self._tables
        return {k: tf.constant(t[k]) for k in
                ("source_index", "source_blocks", "output_index", "output_blocks", "expansions")}

    @staticmethod
    def _lookup(index, blocks, cps):
        block = tf.gather(index, tf.bitwise.right_shift(cps, ut.BLOCK_BITS))
        return tf.gather(blocks, block * ut.BLOCK_SIZE + tf.bitwise.bitwise_and(cps, ut.BLOCK_SIZE - 1))

    # -- the pipeline --------------------------------------------------------------------------

    def split(self, strings, max_input_chars=None):
        """Split a 1-D string tensor into words.

        Returns a dict of tensors:

        - ``words`` tf.string [W]: the normalized words of all strings, in order;
        - ``row_splits`` int64 [B + 1]: words of string b are ``words[row_splits[b]:row_splits[b + 1]]``;
        - ``lengths`` int64 [W]: code points per word;
        - ``special`` int32 [W]: index into ``special_tokens`` or -1;
        - ``char_splits`` int64 [W + 1], ``char_starts``/``char_ends`` int64 [K]: the source span
          [start, end) of each normalized character of each word, in code points of the input
          string (a character that NFD expanded shares its source span; marks and control
          characters that vanished belong to the character before them).
        """
        c = self._constants()
        cps = tf.strings.unicode_decode(strings, "UTF-8", errors="replace", replacement_char=0xFFFD)
        flat = cps.flat_values                                     # [N] int32 code points
        src_splits = cps.row_splits                                # [B + 1]
        src_row = cps.value_rowids()                               # [N]
        src_pos = tf.range(tf.size(flat, out_type=_INT64)) - tf.gather(src_splits, src_row)  # [N]
        src_len = src_splits[1:] - src_splits[:-1]                 # [B]
        if max_input_chars is not None:
            kept = src_pos < max_input_chars
            flat, src_row, src_pos = (tf.boolean_mask(x, kept) for x in (flat, src_row, src_pos))
            src_len = tf.minimum(src_len, max_input_chars)
            src_splits = tf.concat([[0], tf.cumsum(src_len)], 0)
        n = tf.size(flat, out_type=_INT64)
        value = self._lookup(c["source_index"], c["source_blocks"], flat)  # [N] int32

        if self.special_tokens:
            value = self._mark_special_tokens(flat, value, src_row, src_splits, n)
        if self.lowercase:
            is_sigma = tf.equal(flat, ut.CAPITAL_SIGMA)
            value = tf.cond(tf.reduce_any(is_sigma),
                            lambda: self._final_sigma(flat, value, is_sigma, src_row, src_splits),
                            lambda: value)

        out_cp, out_row, out_pos = self._expand(flat, value, src_row, src_pos, c["expansions"])
        out_flags = tf.cast(self._lookup(c["output_index"], c["output_blocks"], out_cp), tf.int32)
        if not self.strip_accents:
            needs_nfc = tf.reduce_any(tf.bitwise.bitwise_and(out_flags, ut.NFC_BIT) > 0)
            out_cp, out_row, out_pos = tf.cond(
                needs_nfc,
                lambda: self._nfc(out_cp, out_row, out_pos, tf.size(src_len, out_type=_INT64)),
                lambda: (out_cp, out_row, out_pos))
            out_flags = tf.cast(self._lookup(c["output_index"], c["output_blocks"], out_cp), tf.int32)
        return self._words(out_cp, out_row, out_pos, out_flags, src_len)

    def _mark_special_tokens(self, flat, value, src_row, src_splits, n):
        """Replace each verbatim special token by one sentinel code point (the rest vanish)."""
        def mark():
            first, first_values, rest = [], [], []
            for k, token in enumerate(self.special_tokens):
                t = tf.constant([ord(ch) for ch in token], tf.int32)
                length = len(token)
                cand = tf.where(tf.equal(flat, ord(token[0])))[:, 0]              # [P]
                idx = cand[:, None] + tf.range(length, dtype=_INT64)[None, :]     # [P, L]
                row_end = tf.gather(src_splits[1:], tf.gather(src_row, cand))
                window = tf.gather(flat, tf.minimum(idx, tf.maximum(n - 1, 0)))
                ok = (cand + length <= row_end) & tf.reduce_all(tf.equal(window, t[None, :]), axis=1)
                starts = tf.boolean_mask(cand, ok)
                first.append(starts)
                # value = sentinel - cp (mod 2**21), one output code point, no case flags
                first_values.append(tf.bitwise.bitwise_or(
                    tf.bitwise.bitwise_and(ut.SENTINEL_BASE + k - tf.gather(flat, starts), ut.VALUE_MASK),
                    1 << ut.COUNT_SHIFT))
                rest.append(tf.reshape(tf.boolean_mask(idx, ok)[:, 1:], [-1]))
            rest = tf.concat(rest, 0)
            marked = tf.tensor_scatter_nd_update(value, rest[:, None], tf.zeros_like(rest, tf.int32))
            return tf.tensor_scatter_nd_update(marked, tf.concat(first, 0)[:, None], tf.concat(first_values, 0))

        first_chars = sorted({ord(t[0]) for t in self.special_tokens})
        present = tf.reduce_any(tf.equal(flat[:, None], tf.constant(first_chars, tf.int32)[None, :]))
        return tf.cond(present, mark, lambda: value)

    @staticmethod
    def _final_sigma(flat, value, is_sigma, src_row, src_splits):
        """Python's Final_Sigma: Σ → ς after a cased letter and not before one (skipping ignorables)."""
        solid = tf.equal(tf.bitwise.bitwise_and(value, ut.SIGMA_SKIP_BIT), 0)   # [N]
        solid_pos = tf.where(solid)[:, 0]                                        # [S]
        num_solid = tf.size(solid_pos, out_type=_INT64)
        rank = tf.cumsum(tf.cast(solid, _INT64))                                 # inclusive count
        sig = tf.where(is_sigma)[:, 0]                                           # [K]; Σ is solid
        sig_rank = tf.gather(rank, sig) - 1                                      # its index in solid_pos
        row = tf.gather(src_row, sig)
        row_start, row_end = tf.gather(src_splits, row), tf.gather(src_splits, row + 1)

        def cased(pos):
            return tf.bitwise.bitwise_and(tf.gather(value, pos), ut.CASED_BIT) > 0

        prev = tf.gather(solid_pos, tf.maximum(sig_rank - 1, 0))
        after_cased = (sig_rank >= 1) & (prev >= row_start) & cased(prev)
        nxt = tf.gather(solid_pos, tf.minimum(sig_rank + 1, num_solid - 1))
        before_cased = (sig_rank + 1 < num_solid) & (nxt < row_end) & cased(nxt)
        final = after_cased & ~before_cased
        final_value = tf.bitwise.bitwise_or(
            tf.bitwise.bitwise_and(ut.FINAL_SIGMA - ut.CAPITAL_SIGMA, ut.VALUE_MASK), 1 << ut.COUNT_SHIFT)
        new = tf.where(final, final_value, tf.gather(value, sig))
        return tf.tensor_scatter_nd_update(value, sig[:, None], new)

    @staticmethod
    def _expand(flat, value, src_row, src_pos, expansions):
        """Apply the table: each source code point becomes 0-3 output code points."""
        count = tf.bitwise.bitwise_and(tf.bitwise.right_shift(value, ut.COUNT_SHIFT), 3)   # [N]
        src = tf.repeat(tf.range(tf.size(flat, out_type=_INT64)), tf.cast(count, _INT64))   # [M]
        first_out = tf.cumsum(count, exclusive=True)
        rank = tf.range(tf.size(src), dtype=tf.int32) - tf.gather(first_out, src)
        v = tf.bitwise.bitwise_and(tf.gather(value, src), ut.VALUE_MASK)
        single = tf.equal(tf.gather(count, src), 1)
        out_cp = tf.where(
            single,
            tf.bitwise.bitwise_and(tf.gather(flat, src) + v, ut.VALUE_MASK),
            tf.gather(expansions, tf.where(single, 0, v + rank)))
        return out_cp, tf.gather(src_row, src), tf.gather(src_pos, src)

    @staticmethod
    def _nfc(out_cp, out_row, out_pos, num_rows):
        """NFC-normalize the cleaned text, carrying each character's source position along."""
        text = tf.RaggedTensor.from_value_rowids(out_cp, out_row, nrows=num_rows, validate=False)
        # A trailing space on every row: tf-text's find_source_offsets fails on empty rows.
        encoded = tf.strings.join([tf.strings.unicode_encode(text, "UTF-8"), " "])
        normalized, offset_map = tf_text.normalize_utf8_with_offsets_map(encoded, "NFC")
        new_cps, new_bytes = tf.strings.unicode_decode_with_offsets(normalized, "UTF-8")
        old_bytes = tf_text.find_source_offsets(offset_map, new_bytes).flat_values   # [M' + B]
        cps, rows = new_cps.flat_values, new_cps.value_rowids()
        last_in_row = tf.concat([tf.not_equal(rows[1:], rows[:-1]), [True]], 0)
        # ICU maps canonically reordered marks to the end of their sequence; bound each
        # character's source byte by the next one's, so spans stay inside the word.
        next_bytes = tf.concat([old_bytes[1:], [0]], 0)
        source = tf.maximum(tf.minimum(old_bytes, next_bytes - 1), 0)
        keep = ~last_in_row                                                         # drop the added space
        cps, rows, source = (tf.boolean_mask(x, keep) for x in (cps, rows, source))
        # The byte offsets of the pre-NFC characters, over the whole batch.
        width = 1 + tf.cast(out_cp >= 0x80, _INT64) + tf.cast(out_cp >= 0x800, _INT64) \
            + tf.cast(out_cp >= 0x10000, _INT64)
        char_byte = tf.cumsum(width, exclusive=True)                               # [M]
        row_byte_start = tf.cumsum(tf.math.unsorted_segment_sum(width, out_row, num_rows), exclusive=True)
        target = tf.gather(row_byte_start, rows) + source
        old_char = tf.searchsorted(char_byte, target, side="right", out_type=_INT64) - 1
        return cps, rows, tf.gather(out_pos, old_char)

    @staticmethod
    def _words(out_cp, out_row, out_pos, out_flags, src_len):
        """Group the output characters into words; compute each character's source span."""
        m = tf.size(out_cp, out_type=_INT64)
        is_space = tf.bitwise.bitwise_and(out_flags, ut.SPACE_BIT) > 0
        isolated = tf.bitwise.bitwise_and(out_flags, ut.ISOLATED_BIT) > 0
        new_row = tf.concat([[True], tf.not_equal(out_row[1:], out_row[:-1])], 0)[:m]
        breaks_after = is_space | isolated
        prev_breaks = tf.concat([[True], breaks_after[:-1]], 0)[:m] | new_row
        word_start = ~is_space & (isolated | prev_breaks)                   # [M]
        # Source end of each character: where the next output character starts (so vanished
        # marks and control characters stay with the character before them), at least +1.
        same_row_next = tf.concat([~new_row[1:], [False]], 0)[:m]
        next_pos = tf.where(same_row_next, tf.concat([out_pos[1:], [0]], 0)[:m], tf.gather(src_len, out_row))
        out_end = tf.maximum(out_pos + 1, next_pos)

        keep = ~is_space
        chars = tf.boolean_mask(out_cp, keep)                                # [K]
        starts_kept = tf.boolean_mask(word_start, keep)
        word_of_char = tf.cumsum(tf.cast(starts_kept, _INT64)) - 1
        num_words = tf.reduce_sum(tf.cast(starts_kept, _INT64))
        words = tf.RaggedTensor.from_value_rowids(chars, word_of_char, nrows=num_words, validate=False)
        word_row = tf.boolean_mask(out_row, word_start)                      # [W]
        num_rows = tf.size(src_len, out_type=_INT64)
        row_counts = tf.math.unsorted_segment_sum(tf.ones_like(word_row), word_row, num_rows)
        first_cp = tf.boolean_mask(out_cp, word_start)
        lengths = words.row_lengths()
        special = tf.where((first_cp >= ut.SENTINEL_BASE) & tf.equal(lengths, 1), first_cp - ut.SENTINEL_BASE, -1)
        return {
            "words": tf.strings.unicode_encode(words, "UTF-8"),
            "row_splits": tf.concat([[0], tf.cumsum(row_counts)], 0),
            "lengths": lengths,
            "special": special,
            "char_splits": words.row_splits,
            "char_starts": tf.boolean_mask(out_pos, keep),
            "char_ends": tf.boolean_mask(out_end, keep),
        }
