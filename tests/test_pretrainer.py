"""BertPretrainer / BertMaskedLM: tied MLM head, loss and metrics, jit and bf16, .keras, fill-mask, presets."""

import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from test_case import TINY, TestCase
from tfbert import BERT, BertConfig
from tfbert.preprocessing.tokenizer import BertTokenizer
from tfbert.tasks.pretrainer import BertMaskedLM, BertPretrainer

V, H = TINY["vocab_size"], TINY["hidden_size"]


def batch(seed=0, b=4, s=12, p=3):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 40, (b, s)).astype("int32")  # ids >= 40 never appear in the inputs
    mask = np.ones((b, s), "int32")
    mask[0, s - 4:] = 0
    ids *= mask
    ids[:, 0] = 2
    x = {"token_ids": ids, "segment_ids": (np.arange(s) >= s // 2).astype("int32")[None].repeat(b, 0) * mask,
         "padding_mask": mask, "mask_positions": np.sort(rng.integers(1, s - 4, (b, p)), axis=1).astype("int32")}
    weights = np.ones((b, p), "float32")
    weights[1, -1] = 0.0
    y = {"mask_ids": rng.integers(40, V, (b, p)).astype("int32"), "mask_weights": weights,
         "next_sentence_label": rng.integers(0, 2, b).astype("int32")}
    return x, y


def make(cls=BertPretrainer, **kwargs):
    return cls(BERT(BertConfig(**TINY)), **kwargs)


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", ".", "a", "dog", "##s"] + [
    f"w{i}" for i in range(V - 14)]


