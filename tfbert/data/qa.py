"""Extractive QA features: question + context windows, answer positions, and n-best decoding.

Each row is ``[CLS] question [SEP] window of the context [SEP]`` of exactly
``sequence_length`` tokens (padded). The question keeps at most
``max_query_length`` pieces. A context longer than one window is covered by
several windows that start ``doc_stride`` pieces apart, so nothing is cut.
Every context token keeps its character span in the original context (from
the tokenizer's offsets), so a predicted span of tokens maps back to the exact
answer text. For training, a window that holds the whole answer labels its
first and last token; a window that does not points both at [CLS] (0).

``decode_answers`` turns the model's start/end logits back into answer text:
per window it pairs the ``n_best`` best starts with the ``n_best`` best ends
(end >= start, at most ``max_answer_length`` tokens, both inside the context,
the start in the window where it has the most context on both sides) and
keeps the best-scoring span over all windows of the question.

Example:
>>> import numpy as np
>>> from tfbert.data.qa import encode_qa, decode_answers
>>> from tfbert.preprocessing.tokenizer import BertTokenizer
>>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "?", "ada", "wrote",
...                            "code", "."])
>>> f = encode_qa(tokenizer, ["Who?"], ["Ada wrote code."], sequence_length=8, doc_stride=2,
...               answers=[("Ada", 0)])
>>> f.inputs["token_ids"].tolist()      # the 4-piece context needs 2 windows of 3
[[2, 5, 6, 3, 7, 8, 9, 3], [2, 5, 6, 3, 9, 10, 3, 0]]
>>> f.start_positions.tolist(), f.end_positions.tolist()   # "Ada" is only in window 0
([4, 0], [4, 0])
>>> logits = np.full((2, 8), -10.0); logits[0, 4] = 5.0
>>> decode_answers(f, logits, logits, ["Ada wrote code."])[0]["text"]
'Ada'
"""

from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from tfbert.data.tokens import best_windows, pieces_with_offsets, special_ids, window_starts


class QAFeatures(NamedTuple):
    """Windows of one or more questions.

    Fields:
        inputs: dict of int32 [N, sequence_length] arrays.
        example: int32 [N] index of the question each window belongs to.
        char_start, char_end: int32 [N, sequence_length] character span of
            each context token in its context; -1 for question, special and
            padding tokens.
        max_context: bool [N, sequence_length]: the token has more context
            around it in this window than in any other window.
        start_positions, end_positions: int32 [N] answer token positions (0
            = [CLS] when the window lacks the answer); None without answers.
    """

    inputs: dict
    example: np.ndarray
    char_start: np.ndarray
    char_end: np.ndarray
    max_context: np.ndarray
    start_positions: Optional[np.ndarray]
    end_positions: Optional[np.ndarray]


def encode_qa(tokenizer, questions, contexts, sequence_length=384, doc_stride=128, max_query_length=64,
              answers=None, ids=None):
    """Windows for question/context pairs.

    Args:
        tokenizer: a ``tfbert.preprocessing.BertTokenizer`` (with character offsets).
        questions, contexts: lists of strings, one pair per question.
        sequence_length: tokens per window ([CLS], question, [SEP], context, [SEP]).
        doc_stride: pieces between the starts of consecutive windows; at most
            the context room of a window.
        max_query_length: question pieces kept.
        answers: optional ``(text, answer_start)`` per question (training
            labels); ``answer_start`` is a character offset into the context.
        ids: optional question ids, used in error messages.
    Returns:
        :class:`QAFeatures`.
    """
    questions, contexts = list(questions), list(contexts)
    if len(questions) != len(contexts):
        raise ValueError(f"Got {len(questions)} questions but {len(contexts)} contexts; give one context per question.")
    if answers is not None and len(answers) != len(questions):
        raise ValueError(f"Got {len(questions)} questions but {len(answers)} answers.")
    special = special_ids(tokenizer)
    question_pieces = pieces_with_offsets(tokenizer, questions)
    context_pieces = pieces_with_offsets(tokenizer, contexts)
    rows = []
    for i, ((q_ids, _, _), (c_ids, c_starts, c_ends)) in enumerate(zip(question_pieces, context_pieces)):
        name = ids[i] if ids is not None else f"question {i}"
        q_ids = list(q_ids[:max_query_length])
        budget = sequence_length - len(q_ids) - 3
        if budget < 1:
            raise ValueError(
                f"sequence_length={sequence_length} leaves no room for the context after a {len(q_ids)}-piece "
                "question; raise sequence_length or lower max_query_length."
            )
        if not 1 <= doc_stride <= budget:
            raise ValueError(
                f"doc_stride={doc_stride} must be between 1 and the context room of a window ({budget} pieces "
                f"for {name}); a larger stride would skip context."
            )
        answer_tokens = None
        if answers is not None:
            text, start_char = answers[i]
            start_char, end_char = int(start_char), int(start_char) + len(text)
            if contexts[i][start_char:end_char] != text:
                raise ValueError(
                    f"{name}: answer {text!r} does not start at answer_start={start_char} in its context "
                    f"(found {contexts[i][start_char:end_char]!r}); fix answer_start."
                )
            covering = [k for k in range(len(c_ids)) if c_ends[k] > start_char and c_starts[k] < end_char]
            answer_tokens = (covering[0], covering[-1]) if covering else None
        offset = len(q_ids) + 2
        starts = window_starts(len(c_ids), budget, doc_stride)
        owner = best_windows(len(c_ids), starts, budget)  # the window where each piece has most context
        for w, start in enumerate(starts):
            end = min(start + budget, len(c_ids))
            token_ids = [special["cls"]] + q_ids + [special["sep"]] + [int(t) for t in c_ids[start:end]] + [special["sep"]]
            segment_ids = [0] * offset + [1] * (end - start + 1)
            char_start = [-1] * offset + [int(c) for c in c_starts[start:end]] + [-1]
            char_end = [-1] * offset + [int(c) for c in c_ends[start:end]] + [-1]
            max_context = [False] * len(token_ids)
            for k in range(start, end):
                max_context[offset + k - start] = bool(owner[k] == w)
            labels = (0, 0)
            if answer_tokens is not None and start <= answer_tokens[0] and answer_tokens[1] < end:
                labels = (offset + answer_tokens[0] - start, offset + answer_tokens[1] - start)
            rows.append((token_ids, segment_ids, char_start, char_end, max_context, i, labels))
    n = len(rows)
    arrays = {name: np.zeros((n, sequence_length), "int32") for name in ("token_ids", "segment_ids", "padding_mask")}
    arrays["token_ids"][:] = special["pad"]
    char_start = np.full((n, sequence_length), -1, "int32")
    char_end = np.full((n, sequence_length), -1, "int32")
    max_context = np.zeros((n, sequence_length), bool)
    for r, (t, s, cs, ce, mc, _, _) in enumerate(rows):
        arrays["token_ids"][r, :len(t)] = t
        arrays["segment_ids"][r, :len(s)] = s
        arrays["padding_mask"][r, :len(t)] = 1
        char_start[r, :len(cs)], char_end[r, :len(ce)], max_context[r, :len(mc)] = cs, ce, mc
    labels = np.array([r[6] for r in rows], "int32").reshape(n, 2)
    return QAFeatures(
        inputs=arrays, example=np.array([r[5] for r in rows], "int32"), char_start=char_start, char_end=char_end,
        max_context=max_context,
        start_positions=labels[:, 0] if answers is not None else None,
        end_positions=labels[:, 1] if answers is not None else None,
    )


