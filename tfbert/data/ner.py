"""Token-classification features: words and tags -> word pieces with first-piece labels.

Each sentence is tokenized once as its words joined by spaces; the
tokenizer's character offsets map every piece back to its word. The first
piece of a word carries the word's tag id, every other position (later
pieces, [CLS], [SEP], padding) carries ``IGNORE_LABEL`` (-100), and
``word_ids`` records which word each first piece starts. A sentence with more
pieces than fit in ``sequence_length`` is split between words into several
rows (never cut): ``merge_chunk_tags`` joins their predictions again.

For prediction, ``encode_word_windows`` reads a long sentence (a whole
document) in overlapping windows of pieces instead: windows start
``doc_stride`` pieces apart (default half a window), and each word is read in
the window where its first piece has the most context on both sides, so
every word is tagged once, with context around it.

Example:
>>> from tfbert.data.ner import encode_words
>>> from tfbert.preprocessing.tokenizer import BertTokenizer
>>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "john", "lives", "in",
...                            "ber", "##lin", "."])
>>> f = encode_words(tokenizer, [["John", "lives", "in", "Berlin", "."]], sequence_length=16,
...                  tags=[["B-PER", "O", "O", "B-LOC", "O"]], label_names=["O", "B-PER", "B-LOC"])
>>> f.inputs["token_ids"][0].tolist()
[2, 5, 6, 7, 8, 9, 10, 3]
>>> f.word_ids[0].tolist()
[-1, 0, 1, 2, 3, -1, 4, -1]
>>> f.labels[0].tolist()
[-100, 1, 0, 0, 2, -100, 0, -100]
"""

import bisect
from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from tfbert.data.tokens import best_windows, pieces_with_offsets, special_ids, window_starts, word_spans

IGNORE_LABEL = -100


class WordFeatures(NamedTuple):
    """Aligned rows, padded to the longest row (``lengths`` gives each row's length).

    Fields:
        inputs: dict of int32 [N, L] arrays ``token_ids``/``segment_ids``/``padding_mask``.
        word_ids: int32 [N, L]: the row-local word index at each word's first
            piece, -1 elsewhere.
        labels: int32 [N, L] tag ids at first pieces, -100 elsewhere (None without tags).
        num_words: int32 [N] words in each row.
        sentence: int32 [N] the sentence each row came from.
        first_word: int32 [N] index (in its sentence) of the row's first word.
        lengths: int32 [N] real tokens per row, [CLS] and [SEP] included.
    """

    inputs: dict
    word_ids: np.ndarray
    labels: Optional[np.ndarray]
    num_words: np.ndarray
    sentence: np.ndarray
    first_word: np.ndarray
    lengths: np.ndarray


def _tag_ids(tags, label_names, where):
    index = {name: i for i, name in enumerate(label_names)}
    ids = []
    for position, tag in enumerate(tags):
        if tag not in index:
            raise ValueError(f"{where}: tag {tag!r} of word {position} is not one of the label names {label_names}.")
        ids.append(index[tag])
    return ids


def _joined_words(sentences):
    """Each sentence's words joined by single spaces, and the character start of every word there."""
    texts, starts_of_words = [], []
    for words in sentences:
        starts, position = [], 0
        for word in words:
            starts.append(position)
            position += len(word) + 1
        texts.append(" ".join(words))
        starts_of_words.append(starts)
    return texts, starts_of_words


