"""BertTokenizer: the reference WordPiece tokenizer, exactly, as a Keras layer running in the TF graph.

The token ids equal those of the reference tokenizer (google-research/bert's
``FullTokenizer``; Hugging Face's slow, pure-Python ``BertTokenizer``, now
``BertTokenizerLegacy``, with ``tokenize_chinese_chars=True`` and
``strip_accents=None``), for uncased and cased vocabularies: the basic
tokenizer (:mod:`tfbert.preprocessing.basic_tokenizer`) cleans and splits the
text, then tensorflow-text's ``FastWordpieceTokenizer`` runs the greedy
longest-match-first WordPiece on each word, and words over 100 characters
become ``[UNK]``. Everything runs in the graph: ``tf.data``, ``tf.function``
and SavedModels work; there is no ``py_function``.

Why not the existing ops: tensorflow-text's ``FastBertTokenizer`` NFKC-normalizes
("…" becomes "..."), its ``BertTokenizer`` and keras-hub's use ICU case folding
(``case_fold_utf8``, which applies NFKC too: full-width letters fold to ASCII)
and keras-hub does not strip accents ("cliché" becomes [UNK]). Here every
character rule is a table computed from the running Python's ``unicodedata``
and ``str.lower``, the functions the reference calls, so they agree on every
character of the Unicode version of that Python, including 'İ' (→ 'i̇' → 'i'),
'ẞ' (→ 'ß'), Cherokee (→ small letters) and the Greek final sigma ('ΟΔΟΣ' →
'οδος', with ς by Python's Final_Sigma rule).

Special tokens in the text: like Hugging Face's tokenizer, "[CLS]", "[SEP]",
"[PAD]", "[UNK]" and "[MASK]" written verbatim in the input are kept whole
and get their ids (so "Paris is the [MASK] of France" works for masked-LM).
google-research/bert's ``FullTokenizer`` splits them like any text ("[", "mask",
"]"); pass ``special_tokens_in_strings=False`` for that (and for untrusted
input that must not inject separators).

Offsets: ``tokenize_with_offsets`` returns, for each token, the [start, end)
span in Unicode code points (Python ``str`` indices) of the ORIGINAL input
string, so ``text[start:end]`` is the token's source even when accents were
stripped ("café" → "cafe": span of "café"), characters were lowercased,
expanded or dropped. Rules: a character that vanished (a stripped mark, a
control character) belongs to the character before it; the pieces of one word
cut the word's source span where the normalized characters came from, and
pieces inside one source character (a Hangul syllable decomposed into jamo by
NFD) share that character's span; a special token spans its written form; a
word over 100 characters (one [UNK]) spans the whole word.

Invalid UTF-8: each invalid byte sequence is decoded as U+FFFD, which the
reference's cleaning then drops, so the result equals the reference run on
``bytes.decode("utf-8", errors="replace")``; nothing crashes. Offsets count a
U+FFFD per invalid sequence as TensorFlow's decoder emits them.

Bad input: ``None``, numbers and other non-strings raise ``TypeError``; inputs
of rank 2 or more raise ``ValueError``. A scalar string gives a 1-D tensor of
ids; a batch [B] gives a ``tf.RaggedTensor`` [B, None]. Long input is linear
in time; ``max_input_chars`` keeps only the first code points of each string.

Speed: most strings take a short path of tensorflow-text string ops (ICU
lowercasing, NFD, ``FastWordpieceTokenizer`` end to end), allowed only for
characters where it was checked to agree with the exact path
(``tests/test_tokenizer.py`` checks every such character on the machine it
runs on); the rest take the exact table-driven path. The first tokenizer of a
process builds the character tables (about 0.7 s); each new input kind traces
one graph on its first eager call.

Known divergences from the reference (none is reached by the test sets):

- the table is computed by the running Python; if the reference runs another
  Python whose Unicode version differs, characters new in one version differ;
- cased vocabularies NFC-normalize with tensorflow-text's ICU, whose Unicode
  version may differ from Python's for characters added since;
- uncased: two or more spacing marks with different nonzero combining classes
  in non-canonical order (e.g. musical symbols U+1D165..U+1D172), which NFD
  reorders, keep their input order;
- duplicated vocabulary lines: the reference keeps the last id of a duplicate
  (so does ``token_to_id``); the earlier ids are never produced.

Example:
>>> from tfbert.preprocessing.tokenizer import BertTokenizer
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cafe", "un", "##aff", "##able", ",", "…", "中"]
>>> tokenizer = BertTokenizer(vocab, lowercase=True)
>>> tokenizer(["The Café, unaffable…", "中國"]).to_list()
[[5, 6, 10, 7, 8, 9, 11], [12, 1]]
>>> ids, starts, ends = tokenizer.tokenize_with_offsets(["The Café, unaffable…"])
>>> starts.to_list(), ends.to_list()
([[0, 4, 8, 10, 12, 15, 19]], [[3, 8, 9, 12, 15, 19, 20]])
>>> tokenizer.detokenize([[5, 6, 7, 8, 9]]).numpy().tolist()
[b'the cafe unaffable']
>>> tokenizer.token_to_id("[CLS]"), tokenizer.id_to_token(8), tokenizer.cls_token_id
(2, '##aff', 2)
"""

