"""BertPreprocessor: packing, truncation, static and dynamic shapes, graph use, offsets, bad input."""

import itertools
import os

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from test_case import TINY, TestCase
from tfbert.preprocessing import BertPreprocessor, BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "how", "old", "are", "you", "?", "i", "am",
         "six", "the", "cafe", "un", "##aff", "##able", "中", "文", "."]
A, B = 5, 6


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer(VOCAB)


@pytest.fixture(scope="module")
def dynamic(tokenizer):
    return BertPreprocessor(tokenizer)


def rows(out, key="token_ids"):
    return out[key].numpy().tolist()


# -- packing and shapes ----------------------------------------------------------------------

def test_single_and_pair_packing(tokenizer):
    pre = BertPreprocessor(tokenizer, sequence_length=12)
    out = pre(["How old are you?", "Un-unaffable café"])
    assert rows(out) == [[2, 7, 8, 9, 10, 11, 3, 0, 0, 0, 0, 0], [2, 17, 1, 17, 18, 19, 16, 3, 0, 0, 0, 0]]
    assert rows(out, "segment_ids") == [[0] * 12] * 2
    assert rows(out, "padding_mask") == [[1] * 7 + [0] * 5, [1] * 8 + [0] * 4]
    out = pre((["How old are you?"], ["I am six."]))
    assert rows(out) == [[2, 7, 8, 9, 10, 11, 3, 12, 13, 14, 22, 3]]
    assert rows(out, "segment_ids") == [[0] * 7 + [1] * 5]
    assert all(v.dtype == tf.int32 for v in out.values())


def test_empty_and_whitespace_strings_give_cls_sep(dynamic):
    out = dynamic(["", "   \t\n", "\u200b"])
    assert rows(out) == [[2, 3, 0, 0, 0, 0, 0, 0]] * 3
    assert rows(out, "padding_mask") == [[1, 1, 0, 0, 0, 0, 0, 0]] * 3
    pair = dynamic((["", " "], [" ", "a"]))
    assert rows(pair) == [[2, 3, 3, 0, 0, 0, 0, 0], [2, 3, 5, 3, 0, 0, 0, 0]]
    assert rows(pair, "segment_ids") == [[0, 0, 1, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0, 0]]


def test_dynamic_length_is_a_multiple_of_8_capped_at_the_maximum(tokenizer):
    pre = BertPreprocessor(tokenizer)
    for words, width in [(1, 8), (6, 8), (7, 16), (30, 32)]:
        assert pre([" ".join(["a"] * words), "b"])["token_ids"].shape == (2, width)
    capped = BertPreprocessor(tokenizer, max_sequence_length=20)
    out = capped(["a " * 100])
    assert out["token_ids"].shape == (1, 20) and rows(out)[0][-1] == 3


def test_static_shapes_under_tracing(tokenizer):
    pre = BertPreprocessor(tokenizer, sequence_length=16)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def single(strings):
        return pre(strings)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
    def pair(a, b):
        return pre((a, b))

    for fn, args in ((single, [["a b"]]), (pair, [["a"], ["b"]])):
        outputs = fn.get_concrete_function().structured_outputs
        assert all(t.shape.as_list() == [None, 16] for t in outputs.values())
        assert fn(*[tf.constant(a) for a in args])["token_ids"].shape == (1, 16)
    dynamic = BertPreprocessor(tokenizer)
    traced = tf.function(lambda s: dynamic(s), input_signature=[tf.TensorSpec([None], tf.string)])
    assert traced.get_concrete_function().structured_outputs["token_ids"].shape.as_list() == [None, None]


def test_scalar_inputs_give_rank_one(tokenizer):
    pre = BertPreprocessor(tokenizer, sequence_length=6)
    assert rows(pre("a b")) == [2, 5, 6, 3, 0, 0]
    assert rows(pre(("a", "b")), "segment_ids") == [0, 0, 0, 1, 1, 0]


# -- truncation ------------------------------------------------------------------------------

def google_truncate_pair(len_a, len_b, budget):
    """google-research/bert's _truncate_seq_pair (= Hugging Face longest_first): pop from the longer, b on ties."""
    while len_a + len_b > budget:
        if len_a > len_b:
            len_a -= 1
        else:
            len_b -= 1
    return len_a, len_b


