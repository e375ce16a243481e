"""Writing and reading back every checkpoint format with tiny random models: outputs must be identical."""

import json
import os

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from test_case import TINY, random_inputs
from tfbert import BERT, BertConfig
from tfbert.checkpoints import google, huggingface
from tfbert.checkpoints.loading import load_pretraining_heads
from tfbert.checkpoints.report import relative_variables
from tfbert.heads import MaskedLMHead, NextSentenceHead

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"tok{i}" for i in range(TINY["vocab_size"] - 5)]


def _randomize(layer, seed):
    """Non-trivial values everywhere (LayerNorm gammas too), so a swapped pair cannot pass."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0.0, 0.3, w.shape).astype("float32") + (1.0 if w.path.endswith("gamma") else 0.0))
    return layer


def _bert(seed=0, **changes):
    return _randomize(BERT(BertConfig(**{**TINY, **changes})), seed)


def _heads(config, seed=0, prefix=""):
    mlm = MaskedLMHead(config.vocab_size, config.hidden_size, config.hidden_act, config.layer_norm_eps,
                       name=f"{prefix}mlm")
    nsp = NextSentenceHead(config.hidden_size, name=f"{prefix}nsp")
    mlm.build()
    nsp.build()
    return _randomize(mlm, seed + 100), _randomize(nsp, seed + 200)


def _assert_same_outputs(a, b, tolerance=0.0):
    x = random_inputs(batch=3, seq_len=12)
    keep = x["padding_mask"].astype(bool)
    out_a, out_b = a(x), b(x)
    seq = np.abs(np.asarray(out_a["sequence_output"])[keep] - np.asarray(out_b["sequence_output"])[keep]).max()
    pooled = np.abs(np.asarray(out_a["pooled_output"]) - np.asarray(out_b["pooled_output"])).max()
    assert seq <= tolerance and pooled <= tolerance, (seq, pooled)


def _assert_same_weights(a, b):
    va, vb = relative_variables(a), relative_variables(b)
    assert sorted(va) == sorted(vb)
    for name in va:
        np.testing.assert_array_equal(va[name].numpy(), vb[name].numpy(), err_msg=name)


# ---- Hugging Face -----------------------------------------------------------------------------

def test_huggingface_round_trip_through_keras_hub_and_direct(tmp_path):
    bert = _bert(hidden_act="gelu", layer_norm_eps=1e-7)
    bert.save_huggingface(str(tmp_path / "hf"), vocabulary=VOCAB, lowercase=True)
    assert sorted(os.listdir(tmp_path / "hf")) == ["config.json", "model.safetensors", "tokenizer_config.json",
                                                   "vocab.txt"]
    loaded = BERT.from_preset(str(tmp_path / "hf"))  # keras-hub converts the safetensors
    assert loaded.config == bert.config  # activation and eps came from config.json, not keras-hub
    assert loaded.load_report.newly_initialized == [] and loaded.load_report.unused == []
    assert len(loaded.load_report.loaded) == len(bert.weights)
    assert loaded.source_lowercase is True and loaded.source_vocabulary.endswith("vocab.txt")
    _assert_same_outputs(bert, loaded, tolerance=0.0)
    direct = BERT(huggingface.read_config(str(tmp_path / "hf")))
    huggingface.load_huggingface_weights(direct, str(tmp_path / "hf"))
    _assert_same_weights(loaded, direct)


def test_huggingface_heads_round_trip_with_bert_prefix(tmp_path):
    bert = _bert()
    mlm, nsp = _heads(bert.config)
    bert.save_huggingface(str(tmp_path / "hf"), mlm_head=mlm, nsp_head=nsp)
    config = json.load(open(tmp_path / "hf" / "config.json"))
    assert config["architectures"] == ["BertForPreTraining"]
    loaded = BERT.from_preset(str(tmp_path / "hf"))
    _assert_same_outputs(bert, loaded)
    # The backbone load names the head weights as unused: nothing is dropped silently.
    assert loaded.load_report.unused == sorted(t for _, t in huggingface.MLM_PAIRS + huggingface.NSP_PAIRS)
    mlm2, nsp2 = _heads(bert.config, seed=7, prefix="fresh_")
    report = load_pretraining_heads(str(tmp_path / "hf"), mlm2, nsp2)
    assert len(report.loaded) == 7 and report.newly_initialized == [] and report.unused == []
    _assert_same_weights(mlm, mlm2)
    _assert_same_weights(nsp, nsp2)


def test_old_layernorm_names_bert_prefix_and_decoder_copies(tmp_path):
    """BertForPreTraining files from older transformers: bert. prefix, LayerNorm gamma/beta, tied decoder."""
    from safetensors.numpy import load_file, save_file

    bert = _bert(seed=3)
    mlm, nsp = _heads(bert.config, seed=3)
    bert.save_huggingface(str(tmp_path / "hf"), mlm_head=mlm, nsp_head=nsp)
    path = str(tmp_path / "hf" / "model.safetensors")
    tensors = load_file(path)
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
               for k, v in tensors.items()}
    renamed["cls.predictions.decoder.weight"] = tensors["bert.embeddings.word_embeddings.weight"]
    renamed["cls.predictions.decoder.bias"] = renamed.pop("cls.predictions.bias")
    renamed["bert.embeddings.position_ids"] = np.arange(32, dtype="int64")[None]
    os.remove(path)
    save_file(renamed, path, metadata={"format": "pt"})
    loaded = BERT.from_preset(str(tmp_path / "hf"))
    _assert_same_outputs(bert, loaded)
    assert loaded.load_report.skipped == ["bert.embeddings.position_ids", "cls.predictions.decoder.weight"]
    mlm2, nsp2 = _heads(bert.config, seed=9, prefix="fresh_")
    report = load_pretraining_heads(str(tmp_path / "hf"), mlm2, nsp2)
    assert report.newly_initialized == [] and report.skipped == ["cls.predictions.decoder.weight"]
    _assert_same_weights(mlm, mlm2)


def test_missing_pooler_loads_directly_and_reports_it(tmp_path):
    from safetensors.numpy import load_file, save_file

    bert = _bert(seed=4)
    bert.save_huggingface(str(tmp_path / "hf"))
    path = str(tmp_path / "hf" / "model.safetensors")
    tensors = {k: v for k, v in load_file(path).items() if not k.startswith("pooler.")}
    save_file(tensors, path, metadata={"format": "pt"})
    loaded = BERT.from_preset(str(tmp_path / "hf"))
    assert loaded.load_report.newly_initialized == ["pooler/dense/bias", "pooler/dense/kernel"]
    seq = np.asarray(loaded(random_inputs())["sequence_output"])
    np.testing.assert_array_equal(seq, np.asarray(bert(random_inputs())["sequence_output"]))


def test_heads_absent_are_newly_initialised(tmp_path):
    bert = _bert()
    bert.save_huggingface(str(tmp_path / "hf"))
    mlm, nsp = _heads(bert.config)
    before = mlm.output_bias.numpy().copy()
    report = load_pretraining_heads(str(tmp_path / "hf"), mlm, nsp)
    assert report.loaded == [] and len(report.newly_initialized) == 7
    assert "mlm/output_bias" in report.newly_initialized and "nsp/dense/kernel" in report.newly_initialized
    np.testing.assert_array_equal(before, mlm.output_bias.numpy())


# ---- Google TF1 ---------------------------------------------------------------------------------

def test_tf_checkpoint_round_trip_with_heads(tmp_path):
    bert = _bert(seed=5, hidden_act="gelu_new")
    mlm, nsp = _heads(bert.config, seed=5)
    prefix = str(tmp_path / "uncased_L-2_H-16_A-2" / "bert_model.ckpt")
    bert.save_tf_checkpoint(prefix, mlm_head=mlm, nsp_head=nsp, vocabulary=VOCAB)
    names = dict(tf.train.list_variables(prefix))
    assert names["bert/encoder/layer_1/attention/self/query/kernel"] == [16, 16]
    assert names["cls/seq_relationship/output_weights"] == [2, 16]
    assert names["cls/predictions/output_bias"] == [64]
    loaded = BERT.from_tf_checkpoint(prefix)  # bert_config.json beside the checkpoint
    assert loaded.config == bert.config
    assert loaded.load_report.unused == sorted(t for _, t in google.MLM_PAIRS + google.NSP_PAIRS)
    assert loaded.source_lowercase is True  # from the Google folder name
    _assert_same_outputs(bert, loaded)
    _assert_same_weights(bert, loaded)
    mlm2, nsp2 = _heads(bert.config, seed=8, prefix="fresh_")
    report = load_pretraining_heads(prefix, mlm2, nsp2)
    assert len(report.loaded) == 7 and report.newly_initialized == []
    _assert_same_weights(mlm, mlm2)
    _assert_same_weights(nsp, nsp2)
    # The folder works as a preset too.
    _assert_same_outputs(bert, BERT.from_preset(os.path.dirname(prefix)))


def test_tf_checkpoint_optimizer_slots_are_skipped_not_unused(tmp_path):
    bert = _bert(seed=6)
    prefix = str(tmp_path / "ckpt" / "model.ckpt-1000")
    bert.save_tf_checkpoint(prefix)
    # Rewrite it as pretraining left it: every weight with its two Adam slots, plus global_step.
    reader = tf.train.load_checkpoint(prefix)
    names, tensors = [], []
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        names += [name, f"{name}/adam_m", f"{name}/adam_v"]
        tensors += [value, np.zeros_like(value), np.ones_like(value)]
    names.append("global_step")
    tensors.append(np.int64(1000))
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(t) for t in tensors])
    loaded = BERT.from_tf_checkpoint(prefix, config=str(tmp_path / "ckpt" / "bert_config.json"))
    report = loaded.load_report
    assert report.unused == [] and report.newly_initialized == []
    assert "global_step" in report.skipped and len(report.skipped) == 2 * len(bert.weights) + 1
    assert "Skipped" in str(report)
    _assert_same_outputs(bert, loaded)


# ---- keras-hub preset -----------------------------------------------------------------------------

def test_save_preset_reloads_exactly_and_keras_hub_loads_it(tmp_path):
    bert = _bert(seed=2, hidden_act="gelu", layer_norm_eps=1e-12, hidden_dropout_prob=0.0)
    path = str(tmp_path / "preset")
    bert.save_preset(path, vocabulary=VOCAB, lowercase=False)
    assert {"config.json", "model.weights.h5", "tokenizer.json", "tfbert.json"} <= set(os.listdir(path))
    loaded = BERT.from_preset(path)
    assert loaded.config == bert.config and loaded.source_lowercase is False
    _assert_same_outputs(bert, loaded)
    backbone = keras_hub.models.BertBackbone.from_preset(path)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(path)
    assert tokenizer.vocabulary_size() == 64 and backbone.vocabulary_size == 64
    # keras-hub's backbone uses tanh GELU: equal to tfbert with the same activation, not with "gelu".
    tanh = BERT.from_preset(path, hidden_act="gelu_approximate")
    _assert_same_outputs(backbone, tanh, tolerance=1e-5)
    x = random_inputs()
    gap = np.abs(np.asarray(backbone(x)["sequence_output"]) - np.asarray(bert(x)["sequence_output"])).max()
    assert gap > 1e-4


def test_keras_hub_preset_without_tfbert_metadata_uses_exact_gelu(tmp_path):
    backbone = _randomize(keras_hub.models.BertBackbone(
        vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=32, dropout=0.0), seed=11)
    backbone.save_to_preset(str(tmp_path / "kh"))
    loaded = BERT.from_preset(str(tmp_path / "kh"))
    assert loaded.config.hidden_act == "gelu" and loaded.config.layer_norm_eps == 1e-12
    assert loaded.config.max_position_embeddings == 32 and loaded.config.hidden_dropout_prob == 0.0
    assert loaded.load_report.newly_initialized == [] and loaded.load_report.unused == []
    _assert_same_outputs(backbone, BERT.from_preset(str(tmp_path / "kh"), hidden_act="gelu_approximate"), 1e-5)
    mlm, nsp = _heads(loaded.config)
    report = load_pretraining_heads(str(tmp_path / "kh"), mlm, nsp)
    assert report.loaded == [] and len(report.newly_initialized) == 7 and "no pretraining heads" in report.source


def test_save_preset_carries_the_loaded_vocabulary(tmp_path):
    bert = _bert()
    bert.save_huggingface(str(tmp_path / "hf"), vocabulary=VOCAB, lowercase=True)
    loaded = BERT.from_preset(str(tmp_path / "hf"))
    loaded.save_preset(str(tmp_path / "preset"))  # vocabulary and casing from the source
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(tmp_path / "preset"))
    assert tokenizer.get_vocabulary() == VOCAB and tokenizer.lowercase is True


def test_overrides_change_only_free_fields(tmp_path):
    bert = _bert()
    bert.save_huggingface(str(tmp_path / "hf"))
    loaded = BERT.from_preset(str(tmp_path / "hf"), hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.0,
                              dtype="mixed_bfloat16")
    assert loaded.config.hidden_dropout_prob == 0.3 and loaded.config.attention_probs_dropout_prob == 0.0
    assert loaded.dtype_policy.name == "mixed_bfloat16"
    conflict = r"hidden_size=8 \(the checkpoint has 16\).*num_hidden_layers=3 \(the checkpoint has 2\)"
    with pytest.raises(ValueError, match=conflict):
        BERT.from_preset(str(tmp_path / "hf"), num_hidden_layers=3, hidden_size=8)
    with pytest.raises(TypeError, match=r"Unknown override\(s\) \['hidden_layers'\]"):
        BERT.from_preset(str(tmp_path / "hf"), hidden_layers=3)


def test_writers_are_atomic_and_refuse_to_overwrite(tmp_path):
    bert = _bert()
    bert.save_preset(str(tmp_path / "p"))
    with pytest.raises(FileExistsError):
        bert.save_preset(str(tmp_path / "p"))
    bert.save_preset(str(tmp_path / "p"), overwrite=True)
    with pytest.raises(ValueError, match="casing is unknown"):
        bert.save_huggingface(str(tmp_path / "h"), vocabulary=VOCAB)
    assert sorted(os.listdir(tmp_path)) == ["p"]  # the failed write left nothing behind