def decode_answers(features, start_logits, end_logits, contexts, n_best=20, max_answer_length=30):
    """The best answer span per question.

    Args:
        features: the :class:`QAFeatures` the logits were computed for.
        start_logits, end_logits: float [N, sequence_length].
        contexts: the context string of every question.
        n_best: start and end candidates considered per window.
        max_answer_length: longest answer in tokens.
    Returns:
        one dict per question: ``{"text", "start", "end", "score"}`` with
        ``start``/``end`` character offsets into the context
        (``context[start:end] == text``) and ``score`` the sum of the two
        logits; ``{"text": "", "start": -1, "end": -1, "score": -inf}`` when
        no valid span exists.
    """
    start_logits = np.asarray(start_logits, "float64")
    end_logits = np.asarray(end_logits, "float64")
    best = [{"text": "", "start": -1, "end": -1, "score": float("-inf")} for _ in contexts]
    for row in range(start_logits.shape[0]):
        i = int(features.example[row])
        is_context = features.char_start[row] >= 0
        starts = [k for k in np.argsort(-start_logits[row]) if is_context[k] and features.max_context[row, k]][:n_best]
        ends = [k for k in np.argsort(-end_logits[row]) if is_context[k]][:n_best]
        for s in starts:
            for e in ends:
                if e < s or e - s + 1 > max_answer_length:
                    continue
                score = start_logits[row, s] + end_logits[row, e]
                if score > best[i]["score"]:
                    a, b = int(features.char_start[row, s]), int(features.char_end[row, e])
                    best[i] = {"text": contexts[i][a:b], "start": a, "end": b, "score": float(score)}
    return best


def qa_dataset(features, batch_size, shuffle=False, seed=0, drop_remainder=False, dynamic_padding=False,
               bucket_width=32):
    """A ``tf.data`` pipeline of ``(inputs, {"start_logits": s, "end_logits": e})`` batches.

    The label keys are the output names of ``BertQuestionAnswerer``, as
    Keras matches dict labels to dict outputs by name. By default every
    batch is ``sequence_length`` wide (static shapes for XLA/TPU). With
    ``dynamic_padding=True`` windows are grouped by length (buckets
    ``bucket_width`` tokens wide) and a batch pads only to its longest
    window, which saves most of the padding compute on CPU.
    """
    if features.start_positions is None:
        raise ValueError("qa_dataset needs features built with answers (training labels).")
    labels = {"start_logits": features.start_positions, "end_logits": features.end_positions}
    lengths = features.inputs["padding_mask"].sum(axis=1).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((features.inputs, labels, lengths))
    if shuffle:
        dataset = dataset.shuffle(len(features.example), seed=seed, reshuffle_each_iteration=True)
    if not dynamic_padding:
        dataset = dataset.map(lambda x, y, n: (x, y))
        return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    dataset = dataset.map(lambda x, y, n: ({k: v[:n] for k, v in x.items()}, y))
    width = features.inputs["token_ids"].shape[1]
    boundaries = list(range(bucket_width + 1, width + 1, bucket_width))
    return dataset.bucket_by_sequence_length(
        element_length_func=lambda x, y: tf.shape(x["token_ids"])[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padded_shapes=({k: [None] for k in features.inputs}, {k: [] for k in labels}),
        drop_remainder=drop_remainder,
    ).prefetch(tf.data.AUTOTUNE)