class TestBertPretrainer(TestCase):
    @pytest.mark.parametrize("cls", [BertPretrainer, BertMaskedLM])
    def test_task_behaviors(self, cls, tmp_path):
        x, y = batch()
        if cls is BertMaskedLM:
            y = {"mask_ids": y["mask_ids"], "mask_weights": y["mask_weights"]}
        expected = {"mlm_logits": (4, 3, V), "nsp_logits": (4, 2)} if cls is BertPretrainer else (4, 3, V)
        # XLA once (the pretrainer's TPU path); BertMaskedLM shares its step, so it is compiled by oneDNN
        self.run_task_test(lambda: make(cls, preprocessor=BertTokenizer(VOCAB)), x, y, tmp_path,
                           expected_output_shape=expected, jit_compile=cls is BertPretrainer)

    def test_outputs_and_head_names(self):
        model = make()
        x, _ = batch()
        out = model(x)
        assert tuple(out["mlm_logits"].shape) == (4, 3, V) and tuple(out["nsp_logits"].shape) == (4, 2)
        assert out["mlm_logits"].dtype == "float32"
        assert tuple(make(BertMaskedLM)(x).shape) == (4, 3, V)
        head_paths = sorted(v.path.split("/", 1)[1] for v in model.mlm_head.weights + model.nsp_head.weights)
        assert head_paths == ["mlm_head/output_bias", "mlm_head/transform_dense/bias", "mlm_head/transform_dense/kernel",
                              "mlm_head/transform_layer_norm/beta", "mlm_head/transform_layer_norm/gamma",
                              "nsp_head/dense/bias", "nsp_head/dense/kernel"]

    def test_mlm_head_is_tied_to_the_embedding_variable(self):
        model = make()
        x, y = batch()
        table = model.backbone.embeddings.word_embeddings.embeddings
        assert model.embedding_table is table
        assert sum(v is table for v in model.trainable_variables) == 1
        assert not any(tuple(v.shape) == (V, H) for v in model.mlm_head.weights)  # no private copy
        # A gradient through the decoder reaches embedding rows that no input token uses.
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x, y, model(x, training=False))
        grad = tf.convert_to_tensor(tape.gradient(loss, table))
        unused_rows = grad.numpy()[40:]
        assert np.abs(unused_rows).sum(axis=1).min() > 0
        # Writing to the variable changes the logits at once: row k = 0 leaves only the bias.
        table.assign(tf.tensor_scatter_nd_update(table, [[50]], tf.zeros((1, H))))
        model.mlm_head.output_bias.assign(tf.range(V, dtype="float32"))
        logits = model(x, training=False)["mlm_logits"].numpy()
        np.testing.assert_allclose(logits[..., 50], 50.0, atol=1e-5)

    def test_loss_is_weighted_mlm_plus_nsp_and_metrics_are_reported(self):
        model = make()
        model.compile(jit_compile=False)
        x, y = batch()
        out = model(x, training=False)
        logits, nsp_logits = out["mlm_logits"].numpy().astype("float64"), out["nsp_logits"].numpy().astype("float64")

        def ce(logits, labels):
            logits = logits - logits.max(-1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            return -np.take_along_axis(logp, labels[..., None], -1)[..., 0]

        w = y["mask_weights"]
        expected_mlm = (ce(logits, y["mask_ids"]) * w).sum() / w.sum()
        expected = expected_mlm + ce(nsp_logits, y["next_sentence_label"]).mean()
        np.testing.assert_allclose(float(model.compute_loss(x, y, out)), expected, rtol=1e-5)
        # A padding slot's label does not matter.
        y2 = dict(y, mask_ids=y["mask_ids"].copy())
        y2["mask_ids"][1, -1] = 7
        np.testing.assert_allclose(float(model.compute_loss(x, y2, out)), expected, rtol=1e-5)
        result = model.evaluate(tf.data.Dataset.from_tensors((x, y)), return_dict=True, verbose=0)
        np.testing.assert_allclose(result["loss"], expected, rtol=1e-4)
        np.testing.assert_allclose(result["mlm_perplexity"], np.exp(expected_mlm), rtol=1e-4)
        hits = (logits.argmax(-1) == y["mask_ids"]) * w
        np.testing.assert_allclose(result["mlm_accuracy"], hits.sum() / w.sum(), atol=1e-6)
        assert set(result) == {"loss", "mlm_loss", "mlm_accuracy", "mlm_perplexity", "nsp_loss", "nsp_accuracy"}

    def test_fit_under_jit_learns(self):
        model = make()
        model.compile(learning_rate=3e-3, jit_compile=True)
        x, y = batch()
        data = tf.data.Dataset.from_tensors((x, y)).repeat(10)
        first = model.evaluate(tf.data.Dataset.from_tensors((x, y)), return_dict=True, verbose=0)
        history = model.fit(data, epochs=2, verbose=0)
        last = model.evaluate(tf.data.Dataset.from_tensors((x, y)), return_dict=True, verbose=0)
        assert np.isfinite(history.history["loss"]).all() and last["loss"] < first["loss"]
        assert model.jit_compile is True

    def test_pooler_is_trained_only_with_the_nsp_head(self):
        x, y = batch()
        for cls, trained in ((BertMaskedLM, False), (BertPretrainer, True)):
            model = make(cls)
            assert any("pooler" in v.path for v in model.trainable_variables) is trained
            assert sum("pooler" in v.path for v in model.weights) == 2  # still saved and loaded
            model.compile(learning_rate=1e-3, jit_compile=False)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(x, y, batch_size=4, epochs=1, verbose=0)
            assert not [w for w in caught if "Gradients do not exist" in str(w.message)], cls.__name__

    def test_masked_lm_takes_keras_hub_style_labels(self):
        model = make(BertMaskedLM)
        model.compile(learning_rate=1e-3, jit_compile=False)
        x, y = batch()
        hist = model.fit(x, y["mask_ids"], sample_weight=y["mask_weights"], batch_size=4, epochs=2, verbose=0)
        assert set(hist.history) == {"loss", "mlm_loss", "mlm_accuracy", "mlm_perplexity"}
        same = model.compute_loss(x, {"mask_ids": y["mask_ids"], "mask_weights": y["mask_weights"]}, model(x))
        np.testing.assert_allclose(float(same), float(model.compute_loss(x, y["mask_ids"], model(x),
                                                                         sample_weight=y["mask_weights"])), rtol=1e-6)

    def test_mixed_bfloat16_step(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        model = make()
        model.compile(jit_compile=True)
        x, y = batch()
        history = model.fit(tf.data.Dataset.from_tensors((x, y)), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert model(x)["mlm_logits"].dtype == "float32"
        assert model.backbone.embeddings.word_embeddings.embeddings.dtype == "float32"

    def test_bad_inputs_and_labels(self):
        model = make()
        x, y = batch()
        with pytest.raises(KeyError, match="mask_positions"):
            model({k: v for k, v in x.items() if k != "mask_positions"})
        with pytest.raises(KeyError, match="next_sentence_label"):
            model.compute_loss(x, {"mask_ids": y["mask_ids"]}, model(x))
        with pytest.raises(KeyError, match="mask_ids"):
            model.compute_loss(x, {"labels": y["mask_ids"]}, model(x))

    def test_fill_mask_returns_the_models_top_k(self):
        tokenizer = BertTokenizer(VOCAB)
        model = make(BertMaskedLM, preprocessor=tokenizer)
        texts = ["The cat sat on the [MASK].", "A [MASK] sat on a [MASK]"]
        results = model.fill_mask(texts, top_k=4)
        assert len(results) == 2 and len(results[0]) == 1 and len(results[1]) == 2
        x = {"token_ids": np.array([[2, 5, 6, 7, 8, 5, 4, 10, 3]], "int32"), "segment_ids": np.zeros((1, 9), "int32"),
             "padding_mask": np.ones((1, 9), "int32"), "mask_positions": np.array([[6]], "int32")}
        logits = model(x, training=False).numpy()[0, 0]
        top = results[0][0]
        assert [p["token_id"] for p in top] == list(np.argsort(-logits)[:4])
        assert [p["token"] for p in top] == [VOCAB[p["token_id"]] for p in top]
        scores = [p["score"] for p in top]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1
        assert model.fill_mask("the [MASK]", top_k=2)[0][0]["token"] in VOCAB
        with pytest.raises(ValueError, match=r"\[MASK\]"):
            model.fill_mask(["no mask here"])
        with pytest.raises(ValueError, match="preprocessor"):
            make(BertMaskedLM).fill_mask(["the [MASK]"])

    def test_keras_file_round_trip_in_safe_mode(self, tmp_path):
        model = make(preprocessor=BertTokenizer(VOCAB))
        model.compile(jit_compile=False)
        x, y = batch()
        model.fit(tf.data.Dataset.from_tensors((x, y)), epochs=1, verbose=0)
        path = str(tmp_path / "pretrainer.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        assert type(loaded) is BertPretrainer
        a, b = model(x, training=False), loaded(x, training=False)
        for key in ("mlm_logits", "nsp_logits"):
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
        assert loaded.embedding_table is loaded.backbone.embeddings.word_embeddings.embeddings
        assert loaded.fill_mask("the [MASK]", top_k=3) == model.fill_mask("the [MASK]", top_k=3)

    def test_from_preset_loads_heads_saved_with_the_checkpoint(self, tmp_path):
        from tfbert.checkpoints.huggingface import save_huggingface

        source = make()
        rng = np.random.default_rng(0)
        for v in source.mlm_head.weights + source.nsp_head.weights:
            v.assign(rng.normal(size=v.shape).astype("float32"))
        directory = str(tmp_path / "hf")
        save_huggingface(source.backbone, directory, vocabulary=VOCAB, lowercase=True,
                         mlm_head=source.mlm_head, nsp_head=source.nsp_head)
        model = BertPretrainer.from_preset(directory)
        for ours, theirs in zip(model.mlm_head.weights + model.nsp_head.weights,
                                source.mlm_head.weights + source.nsp_head.weights):
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
        assert model.load_report.newly_initialized == []
        assert "mlm_head/output_bias" in model.load_report.loaded
        x, _ = batch()
        np.testing.assert_allclose(model(x, training=False)["mlm_logits"], source(x, training=False)["mlm_logits"],
                                   atol=1e-4)
        # Without heads in the file, they start fresh and are reported.
        plain = str(tmp_path / "plain")
        save_huggingface(source.backbone, plain, vocabulary=VOCAB, lowercase=True)
        fresh = BertMaskedLM.from_preset(plain)
        assert fresh.load_report.newly_initialized == sorted(
            f"mlm_head/{n}" for n in ("output_bias", "transform_dense/bias", "transform_dense/kernel",
                                      "transform_layer_norm/beta", "transform_layer_norm/gamma"))
        assert fresh.fill_mask("the [MASK]", top_k=1)[0][0]["token"] in VOCAB

    @pytest.mark.slow
    def test_minilm_continued_pretraining_reports_the_new_head(self):
        from tfbert.checkpoints import presets

        if not presets.is_cached("minilm_l6_en_uncased") and not os.environ.get("TFBERT_MINILM_DIR"):
            pytest.skip("MiniLM is not cached; fetch it once with tfbert.BERT.from_preset('minilm_l6_en_uncased')")
        source = os.environ.get("TFBERT_MINILM_DIR") or "minilm_l6_en_uncased"
        model = BertPretrainer.from_preset(source)
        new = model.load_report.newly_initialized
        assert {n.split("/")[0] for n in new} == {"mlm_head", "nsp_head"} and len(new) == 7
        assert len(model.load_report.loaded) > 90
        top = model.fill_mask("paris is the [MASK] of france.", top_k=5)[0]
        assert len(top) == 5
