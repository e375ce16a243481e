"""BertPreprocessor: raw text (or text pairs) to the model's input dict, in the TF graph.

Packs ``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]`` with segment ids 0 for
``[CLS] a [SEP]`` and 1 for ``b [SEP]``, truncates to the sequence length, and
pads with [PAD] (id of the vocabulary) under a 0 padding mask.

Shapes: ``sequence_length=128`` gives static [B, 128] tensors (TPU/XLA);
``sequence_length=None`` pads to the longest sequence of the batch rounded up
to a multiple of 8, never beyond ``max_sequence_length`` (512; the model's
``max_position_embeddings``). A scalar string gives rank-1 [L] tensors.

Truncation of a pair to a budget of ``M = length - 3`` tokens: ``"round_robin"``
(keras-hub's name: one token from each segment in turn) and ``"longest_first"``
(Hugging Face's and google-research/bert's: drop the last token of the longer
segment, the second one on ties) keep exactly the same tokens for two
segments: the shorter one whole if it fits in half, ``a`` gets
``ceil(M / 2)`` and ``b`` ``floor(M / 2)`` when both are long. Both names are
accepted so that configurations from either library read naturally. A single
text keeps its first ``length - 2`` tokens.

Long input: each text is first cut to ``max_input_chars`` characters (default
100 per position of ``max_sequence_length``), so a 1 MB string costs no more
than a long paragraph; the cut can change the result only for text averaging
more than 100 characters per token.

Offsets for QA and NER: ``call_with_offsets`` adds ``start_offsets``,
``end_offsets`` (the [start, end) span of each token in code points of its own
segment's input string) and ``word_ids`` (index of the basic-tokenizer word
within its segment), all -1 at [CLS], [SEP] and padding.

Errors: pair inputs of different batch sizes raise ``ValueError`` when the
sizes are known while tracing, ``tf.errors.InvalidArgumentError`` otherwise.

Example:
>>> from tfbert.preprocessing import BertTokenizer, BertPreprocessor
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "how", "old", "are", "you", "?", "i", "am", "six"]
>>> pre = BertPreprocessor(BertTokenizer(vocab), sequence_length=10)
>>> out = pre((["How old are you?"], ["I am six."]))      # 5 + 4 tokens, room for 7: "?" and "." go
>>> out["token_ids"].numpy().tolist()
[[2, 5, 6, 7, 8, 3, 10, 11, 12, 3]]
>>> out["segment_ids"].numpy().tolist(), out["padding_mask"].numpy().tolist()
([[0, 0, 0, 0, 0, 0, 1, 1, 1, 1]], [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]])
>>> BertPreprocessor(BertTokenizer(vocab))(["How old?", ""])["token_ids"].shape   # dynamic: multiple of 8
TensorShape([2, 8])
"""

import keras
import tensorflow as tf

from tfbert.layers.serialization import register
from tfbert.preprocessing.tokenizer import BertTokenizer, _as_string_tensor

TRUNCATION_STRATEGIES = ("round_robin", "longest_first")
PAD_MULTIPLE = 8
CHARS_PER_POSITION = 100
OFFSET_KEYS = ("start_offsets", "end_offsets", "word_ids")
MIN_SINGLE_LENGTH = 3  # [CLS] a [SEP], one token of text
MIN_PAIR_LENGTH = 5    # [CLS] a [SEP] b [SEP], one token of each


