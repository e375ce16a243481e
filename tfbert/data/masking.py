"""Masked-LM corruption with TensorFlow ops: which tokens to predict, and what the model sees.

``MaskedLMMasker`` does BERT's masking on a batch of packed sequences, in the
graph (usable in ``tf.data.Dataset.map``, no Python per example):

- the candidates are the real tokens (``padding_mask`` 1) except ``[CLS]``,
  ``[SEP]`` and ``[PAD]``;
- ``round(mask_rate * num_real_tokens)`` of them are chosen, at least 1 and
  at most ``max_predictions`` (``num_real_tokens`` counts ``[CLS]``/``[SEP]``,
  as google-research/bert does);
- with ``whole_word=True`` a word (a piece plus the ``##`` pieces that follow
  it) is chosen or left whole: words are visited in random order and a word
  that would overshoot the budget is skipped, as in the original. Chinese
  whole-word masking passes ``word_continuation`` [B, S] beside the ids: 1
  where a token continues the word of the token before it (the characters of
  a segmented Chinese word, ``tfbert.data.chinese_words``), read together with
  the ``##`` rule;
- each chosen token becomes ``[MASK]`` with probability ``mask_token_rate``
  (0.8), a random token with ``random_token_rate`` (0.1), and stays itself
  otherwise (0.1). Random tokens are drawn uniformly from the vocabulary
  without the special tokens and ``[unusedN]`` fillers (the original draws
  from the whole vocabulary, specials included).

Randomness is stateless: the same ``seed`` (two integers) gives the same
masks, and a new seed per batch gives fresh masks (dynamic masking).

Outputs (``P = max_predictions``): ``token_ids`` [B, S] corrupted,
``mask_positions`` [B, P] int32 in increasing order, ``mask_ids`` [B, P] the
original tokens there, ``mask_weights`` [B, P] float32, 1.0 for a real
prediction and 0.0 for a padding slot (whose position and id are 0).

Example:
>>> import numpy as np
>>> from tfbert.data.masking import MaskedLMMasker
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat"]
>>> masker = MaskedLMMasker(vocab, mask_rate=0.3, max_predictions=4, whole_word=True)
>>> ids = np.array([[2, 5, 6, 7, 8, 3, 0, 0]], "int32")     # [CLS] the cat ##s sat [SEP]
>>> out = masker(ids, np.array([[1, 1, 1, 1, 1, 1, 0, 0]]), seed=[1, 2])
>>> sorted(out)
['mask_ids', 'mask_positions', 'mask_weights', 'token_ids']
>>> int(out["mask_weights"].numpy().sum())    # round(0.3 * 6) = 2
2
>>> masker(ids, np.array([[1, 1, 1, 1, 1, 1, 0, 0]]), seed=[1, 2])["mask_positions"].numpy().tolist() == \\
...     out["mask_positions"].numpy().tolist()   # same seed, same masks
True
"""

import re

import numpy as np
import tensorflow as tf

from tfbert.preprocessing.vocabulary import special_token_ids

_UNUSED = re.compile(r"^\[unused\d+\]$")


def as_seed(seed):
    """A stateless-random seed: an int32 [2] tensor from an int or a pair."""
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank == 0:
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.cast(tf.reshape(seed, [2]), tf.int32)


