"""Serving a ``BertTokenClassifier``: a tag per word and the entity spans, in the graph.

``serving_default`` input: ``text`` [B] string. Outputs, all padded to the
longest row of the batch so that every tensor is rectangular (TF Serving's
JSON and gRPC need that):

- ``words`` [B, W] string: BERT's basic-tokenizer words as written in the
  text (punctuation split off), padded with "";
- ``tags`` [B, W] string: the tag of each word (read at its first word
  piece, as the model is trained), padded with "";
- ``word_starts``, ``word_ends`` [B, W] int32: code-point offsets of each
  word in the text (Python ``str`` indices), padded with -1;
- ``num_words`` [B] int32;
- ``entity_types``, ``entity_texts`` [B, E] string, ``entity_starts``,
  ``entity_ends`` [B, E] int32 (``text[start:end] == entity_text``), padded
  with "" and -1; ``num_entities`` [B] int32. Entities follow conlleval's
  chunk rules over the word tags (BIO/IOB1/IOE), like
  ``BertTokenClassifier.predict_text``.

A text of any length is tagged whole, as ``BertTokenClassifier.predict_text``
does it: windows of ``sequence_length`` - 2 pieces start ``doc_stride`` pieces
apart (export option; default half a window), all windows of the batch run
through the model as one batch, and each word's tag is read in the window
where its first piece has the most context (earliest window on a tie).

``serve_tokens`` returns ``logits`` [B, S, L], ``tag_ids`` [B, S] int32 and,
when the model has ``label_names``, ``tags`` [B, S] string, per word piece.

Example:
>>> import tensorflow as tf
>>> from tfbert.serving.token_classifier import chunk_spans
>>> tags = tf.constant([["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]])
>>> types, starts, ends = chunk_spans(tags, tf.constant([5]))
>>> types.to_list(), starts.to_list(), ends.to_list()
([[b'PER', b'LOC', b'LOC']], [[0, 3, 4]], [[2, 4, 5]])
"""

import numpy as np
import tensorflow as tf

from tfbert.serving.base import ServingModule, piece_windows

# conlleval 2004 chunk rules (see tfbert.metrics.conlleval), over prefix codes.
_PREFIXES = {"O": 0, "B": 1, "I": 2, "E": 3, ".": 4, "[": 5, "]": 6}
_OTHER = 7
_END_PAIRS = [("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")]
_START_PAIRS = [("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")]


def _pair_table(pairs):
    table = np.zeros((_OTHER + 1, _OTHER + 1), bool)
    for a, b in pairs:
        table[_PREFIXES[a], _PREFIXES[b]] = True
    return tf.constant(table)


def _prefix_codes(prefixes):
    codes = tf.fill(tf.shape(prefixes), _OTHER)
    for prefix, code in _PREFIXES.items():
        codes = tf.where(tf.equal(prefixes, prefix), code, codes)
    return codes


