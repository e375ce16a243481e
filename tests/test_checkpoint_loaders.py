"""get_preset_loader: one loader per format, the same four answers from each, the model class passed in."""

import json
import os

import numpy as np
import pytest

from tfbert import BERT, BertConfig, BertTokenizer
from tfbert.checkpoints.loaders import GoogleLoader, HuggingFaceLoader, KerasHubLoader, get_preset_loader

CONFIG = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
              max_position_embeddings=32)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"tok{i}" for i in range(35)]


class TaggedBERT(BERT):
    """A subclass, to show the loaders build the class they are given."""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One tiny model written in all three formats."""
    root = tmp_path_factory.mktemp("formats")
    bert = BERT(BertConfig(**CONFIG))
    bert.save_preset(str(root / "kh"), vocabulary=VOCAB, lowercase=False)
    bert.save_huggingface(str(root / "hf"), vocabulary=VOCAB, lowercase=True)
    bert.save_tf_checkpoint(str(root / "uncased_L-2_H-16" / "bert_model.ckpt"), vocabulary=VOCAB)
    return root, bert


@pytest.mark.parametrize("folder, loader_cls, lowercase", [
    ("kh", KerasHubLoader, False), ("hf", HuggingFaceLoader, True), ("uncased_L-2_H-16", GoogleLoader, True)])
def test_each_format_answers_the_same_questions(saved, folder, loader_cls, lowercase):
    root, bert = saved
    loader = get_preset_loader(str(root / folder))
    assert type(loader) is loader_cls and loader.format in ("keras_hub", "huggingface", "google")
    config = loader.config()
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (16, 2, 40)
    vocabulary, said_lowercase = loader.vocabulary()
    assert open(vocabulary, encoding="utf-8").read().split() == VOCAB
    options = loader.tokenizer_options()
    assert options["vocabulary"] == vocabulary and options["lowercase"] is lowercase
    assert BertTokenizer.from_preset(str(root / folder)).lowercase is lowercase

    loaded = loader.load_backbone(TaggedBERT, hidden_dropout_prob=0.0)
    assert type(loaded) is TaggedBERT and loaded.config.hidden_dropout_prob == 0.0
    assert loaded.source_vocabulary == vocabulary and loaded.load_report.loaded
    for ours, theirs in zip(bert.weights, loaded.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert type(TaggedBERT.from_preset(str(root / folder))) is TaggedBERT


def test_the_google_loader_reads_casing_from_the_folder_name(saved, tmp_path):
    root, _ = saved
    cased = tmp_path / "cased_L-2_H-16"
    os.rename(str(root / "uncased_L-2_H-16"), str(cased))
    try:
        loader = get_preset_loader(str(cased))
        assert loader.vocabulary()[1] is False and loader.tokenizer_options()["lowercase"] is False
        (cased / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
        assert loader.tokenizer_options()["lowercase"] is True  # an added tokenizer_config.json wins
        os.remove(str(cased / "tokenizer_config.json"))
    finally:
        os.rename(str(cased), str(root / "uncased_L-2_H-16"))


def test_a_vocabulary_alone_is_a_tokenizer_preset_not_a_model(tmp_path):
    hf = tmp_path / "tokenizer_only"
    hf.mkdir()
    (hf / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    assert BertTokenizer.from_preset(str(hf)).vocabulary_size == len(VOCAB)
    with pytest.raises(FileNotFoundError, match=r"config.json is missing"):
        BERT.from_preset(str(hf))
    kh = tmp_path / "kh_tokenizer_only"
    (kh / "assets" / "tokenizer").mkdir(parents=True)
    (kh / "assets" / "tokenizer" / "vocabulary.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    assert type(get_preset_loader(str(kh))) is KerasHubLoader
    with pytest.raises(FileNotFoundError, match=r"config.json is missing; a keras-hub BERT preset needs"):
        BERT.from_preset(str(kh))


def test_a_model_preset_without_vocabulary_gives_no_tokenizer(saved, tmp_path):
    root, bert = saved
    path = str(tmp_path / "no_vocab")
    bert.save_huggingface(path)
    with pytest.raises(FileNotFoundError, match=r"has no vocabulary file .*vocab.txt is missing.*BertTokenizer\(vocabulary"):
        BertTokenizer.from_preset(path)
    assert BERT.from_preset(path).source_vocabulary is None
