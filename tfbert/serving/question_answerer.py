"""Serving a ``BertQuestionAnswerer``: answer text and character span, windowed in the graph.

``serving_default`` inputs: ``question`` [B] and ``context`` [B] strings.
Outputs: ``answer`` [B] string, ``start`` and ``end`` [B] int32 (code-point
offsets into the context, Python ``str`` indices: ``context[start:end] ==
answer``) and ``score`` [B] float32 (start logit + end logit). When no valid
span exists (e.g. an empty context) the row is ``""``, -1, -1, -inf.

The graph does what ``BertQuestionAnswerer.predict_text`` does, so both give
the same answers: the question keeps ``max_query_length`` pieces; each window
is ``[CLS] question [SEP] context piece [SEP]`` of at most ``sequence_length``
tokens; windows start ``doc_stride`` pieces apart; a start counts only in the
window where it has the most context on both sides; the best of the top
``n_best`` starts x ends (end >= start, at most ``max_answer_length``
tokens) over all windows wins. Every window of a context is searched, however
long; ``max_windows`` (an export option, default: no limit) can bound the
windows read per context for servers that must cap the cost of a request
(context beyond them is then not searched).

``serve_tokens`` takes packed windows ([CLS] question [SEP] context [SEP])
and returns ``start_logits``, ``end_logits`` [B, S] and the best span per
window over segment-1 tokens: ``start_token``, ``end_token`` [B] and
``score`` [B].

Example:
>>> import tensorflow as tf
>>> from tfbert import BERT, BertConfig
>>> from tfbert.tasks import BertQuestionAnswerer
>>> from tfbert.serving.question_answerer import QuestionAnswererServing
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> fn = QuestionAnswererServing(BertQuestionAnswerer(bert)).signatures()["serve_tokens"]
>>> ids = tf.constant([[2, 9, 3, 11, 12, 3]])
>>> out = fn(token_ids=ids, segment_ids=tf.constant([[0, 0, 0, 1, 1, 1]]), padding_mask=1 + 0 * ids)
>>> sorted(out)
['end_logits', 'end_token', 'score', 'start_logits', 'start_token']
"""

import tensorflow as tf

from tfbert.serving.base import ServingModule, piece_windows, same_batch, string_spec

NEG_INF = float("-inf")


