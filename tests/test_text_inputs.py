"""Text inputs that used to lose text silently or fail a whole batch: short pair lengths, invalid UTF-8, surrogates."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.preprocessing import BertPreprocessor, BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "film", "bad", "\ufffd"]


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer(VOCAB, lowercase=True)


# ---- sequence lengths that hold [CLS] a [SEP] (b [SEP]) ------------------------------------------
@pytest.mark.parametrize("length", [1, 2])
def test_a_length_without_room_for_one_token_is_refused(tokenizer, length):
    with pytest.raises(ValueError, match=r"integer in \[3, .*\[CLS\] text \[SEP\] needs at least 3 \(text pairs 5\)"):
        BertPreprocessor(tokenizer, sequence_length=length)  # 2 was accepted: [CLS] [SEP], the text dropped


@pytest.mark.parametrize("length", [3, 4])
def test_pairs_need_room_for_one_token_of_each_text(tokenizer, length):
    pre = BertPreprocessor(tokenizer, sequence_length=length)
    assert pre(["good film"])["token_ids"].numpy().tolist()[0][:2] == [2, 6]  # single texts still work
    with pytest.raises(ValueError, match=rf"text pair needs sequence_length >= 5 .* has {length}; .*"
                                         r"sequence_length=5 or more"):
        pre((["good film"], ["bad film"]))  # was: the second text dropped silently
    with pytest.raises(ValueError, match="text pair needs sequence_length >= 5"):
        pre.call_with_offsets((tf.constant(["good"]), tf.constant(["bad"])))
    dynamic = BertPreprocessor(tokenizer, max_sequence_length=4)
    with pytest.raises(ValueError, match="text pair needs sequence_length >= 5 .* has 4"):
        dynamic((["good"], ["bad"]))


def test_five_positions_keep_one_token_of_each_text(tokenizer):
    out = BertPreprocessor(tokenizer, sequence_length=5)((["good film"], ["bad film"]))
    assert out["token_ids"].numpy().tolist() == [[2, 6, 3, 8, 3]]
    assert out["segment_ids"].numpy().tolist() == [[0, 0, 0, 1, 1]]
