"""tfbert's layers: each passes TestCase.run_layer_test, plus what is particular to it."""

import functools

import keras
import numpy as np
import pytest

from test_case import TestCase
from tfbert import activations
from tfbert.layers import BertEmbeddings, BertPooler, BertSelfAttention, SequencePooling, TransformerEncoderBlock

X = np.random.default_rng(0).normal(size=(2, 5, 16)).astype("float32")
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
IDS = np.array([[2, 5, 3, 0, 0], [2, 9, 9, 9, 3]], "int32")


def test_gelu_forms():
    x = np.linspace(-4, 4, 101).astype("float32")
    from math import erf, sqrt
    exact = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in x])
    np.testing.assert_allclose(activations.get("gelu")(x), exact, atol=1e-6)
    tanh_form = activations.get("gelu_new")(x)
    assert np.abs(np.asarray(tanh_form) - exact).max() > 1e-4  # really a different function
    for name in ("gelu_pytorch_tanh", "gelu_approximate"):
        assert activations.get(name) is activations.gelu_tanh


class TestBertEmbeddings(TestCase):
    def test_layer_behaviors(self):
        make = functools.partial(BertEmbeddings, 64, 16, max_position_embeddings=8, layer_norm_eps=1e-12,
                                 dropout=0.0)
        layer, out = self.run_layer_test(make, [IDS, np.zeros_like(IDS)], (2, 5, 16), variable_length=True)
        clone = self.run_config_round_trip(layer)
        assert clone.layer_norm.epsilon == 1e-12
        # Position 3 of the two rows differs only through the word id.
        assert not np.allclose(out[0, 3], out[1, 3])

    def test_layer_norm_in_float32_under_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        layer = BertEmbeddings(64, 16)
        assert layer.layer_norm.compute_dtype == "float32"
        assert layer.word_embeddings.compute_dtype == "bfloat16"


class TestBertSelfAttention(TestCase):
    def test_layer_behaviors(self):
        make = functools.partial(BertSelfAttention, 16, 2, dropout=0.0)
        self.run_layer_test(make, [X, MASK], (2, 5, 16), variable_length=True)

    def test_ignores_padded_keys(self):
        attn = BertSelfAttention(16, 2, dropout=0.0)
        out = attn(X, MASK)
        changed = X.copy()
        changed[0, 3:] += 100.0  # only padded positions of row 0 change
        out2 = attn(changed, MASK)
        np.testing.assert_allclose(out[0, :3], out2[0, :3], atol=1e-5)

    def test_matches_reference_formula(self):
        attn = BertSelfAttention(16, 2, dropout=0.0)
        out = np.asarray(attn(X, MASK))
        q, k, v, o = (np.asarray(layer.kernel) for layer in (attn.query, attn.key, attn.value, attn.output_dense))
        qb, kb, vb, ob = (np.asarray(layer.bias) for layer in (attn.query, attn.key, attn.value, attn.output_dense))

        def heads(t):
            return t.reshape(2, 5, 2, 8).transpose(0, 2, 1, 3)

        scores = heads(X @ q + qb) @ heads(X @ k + kb).transpose(0, 1, 3, 2) / np.sqrt(8)
        scores = scores + (1 - MASK[:, None, None, :]) * -1e9
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ heads(X @ v + vb)).transpose(0, 2, 1, 3).reshape(2, 5, 16)
        np.testing.assert_allclose(out, context @ o + ob, atol=1e-5)

    def test_rejects_bad_heads(self):
        with pytest.raises(ValueError, match="divisible"):
            BertSelfAttention(15, 2)


class TestTransformerEncoderBlock(TestCase):
    def test_layer_behaviors(self):
        # default dropout: the jit-compiled fit step trains with it
        make = functools.partial(TransformerEncoderBlock, 16, 2, 32, hidden_act="gelu")
        layer, _ = self.run_layer_test(make, [X, MASK], (2, 5, 16), run_training_check=True, variable_length=True)
        clone = self.run_config_round_trip(layer)
        assert clone.output_layer_norm.epsilon == 1e-12
        assert clone.intermediate_dense.activation is activations.gelu_erf

    def test_is_post_ln(self):
        block = TransformerEncoderBlock(16, 2, 32, dropout=0.0, attention_dropout=0.0)
        out = np.asarray(block(X, MASK))
        # Post-LN: each output row is normalised (gamma=1, beta=0 at init).
        np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-5)
        np.testing.assert_allclose(out.std(-1), 1.0, atol=1e-3)


class TestBertPooler(TestCase):
    def test_layer_behaviors(self):
        pooler, out = self.run_layer_test(functools.partial(BertPooler, 16), [X], (2, 16), variable_length=True)
        np.testing.assert_allclose(out, np.tanh(X[:, 0] @ np.asarray(pooler.dense.kernel)), atol=1e-6)


class TestSequencePooling(TestCase):
    @pytest.mark.parametrize("mode", ["cls", "mean", "max"])
    def test_layer_behaviors(self, mode):
        layer, out = self.run_layer_test(functools.partial(SequencePooling, mode), [X, MASK], (2, 16),
                                         variable_length=True)
        if mode == "cls":
            expected = X[:, 0]
        elif mode == "mean":
            expected = np.stack([X[0, :3].mean(0), X[1].mean(0)])
        else:
            expected = np.stack([X[0, :3].max(0), X[1].max(0)])
        np.testing.assert_allclose(np.asarray(out), expected, atol=1e-6)

    def test_all_padding_row_is_zero(self):
        mask = np.zeros((1, 5), "int32")
        for mode in ("mean", "max"):
            np.testing.assert_array_equal(np.asarray(SequencePooling(mode)(X[:1], mask)), 0.0)

    def test_bad_mode(self):
        with pytest.raises(ValueError, match="Unknown pooling mode 'sum'"):
            SequencePooling("sum")