def best_spans(start_logits, end_logits, start_ok, end_ok, n_best, max_answer_length):
    """Best (start, end, score) per row among the top ``n_best`` allowed starts x ends.

    Ties go to the better-ranked start, then the better-ranked end, as a
    Python double loop over the ranked candidates with a strict ``>`` would.
    Rows without a valid pair get (-1, -1, -inf).
    """
    k = tf.minimum(n_best, tf.shape(start_logits)[1])
    start_vals, start_idx = tf.math.top_k(tf.where(start_ok, start_logits, NEG_INF), k=k)  # [W, n]
    end_vals, end_idx = tf.math.top_k(tf.where(end_ok, end_logits, NEG_INF), k=k)
    valid = ((start_vals > NEG_INF)[:, :, None] & (end_vals > NEG_INF)[:, None, :]
             & (end_idx[:, None, :] >= start_idx[:, :, None])
             & (end_idx[:, None, :] - start_idx[:, :, None] + 1 <= max_answer_length))  # [W, n, n]
    scores = tf.where(valid, start_vals[:, :, None] + end_vals[:, None, :], NEG_INF)
    flat = tf.reshape(scores, [tf.shape(scores)[0], -1])  # [W, n*n], start rank major
    best = tf.reduce_max(flat, axis=1, keepdims=True)  # [W, 1]
    first = _first_true(tf.equal(flat, best))
    found = best[:, 0] > NEG_INF
    start = tf.gather(start_idx, first // k, batch_dims=1)
    end = tf.gather(end_idx, first % k, batch_dims=1)
    return (tf.where(found, start, -1), tf.where(found, end, -1),
            tf.where(found, best[:, 0], NEG_INF))


def _first_true(mask):
    """Index of the first True in each row of ``mask`` [N, M] (0 when none)."""
    positions = tf.range(tf.shape(mask)[1])[None, :]
    first = tf.reduce_min(tf.where(mask, positions, tf.shape(mask)[1]), axis=1)
    return tf.where(first < tf.shape(mask)[1], first, 0)


class QuestionAnswererServing(ServingModule):
    """Signatures for a ``BertQuestionAnswerer`` (see the module docstring).

    Options (``export_saved_model`` keyword arguments), each an int >= 1:
    ``doc_stride`` (pieces between the starts of a context's windows, at most
    the context room of a window), ``max_query_length`` (pieces of the
    question kept), ``max_answer_length`` (the longest answer, in tokens),
    ``n_best`` (start and end candidates per window), all defaulting to the
    model's own settings; and ``max_windows`` (a cap on the windows read per
    context; default: none, every window is searched).
    """

    option_names = ("doc_stride", "max_query_length", "max_answer_length", "n_best", "max_windows")

    uses_packer = False  # packs with the tokenizer, keeping piece offsets

    text_inputs = ("question", "context")

    def _check_options(self):
        model = self.model
        for name, default in (("doc_stride", getattr(model, "doc_stride", 128)),
                              ("max_query_length", getattr(model, "max_query_length", 64)),
                              ("max_answer_length", getattr(model, "max_answer_length", 30)),
                              ("n_best", getattr(model, "n_best", 20)),
                              ("max_windows", None)):
            value = self.options.get(name, default)
            if value is None:  # max_windows: no limit
                setattr(self, name, value)
                continue
            value = int(value)
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}.")
            setattr(self, name, value)
        if self.preprocessor is not None:
            room = self.max_length - self.max_query_length - 3
            if not 1 <= self.doc_stride <= room:
                raise ValueError(
                    f"doc_stride={self.doc_stride} must be between 1 and the context room of a window "
                    f"({room} = sequence_length {self.max_length} - max_query_length {self.max_query_length} - 3); "
                    "lower doc_stride or max_query_length, or raise sequence_length."
                )

    def text_function(self):
        return self.function(self.serve_question, [string_spec("question"), string_spec("context")])

    # ---- raw strings ------------------------------------------------------------
    def serve_question(self, question, context):
        with tf.control_dependencies(same_batch("question", question, ("context", context))):
            question, context = tf.identity(question), tf.identity(context)
        tok = self.tokenizer
        # One tokenizer call for both (one copy of the tokenizer's graph): rows [0, B) are
        # the questions, rows [B, 2B) the contexts.
        num_rows = tf.shape(question)[0]
        readable = None if self.max_windows is None else (
            self.max_length + (self.max_windows - 1) * self.doc_stride)  # pieces any window can reach
        both = self.tokenize(tf.concat([question, context], axis=0), readable)
        q = both["token_ids"][:num_rows][:, :self.max_query_length]  # ragged [B, Q]
        c = {name: value[num_rows:] for name, value in both.items()}  # ragged [B, C]
        num_q = tf.cast(q.row_lengths(), tf.int32)  # [B]
        budget = self.max_length - num_q - 3  # context room per window [B]
        limit = None if self.max_windows is None else budget + (self.max_windows - 1) * self.doc_stride
        # Windows every doc_stride pieces; a start counts only in the window where its token has
        # the most context (earliest on a tie), as tfbert.data.qa scores it.
        example, flat_index, owns = piece_windows(c["token_ids"].row_splits, budget, self.doc_stride, limit)

        def context_part(name):
            return tf.gather(c[name].flat_values, flat_index)

        q_part = tf.gather(q, example)  # ragged [W, Q]
        column = tf.ones_like(example)[:, None]
        cls, sep = column * tok.cls_token_id, column * tok.sep_token_id
        token_ids = tf.concat([cls, q_part, sep, context_part("token_ids"), sep], axis=1)
        ones_q, ones_c = tf.ones_like(q_part), tf.ones_like(flat_index)
        segment_ids = tf.concat([0 * column, 0 * ones_q, 0 * column, ones_c, column], axis=1)
        char_start = tf.concat([-column, -ones_q, -column, context_part("start_offsets"), -column], axis=1)
        char_end = tf.concat([-column, -ones_q, -column, context_part("end_offsets"), -column], axis=1)
        max_context = tf.concat([column < 0, ones_q < 0, column < 0, owns, column < 0], axis=1)

        width = self.width(token_ids.row_lengths())
        size = tf.stack([tf.shape(token_ids.row_lengths())[0], width])  # [W, width]

        def dense(x, value):
            return x.to_tensor(default_value=value, shape=size)

        inputs = {
            "token_ids": dense(token_ids, tok.pad_token_id),
            "segment_ids": dense(segment_ids, 0),
            "padding_mask": dense(tf.ones_like(token_ids), 0),
        }
        out = self.call_model(inputs)
        start_logits = tf.cast(out["start_logits"], tf.float32)
        end_logits = tf.cast(out["end_logits"], tf.float32)
        char_start, char_end = dense(char_start, -1), dense(char_end, -1)
        is_context = char_start >= 0
        start, end, score = best_spans(start_logits, end_logits, is_context & dense(max_context, False), is_context,
                                       self.n_best, self.max_answer_length)  # [W] each

        # The best window of each question (the first one on a tie, as a row-order loop would).
        best = tf.math.unsorted_segment_max(score, example, num_rows)  # [B]
        rows = tf.range(tf.shape(score)[0])
        chosen = tf.math.unsorted_segment_min(
            tf.where(tf.equal(score, tf.gather(best, example)), rows, tf.shape(score)[0]), example, num_rows)
        chosen = tf.minimum(chosen, tf.maximum(tf.shape(score)[0] - 1, 0))
        # (unsorted_segment_max fills with the lowest float, not -inf: count real spans instead)
        found = tf.math.unsorted_segment_max(tf.cast(score > NEG_INF, tf.int32), example, num_rows) > 0
        start_tok, end_tok = tf.gather(start, chosen), tf.gather(end, chosen)
        a = tf.gather_nd(char_start, tf.stack([chosen, tf.maximum(start_tok, 0)], axis=1))
        b = tf.gather_nd(char_end, tf.stack([chosen, tf.maximum(end_tok, 0)], axis=1))
        a, b = tf.where(found, a, -1), tf.where(found, b, -1)
        answer = tf.where(found, tf.strings.substr(context, tf.maximum(a, 0), tf.maximum(b - a, 0),
                                                   unit="UTF8_CHAR"), "")
        return {"answer": answer, "start": a, "end": b, "score": tf.where(found, best, NEG_INF)}

    # ---- token ids ----------------------------------------------------------------
    def outputs(self, inputs):
        out = self.call_model(inputs)
        start_logits = tf.cast(out["start_logits"], tf.float32)
        end_logits = tf.cast(out["end_logits"], tf.float32)
        mask = tf.cast(inputs["padding_mask"], tf.bool)
        # Context = segment 1 without the final [SEP] (the last real token of the row).
        last = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1, keepdims=True) - 1
        positions = tf.range(tf.shape(mask)[1])[None, :]
        is_context = mask & tf.equal(inputs["segment_ids"], 1) & tf.not_equal(positions, last)
        start, end, score = best_spans(start_logits, end_logits, is_context, is_context,
                                       self.n_best, self.max_answer_length)
        return {"start_logits": start_logits, "end_logits": end_logits,
                "start_token": start, "end_token": end, "score": score}