@register
class BertPreprocessor(keras.layers.Layer):
    """Strings or string pairs → ``{"token_ids", "segment_ids", "padding_mask"}`` (int32).

    Args:
        tokenizer: a :class:`BertTokenizer`.
        sequence_length: an int for static [B, L] outputs, or None to pad to
            the batch's longest sequence rounded up to a multiple of 8.
        truncate: "round_robin" or "longest_first" (identical for pairs; see
            the module docstring).
        max_sequence_length: the longest sequence produced (the model's
            ``max_position_embeddings``), default 512.
        max_input_chars: characters kept of each input text before
            tokenizing; default ``100 * max_sequence_length``; None keeps all.

    Example:
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"]
    >>> BertPreprocessor(BertTokenizer(vocab), sequence_length=4)("Hi hi hi")["token_ids"].numpy().tolist()
    [2, 5, 5, 3]
    """

    def __init__(self, tokenizer, sequence_length=None, truncate="round_robin", max_sequence_length=512,
                 max_input_chars="default", **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        if isinstance(tokenizer, dict):   # from get_config
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
        if not isinstance(tokenizer, BertTokenizer):
            raise TypeError(f"tokenizer must be a tfbert BertTokenizer, got {type(tokenizer).__name__}. "
                            "Build one with BertTokenizer(vocabulary) or BertTokenizer.from_preset(...).")
        if truncate not in TRUNCATION_STRATEGIES:
            raise ValueError(f"truncate must be one of {TRUNCATION_STRATEGIES}, got {truncate!r}.")
        if not _positive_int(max_sequence_length) or max_sequence_length < 3:
            raise ValueError(f"max_sequence_length must be an integer >= 3, got {max_sequence_length!r}.")
        if sequence_length is not None and (not _positive_int(sequence_length) or sequence_length < MIN_SINGLE_LENGTH
                                            or sequence_length > max_sequence_length):
            raise ValueError(f"sequence_length must be None or an integer in [{MIN_SINGLE_LENGTH}, max_sequence_length="
                             f"{max_sequence_length}], got {sequence_length!r}: [CLS] text [SEP] needs at least "
                             f"{MIN_SINGLE_LENGTH} (text pairs {MIN_PAIR_LENGTH}). Raise max_sequence_length if the "
                             "model has more positions.")
        if max_input_chars == "default":
            max_input_chars = CHARS_PER_POSITION * max_sequence_length
        if max_input_chars is not None and not _positive_int(max_input_chars):
            raise ValueError(f"max_input_chars must be a positive integer or None, got {max_input_chars!r}.")
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.truncate = truncate
        self.max_sequence_length = max_sequence_length
        self.max_input_chars = max_input_chars
        self._eager_fns = {}
        self.built = True

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """A preprocessor with ``BertTokenizer.from_preset(preset)``; kwargs go to the constructor."""
        return cls(BertTokenizer.from_preset(preset), **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
                      sequence_length=self.sequence_length, truncate=self.truncate,
                      max_sequence_length=self.max_sequence_length, max_input_chars=self.max_input_chars)
        return config

    # -- inputs ----------------------------------------------------------------------------------

    def _segments(self, inputs):
        """1 or 2 string tensors of equal rank (0 or 1) and, when known, equal batch size."""
        if isinstance(inputs, tuple) and len(inputs) == 1:
            inputs = inputs[0]
        if isinstance(inputs, tuple):
            if len(inputs) != 2:
                raise ValueError(f"Pass one batch of texts or a pair (text_a, text_b); got a tuple of {len(inputs)}.")
            segments = [_as_string_tensor(x, f"text_{name}") for x, name in zip(inputs, "ab")]
            a, b = segments
            length = self.sequence_length or self.max_sequence_length
            if length < MIN_PAIR_LENGTH:  # the second text would be dropped whole
                raise ValueError(f"a text pair needs sequence_length >= {MIN_PAIR_LENGTH} ([CLS] a [SEP] b [SEP] with "
                                 f"one token of each), but this preprocessor has {length}; build it with "
                                 f"sequence_length={MIN_PAIR_LENGTH} or more.")
            if a.shape.rank != b.shape.rank:
                raise ValueError(f"text_a and text_b must both be single strings or both batches [B]; got shapes "
                                 f"{a.shape} and {b.shape}.")
            if a.shape.rank == 1 and a.shape[0] is not None and b.shape[0] is not None and a.shape[0] != b.shape[0]:
                raise ValueError(f"text_a and text_b must have the same batch size; got {a.shape[0]} and "
                                 f"{b.shape[0]}. Each text_a needs its text_b (use '' for none).")
            return segments
        if isinstance(inputs, dict):
            raise TypeError("BertPreprocessor takes strings, not a dict; for pairs pass a tuple (text_a, text_b).")
        return [_as_string_tensor(inputs)]

    # -- packing ---------------------------------------------------------------------------------

    def call(self, inputs):
        """Texts [B] or (text_a [B], text_b [B]) → dict of int32 [B, L]; scalars give [L]."""
        return self._pack(inputs, with_offsets=False)

    def call_with_offsets(self, inputs):
        """As ``call``, plus ``start_offsets``, ``end_offsets`` and ``word_ids`` (int32, -1 off-text)."""
        return self._pack(inputs, with_offsets=True)

    def _pack(self, inputs, with_offsets):
        segments = self._segments(inputs)
        scalar = segments[0].shape.rank == 0
        if scalar:
            segments = [s[None] for s in segments]
        if tf.executing_eagerly():   # one compiled graph per input kind, not op-by-op ragged work
            key = (len(segments), with_offsets)
            if key not in self._eager_fns:
                self._eager_fns[key] = tf.function(
                    lambda *s: self._pack_batch(list(s), with_offsets),
                    input_signature=[tf.TensorSpec([None], tf.string)] * len(segments), autograph=False)
            out = self._eager_fns[key](*segments)
        else:
            out = self._pack_batch(segments, with_offsets)
        return {k: v[0] for k, v in out.items()} if scalar else out

    def _pack_batch(self, segments, with_offsets):
        if len(segments) == 2:
            check = tf.debugging.assert_equal(
                tf.shape(segments[0])[0], tf.shape(segments[1])[0],
                message="text_a and text_b must have the same batch size (each text_a needs its text_b)")
            with tf.control_dependencies([check]):
                segments = [tf.identity(s) for s in segments]
        keys = ("token_ids",) + (OFFSET_KEYS if with_offsets else ())
        # Both segments in one tokenizer pass: rows [a_0 .. a_B-1, b_0 .. b_B-1].
        tokens = self.tokenizer.tokenize_batch(tf.concat(segments, 0), self.max_input_chars, keys)
        return self._pack_rows(tokens, len(segments), tf.shape(segments[0], out_type=tf.int64)[0])

    def _pack_rows(self, tokens, num_segments, batch):
        """Scatter the kept tokens of each segment, [CLS] and [SEP]s into [B, width] (index arithmetic)."""
        tok = self.tokenizer
        length = self.sequence_length or self.max_sequence_length
        budget = length - 1 - num_segments                                      # room for the texts
        splits = tokens["token_ids"].row_splits                                 # [S*B + 1]
        lengths = tf.reshape(splits[1:] - splits[:-1], [num_segments, -1])      # [S, B]
        if num_segments == 1:
            keep = tf.minimum(lengths, budget)
        else:
            keep = tf.stack(_pair_allocation(lengths[0], lengths[1], budget))
        # Column where each segment's text starts: a after [CLS], b after a's [SEP].
        start = tf.concat([tf.ones_like(keep[:1]), 2 + keep[:1]], 0)[:num_segments]   # [S, B]
        total = 1 + tf.reduce_sum(keep + 1, axis=0)                             # [B]
        if self.sequence_length is None:
            longest = tf.reduce_max(tf.concat([total, [2]], 0))
            width = tf.minimum((longest + PAD_MULTIPLE - 1) // PAD_MULTIPLE * PAD_MULTIPLE, self.max_sequence_length)
        else:
            width = tf.constant(self.sequence_length, tf.int64)

        # Text tokens: value i of global row g sits at column start[g] + (i - splits[g]).
        num_values = tf.size(tokens["token_ids"].flat_values, out_type=tf.int64)
        row = tf.raw_ops.UpperBound(sorted_inputs=splits[1:][None], values=tf.range(num_values)[None],
                                    out_type=tf.int64)[0]
        position = tf.range(num_values) - tf.gather(splits, row)
        kept = tf.reshape(tf.where(position < tf.gather(tf.reshape(keep, [-1]), row)), [-1])
        kept_row = tf.gather(row, kept)
        text_index = tf.stack([tf.math.floormod(kept_row, tf.maximum(batch, 1)),
                               tf.gather(tf.reshape(start, [-1]), kept_row) + tf.gather(position, kept)], 1)
        # [CLS] at column 0, each segment's [SEP] right after its kept text.
        rows = tf.range(batch)
        cls_index = tf.stack([rows, tf.zeros_like(rows)], 1)
        sep_index = tf.reshape(tf.stack([tf.tile(rows[None], [num_segments, 1]), start + keep], -1), [-1, 2])
        index = tf.concat([text_index, cls_index, sep_index], 0)

        def scatter(values, pad, cls, sep):
            specials = tf.concat([tf.fill([batch], cls), tf.fill([batch * num_segments], sep)], 0)
            updates = tf.concat([tf.gather(values, kept), specials], 0)
            base = tf.fill(tf.stack([batch, width]), tf.constant(pad, tf.int32))
            return tf.tensor_scatter_nd_update(base, index, updates)

        out = {"token_ids": scatter(tokens["token_ids"].flat_values, tok.pad_token_id, tok.cls_token_id,
                                    tok.sep_token_id)}
        for key in OFFSET_KEYS:
            if key in tokens:
                out[key] = scatter(tokens[key].flat_values, -1, -1, -1)
        column = tf.range(width)[None, :]
        out["padding_mask"] = tf.cast(column < total[:, None], tf.int32)
        if num_segments == 2:
            out["segment_ids"] = tf.cast((column >= start[1][:, None]) & (column < total[:, None]), tf.int32)
        else:
            out["segment_ids"] = tf.zeros_like(out["padding_mask"])
        if self.sequence_length is not None:
            out = {k: tf.ensure_shape(v, [None, self.sequence_length]) for k, v in out.items()}
        return out

    def compute_output_spec(self, inputs):
        return {k: keras.KerasTensor([None, self.sequence_length], dtype="int32")
                for k in ("token_ids", "segment_ids", "padding_mask")}


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _pair_allocation(len_a, len_b, budget):
    """Tokens kept of each segment: the shorter whole if it fits in half; else ceil/floor halves.

    Equal to keras-hub's round robin and to Hugging Face's / google-research/bert's
    longest-first truncation for two segments.
    """
    keep_a = tf.minimum(len_a, tf.maximum(budget - len_b, budget - budget // 2))
    return [keep_a, tf.minimum(len_b, budget - keep_a)]
