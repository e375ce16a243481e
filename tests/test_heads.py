"""Task heads: shapes, config round trip, masking, a jit-compiled fit step, mixed precision."""

import keras
import numpy as np

from layer_checks import check_config_round_trip, check_eager_and_symbolic, check_fit_step
from tfbert.heads import ClassificationHead, MultipleChoiceHead, SpanHead, TokenClassificationHead

POOLED = np.random.default_rng(0).normal(size=(4, 16)).astype("float32")
SEQUENCE = np.random.default_rng(1).normal(size=(2, 5, 16)).astype("float32")
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")


def check_mixed_precision(make_head, args):
    """Under mixed_bfloat16 the dense layer computes in bf16 with float32 weights; logits come out float32."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    head = make_head()
    out = head(*args)
    assert head.dense.compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in head.weights)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert np.all(np.isfinite(np.asarray(out)))
    keras.config.set_dtype_policy("float32")


def test_classification_head():
    head = ClassificationHead(3, 16, dropout=0.0)
    out = check_eager_and_symbolic(head, [POOLED], (4, 3))
    np.testing.assert_allclose(out, POOLED @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias), atol=1e-5)
    clone = check_config_round_trip(head)
    assert clone.num_classes == 3 and clone.dropout_rate == 0.0

    def build():
        inputs = keras.Input((16,))
        return keras.Model(inputs, ClassificationHead(1, 16)(inputs))

    check_fit_step(build, POOLED, np.ones((4, 1), "float32"))
    check_mixed_precision(lambda: ClassificationHead(3, 16), [POOLED])


def test_classification_head_dropout_only_in_training():
    head = ClassificationHead(2, 16, dropout=0.5)
    np.testing.assert_allclose(head(POOLED), head(POOLED))
    assert not np.allclose(head(POOLED, training=True), head(POOLED))


def test_token_head():
    head = TokenClassificationHead(5, 16, dropout=0.0)
    out = check_eager_and_symbolic(head, [SEQUENCE], (2, 5, 5))
    np.testing.assert_allclose(out[1, 2], SEQUENCE[1, 2] @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias),
                               atol=1e-5)
    check_config_round_trip(head)
    check_mixed_precision(lambda: TokenClassificationHead(5, 16), [SEQUENCE])


def test_span_head_masks_padding():
    head = SpanHead(16)
    out = head(SEQUENCE, MASK)
    assert set(out) == {"start_logits", "end_logits"}
    assert out["start_logits"].shape == (2, 5)
    assert np.all(np.asarray(out["start_logits"])[0, 3:] < -1e8) and np.all(np.asarray(out["end_logits"])[0, 3:] < -1e8)
    logits = SEQUENCE @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias)
    np.testing.assert_allclose(out["start_logits"][1], logits[1, :, 0], atol=1e-5)
    np.testing.assert_allclose(out["end_logits"][1], logits[1, :, 1], atol=1e-5)
    unmasked = head(SEQUENCE)
    np.testing.assert_allclose(unmasked["start_logits"][0, 3:], logits[0, 3:, 0], atol=1e-5)
    check_config_round_trip(head)
    keras.config.set_dtype_policy("mixed_bfloat16")
    out = SpanHead(16)(SEQUENCE, MASK)
    assert out["start_logits"].dtype == "float32"   # logits stay float32 so -1e9 is representable


def test_multiple_choice_head_reshapes_choice_fastest():
    head = MultipleChoiceHead(16, dropout=0.0)
    out = head(POOLED, num_choices=2)
    assert out.shape == (2, 2)
    flat = POOLED @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias)   # [4, 1]
    np.testing.assert_allclose(out, flat.reshape(2, 2), atol=1e-5)
    check_config_round_trip(head)