import os
import re

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.layers.serialization import register
from tfbert.preprocessing.basic_tokenizer import BasicTokenizer
from tfbert.preprocessing.unicode_tables import SENTINEL_BASE

#: The tokens every BERT vocabulary must hold, by attribute name.
SPECIAL_TOKENS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
#: The reference's ``max_input_chars_per_word``.
MAX_CHARS_PER_WORD = 100
#: What ``tokenize_batch`` can return.
ALL_KEYS = ("token_ids", "start_offsets", "end_offsets", "word_ids")


def load_vocabulary(path):
    """The tokens of a ``vocab.txt``, read as the reference reads it (line i = id i).

    Lines are split by Python's universal newlines and only the newline is
    stripped (a token may hold spaces); a final newline adds no token.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Vocabulary file not found: {path}. Pass a vocab.txt path or a list of tokens.")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f.readlines()]


def _rows(mask):
    """Indices (int64 [R]) where a 1-D boolean mask is true."""
    return tf.reshape(tf.where(mask), [-1])


_SURROGATES = re.compile("[\ud800-\udfff]")


def to_utf8(text):
    """``text`` as UTF-8 bytes; lone surrogates in a ``str`` become U+FFFD (bytes pass unchanged).

    A Python ``str`` may hold lone surrogates (``sys.argv`` and ``os`` APIs carry
    undecodable bytes as U+DC80..U+DCFF; broken JSON or string slicing make
    others) that UTF-8 cannot encode, and TensorFlow then fails the whole batch
    with "Error converting unicode string". Each one is replaced by U+FFFD, one
    per code point, so code-point offsets into ``text`` stay right; the
    tokenizer drops U+FFFD as it drops invalid UTF-8 bytes.

    Example:
    >>> to_utf8("caf\\udce9 ok"), to_utf8(b"\\xff ok")
    (b'caf\\xef\\xbf\\xbd ok', b'\\xff ok')
    """
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def _strings_constant(values, **kwargs):
    """tf.constant of strings (a str, bytes or nested lists of them) with lone surrogates made U+FFFD."""
    def clean(value):
        return [clean(v) for v in value] if isinstance(value, list) else to_utf8(value) if isinstance(value, str) else value
    return tf.constant(clean(values), tf.string, **kwargs)


def _as_string_tensor(inputs, what="inputs"):
    """A tf.string tensor of rank 0 or 1 from strings, lists, numpy arrays or tensors."""
    if inputs is None:
        raise TypeError(f"{what} is None; expected a string, a list of strings or a tf.string tensor [B].")
    if isinstance(inputs, tf.RaggedTensor):
        raise TypeError(f"{what} is a RaggedTensor; pass a 1-D batch of strings [B] (or one string).")
    if isinstance(inputs, (str, bytes)):
        return _strings_constant(inputs)
    if isinstance(inputs, (list, tuple)):
        bad = [type(x).__name__ for x in inputs if not isinstance(x, (str, bytes))]
        if bad:
            raise TypeError(f"{what} must hold only strings; found {bad[0]}"
                            f"{' (a nested list: pass a flat batch [B])' if bad[0] in ('list', 'tuple') else ''}.")
        inputs = _strings_constant(list(inputs), shape=[len(inputs)])
    elif isinstance(inputs, np.ndarray):
        if inputs.dtype.kind not in "USO":
            raise TypeError(f"{what} has dtype {inputs.dtype}; expected strings (tf.string), not token ids or numbers.")
        if inputs.dtype.kind == "O":
            bad = [type(x).__name__ for x in inputs.reshape(-1) if not isinstance(x, (str, bytes))]
            if bad:
                raise TypeError(f"{what} must hold only strings; found {bad[0]}.")
        inputs = _strings_constant(inputs.tolist() if inputs.ndim else inputs.item())
    elif not tf.is_tensor(inputs):
        raise TypeError(f"{what} has type {type(inputs).__name__}; expected a string, a list of strings or a "
                        "tf.string tensor [B].")
    if inputs.dtype != tf.string:
        raise TypeError(f"{what} has dtype {inputs.dtype.name}; expected tf.string (raw text), not ids or numbers.")
    rank = inputs.shape.rank
    if rank is None or rank > 1:
        raise ValueError(f"{what} must be one string or a 1-D batch of strings [B]; got shape {inputs.shape}.")
    return inputs


@register
class BertTokenizer(keras.layers.Layer):
    """The exact BERT WordPiece tokenizer as a Keras layer (strings → ragged int32 ids).

    Args:
        vocabulary: a ``vocab.txt`` path or a list of tokens (index = id). It
            must hold [PAD], [UNK], [CLS], [SEP] and [MASK].
        lowercase: True for uncased vocabularies (lowercase, strip accents).
        strip_accents: ``None`` (default) strips exactly when ``lowercase``,
            as the reference does; True or False forces it.
        tokenize_chinese_chars: each CJK ideograph its own word (reference default).
        special_tokens_in_strings: keep "[MASK]" etc. written in the text as
            one special token (Hugging Face's behaviour, default) instead of
            splitting them like other text (google-research/bert's).
        max_input_chars: keep only the first this many code points of each
            string (None: all of it).

    Example:
    >>> tok = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "!"])
    >>> tok("Hello!").numpy().tolist(), tok.vocabulary_size
    ([5, 6], 7)
    """

    def __init__(self, vocabulary, lowercase=True, strip_accents=None, tokenize_chinese_chars=True,
                 special_tokens_in_strings=True, max_input_chars=None, **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self._convert_input_args = False             # keep tf.string tensors as they are
        self._allow_non_tensor_positional_args = True  # accept Python strings and lists
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = load_vocabulary(vocabulary)
        if not isinstance(vocabulary, (list, tuple)) or not all(isinstance(t, str) for t in vocabulary):
            raise TypeError("vocabulary must be a vocab.txt path or a list of token strings; "
                            f"got {type(vocabulary).__name__}.")
        self._vocabulary = list(vocabulary)
        self._token_to_id = {token: i for i, token in enumerate(self._vocabulary)}  # last duplicate wins
        missing = [t for t in SPECIAL_TOKENS.values() if t not in self._token_to_id]
        if missing:
            raise ValueError(f"The vocabulary lacks the special token(s) {missing}; a BERT vocabulary needs all of "
                             f"{list(SPECIAL_TOKENS.values())}. Use the vocab.txt that came with the checkpoint, "
                             "or add the missing tokens.")
        for attr, token in SPECIAL_TOKENS.items():
            setattr(self, f"{attr}_token_id", self._token_to_id[token])
        if max_input_chars is not None and (isinstance(max_input_chars, bool) or not isinstance(max_input_chars, int)
                                            or max_input_chars < 1):
            raise ValueError(f"max_input_chars must be a positive integer or None, got {max_input_chars!r}.")
        self.lowercase = bool(lowercase)
        self.strip_accents = strip_accents if strip_accents is None else bool(strip_accents)
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.special_tokens_in_strings = bool(special_tokens_in_strings)
        self.max_input_chars = max_input_chars

        specials = list(SPECIAL_TOKENS.values()) if self.special_tokens_in_strings else []
        self._basic = BasicTokenizer(self.lowercase, self.strip_accents, self.tokenize_chinese_chars, specials)
        self._special_ids = np.array([self._token_to_id[t] for t in specials] + [self.unk_token_id], np.int32)
        self._long_word_special = len(specials)  # index of [UNK] in _special_ids: words over 100 chars
        # FastWordpiece needs unique, non-empty tokens: ids the reference never produces (earlier
        # duplicates, empty lines) get a placeholder no word can match (words never hold spaces).
        pieces = [t if t and self._token_to_id[t] == i else f" unreachable {i}" for i, t in enumerate(self._vocabulary)]
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=pieces, suffix_indicator="##", max_bytes_per_word=4 * MAX_CHARS_PER_WORD + 4,
            token_out_type=tf.int32, unknown_token=SPECIAL_TOKENS["unk"], no_pretokenization=True)
        # Words reaching it are at most 100 characters (longer runs take the general path).
        self._short_wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=pieces, suffix_indicator="##", max_bytes_per_word=4 * MAX_CHARS_PER_WORD + 4,
            token_out_type=tf.int32, unknown_token=SPECIAL_TOKENS["unk"], no_pretokenization=False)
        self._starts_word = np.array([0 if t.startswith("##") else 1 for t in self._vocabulary], np.int32)
        general = [re.escape(t) for t in specials] + ["[^\\t\\n\\r ]{%d}" % (MAX_CHARS_PER_WORD + 1)]
        self._general_pattern = "(?s).*(?:" + "|".join(general) + ").*"
        # Non-ASCII text on the short path: only for the two standard casings (checked
        # character by character in the tests) and with CJK splitting (FastWordpiece's).
        self._unicode_short_path = self._basic.strip_accents == self.lowercase and self.tokenize_chinese_chars
        self._piece_lengths = np.array([len(t[2:]) if t.startswith("##") else len(t) for t in self._vocabulary],
                                       np.int64)
        self._eager_fns = {}
        self.built = True

    # -- vocabulary ------------------------------------------------------------------------------

    @property
    def vocabulary(self):
        """The tokens, index = id (a copy)."""
        return list(self._vocabulary)

    @property
    def vocabulary_size(self):
        return len(self._vocabulary)

    def id_to_token(self, id):
        if isinstance(id, bool) or not isinstance(id, (int, np.integer)) or not 0 <= id < len(self._vocabulary):
            raise ValueError(f"Token id {id!r} is out of range: the vocabulary has ids 0..{len(self._vocabulary) - 1}.")
        return self._vocabulary[int(id)]

    def token_to_id(self, token):
        if token not in self._token_to_id:
            raise ValueError(f"Token {token!r} is not in the vocabulary ({len(self._vocabulary)} tokens). "
                             "To tokenize text, call the tokenizer on it instead.")
        return self._token_to_id[token]

    # -- tokenization ----------------------------------------------------------------------------

    @tf.autograph.experimental.do_not_convert
    def _tokenize_batch(self, strings, max_input_chars=None, keys=ALL_KEYS):
        """1-D tf.string [B] → dict of ragged int32 [B, None] for ``keys`` (graph code).

        Keys: ``token_ids``, ``start_offsets``, ``end_offsets``, ``word_ids``.

        Most strings take a short path of tensorflow-text string ops: for printable ASCII
        (plus tab and line breaks) the reference reduces to ASCII lowercasing, splitting at
        whitespace and ASCII punctuation, and WordPiece, which ``FastWordpieceTokenizer``
        does in one op; for the other characters of ``unicode_tables``'s short-path set
        (BMP, not dropped, mapped to one code point at most, untouched by NFC when cased)
        ICU's lowercasing, NFD and removing ``\\p{Mn}`` give the reference's result
        (tests/test_tokenizer.py checks it character by character). Strings holding a
        special token, a run of more than 100 non-space characters, or any other character
        take the general path (:class:`BasicTokenizer` then WordPiece on each word); so do
        non-ASCII strings when offsets are asked for. There is no ``tf.cond``: inside
        ``tf.data`` a cond around a large branch costs milliseconds per call, more than the
        general path's ops on the (usually empty) set of rows that need it.
        """
        with_offsets = "start_offsets" in keys or "end_offsets" in keys
        limit = self.max_input_chars
        if max_input_chars is not None:
            limit = max_input_chars if limit is None else min(limit, max_input_chars)
        if limit is not None:
            strings = tf.strings.substr(strings, 0, limit, unit="UTF8_CHAR")
        easy = ~tf.strings.regex_full_match(strings, self._general_pattern)
        is_ascii = tf.strings.regex_full_match(strings, "[\t\n\r\x20-\x7e]*")
        ascii_rows = _rows(is_ascii & easy)
        groups = [(ascii_rows, self._short_batch(tf.gather(strings, ascii_rows), True, with_offsets))]
        if with_offsets or not self._unicode_short_path:
            general_rows = _rows(~(is_ascii & easy))
        else:
            other_rows = _rows(~is_ascii & easy)
            in_class = self._basic.short_path_rows(tf.gather(strings, other_rows))
            short_rows = tf.gather(other_rows, _rows(in_class))
            groups.append((short_rows, self._short_batch(tf.gather(strings, short_rows), False, False)))
            general_rows = tf.concat([_rows(~easy), tf.gather(other_rows, _rows(~in_class))], 0)
        fields = ("ids", "starts", "ends") if with_offsets else ("ids",)
        # Run unconditionally, usually on no rows: a tf.cond around it costs more inside
        # tf.data (several milliseconds a batch) than its ops on empty tensors.
        general = self._general_batch(tf.gather(strings, general_rows), with_offsets)
        groups.append((general_rows, {k: general[k] for k in fields + ("row_splits",)}))

        # Put the rows back in input order: one ragged gather of value positions.
        splits, offset = [], tf.constant(0, tf.int64)
        for _, out in groups:
            splits.append(out["row_splits"][1 if splits else 0:] + offset)
            offset += tf.size(out["ids"], out_type=tf.int64)
        splits = tf.concat(splits, 0)
        positions = tf.RaggedTensor.from_row_splits(tf.range(splits[-1]), splits, validate=False)
        positions = tf.gather(positions, tf.math.invert_permutation(tf.concat([r for r, _ in groups], 0)))

        def merged(key):
            values = tf.concat([tf.cast(out[key], tf.int32) for _, out in groups], 0)
            return positions.with_flat_values(tf.gather(values, positions.flat_values))

        token_ids = merged("ids")
        out = {"token_ids": token_ids}
        if "word_ids" in keys:   # a word starts at every piece that is not a "##" continuation
            starts_word = tf.gather(tf.constant(self._starts_word), token_ids.flat_values)
            cumulative = tf.cumsum(starts_word)
            before_row = tf.gather(tf.concat([[0], cumulative], 0), token_ids.row_splits[:-1])
            word_ids = cumulative - 1 - tf.gather(before_row, token_ids.value_rowids())
            out["word_ids"] = token_ids.with_flat_values(word_ids)
        if with_offsets:
            out.update(start_offsets=merged("starts"), end_offsets=merged("ends"))
        return {k: out[k] for k in keys}

    def _short_batch(self, strings, ascii, with_offsets):
        """The short path (see ``_tokenize_batch``): string ops, then one WordPiece op."""
        text = strings
        if self.lowercase:
            text = tf.strings.lower(text) if ascii else tf.strings.lower(text, encoding="utf-8")
        if not ascii and self._basic.strip_accents:
            text = tf.strings.regex_replace(tf_text.normalize_utf8(text, "NFD"), "\\p{Mn}", "")
        if with_offsets:   # ASCII only: byte offsets are character offsets
            ids, starts, ends = self._short_wordpiece.tokenize_with_offsets(text)
            return {"ids": ids.flat_values, "starts": starts.flat_values, "ends": ends.flat_values,
                    "row_splits": ids.row_splits}
        ids = self._short_wordpiece.tokenize(text)
        return {"ids": ids.flat_values, "row_splits": ids.row_splits}

    def _general_batch(self, strings, with_offsets=True):
        """The general path: the basic tokenizer's words, then WordPiece on each word."""
        w = self._basic.split(strings, with_offsets=with_offsets)
        lengths = w["lengths"]                                                  # [W]
        too_long = lengths > MAX_CHARS_PER_WORD
        # Special-token and over-long words: their special index, and one placeholder
        # character for WordPiece (so exactly one piece). No tf.cond: see BasicTokenizer.split.
        first = tf.gather(w["chars"], w["char_splits"][:-1])
        special = tf.where((first >= SENTINEL_BASE) & tf.equal(lengths, 1), first - SENTINEL_BASE, -1)
        special = tf.where(too_long, self._long_word_special, special)
        pieces = self._wordpiece.tokenize(tf.where(special >= 0, "\U0010FFFF", w["words"]))   # ragged [W, T]
        raw_ids = pieces.flat_values                                            # [P]
        pieces_per_word = pieces.row_lengths()
        piece_ends = tf.cumsum(pieces_per_word)                                 # [W]
        piece_starts = piece_ends - pieces_per_word
        special_words = _rows(special >= 0)
        ids = tf.tensor_scatter_nd_update(
            raw_ids, tf.gather(piece_starts, special_words)[:, None],
            tf.gather(tf.constant(self._special_ids), tf.gather(special, special_words)))
        row_splits = tf.gather(tf.concat([[0], piece_ends], 0), w["row_splits"])
        if not with_offsets:
            return {"ids": ids, "row_splits": row_splits}
        # Character offsets: a one-piece word spans the word; otherwise each piece spans
        # as many normalized characters as its vocabulary entry has (without "##").
        piece_word = tf.raw_ops.UpperBound(sorted_inputs=piece_ends[None], values=tf.range(tf.size(
            raw_ids, out_type=tf.int64))[None], out_type=tf.int64)[0]           # [P]
        piece_len = tf.where(tf.equal(tf.gather(pieces_per_word, piece_word), 1), tf.gather(lengths, piece_word),
                             tf.gather(tf.constant(self._piece_lengths), raw_ids))
        chars_before = tf.cumsum(piece_len, exclusive=True)
        offset_in_word = chars_before - tf.gather(chars_before, tf.gather(piece_starts, piece_word))
        first_char = tf.gather(w["char_splits"], piece_word) + offset_in_word
        starts = tf.gather(w["char_starts"], first_char)
        ends = tf.maximum(tf.gather(w["char_ends"], first_char + piece_len - 1), starts + 1)
        return {"ids": ids, "starts": starts, "ends": ends, "row_splits": row_splits}

    def tokenize_batch(self, strings, max_input_chars=None, keys=None):
        """Tokenize a 1-D tf.string tensor [B]; eagerly through one compiled graph per key set.

        Returns a dict of int32 ``tf.RaggedTensor`` [B, None]: ``token_ids``,
        ``start_offsets``, ``end_offsets`` (code points, see the module
        docstring) and ``word_ids`` (index of the basic-tokenizer word a piece
        comes from, counted per string), or only those named in ``keys``.
        """
        keys = tuple(keys or ALL_KEYS)
        unknown = [k for k in keys if k not in ALL_KEYS]
        if unknown:
            raise ValueError(f"Unknown output keys {unknown}; choose from {ALL_KEYS}.")
        if not tf.is_tensor(strings):  # Python strings: lone surrogates become U+FFFD here
            strings = _as_string_tensor(strings, "strings")
        if not tf.executing_eagerly():
            return self._tokenize_batch(strings, max_input_chars, keys)
        cache_key = (max_input_chars, keys)
        if cache_key not in self._eager_fns:
            def fn(s):
                return self._tokenize_batch(s, max_input_chars, keys)
            self._eager_fns[cache_key] = tf.function(
                fn, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
        return self._eager_fns[cache_key](strings)

    def _run(self, inputs, keys):
        inputs = _as_string_tensor(inputs)
        scalar = inputs.shape.rank == 0
        out = self.tokenize_batch(inputs[None] if scalar else inputs, keys=keys)
        out = tuple(out[k][0] if scalar else out[k] for k in keys)
        return out if len(out) > 1 else out[0]

    def call(self, inputs):
        """Strings → int32 ids: [B] → ``tf.RaggedTensor`` [B, None]; one string → [T]. No special tokens added."""
        return self._run(inputs, ("token_ids",))

    def tokenize(self, inputs):
        return self(inputs)

    def tokenize_with_offsets(self, inputs):
        """Strings → (ids, starts, ends): token ids and [start, end) code-point spans in the input."""
        return self._run(inputs, ("token_ids", "start_offsets", "end_offsets"))

    def detokenize(self, ids, skip_special_tokens=False):
        """Ids [B, T] (ragged, dense or lists) → strings [B]: pieces joined, "##" glued (as the reference).

        Accents, case and spacing around punctuation are not restored.
        """
        ids = ids if isinstance(ids, tf.RaggedTensor) else tf.ragged.constant(ids) if isinstance(ids, list) \
            else tf.convert_to_tensor(ids)
        if not ids.dtype.is_integer:
            raise TypeError(f"detokenize expects integer token ids, got dtype {ids.dtype.name}.")
        ids = tf.cast(ids, tf.int32)
        scalar = ids.shape.rank == 1
        if scalar:
            ids = ids[None]
        if skip_special_tokens:
            special = tf.constant(sorted({getattr(self, f"{a}_token_id") for a in SPECIAL_TOKENS}), tf.int32)
            keep = tf.reduce_all(tf.not_equal(tf.expand_dims(ids, -1), special), axis=-1)
            ids = tf.ragged.boolean_mask(ids, keep)
        tokens = tf.gather(tf.constant(self._vocabulary, tf.string), ids)
        text = tf.strings.strip(tf.strings.regex_replace(
            tf.strings.reduce_join(tokens, axis=-1, separator=" "), " ##", ""))
        return text[0] if scalar else text

    # -- presets and serialization ---------------------------------------------------------------

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """A tokenizer from a preset name, a kaggle:// or hf:// handle, or a local directory.

        Local directories: a Hugging Face one (``vocab.txt``; casing from
        ``tokenizer_config.json``'s ``do_lower_case``, else from the name:
        uncased unless it says "cased"), a keras-hub preset
        (``assets/tokenizer/vocabulary.txt`` + ``tokenizer.json``'s
        ``lowercase``) or a Google checkpoint folder (``vocab.txt``). Names
        and handles are resolved by ``tfbert.checkpoints.presets``; the files are
        read by the format's loader (``tfbert.checkpoints.loaders``). Keyword
        arguments override what the preset says.
        """
        from tfbert.checkpoints.loaders import get_preset_loader  # below the tokenizer; loaded on first use

        options = get_preset_loader(preset).tokenizer_options()
        options.update(kwargs)
        return cls(**options)

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary=self.vocabulary, lowercase=self.lowercase, strip_accents=self.strip_accents,
                      tokenize_chinese_chars=self.tokenize_chinese_chars,
                      special_tokens_in_strings=self.special_tokens_in_strings,
                      max_input_chars=self.max_input_chars)
        return config

    def compute_output_spec(self, inputs):
        return keras.KerasTensor([None, None], dtype="int32", ragged=True)