def round_robin(len_a, len_b, budget):
    """One token from a, then one from b, ... until the budget or both segments are used up."""
    keep, turn = [0, 0], 0
    while sum(keep) < min(budget, len_a + len_b):
        if keep[turn] < (len_a, len_b)[turn]:
            keep[turn] += 1
        turn = 1 - turn
    return tuple(keep)


@pytest.mark.parametrize("truncate", ["round_robin", "longest_first"])
def test_pair_truncation_hand_computed(tokenizer, truncate):
    pre = BertPreprocessor(tokenizer, sequence_length=10, truncate=truncate)   # 7 tokens of text
    cases = {(5, 5): (4, 3), (6, 5): (4, 3), (4, 6): (4, 3), (10, 3): (4, 3), (2, 10): (2, 5), (3, 3): (3, 3),
             (1, 9): (1, 6), (9, 0): (7, 0)}
    a = [" ".join(["a"] * la) for la, _ in cases]
    b = [" ".join(["b"] * lb) for _, lb in cases]
    out = pre((a, b))
    ids = out["token_ids"].numpy()
    for (case, expected), row in zip(cases.items(), ids):
        assert ((row == A).sum(), (row == B).sum()) == expected, case
        assert expected == google_truncate_pair(*case, 7) == round_robin(*case, 7)


def test_truncation_rule_equals_both_references_on_a_grid(tokenizer):
    pre = BertPreprocessor(tokenizer, sequence_length=12)                       # 9 tokens of text
    grid = list(itertools.product(range(13), range(13)))
    out = pre(([" ".join(["a"] * la) for la, _ in grid], [" ".join(["b"] * lb) for _, lb in grid]))
    ids = out["token_ids"].numpy()
    got = [((row == A).sum(), (row == B).sum()) for row in ids]
    assert got == [google_truncate_pair(la, lb, 9) for la, lb in grid]
    assert got == [round_robin(la, lb, 9) for la, lb in grid]


def test_single_truncation_keeps_the_first_tokens(tokenizer):
    out = BertPreprocessor(tokenizer, sequence_length=5)(["how old are you ?"])
    assert rows(out) == [[2, 7, 8, 9, 3]]


# -- bad input -------------------------------------------------------------------------------

def test_pair_batch_size_mismatch(dynamic):
    with pytest.raises(ValueError, match="same batch size; got 2 and 1"):
        dynamic((["a", "b"], ["c"]))
    graph = tf.function(lambda a, b: dynamic((a, b)), input_signature=[tf.TensorSpec([None], tf.string)] * 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        graph(tf.constant(["a", "b"]), tf.constant(["c"]))
    with pytest.raises(ValueError, match="both be single strings or both batches"):
        dynamic(("a", ["b"]))


@pytest.mark.parametrize("bad, error, match", [
    (None, TypeError, "None"),
    (tf.constant([3, 4]), TypeError, "int32"),
    (("a", "b", "c"), ValueError, "tuple of 3"),
    ({"text": ["a"]}, TypeError, "not a dict"),
    ((["a"], None), TypeError, "text_b is None"),
])
def test_bad_inputs(dynamic, bad, error, match):
    with pytest.raises(error, match=match):
        dynamic(bad)


def test_bad_arguments(tokenizer):
    with pytest.raises(ValueError, match="truncate must be one of"):
        BertPreprocessor(tokenizer, truncate="waterfall")
    with pytest.raises(ValueError, match=r"sequence_length must be None or an integer in \[3, max_sequence_length=512\]"):
        BertPreprocessor(tokenizer, sequence_length=1024)
    with pytest.raises(ValueError, match="sequence_length"):
        BertPreprocessor(tokenizer, sequence_length=1)
    with pytest.raises(TypeError, match="BertTokenizer"):
        BertPreprocessor("bert_base_en_uncased")
    with pytest.raises(ValueError, match="max_input_chars"):
        BertPreprocessor(tokenizer, max_input_chars=0)


def test_one_megabyte_string_is_cut_before_tokenizing(tokenizer):
    pre = BertPreprocessor(tokenizer, sequence_length=128)
    huge = "a " * 500_000
    out = pre([huge, "b"])
    assert rows(out)[0] == [2] + [A] * 126 + [3] and out["token_ids"].shape == (2, 128)
    assert pre.max_input_chars == 51_200
    assert rows(BertPreprocessor(tokenizer, sequence_length=8, max_input_chars=3)(["a a a a"])) == \
        [[2, 5, 5, 3, 0, 0, 0, 0]]


# -- graph use -------------------------------------------------------------------------------

def test_tf_data_map_single_pairs_and_scalars(tokenizer):
    pre = BertPreprocessor(tokenizer, sequence_length=8)
    a, b = ["how old are you?", "a", ""], ["i am six.", "b b", "a"]
    expected = pre((a, b))
    ds = tf.data.Dataset.from_tensor_slices((a, b)).batch(2).map(lambda x, y: pre((x, y)))
    batches = list(ds)
    assert np.concatenate([x["token_ids"] for x in batches]).tolist() == rows(expected)
    labelled = tf.data.Dataset.from_tensor_slices((a, [0, 1, 1])).map(lambda x, y: (pre(x), y))
    first, label = next(iter(labelled))
    assert first["token_ids"].shape == (8,) and int(label) == 0


def test_saved_model_round_trip(tokenizer, tmp_path):
    pre = BertPreprocessor(tokenizer, sequence_length=None)

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.pre = pre

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)])
        def __call__(self, a, b):
            return self.pre((a, b))

    path = str(tmp_path / "preprocessor")
    tf.saved_model.save(Serving(), path)
    loaded = tf.saved_model.load(path)
    a, b = tf.constant(["How old are you?", "Café"]), tf.constant(["I am six.", "中文"])
    got, expected = loaded(a, b), pre((a, b))
    for key in expected:
        assert got[key].numpy().tolist() == expected[key].numpy().tolist()


