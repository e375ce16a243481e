"""Word pieces with character offsets, as Python lists: the bridge from text to task features.

Task features (NER alignment, QA windows) are built once in Python from the
tokenizer's in-graph output: token ids plus each piece's [start, end) span in
code points of the original string (``text[start:end]``), and the
basic-tokenizer word each piece belongs to.

Example:
>>> from tfbert.data.tokens import pieces_with_offsets, word_spans
>>> from tfbert.preprocessing.tokenizer import BertTokenizer
>>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "##s", "open", "."])
>>> ids, starts, ends = pieces_with_offsets(tokenizer, ["Cafés open."])[0]
>>> ids.tolist(), starts.tolist(), ends.tolist()
([5, 6, 7, 8], [0, 4, 6, 10], [4, 5, 10, 11])
>>> word_spans(tokenizer, "Cafés open.")
[(0, 5), (6, 10), (10, 11)]

Long inputs are read in overlapping windows of pieces; each piece belongs to
the window where it has the most context:

>>> from tfbert.data.tokens import window_starts, best_windows
>>> starts = window_starts(10, budget=6, stride=3)      # pieces [0, 6), [3, 9), [6, 10); piece 4: a tie
>>> starts, best_windows(10, starts, budget=6).tolist()
([0, 3, 6], [0, 0, 0, 0, 0, 1, 1, 1, 2, 2])
"""

import numpy as np
import tensorflow as tf

from tfbert.preprocessing.tokenizer import to_utf8


def _batches(texts, batch_size):
    texts = [texts] if isinstance(texts, str) else list(texts)
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"Expected strings, found {bad[0]}.")
    for start in range(0, len(texts), batch_size):
        yield texts[start:start + batch_size]


def tokenize_texts(tokenizer, texts, batch_size=512):
    """Per text: a dict of int32 numpy arrays ``token_ids``, ``start_offsets``, ``end_offsets``, ``word_ids``."""
    rows = []
    for chunk in _batches(texts, batch_size):
        out = tokenizer.tokenize_batch(tf.constant([to_utf8(t) for t in chunk], tf.string))  # lone surrogates -> U+FFFD
        columns = {k: out[k].to_list() for k in ("token_ids", "start_offsets", "end_offsets", "word_ids")}
        for i in range(len(chunk)):
            rows.append({k: np.asarray(v[i], "int32") for k, v in columns.items()})
    return rows


def pieces_with_offsets(tokenizer, texts, batch_size=512):
    """Per text: ``(token_ids, starts, ends)`` int32 arrays; ``text[starts[k]:ends[k]]`` is piece k's source."""
    return [(r["token_ids"], r["start_offsets"], r["end_offsets"]) for r in tokenize_texts(tokenizer, texts, batch_size)]


def word_spans(tokenizer, text):
    """The [start, end) character span of each basic-tokenizer word of ``text`` (punctuation split off)."""
    row = tokenize_texts(tokenizer, [text])[0]
    spans = {}
    for word, start, end in zip(row["word_ids"].tolist(), row["start_offsets"].tolist(), row["end_offsets"].tolist()):
        first, last = spans.get(word, (start, end))
        spans[word] = (min(first, start), max(last, end))
    return [spans[w] for w in sorted(spans)]


def special_ids(tokenizer):
    """``{"cls", "sep", "pad"}`` token ids of a ``BertTokenizer``."""
    return {"cls": int(tokenizer.cls_token_id), "sep": int(tokenizer.sep_token_id), "pad": int(tokenizer.pad_token_id)}


def window_starts(num_pieces, budget, stride):
    """First piece of each window of at most ``budget`` pieces, ``stride`` apart, until the last piece is in one.

    Always at least one window (an empty input has one empty window).
    """
    if not 1 <= stride <= budget:
        raise ValueError(f"stride={stride} must be between 1 and the window's {budget} pieces; "
                         "a larger stride would skip pieces.")
    starts, start = [], 0
    while True:
        starts.append(start)
        if start + budget >= num_pieces:
            return starts
        start += stride


def context_score(k, start, end):
    """How centred piece ``k`` sits in window [start, end): min(left, right) context + 0.01 x window length.

    The rule of google-research/bert's ``_check_is_max_context``; works on numpy arrays of ``k``.
    """
    return np.minimum(k - start, end - 1 - k) + 0.01 * (end - start)


def best_windows(num_pieces, starts, budget):
    """For each piece, the index of the window (of ``starts``) where it has the most context.

    Ties go to the earliest window. Cost: one pass over each window's pieces.
    """
    best = np.full(num_pieces, -np.inf)
    owner = np.zeros(num_pieces, "int32")
    for w, start in enumerate(starts):
        end = min(start + budget, num_pieces)
        k = np.arange(start, end)
        score = context_score(k, start, end)
        better = score > best[k]
        best[k[better]] = score[better]
        owner[k[better]] = w
    return owner
