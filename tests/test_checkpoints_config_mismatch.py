"""A checkpoint whose config disagrees with its weights (layer count, hidden width) is refused, in every format."""

import json
import os
import shutil

import pytest

import tfbert
from test_case import TINY

FORMATS = {  # format -> (config file, key of num_hidden_layers, key of hidden_size, inside "config"?)
    "keras_hub": ("config.json", "num_layers", "hidden_dim", True),
    "huggingface": ("config.json", "num_hidden_layers", "hidden_size", False),
    "google": ("bert_config.json", "num_hidden_layers", "hidden_size", False),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The same tiny 2-layer BERT in the three formats."""
    root = tmp_path_factory.mktemp("formats")
    bert = tfbert.BERT(tfbert.BertConfig(**TINY))
    bert.save_preset(str(root / "keras_hub"))
    bert.save_huggingface(str(root / "huggingface"))
    os.makedirs(root / "google")
    bert.save_tf_checkpoint(str(root / "google" / "bert_model.ckpt"))
    return root


def _edited(saved, tmp_path, fmt, field, value):
    target = tmp_path / fmt
    shutil.copytree(saved / fmt, target)
    name, layers_key, hidden_key, nested = FORMATS[fmt]
    key = layers_key if field == "num_hidden_layers" else hidden_key
    for file, k in ((name, key), ("tfbert.json", field)):  # tfbert.json (keras-hub presets) must agree
        path = target / file
        if not path.exists():
            continue
        values = json.loads(path.read_text())
        (values["config"] if nested or file == "tfbert.json" else values)[k] = value
        path.write_text(json.dumps(values))
    return str(target)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("layers, fragment", [
    (3, "num_hidden_layers=3, but the weights hold 2 encoder layers (0, 1), so layer 2 would be random"),
    (1, "num_hidden_layers=1, but the weights hold 2 encoder layers (0, 1), so the trained layer 1 would be dropped"),
])
def test_a_layer_count_that_differs_from_the_weights_is_an_error(saved, tmp_path, fmt, layers, fragment):
    source = _edited(saved, tmp_path, fmt, "num_hidden_layers", layers)
    with pytest.raises(ValueError) as info:
        tfbert.BERT.from_preset(source)  # was: loaded, with random layers added or trained ones dropped
    assert fragment in str(info.value) and "does not match the weights" in str(info.value)
    assert "(num_hidden_layers=2)" in str(info.value)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("hidden", [32, 17])  # 17 is not divisible by the 2 heads
def test_a_hidden_size_mismatch_says_the_config_does_not_match(saved, tmp_path, fmt, hidden):
    source = _edited(saved, tmp_path, fmt, "hidden_size", hidden)
    with pytest.raises(ValueError) as info:
        tfbert.BERT.from_preset(source)
    message = str(info.value)
    assert f"hidden_size={hidden}, but the weights are 16 wide" in message and "does not match the weights" in message
    assert "num_attention_heads" not in message and "keras-hub could not load" not in message


def test_a_given_config_for_a_tf_checkpoint_is_checked_too(saved):
    config = tfbert.BertConfig(**{**TINY, "num_hidden_layers": 3})
    with pytest.raises(ValueError, match="the given config does not match the weights.*layer 2 would be random"):
        tfbert.BERT.from_tf_checkpoint(str(saved / "google" / "bert_model.ckpt"), config=config)


def test_matching_configs_still_load(saved):
    for fmt in FORMATS:
        bert = tfbert.BERT.from_preset(str(saved / fmt))
        assert bert.config.num_hidden_layers == 2 and not bert.load_report.newly_initialized