def chunk_spans(tags, num_words):
    """Entity chunks of padded tag rows, by conlleval's rules.

    Args:
        tags: string [B, W] tags ("B-PER", "I-PER", "O", ...).
        num_words: int [B] real words per row (the rest is padding).
    Returns:
        ``(types, starts, ends)``: ragged [B, None] chunk types (string) and
        word ranges [start, end) (int32), in order.
    """
    num_words = tf.cast(num_words, tf.int32)
    width = tf.shape(tags)[1]
    real = tf.range(width)[None, :] < num_words[:, None]
    tags = tf.where(real, tags, "O")
    # One sentinel "O" after the last word closes an open chunk, as conlleval does.
    tags = tf.concat([tags, tf.fill([tf.shape(tags)[0], 1], "O")], axis=1)  # [B, W+1]
    # "B-PER" -> ("B", "PER"), "O" -> ("O", ""): split at the first dash, as conlleval does.
    prefix = tf.strings.regex_replace(tags, "-.*", "", replace_global=False)
    kind = tf.where(tf.strings.regex_full_match(tags, "[^-]*-.*"),
                    tf.strings.regex_replace(tags, "^[^-]*-", "", replace_global=False), "")
    cur = _prefix_codes(prefix)
    prev = tf.concat([tf.zeros_like(cur[:, :1]), cur[:, :-1]], axis=1)  # "O" before the first word
    prev_kind = tf.concat([tf.fill([tf.shape(kind)[0], 1], ""), kind[:, :-1]], axis=1)
    changed = tf.not_equal(prev_kind, kind)
    plain = lambda code: (code != _PREFIXES["O"]) & (code != _PREFIXES["."])  # noqa: E731
    bracket = lambda code: (code == _PREFIXES["["]) | (code == _PREFIXES["]"])  # noqa: E731
    pairs = tf.stack([prev, cur], axis=-1)
    ends = tf.gather_nd(_pair_table(_END_PAIRS), pairs) | bracket(prev) | (plain(prev) & changed)
    starts = tf.gather_nd(_pair_table(_START_PAIRS), pairs) | bracket(cur) | (plain(cur) & changed)
    # A chunk opened at s closes at the next position where a chunk ends or a new one starts;
    # it is kept when a chunk ends there (a start without an end first replaces it).
    events = tf.cumsum(tf.cast(starts | ends, tf.int32), axis=1)  # [B, W+1] non-decreasing
    next_event = tf.searchsorted(events, events + 1, side="left")  # first position after s
    positions = tf.broadcast_to(tf.range(width + 1)[None, :], tf.shape(events))
    closes = tf.gather(tf.concat([ends, tf.zeros_like(ends[:, :1])], axis=1),
                       tf.minimum(next_event, width + 1), batch_dims=1)
    keep = starts & closes & (next_event <= width)
    chunk_start = tf.ragged.boolean_mask(positions, keep)
    chunk_end = tf.ragged.boolean_mask(next_event, keep)
    chunk_type = tf.gather(kind, tf.maximum(chunk_end - 1, 0), batch_dims=1)
    return chunk_type, chunk_start, chunk_end


def _slices(chars, rows, starts, ends):
    """``text[rows[i]][starts[i]:ends[i]]`` (code-point offsets) from the decoded texts ``chars``.

    Cost: the characters of the slices. (``tf.strings.substr`` with
    ``unit="UTF8_CHAR"`` scans each string from its start: slicing every word
    of a 20,000-word text that way takes seconds, quadratic in its length.)
    """
    base = tf.gather(chars.row_splits, rows)
    index = tf.ragged.range(base + tf.cast(starts, base.dtype), base + tf.cast(ends, base.dtype))
    return tf.strings.unicode_encode(tf.gather(chars.flat_values, index), "UTF-8")