class MaskedLMMasker:
    """BERT's MLM masking as TF ops; see the module docstring.

    Args:
        vocabulary: the token list (index = id); it must hold [PAD], [UNK],
            [CLS], [SEP] and [MASK].
        mask_rate: fraction of real tokens to predict (0.15).
        max_predictions: P, the static number of prediction slots.
        mask_token_rate, random_token_rate: the 80/10/10 split.
        whole_word: choose whole words (a piece plus its ``##`` pieces, and
            the tokens marked in ``word_continuation`` when it is given).
    """

    def __init__(self, vocabulary, *, mask_rate=0.15, max_predictions=20, mask_token_rate=0.8,
                 random_token_rate=0.1, whole_word=False):
        vocabulary = list(vocabulary)
        ids = special_token_ids(vocabulary)
        if not 0.0 < mask_rate <= 1.0:
            raise ValueError(f"mask_rate must be in (0, 1], got {mask_rate!r}.")
        if isinstance(max_predictions, bool) or not isinstance(max_predictions, int) or max_predictions < 1:
            raise ValueError(f"max_predictions must be a positive integer, got {max_predictions!r}.")
        if mask_token_rate < 0 or random_token_rate < 0 or mask_token_rate + random_token_rate > 1:
            raise ValueError("mask_token_rate and random_token_rate must be >= 0 and sum to at most 1; "
                             f"got {mask_token_rate} and {random_token_rate}.")
        self.vocabulary_size = len(vocabulary)
        self.mask_rate = float(mask_rate)
        self.max_predictions = max_predictions
        self.mask_token_rate = float(mask_token_rate)
        self.random_token_rate = float(random_token_rate)
        self.whole_word = bool(whole_word)
        self.mask_id = ids["[MASK]"]
        never = np.zeros(len(vocabulary), bool)
        never[[ids["[PAD]"], ids["[CLS]"], ids["[SEP]"]]] = True
        special = {ids[t] for t in ids}
        ordinary = [i for i, t in enumerate(vocabulary) if i not in special and not _UNUSED.match(t)]
        if not ordinary:
            raise ValueError("The vocabulary holds only special tokens; there is nothing to predict.")
        self._never = tf.constant(never)
        self._continuation = tf.constant([t.startswith("##") for t in vocabulary])
        self._ordinary_ids = tf.constant(ordinary, tf.int32)

    def __call__(self, token_ids, padding_mask, seed, word_continuation=None):
        token_ids = tf.convert_to_tensor(token_ids)
        unbatched = token_ids.shape.rank == 1
        if word_continuation is not None:
            if not self.whole_word:
                raise ValueError("word_continuation marks whole words; it needs MaskedLMMasker(whole_word=True).")
            word_continuation = tf.cast(tf.convert_to_tensor(word_continuation), tf.bool)
            if unbatched:
                word_continuation = word_continuation[None]
        if unbatched:
            token_ids, padding_mask = token_ids[None], tf.convert_to_tensor(padding_mask)[None]
        out = self._mask(tf.cast(token_ids, tf.int32), tf.cast(padding_mask, tf.bool), as_seed(seed),
                         word_continuation)
        return {k: v[0] for k, v in out.items()} if unbatched else out

    def _mask(self, token_ids, valid, seed, word_continuation=None):
        seeds = tf.random.experimental.stateless_split(seed, num=4)
        batch, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
        positions = tf.range(length)[None, :]  # [1, S]
        num_real = tf.reduce_sum(tf.cast(valid, tf.float32), axis=1)
        budget = tf.clip_by_value(tf.cast(tf.round(num_real * self.mask_rate), tf.int32), 1, self.max_predictions)
        candidate = valid & ~tf.gather(self._never, token_ids)  # [B, S]

        # Words: a candidate starts a word unless it is a ## piece right after another candidate.
        if self.whole_word:
            previous = tf.pad(candidate[:, :-1], [[0, 0], [1, 0]])
            continues = tf.gather(self._continuation, token_ids)
            if word_continuation is not None:
                continues = continues | word_continuation
            starts = candidate & ~(continues & previous)
        else:
            starts = candidate
        word_index = tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1  # [B, S]
        num_words = tf.reduce_sum(tf.cast(starts, tf.int32), axis=1)  # [B]
        segment = tf.range(batch)[:, None] * length + tf.maximum(word_index, 0)
        word_length = tf.reshape(tf.math.unsorted_segment_sum(
            tf.reshape(tf.cast(candidate, tf.int32), [-1]), tf.reshape(segment, [-1]), batch * length),
            [batch, length])  # [B, S]: pieces in word w

        # Visit the words in random order; take a word if it still fits the budget.
        score = tf.random.stateless_uniform([batch, length], seed=seeds[0])
        score = tf.where(positions < num_words[:, None], score, 2.0)
        order = tf.argsort(score, axis=1, stable=True)  # [B, S] word slots, real words first
        ordered_length = tf.gather(word_length, order, batch_dims=1)
        if self.whole_word:
            def take(state, length_k):
                total, _ = state
                fits = (length_k > 0) & (total + length_k <= budget)
                return total + tf.where(fits, length_k, 0), fits
            _, taken = tf.scan(take, tf.transpose(ordered_length),
                               initializer=(tf.zeros([batch], tf.int32), tf.zeros([batch], tf.bool)))
            taken = tf.transpose(taken)  # [B, S] in visiting order
        else:
            taken = (positions < budget[:, None]) & (ordered_length > 0)
        chosen_word = tf.gather(taken, tf.argsort(order, axis=1), batch_dims=1)  # [B, S] by word slot
        chosen = candidate & tf.gather(chosen_word, tf.maximum(word_index, 0), batch_dims=1)  # [B, S]

        # 80% [MASK], 10% a random ordinary token, 10% unchanged.
        draw = tf.random.stateless_uniform([batch, length], seed=seeds[1])
        pick = tf.random.stateless_uniform([batch, length], seed=seeds[2], minval=0,
                                           maxval=tf.shape(self._ordinary_ids)[0], dtype=tf.int32)
        random_ids = tf.gather(self._ordinary_ids, pick)
        replaced = tf.where(draw < self.mask_token_rate, self.mask_id,
                            tf.where(draw < self.mask_token_rate + self.random_token_rate, random_ids, token_ids))
        corrupted = tf.where(chosen, replaced, token_ids)

        # The chosen positions, earliest first, padded to P slots.
        rank = tf.where(chosen, length - positions, 0)  # earlier position -> higher score
        rank = tf.pad(rank, [[0, 0], [0, tf.maximum(self.max_predictions - length, 0)]])
        top, where = tf.math.top_k(rank, k=self.max_predictions)
        real = top > 0
        mask_positions = tf.where(real, where, 0)
        mask_ids = tf.where(real, tf.gather(token_ids, mask_positions, batch_dims=1), 0)
        return {
            "token_ids": corrupted,
            "mask_positions": mask_positions,
            "mask_ids": mask_ids,
            "mask_weights": tf.cast(real, tf.float32),
        }
