"""tfbert.BERT against keras_hub.models.BertBackbone with the same weights."""

import keras_hub
import numpy as np

from test_case import random_inputs
from tfbert import BERT, BertConfig
from tfbert.checkpoints.keras_hub import load_from_backbone, save_to_backbone


def _pair(seed=0):
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=32, dropout=0.0,
    )
    # Non-trivial weights everywhere (LayerNorm too), so every pair in the map matters.
    rng = np.random.default_rng(seed)
    for w in backbone.weights:
        w.assign(rng.normal(0.0, 0.3, w.shape).astype("float32") + (1.0 if w.path.endswith("gamma") else 0.0))
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32, hidden_act="gelu_approximate")
    return backbone, BERT(config)


def _max_diff(a, b, mask):
    keep = mask.astype(bool)
    return float(np.abs(np.asarray(a["sequence_output"])[keep] - np.asarray(b["sequence_output"])[keep]).max()), \
        float(np.abs(np.asarray(a["pooled_output"]) - np.asarray(b["pooled_output"])).max())


def test_parity_with_keras_hub_backbone():
    backbone, bert = _pair()
    report = load_from_backbone(bert, backbone)
    assert report.newly_initialized == [] and report.unused == []
    x = random_inputs(batch=4, seq_len=12)
    seq_diff, pooled_diff = _max_diff(bert(x), backbone(x), x["padding_mask"])
    assert seq_diff <= 1e-5 and pooled_diff <= 1e-5


def test_weights_copy_back_to_keras_hub():
    backbone, bert = _pair(seed=1)
    fresh, _ = _pair(seed=2)
    load_from_backbone(bert, backbone)
    save_to_backbone(bert, fresh)
    x = random_inputs(batch=2, seq_len=8)
    seq_diff, pooled_diff = _max_diff(fresh(x), backbone(x), x["padding_mask"])
    assert seq_diff == 0.0 and pooled_diff == 0.0


def test_exact_gelu_differs_from_keras_hub_tanh():
    backbone, bert = _pair()
    exact = BERT(bert.config.replace(hidden_act="gelu"))
    load_from_backbone(exact, backbone)
    x = random_inputs()
    seq_diff, _ = _max_diff(exact(x), backbone(x), x["padding_mask"])
    assert seq_diff > 1e-4  # the activation matters: parity above is not vacuous


def test_shape_mismatch_names_each_weight():
    backbone, _ = _pair()
    wrong = BERT(BertConfig(vocab_size=65, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=32, max_position_embeddings=32))
    import pytest
    with pytest.raises(ValueError, match=r"token_embedding/embeddings \(64, 16\) -> embeddings/word_embeddings"):
        load_from_backbone(wrong, backbone)
