"""The fine-tuning optimizer: schedule values, clipping, and which weights decay."""

import keras
import numpy as np
import pytest

from test_case import TINY
from tfbert import BERT, BertClassifier, BertConfig
from tfbert.optimization import BertAdamW, WarmupLinearDecay, create_optimizer


def test_schedule_warmup_then_linear_decay_to_zero():
    schedule = WarmupLinearDecay(2e-5, warmup_steps=4, total_steps=20)
    values = [float(schedule(step)) for step in range(0, 24)]
    expected = [2e-5 * s / 4 for s in range(4)] + [2e-5 * (20 - s) / 16 for s in range(4, 20)] + [0.0] * 4
    np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-12)
    assert max(values) == pytest.approx(2e-5)


def test_schedule_serializes_and_rejects_bad_steps():
    schedule = WarmupLinearDecay(1e-4, 10, 100)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(clone, WarmupLinearDecay) and clone.get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="warmup_steps < total_steps"):
        WarmupLinearDecay(1e-4, 100, 100)


def test_create_optimizer_defaults():
    opt = create_optimizer(3e-5, num_train_steps=1000)
    assert isinstance(opt, keras.optimizers.AdamW)
    assert opt.global_clipnorm == 1.0 and opt.weight_decay == 0.01
    schedule = opt._learning_rate
    assert isinstance(schedule, WarmupLinearDecay)
    assert (schedule.warmup_steps, schedule.total_steps) == (100, 1000)
    constant = create_optimizer(3e-5)
    assert float(constant.learning_rate) == pytest.approx(3e-5)
    clone = BertAdamW.from_config(opt.get_config())
    assert clone.no_decay_patterns == opt.no_decay_patterns


def test_weight_decay_skips_layer_norm_and_bias_only():
    """With zero gradients Adam moves nothing, so any change is weight decay alone."""
    model = BertClassifier(BERT(BertConfig(**TINY)), num_classes=2)
    opt = create_optimizer(0.1, weight_decay=0.5, clipnorm=None)
    variables = model.trainable_variables
    rng = np.random.default_rng(0)
    for v in variables:  # LayerNorm beta and biases start at 0, where decay would be invisible
        v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
    before = [v.numpy().copy() for v in variables]
    opt.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in variables])
    decayed, kept = set(), set()
    for v, old in zip(variables, before):
        (decayed if not np.allclose(v.numpy(), old) else kept).add(v.path)
    no_decay = {p for p in kept | decayed if p.endswith(("/gamma", "/beta", "/bias"))}
    assert any(p.endswith("embeddings/layer_norm/gamma") for p in no_decay)
    assert any(p.endswith("layer_0/attention/query/bias") for p in no_decay)
    assert no_decay <= kept, f"weight decay reached {sorted(no_decay & decayed)}"
    assert decayed == {v.path for v in variables} - no_decay
    assert any(p.endswith("word_embeddings/embeddings") for p in decayed)
    assert any(p.endswith("classification_head/dense/kernel") for p in decayed)


def test_global_norm_clipping():
    v = keras.Variable(np.zeros(2, "float32"))
    opt = create_optimizer(1.0, weight_decay=0.0, clipnorm=1.0)
    opt.build([v])
    clipped = opt._clip_gradients([keras.ops.convert_to_tensor(np.array([30.0, 40.0], "float32"))])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clipped[0]), [0.6, 0.8], rtol=1e-5)


@pytest.mark.parametrize("name,excluded", [
    ("bert/layer_0/output_layer_norm/gamma:0", True), ("gamma", True), ("beta", True),
    ("bert/embeddings/layer_norm/beta:0", True), ("bert/layer_3/attention/query/bias:0", True),
    ("bias", True), ("mlm_head/output_bias", True), ("bert/layer_0/attention/query/kernel:0", False),
    ("kernel", False), ("bert/embeddings/word_embeddings/embeddings:0", False),
])
def test_no_decay_patterns_match_both_name_forms(name, excluded):
    opt = create_optimizer(1e-3)
    assert (opt._exclude_from_weight_decay_pattern.search(name) is not None) == excluded
