"""MLM masking statistics (15%, 80/10/10, whole words, cap) and dynamic masking in tf.data."""

import numpy as np
import pytest

from tfbert.data.masking import MaskedLMMasker
from tfbert.data.pretraining_data import pretraining_dataset

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [f"w{i}" for i in range(200)]
PIECES = [f"##p{i}" for i in range(100)]
VOCAB = SPECIAL + WORDS + PIECES
PAD, CLS, SEP, MASK = 0, 2, 3, 4
FIRST_PIECE = len(SPECIAL) + len(WORDS)


def corpus(batch=512, length=96, seed=0, pieces=True):
    """Packed rows: [CLS] a [SEP] b [SEP] + padding; about a third of the tokens are ## pieces."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((batch, length), "int32")
    mask = np.zeros((batch, length), "int32")
    for row in range(batch):
        n = int(rng.integers(12, length + 1))
        tokens = rng.integers(len(SPECIAL), FIRST_PIECE, n)
        if pieces:
            is_piece = rng.random(n) < 0.35
            tokens = np.where(is_piece, rng.integers(FIRST_PIECE, len(VOCAB), n), tokens)
        tokens[0], tokens[n // 2], tokens[n - 1] = CLS, SEP, SEP
        ids[row, :n], mask[row, :n] = tokens, 1
    return ids, mask


def chosen_matrix(out, shape):
    chosen = np.zeros(shape, bool)
    positions, weights = out["mask_positions"].numpy(), out["mask_weights"].numpy()
    for row in range(shape[0]):
        chosen[row, positions[row][weights[row] > 0]] = True
    return chosen


@pytest.mark.parametrize("whole_word", [False, True])
def test_masking_statistics(whole_word):
    ids, mask = corpus()
    masker = MaskedLMMasker(VOCAB, max_predictions=20, whole_word=whole_word)
    out = masker(ids, mask, seed=[7, 11])
    weights = out["mask_weights"].numpy()
    positions = out["mask_positions"].numpy()
    new = out["token_ids"].numpy()
    chosen = chosen_matrix(out, ids.shape)
    real = mask.sum(1)
    budget = np.clip(np.round(real * 0.15), 1, 20)

    # 15% of the real tokens (rounded, capped); whole words may leave a word-sized gap.
    predicted = weights.sum(1)
    if whole_word:
        assert np.all(predicted <= budget) and predicted.sum() / budget.sum() > 0.97
    else:
        assert np.array_equal(predicted, budget)
    assert abs(predicted.sum() / real.sum() - 0.15) < 0.01

    # Never [CLS], [SEP] or padding; the labels are the original ids; positions increase.
    assert not np.any(chosen & np.isin(ids, [CLS, SEP])) and not np.any(chosen & (mask == 0))
    rows = np.arange(len(ids))[:, None]
    assert np.array_equal(out["mask_ids"].numpy()[weights > 0], ids[rows, positions][weights > 0])
    for row in range(len(ids)):
        real_positions = positions[row][weights[row] > 0]
        assert np.all(np.diff(real_positions) > 0)
        assert np.all(positions[row][weights[row] == 0] == 0)
    # Only chosen positions change.
    assert np.array_equal(new[~chosen], ids[~chosen])

    # 80% [MASK], 10% random, 10% unchanged (random draws land on the original 1/495 of the time).
    originals, seen = ids[chosen], new[chosen]
    n = len(seen)
    share_mask = np.mean(seen == MASK)
    share_same = np.mean(seen == originals)
    share_random = 1 - share_mask - share_same
    tolerance = 4 * np.sqrt(0.1 * 0.9 / n)  # four standard deviations
    assert n > 3000
    assert abs(share_mask - 0.8) < 4 * np.sqrt(0.8 * 0.2 / n)
    assert abs(share_same - 0.1) < tolerance and abs(share_random - 0.1) < tolerance
    random_tokens = seen[(seen != MASK) & (seen != originals)]
    assert np.all(random_tokens >= len(SPECIAL))  # random replacements are never special tokens


def test_whole_words_are_masked_together():
    ids, mask = corpus(seed=3)
    out = MaskedLMMasker(VOCAB, max_predictions=20, whole_word=True)(ids, mask, seed=[1, 2])
    chosen = chosen_matrix(out, ids.shape)
    is_piece = ids >= FIRST_PIECE
    continues = is_piece[:, 1:] & (mask[:, 1:] > 0) & ~np.isin(ids[:, :-1], [CLS, SEP])
    assert continues.sum() > 1000  # the corpus really has multi-piece words
    assert np.array_equal(chosen[:, 1:][continues], chosen[:, :-1][continues])
    # ...whereas token-level masking splits words.
    plain = chosen_matrix(MaskedLMMasker(VOCAB, max_predictions=20)(ids, mask, seed=[1, 2]), ids.shape)
    assert not np.array_equal(plain[:, 1:][continues], plain[:, :-1][continues])


def test_cap_and_minimum():
    ids, mask = corpus(batch=64, length=96, pieces=False)
    out = MaskedLMMasker(VOCAB, max_predictions=5)(ids, mask, seed=[0, 1])
    expected = np.minimum(5, np.round(mask.sum(1) * 0.15))
    assert tuple(out["mask_positions"].shape) == (64, 5)
    assert np.array_equal(out["mask_weights"].numpy().sum(1), expected) and expected.max() == 5
    short = np.array([[CLS, 10, SEP, 0, 0, 0]], "int32")  # 3 real tokens: still one prediction
    out = MaskedLMMasker(VOCAB, max_predictions=8)(short, np.array([[1, 1, 1, 0, 0, 0]]), seed=[0, 1])
    assert out["mask_weights"].numpy().sum() == 1 and out["mask_positions"].numpy()[0, 0] == 1
    assert tuple(out["mask_positions"].shape) == (1, 8)  # P may exceed the sequence length


def test_seeds_are_deterministic_and_distinct():
    ids, mask = corpus(batch=16)
    masker = MaskedLMMasker(VOCAB)
    a, b, c = (masker(ids, mask, seed=s)["mask_positions"].numpy() for s in ([1, 2], [1, 2], [1, 3]))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_dynamic_masking_gives_fresh_masks_every_epoch():
    ids, mask = corpus(batch=64, length=32)
    instances = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask,
                 "next_sentence_label": np.zeros(64, "int32")}
    data = pretraining_dataset(instances, MaskedLMMasker(VOCAB, max_predictions=6), batch_size=16, shuffle=False)
    epoch1 = [x["mask_positions"].numpy() for x, _ in data]
    epoch2 = [x["mask_positions"].numpy() for x, _ in data]
    x, y = next(iter(data))
    assert len(epoch1) == 4 and tuple(x["token_ids"].shape) == (16, 32) and tuple(y["mask_ids"].shape) == (16, 6)
    assert not all(np.array_equal(a, b) for a, b in zip(epoch1, epoch2))
    again = pretraining_dataset(instances, MaskedLMMasker(VOCAB, max_predictions=6), batch_size=16, shuffle=False)
    assert all(np.array_equal(a, x["mask_positions"].numpy()) for a, (x, _) in zip(epoch1, again))


def test_bad_masker_arguments():
    with pytest.raises(ValueError, match="special token"):
        MaskedLMMasker(["[PAD]", "a"])
    with pytest.raises(ValueError, match="mask_rate"):
        MaskedLMMasker(VOCAB, mask_rate=0)
    with pytest.raises(ValueError, match="max_predictions"):
        MaskedLMMasker(VOCAB, max_predictions=0)
    with pytest.raises(ValueError, match="sum to at most 1"):
        MaskedLMMasker(VOCAB, mask_token_rate=0.9, random_token_rate=0.2)
