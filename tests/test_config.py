import json

import pytest

from tfbert import BertConfig
from tfbert.config import SIZES


@pytest.mark.parametrize("size", list(SIZES))
def test_named_sizes_follow_google_family(size):
    layers, hidden = SIZES[size]
    cfg = BertConfig.from_preset_size(size)
    assert (cfg.num_hidden_layers, cfg.hidden_size) == (layers, hidden)
    assert cfg.num_attention_heads == hidden // 64
    assert cfg.intermediate_size == 4 * hidden
    assert cfg.hidden_act == "gelu" and cfg.layer_norm_eps == 1e-12


def test_heads_must_divide_hidden():
    with pytest.raises(ValueError, match=r"hidden_size \(30\) must be divisible by num_attention_heads \(4\)"):
        BertConfig(hidden_size=30, num_attention_heads=4)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match=r"Unknown hidden_act 'gleu'.*gelu_new"):
        BertConfig(hidden_act="gleu")


@pytest.mark.parametrize("field,value", [("vocab_size", 0), ("num_hidden_layers", 2.5),
                                         ("hidden_dropout_prob", 1.5), ("layer_norm_eps", -1.0)])
def test_bad_values_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        BertConfig(**{field: value})


def test_unknown_size_lists_known_ones():
    with pytest.raises(ValueError, match="Expected one of.*tiny"):
        BertConfig.from_preset_size("huge")


def test_google_json_round_trip(tmp_path):
    cfg = BertConfig.from_preset_size("tiny", vocab_size=100)
    path = tmp_path / "bert_config.json"
    cfg.to_json(str(path))
    assert BertConfig.from_json(str(path)) == cfg
    assert "model_type" not in json.loads(path.read_text())


def test_hf_json_round_trip_and_extra_keys(tmp_path):
    cfg = BertConfig.from_preset_size("mini", hidden_act="gelu_new")
    path = tmp_path / "config.json"
    cfg.to_json(str(path), style="hf")
    data = json.loads(path.read_text())
    assert data["model_type"] == "bert" and data["architectures"] == ["BertModel"]
    data.update(transformers_version="4.0", torch_dtype="float32", gradient_checkpointing=False)
    path.write_text(json.dumps(data))
    assert BertConfig.from_json(str(path)) == cfg


def test_google_json_without_eps_gets_released_default():
    text = json.dumps({"vocab_size": 99, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "intermediate_size": 512, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                       "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512,
                       "type_vocab_size": 2, "initializer_range": 0.02})
    cfg = BertConfig.from_json(text)
    assert cfg.layer_norm_eps == 1e-12 and cfg.vocab_size == 99


def test_relative_position_configs_are_refused():
    with pytest.raises(ValueError, match="position_embedding_type='relative_key'"):
        BertConfig.from_json(json.dumps({"position_embedding_type": "relative_key"}))


def test_missing_and_broken_json(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        BertConfig.from_json(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        BertConfig.from_json(str(bad))


def test_strict_from_dict_names_unknown_fields():
    with pytest.raises(ValueError, match=r"Unknown BertConfig field\(s\) \['hiden_size'\]"):
        BertConfig.from_dict({"hiden_size": 12})