def _padded_features(rows, pad_id, labelled):
    """:class:`WordFeatures` of ``rows`` (``(token_ids, word_ids, labels, num_words, sentence, first_word)``
    each, the first three lists of one length), every row padded to the longest; labels only when ``labelled``."""
    longest = max(len(row[0]) for row in rows)
    lengths = np.array([len(row[0]) for row in rows], "int32")

    def padded(field, fill):
        array = np.full((len(rows), longest), fill, "int32")
        for i, row in enumerate(rows):
            array[i, :len(row[field])] = row[field]
        return array

    token_ids = padded(0, pad_id)
    padding_mask = (np.arange(longest)[None, :] < lengths[:, None]).astype("int32")
    return WordFeatures(
        inputs={"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "padding_mask": padding_mask},
        word_ids=padded(1, -1), labels=padded(2, IGNORE_LABEL) if labelled else None,
        num_words=np.array([row[3] for row in rows], "int32"), sentence=np.array([row[4] for row in rows], "int32"),
        first_word=np.array([row[5] for row in rows], "int32"), lengths=lengths,
    )


def encode_words(tokenizer, sentences, sequence_length=128, tags=None, label_names=None, origins=None):
    """Word-piece rows for pre-split ``sentences`` (lists of words), with labels when ``tags`` are given.

    Args:
        tokenizer: a ``tfbert.preprocessing.BertTokenizer``.
        sentences: list of lists of words.
        sequence_length: maximum row length, [CLS] and [SEP] included.
        tags: optional list of tag lists (same shape as ``sentences``).
        label_names: the tag names in id order (needed with ``tags``).
        origins: optional ``"file:line"`` per sentence, used in errors.
    Returns:
        :class:`WordFeatures`.
    """
    sentences = [list(words) for words in sentences]
    if tags is not None:
        if label_names is None:
            raise ValueError("encode_words needs label_names (the tag of each id) when tags are given.")
        if len(tags) != len(sentences):
            raise ValueError(f"Got {len(sentences)} sentences but {len(tags)} tag lists.")
    if sequence_length < 3:
        raise ValueError(f"sequence_length must be at least 3 ([CLS] word [SEP]), got {sequence_length}.")
    ids = special_ids(tokenizer)
    budget = sequence_length - 2
    texts, starts_of_words = _joined_words(sentences)
    pieces = pieces_with_offsets(tokenizer, texts)

    rows = []  # (token_ids, word_ids, labels, num_words, sentence, first_word), as _padded_features takes them
    for s, (words, starts, (piece_ids, piece_starts, _)) in enumerate(zip(sentences, starts_of_words, pieces)):
        where = origins[s] if origins is not None else f"sentence {s}"
        label_ids = None
        if tags is not None:
            if len(tags[s]) != len(words):
                raise ValueError(f"{where}: {len(words)} words but {len(tags[s])} tags.")
            label_ids = _tag_ids(tags[s], label_names, where)
        by_word = [[] for _ in words]
        for piece, start in zip(piece_ids, piece_starts):
            by_word[bisect.bisect_right(starts, int(start)) - 1].append(int(piece))
        chunk = []  # word indices in the current row
        used = 0

        def emit(chunk):
            token_ids, word_ids, labels = [ids["cls"]], [-1], [IGNORE_LABEL]
            for local, w in enumerate(chunk):
                word_pieces = by_word[w][:budget]
                for k, piece in enumerate(word_pieces):
                    token_ids.append(piece)
                    word_ids.append(local if k == 0 else -1)
                    labels.append(label_ids[w] if (k == 0 and label_ids is not None) else IGNORE_LABEL)
            token_ids.append(ids["sep"])
            word_ids.append(-1)
            labels.append(IGNORE_LABEL)
            rows.append((token_ids, word_ids, labels, len(chunk), s, chunk[0] if chunk else 0))

        for w in range(len(words)):
            size = min(len(by_word[w]), budget)
            if chunk and used + size > budget:
                emit(chunk)
                chunk, used = [], 0
            chunk.append(w)
            used += size
        emit(chunk)

    return _padded_features(rows, ids["pad"], labelled=tags is not None)


def default_doc_stride(sequence_length):
    """Pieces between window starts when tagging long texts: half the window (at least 1)."""
    return max(1, (int(sequence_length) - 2) // 2)


def encode_word_windows(tokenizer, sentences, sequence_length=128, doc_stride=None):
    """Prediction rows for sentences of any length: overlapping windows, each word owned by one row.

    Each row is ``[CLS] pieces[start:start + sequence_length - 2] [SEP]``,
    windows ``doc_stride`` pieces apart (default ``default_doc_stride``). A
    word belongs to the window where its first piece has the most context
    (``tfbert.data.tokens.best_windows``, earliest on a tie), and ``word_ids``
    marks only the words a row owns, so ``decode_tags`` + ``merge_chunk_tags``
    tag every word exactly once. Words without pieces get "O".

    Returns:
        :class:`WordFeatures` without labels; row ``r`` owns words
        ``first_word[r] : first_word[r] + num_words[r]`` of its sentence.
    """
    if sequence_length < 3:
        raise ValueError(f"sequence_length must be at least 3 ([CLS] piece [SEP]), got {sequence_length}.")
    budget = sequence_length - 2
    doc_stride = default_doc_stride(sequence_length) if doc_stride is None else int(doc_stride)
    ids = special_ids(tokenizer)
    sentences = [list(words) for words in sentences]
    texts, starts_of_words = _joined_words(sentences)
    rows = []  # (token_ids, word_ids, None, num_words, sentence, first_word), as _padded_features takes them
    for s, (words, starts, (piece_ids, piece_starts, _)) in enumerate(
            zip(sentences, starts_of_words, pieces_with_offsets(tokenizer, texts))):
        n = len(piece_ids)
        piece_word = np.array([bisect.bisect_right(starts, int(c)) - 1 for c in piece_starts], "int64")
        first = np.ones(n, bool)
        first[1:] = piece_word[1:] != piece_word[:-1]
        window_first = window_starts(n, budget, doc_stride)
        owner = best_windows(n, window_first, budget)
        # the row of every word: its first piece's window; a word without pieces joins the previous word's row
        row_of_word = np.zeros(len(words), "int64")
        row_of_word[piece_word[first]] = owner[first]
        has_piece = np.zeros(len(words), bool)
        has_piece[piece_word[first]] = True
        for w in range(1, len(words)):
            if not has_piece[w]:
                row_of_word[w] = row_of_word[w - 1]
        for r, start in enumerate(window_first):
            end = min(start + budget, n)
            owned = np.nonzero(row_of_word == r)[0]
            first_word = int(owned[0]) if len(owned) else 0
            word_ids = [-1] * (end - start + 2)
            for k in range(start, end):
                if first[k] and owner[k] == r:
                    word_ids[1 + k - start] = int(piece_word[k]) - first_word
            token_ids = [ids["cls"]] + [int(t) for t in piece_ids[start:end]] + [ids["sep"]]
            rows.append((token_ids, word_ids, None, len(owned), s, first_word))
    return _padded_features(rows, ids["pad"], labelled=False)


def merge_chunk_tags(features, row_tags, sentence_lengths):
    """Join per-row tag lists (as ``decode_tags`` returns them) back into one list per sentence."""
    merged = [["O"] * n for n in sentence_lengths]
    for row, tags in enumerate(row_tags):
        s, first = int(features.sentence[row]), int(features.first_word[row])
        merged[s][first:first + len(tags)] = tags
    return merged


def split_words(tokenizer, text):
    """Character spans ``(start, end)`` of BERT's basic-tokenizer words in ``text``."""
    return word_spans(tokenizer, text)


def token_classification_dataset(features, batch_size, shuffle=False, seed=0, bucket_boundaries=None):
    """A ``tf.data`` pipeline of ``(inputs, labels)`` batches padded per batch.

    Rows are grouped by length (``bucket_boundaries``, default every 16
    tokens) so that a batch pads only to its own longest row; labels pad
    with -100. With ``shuffle`` the rows are reshuffled every epoch.
    """
    if features.labels is None:
        raise ValueError("token_classification_dataset needs features built with tags (labels).")

    def trim(x, y, length):  # drop the padding of the stored arrays; the batch pads again
        return {k: v[:length] for k, v in x.items()}, y[:length]

    dataset = tf.data.Dataset.from_tensor_slices((features.inputs, features.labels, features.lengths))
    if shuffle:
        dataset = dataset.shuffle(len(features.lengths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(trim, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    longest = int(features.lengths.max())
    if bucket_boundaries is None:
        bucket_boundaries = list(range(16, longest + 1, 16))
    bucket_boundaries = [b for b in bucket_boundaries if b <= longest] or [longest]
    padded = {"token_ids": [None], "segment_ids": [None], "padding_mask": [None]}
    return dataset.bucket_by_sequence_length(
        element_length_func=lambda x, y: tf.shape(x["token_ids"])[0],
        bucket_boundaries=[b + 1 for b in bucket_boundaries],
        bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
        padded_shapes=(padded, [None]),
        padding_values=({"token_ids": 0, "segment_ids": 0, "padding_mask": 0}, IGNORE_LABEL),
    ).prefetch(tf.data.AUTOTUNE)
