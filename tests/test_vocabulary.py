"""WordPiece vocabulary training: special-token ids, casing, Chinese, vocab.txt writing."""

import os

import pytest
import tensorflow as tf

from tfbert.preprocessing.tokenizer import BertTokenizer
from tfbert.preprocessing.vocabulary import (
    BERT_SPECIAL_IDS, read_vocabulary, special_token_ids, train_wordpiece_vocabulary, write_vocabulary,
)

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "Pretraining learns a masked language model from raw text.",
    "Jumping foxes and lazy dogs are common in typing tests.",
    "Naïve café owners in Zürich serve crème brûlée.",
] * 25
CHINESE = ["今天天气很好。我们去公园散步吧！", "机器学习是人工智能的一个分支。", "我们喜欢学习中文。"] * 25


@pytest.fixture(scope="module")
def bert_layout_vocab():
    return train_wordpiece_vocabulary(ENGLISH + CHINESE, vocab_size=1200)


def test_bert_layout_gives_the_standard_special_ids(bert_layout_vocab):
    vocab = bert_layout_vocab
    assert special_token_ids(vocab) == BERT_SPECIAL_IDS
    assert vocab[1] == "[unused0]" and vocab[99] == "[unused98]"
    assert len(vocab) <= 1200 and len(set(vocab)) == len(vocab)


def test_compact_layout_for_tiny_vocabularies():
    vocab = train_wordpiece_vocabulary(ENGLISH, vocab_size=150)
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert not any(t.startswith("[unused") for t in vocab)
    assert len(vocab) <= 150
    with pytest.raises(ValueError, match="no room"):
        train_wordpiece_vocabulary(ENGLISH, vocab_size=90, layout="bert")


def test_uncased_vocabulary_tokenizes_its_corpus_without_unk(bert_layout_vocab):
    tokenizer = BertTokenizer(bert_layout_vocab, lowercase=True)
    ids = tokenizer(ENGLISH[:4] + CHINESE[:3]).flat_values.numpy()
    assert 100 not in ids.tolist()  # [UNK]
    pieces = [bert_layout_vocab[i] for i in tokenizer("Naïve café").numpy()]
    assert "".join(p.replace("##", "") for p in pieces) == "naivecafe"  # lowercased, accents stripped
    assert all(t == t.lower() for t in bert_layout_vocab if not t.startswith("["))


def test_chinese_ideographs_are_single_character_tokens(bert_layout_vocab):
    tokenizer = BertTokenizer(bert_layout_vocab, lowercase=True)
    tokens = [bert_layout_vocab[i] for i in tokenizer("机器学习").numpy()]
    assert tokens == ["机", "器", "学", "习"]
    multi_char_cjk = [t for t in bert_layout_vocab if len(t.replace("##", "")) > 1
                      and any("\u4e00" <= ch <= "\u9fff" for ch in t)]
    assert multi_char_cjk == []


def test_cased_vocabulary_keeps_case_and_accents():
    vocab = train_wordpiece_vocabulary(ENGLISH, vocab_size=300, lowercase=False)
    assert "The" in vocab or "T" in vocab
    assert any(ch in "".join(vocab) for ch in "éüï")
    tokenizer = BertTokenizer(vocab, lowercase=False)
    ids = tokenizer("The quick brown fox").numpy().tolist()
    assert vocab.index("[UNK]") not in ids


def test_dataset_input_gives_the_same_vocabulary():
    from_list = train_wordpiece_vocabulary(ENGLISH, vocab_size=200)
    from_dataset = train_wordpiece_vocabulary(tf.data.Dataset.from_tensor_slices(ENGLISH), vocab_size=200)
    assert from_list == from_dataset


def test_write_then_load_in_the_tokenizer(tmp_path, bert_layout_vocab):
    path = str(tmp_path / "sub" / "vocab.txt")
    write_vocabulary(path, bert_layout_vocab)
    assert read_vocabulary(path) == bert_layout_vocab
    assert [n for n in os.listdir(tmp_path / "sub")] == ["vocab.txt"]  # no temporary left behind
    tokenizer = BertTokenizer(path, lowercase=True)
    assert tokenizer.token_to_id("[MASK]") == 103 and tokenizer.vocabulary_size == len(bert_layout_vocab)


def test_vocabulary_missing_special_tokens_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"\[CLS\].*\[MASK\]"):
        special_token_ids(["[PAD]", "[UNK]", "[SEP]", "a"])
    with pytest.raises(ValueError, match="special token"):
        write_vocabulary(str(tmp_path / "v.txt"), ["[PAD]", "a", "b"])
    assert not os.path.exists(tmp_path / "v.txt")
    with pytest.raises(ValueError, match="Duplicate"):
        write_vocabulary(str(tmp_path / "v.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "a"])


def test_bad_training_input():
    with pytest.raises(ValueError, match="no words"):
        train_wordpiece_vocabulary(["", "   "], vocab_size=100)
    with pytest.raises(ValueError, match="vocab_size"):
        train_wordpiece_vocabulary(ENGLISH, vocab_size=3)
    with pytest.raises(TypeError, match="strings"):
        train_wordpiece_vocabulary(["ok", 3], vocab_size=100)