class TokenClassifierServing(ServingModule):
    """Signatures for a ``BertTokenClassifier`` (see the module docstring).

    Option (``export_saved_model`` keyword argument): ``doc_stride``, the
    pieces between the starts of the overlapping windows a long text is read
    in, from 1 to the window's ``sequence_length - 2`` pieces (default: half a
    window, ``tfbert.data.ner.default_doc_stride``, as ``predict_text``).
    """

    uses_packer = False  # packs with the tokenizer, keeping piece offsets
    option_names = ("doc_stride",)

    def _check_options(self):
        from tfbert.data.ner import default_doc_stride

        budget = self.max_length - 2
        stride = self.options.get("doc_stride")
        self.doc_stride = default_doc_stride(self.max_length) if stride is None else int(stride)
        if not 1 <= self.doc_stride <= budget:
            raise ValueError(f"doc_stride={self.doc_stride} must be between 1 and the window's {budget} pieces "
                             f"(sequence_length {self.max_length} - 2); a larger stride would skip words.")

    def __init__(self, model, preprocessor=None, sequence_length=None, **options):
        super().__init__(model, preprocessor, sequence_length, **options)
        self._tag_names = list(model.label_names) if getattr(model, "label_names", None) else \
            [str(i) for i in range(model.num_labels)]
        self._named = bool(getattr(model, "label_names", None))

    def _tag_strings(self, tag_ids):
        return tf.gather(tf.constant(self._tag_names, tf.string), tag_ids)

    def outputs(self, inputs):
        logits = tf.cast(self.call_model(inputs), tf.float32)  # [B, S, L]
        tag_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
        out = {"logits": logits, "tag_ids": tag_ids}
        if self._named:
            out["tags"] = self._tag_strings(tag_ids)
        return out

    def serve_text(self, text):
        tok = self.tokenizer
        pieces = self.tokenize(text, None)  # the whole text: every word is tagged
        splits = pieces["token_ids"].row_splits
        budget = tf.fill([tf.shape(text)[0]], self.max_length - 2)
        _, flat_index, owns = piece_windows(splits, budget, self.doc_stride)
        ids = tf.gather(pieces["token_ids"].flat_values, flat_index)  # ragged [W, len]
        column = tf.ones_like(ids.row_lengths(), tf.int32)[:, None]
        packed = tf.concat([column * tok.cls_token_id, tf.cast(ids, tf.int32), column * tok.sep_token_id], axis=1)
        size = tf.stack([tf.cast(packed.nrows(), tf.int32), self.width(packed.row_lengths())])
        inputs = {
            "token_ids": packed.to_tensor(default_value=tok.pad_token_id, shape=size),
            "segment_ids": tf.zeros(size, tf.int32),
            "padding_mask": tf.ones_like(packed).to_tensor(default_value=0, shape=size),
        }
        logits = tf.cast(self.call_model(inputs), tf.float32)
        window_tags = tf.argmax(logits, axis=-1, output_type=tf.int32)  # [W, S]; piece j of a window at j + 1
        at = tf.stack([tf.cast(flat_index.value_rowids(), tf.int32),
                       1 + tf.cast(tf.ragged.range(flat_index.row_lengths()).flat_values, tf.int32)], axis=1)
        entry_tags = tf.gather_nd(window_tags, at)  # [entries]: every (window, piece) pair
        # each piece's tag from the one window that owns it
        piece_tags = tf.math.unsorted_segment_sum(tf.where(owns.flat_values, entry_tags, 0),
                                                  flat_index.flat_values, tf.cast(splits[-1], tf.int32))
        piece_tags = tf.RaggedTensor.from_row_splits(piece_tags, splits, validate=False)  # ragged [B, T]

        word_ids = pieces["word_ids"]  # ragged [B, T]
        first = tf.concat([tf.ones_like(word_ids[:, :1], tf.bool),
                           tf.not_equal(word_ids[:, 1:], word_ids[:, :-1])], axis=1)  # first piece of a word
        num_words = tf.cast(tf.reduce_sum(tf.cast(first, tf.int32), axis=1), tf.int32)  # [B]
        tag_ids = tf.ragged.boolean_mask(piece_tags, first)  # ragged [B, W]
        # Word spans: from its first piece's start to its last piece's end.
        segment = tf.cumsum(tf.cast(first.flat_values, tf.int32)) - 1  # global word index per piece
        total = tf.reduce_sum(num_words)
        word_starts = tf.math.unsorted_segment_min(pieces["start_offsets"].flat_values, segment, total)
        word_ends = tf.math.unsorted_segment_max(pieces["end_offsets"].flat_values, segment, total)
        splits = tf.cast(tf.concat([[0], tf.cumsum(num_words)], axis=0), tf.int64)
        word_starts = tf.RaggedTensor.from_row_splits(word_starts, splits, validate=False)
        word_ends = tf.RaggedTensor.from_row_splits(word_ends, splits, validate=False)
        tags = self._tag_strings(tag_ids)

        chars = tf.strings.unicode_decode(text, "UTF-8")  # ragged [B, C] code points, decoded once
        words = word_starts.with_flat_values(_slices(chars, word_starts.value_rowids(), word_starts.flat_values,
                                                     word_ends.flat_values))
        dense_tags = tags.to_tensor(default_value="")
        types, chunk_start, chunk_end = chunk_spans(dense_tags, num_words)
        ent_start = tf.gather(word_starts, chunk_start, batch_dims=1)
        ent_end = tf.gather(word_ends, chunk_end - 1, batch_dims=1)
        ent_texts = ent_start.with_flat_values(_slices(chars, ent_start.value_rowids(), ent_start.flat_values,
                                                       ent_end.flat_values))
        num_entities = tf.cast(types.row_lengths(), tf.int32)
        return {
            "words": words.to_tensor(default_value=""),
            "tags": dense_tags,
            "word_starts": word_starts.to_tensor(default_value=-1),
            "word_ends": word_ends.to_tensor(default_value=-1),
            "num_words": num_words,
            "entity_types": types.to_tensor(default_value=""),
            "entity_texts": ent_texts.to_tensor(default_value=""),
            "entity_starts": ent_start.to_tensor(default_value=-1),
            "entity_ends": ent_end.to_tensor(default_value=-1),
            "num_entities": num_entities,
        }