def test_feeds_the_model(tokenizer):
    config = tfbert.BertConfig(**{**TINY, "vocab_size": len(VOCAB)})
    model = tfbert.BERT(config)
    out = model(BertPreprocessor(tokenizer, sequence_length=16)((["how old are you?"], ["six"])))
    assert out["sequence_output"].shape == (1, 16, TINY["hidden_size"])


# -- offsets ---------------------------------------------------------------------------------

def test_call_with_offsets_for_question_answering(tokenizer):
    pre = BertPreprocessor(tokenizer, sequence_length=16)
    question, context = "How old are you?", "I am six. Café 中文"
    out = pre.call_with_offsets(([question], [context]))
    ids, seg = rows(out)[0], rows(out, "segment_ids")[0]
    starts, ends, words = rows(out, "start_offsets")[0], rows(out, "end_offsets")[0], rows(out, "word_ids")[0]
    assert rows(out) == rows(pre(([question], [context])))
    spans = [(question if s == 0 else context)[b:e] if b >= 0 else None
             for s, b, e in zip(seg, starts, ends)]
    assert spans == [None, "How", "old", "are", "you", "?", None, "I", "am", "six", ".", "Café", "中", "文", None, None]
    assert words == [-1, 0, 1, 2, 3, 4, -1, 0, 1, 2, 3, 4, 5, 6, -1, -1]
    assert ids[-2:] == [3, 0] and ends[-1] == -1


def test_offsets_with_dynamic_padding(dynamic):
    out = dynamic.call_with_offsets(["unaffable", ""])
    assert rows(out, "start_offsets") == [[-1, 0, 2, 5, -1, -1, -1, -1], [-1, -1, -1, -1, -1, -1, -1, -1]]
    assert rows(out, "word_ids")[0][:5] == [-1, 0, 0, 0, -1]


# -- configuration ---------------------------------------------------------------------------

class TestBertPreprocessorConfig(TestCase):
    def test_config_round_trip_and_from_preset(self, tokenizer, tmp_path):
        pre = BertPreprocessor(tokenizer, sequence_length=32, truncate="longest_first", max_input_chars=1000)
        clone = self.run_config_round_trip(pre)   # through JSON
        assert clone.get_config() == pre.get_config()
        assert rows(clone(["how old"])) == rows(pre(["how old"]))
        (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
        from_dir = self.run_preset_test(BertPreprocessor, str(tmp_path), init_kwargs={"sequence_length": 8})
        assert rows(from_dir(["how old"])) == rows(BertPreprocessor(tokenizer, sequence_length=8)(["how old"]))
        assert os.path.isfile(tmp_path / "vocab.txt")
