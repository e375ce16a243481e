"""Task heads: TestCase.run_layer_test (logits stay float32 under every policy), values, masking."""

import functools

import keras
import numpy as np

from test_case import TestCase
from tfbert.heads import (ClassificationHead, MaskedLMHead, MultipleChoiceHead, NextSentenceHead, SpanHead,
                          TokenClassificationHead)

POOLED = np.random.default_rng(0).normal(size=(4, 16)).astype("float32")
SEQUENCE = np.random.default_rng(1).normal(size=(2, 5, 16)).astype("float32")
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
POSITIONS = np.array([[1, 2], [4, 0]], "int32")
TABLE = np.random.default_rng(2).normal(size=(64, 16)).astype("float32")   # a word-embedding matrix [V, H]


class TestClassificationHead(TestCase):
    def test_layer_behaviors(self):
        head, out = self.run_layer_test(functools.partial(ClassificationHead, 3, 16, dropout=0.0), [POOLED], (4, 3),
                                        expected_output_dtype="float32", run_training_check=True)
        np.testing.assert_allclose(out, POOLED @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias),
                                   atol=1e-5)
        clone = self.run_config_round_trip(head)
        assert clone.num_classes == 3 and clone.dropout_rate == 0.0

    def test_regression_head_fits_under_xla(self):
        self.run_fit_step(functools.partial(ClassificationHead, 1, 16), [POOLED])

    def test_mixed_precision_dense_computes_in_bfloat16(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        head = ClassificationHead(3, 16)
        head(POOLED)
        assert head.dense.compute_dtype == "bfloat16"

    def test_dropout_only_in_training(self):
        head = ClassificationHead(2, 16, dropout=0.5)
        np.testing.assert_allclose(head(POOLED), head(POOLED))
        assert not np.allclose(head(POOLED, training=True), head(POOLED))


class TestTokenClassificationHead(TestCase):
    def test_layer_behaviors(self):
        head, out = self.run_layer_test(functools.partial(TokenClassificationHead, 5, 16, dropout=0.0), [SEQUENCE],
                                        (2, 5, 5), expected_output_dtype="float32", variable_length=True)
        np.testing.assert_allclose(out[1, 2],
                                   SEQUENCE[1, 2] @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias),
                                   atol=1e-5)


class TestSpanHead(TestCase):
    def test_layer_behaviors(self):
        # logits stay float32 under every policy, so that -1e9 is representable
        head, out = self.run_layer_test(functools.partial(SpanHead, 16), [SEQUENCE, MASK],
                                        {"start_logits": (2, 5), "end_logits": (2, 5)},
                                        expected_output_dtype="float32", variable_length=True)
        assert set(out) == {"start_logits", "end_logits"}
        assert np.all(np.asarray(out["start_logits"])[0, 3:] < -1e8)
        assert np.all(np.asarray(out["end_logits"])[0, 3:] < -1e8)
        logits = SEQUENCE @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias)
        np.testing.assert_allclose(out["start_logits"][1], logits[1, :, 0], atol=1e-5)
        np.testing.assert_allclose(out["end_logits"][1], logits[1, :, 1], atol=1e-5)
        unmasked = head(SEQUENCE)
        np.testing.assert_allclose(unmasked["start_logits"][0, 3:], logits[0, 3:, 0], atol=1e-5)


class TestMultipleChoiceHead(TestCase):
    def test_layer_behaviors(self):
        head, out = self.run_layer_test(functools.partial(MultipleChoiceHead, 16, dropout=0.0), [POOLED], (2, 2),
                                        call_kwargs={"num_choices": 2}, expected_output_dtype="float32")
        flat = POOLED @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias)   # [4, 1]
        np.testing.assert_allclose(out, flat.reshape(2, 2), atol=1e-5)


class TestMaskedLMHead(TestCase):
    def test_layer_behaviors(self):
        head, out = self.run_layer_test(functools.partial(MaskedLMHead, 64, 16), [SEQUENCE, POSITIONS], (2, 2, 64),
                                        call_kwargs={"embedding_table": TABLE}, expected_output_dtype="float32",
                                        run_training_check=True)
        # the logits of a gathered position: LayerNorm(gelu(x W + b)) times the given table, plus the bias
        h = SEQUENCE[1, 4] @ np.asarray(head.transform_dense.kernel) + np.asarray(head.transform_dense.bias)
        h = np.asarray(head.transform_dense.activation(h))
        h = (h - h.mean()) / np.sqrt(h.var() + 1e-12)
        np.testing.assert_allclose(out[1, 0], h @ TABLE.T + np.asarray(head.output_bias), atol=1e-4)


class TestNextSentenceHead(TestCase):
    def test_layer_behaviors(self):
        head, out = self.run_layer_test(functools.partial(NextSentenceHead, 16), [POOLED], (4, 2),
                                        expected_output_dtype="float32", run_training_check=True)
        np.testing.assert_allclose(out, POOLED @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias),
                                   atol=1e-5)
