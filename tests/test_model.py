"""The BERT backbone: TestCase.run_layer_test, outputs, lengths, input errors, XLA, precision, saving."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from test_case import TINY, TestCase, random_inputs, tiny_config
from tfbert import BERT, BertConfig


def _classifier(config):
    backbone = BERT(config)
    inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in ("token_ids", "segment_ids", "padding_mask")}
    logits = keras.layers.Dense(2)(backbone(inputs)["pooled_output"])
    return keras.Model(inputs, logits)


class TestBERT(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(functools.partial(BERT, tiny_config()), [random_inputs()],
                            {"sequence_output": (3, 10, 16), "pooled_output": (3, 16)}, variable_length=True)

    def test_from_preset(self, tmp_path):
        path = str(tmp_path / "tiny_hf")
        bert = BERT(tiny_config())
        bert.save_huggingface(path)
        loaded = self.run_preset_test(BERT, path)
        x = random_inputs()
        self.assert_all_close(loaded(x), bert(x), atol=1e-5)

    def test_outputs_and_hidden_states(self):
        config = tiny_config()
        model = BERT(config)
        x = random_inputs()
        out = model(x)
        assert set(out) == {"sequence_output", "pooled_output"}
        assert tuple(out["sequence_output"].shape) == (3, 10, 16)
        assert tuple(out["pooled_output"].shape) == (3, 16)
        full = model(x, output_hidden_states=True)
        assert len(full["hidden_states"]) == config.num_hidden_layers + 1
        np.testing.assert_allclose(full["hidden_states"][-1], out["sequence_output"], atol=1e-6)

    def test_padding_does_not_change_real_positions(self):
        config = tiny_config()
        model = BERT(config)
        x = random_inputs(batch=1, seq_len=6, pad=False)
        padded = {k: np.pad(v, ((0, 0), (0, 4))) for k, v in x.items()}
        a = model(x)["sequence_output"]
        b = model(padded)["sequence_output"]
        np.testing.assert_allclose(a, b[:, :6], atol=1e-5)

    def test_any_length_up_to_max_and_clear_error_beyond(self):
        config = tiny_config()
        model = BERT(config)
        for seq_len in (1, 7, 32):
            assert model(random_inputs(seq_len=seq_len))["sequence_output"].shape[1] == seq_len
        with pytest.raises(ValueError, match="sequence length 33.*max_position_embeddings=32"):
            model(random_inputs(seq_len=33))

    def test_too_long_error_in_dynamic_graph(self):
        config = tiny_config()
        model = BERT(config)
        spec = {k: tf.TensorSpec([None, None], tf.int32) for k in ("token_ids", "segment_ids", "padding_mask")}
        fn = tf.function(lambda x: model(x)["pooled_output"], input_signature=[spec])
        fn(random_inputs(seq_len=8))
        with pytest.raises(tf.errors.InvalidArgumentError, match="max_position_embeddings=32"):
            fn(random_inputs(seq_len=40))

    def test_bad_inputs_are_named(self):
        config = tiny_config()
        model = BERT(config)
        x = random_inputs()
        with pytest.raises(KeyError, match=r"missing \['padding_mask'\]"):
            model({k: v for k, v in x.items() if k != "padding_mask"})
        with pytest.raises(TypeError, match="'token_ids' must be an integer tensor"):
            model({**x, "token_ids": x["token_ids"].astype("float32")})
        with pytest.raises(TypeError, match="expects a dict"):
            model(x["token_ids"])
        with pytest.raises(ValueError, match=r"shape \[batch, seq_len\]"):
            model({**x, "segment_ids": x["segment_ids"][0]})

    def test_bool_mask_and_int64_ids_are_accepted(self):
        config = tiny_config()
        model = BERT(config)
        x = random_inputs()
        ref = model(x)["pooled_output"]
        other = {"token_ids": x["token_ids"].astype("int64"), "segment_ids": x["segment_ids"].astype("int64"),
                 "padding_mask": x["padding_mask"].astype(bool)}
        np.testing.assert_allclose(model(other)["pooled_output"], ref, atol=1e-6)

    def test_tf_function_and_jit_compile(self):
        config = tiny_config()
        model = BERT(config)
        x = random_inputs()
        eager = model(x)["sequence_output"]
        graph = tf.function(lambda x: model(x)["sequence_output"])(x)
        xla = tf.function(lambda x: model(x)["sequence_output"], jit_compile=True)(x)
        np.testing.assert_allclose(graph, eager, atol=1e-5)
        np.testing.assert_allclose(xla, eager, atol=1e-4)

    @pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
    def test_fit_with_jit_compile(self, policy):
        config = tiny_config()
        keras.config.set_dtype_policy(policy)
        model = _classifier(config)
        model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=True)
        x = random_inputs(batch=8, seq_len=12)
        y = np.arange(8) % 2
        losses = model.fit(x, y, epochs=15, batch_size=8, verbose=0).history["loss"]
        assert np.isfinite(losses).all() and losses[-1] < losses[0]

    def test_mixed_bfloat16_outputs(self):
        config = tiny_config()
        keras.config.set_dtype_policy("mixed_bfloat16")
        model = BERT(config)
        out = model(random_inputs())
        assert keras.backend.standardize_dtype(out["sequence_output"].dtype) == "bfloat16"
        assert all(w.dtype == "float32" for w in model.weights)

    def test_keras_file_and_config_round_trip(self, tmp_path):
        config = tiny_config()
        model = BERT(config, name="my_bert")
        x = random_inputs()
        path = str(tmp_path / "bert.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        assert isinstance(loaded, BERT) and loaded.config == config
        np.testing.assert_allclose(loaded(x)["sequence_output"], model(x)["sequence_output"], atol=1e-6)
        clone = BERT.from_config(model.get_config())
        assert clone.config == config and clone.name == "my_bert"

    def test_mismatched_config_on_from_config(self):
        config = BERT(tiny_config()).get_config()
        config["config"]["hidden_sise"] = 8
        with pytest.raises(ValueError, match="hidden_sise"):
            BERT.from_config(config)
        with pytest.raises(ValueError, match="needs a 'config' entry"):
            BERT.from_config({"name": "x"})

    def test_size_names_and_dicts(self):
        assert BERT(dict(TINY)).config == BertConfig(**TINY)
        assert BERT("tiny").config.hidden_size == 128

    def test_initializer_uses_truncated_normal(self):
        config = tiny_config().replace(vocab_size=2000, hidden_size=64, num_attention_heads=4, initializer_range=0.02)
        table = np.asarray(BERT(config).embeddings.word_embeddings.embeddings)
        assert abs(table.std() - 0.02 * 0.88) < 0.002  # truncated at 2 sigma shrinks the std by 0.88
        assert np.abs(table).max() <= 0.04 + 1e-6
