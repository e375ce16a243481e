"""BertEmbedder: pooling modes, normalisation, cosine similarity, .keras round trip, MiniLM parity."""

import os

import numpy as np
import pytest

from test_case import REPO_ROOT, TINY, TestCase, minilm_source, random_inputs
from tfbert import BERT, BertConfig, BertEmbedder

FIXTURE = os.path.join(REPO_ROOT, "tests", "fixtures", "minilm_reference.npz")  # the real checkpoint's outputs


class TestBertEmbedder(TestCase):
    def test_task_behaviors(self, tmp_path):
        self.run_task_test(lambda: BertEmbedder(BERT(BertConfig(**TINY)), pooling="mean"), random_inputs(batch=3),
                           np.random.default_rng(0).normal(size=(3, 16)).astype("float32"), tmp_path,
                           expected_output_shape=(3, 16))

    def test_pooling_modes_match_numpy(self):
        backbone = BERT(BertConfig(**TINY))
        x = random_inputs(batch=3)
        sequence = np.asarray(backbone(x)["sequence_output"])
        mask = x["padding_mask"][:, :, None].astype("float32")
        mean = (sequence * mask).sum(1) / mask.sum(1)
        np.testing.assert_allclose(BertEmbedder(backbone, "mean", normalize=False)(x), mean, atol=1e-5)
        np.testing.assert_allclose(BertEmbedder(backbone, "cls", normalize=False)(x), sequence[:, 0], atol=1e-6)
        maxed = np.where(mask > 0, sequence, -np.inf).max(1)
        np.testing.assert_allclose(BertEmbedder(backbone, "max", normalize=False)(x), maxed, atol=1e-6)
        unit = np.asarray(BertEmbedder(backbone, "mean")(x))
        np.testing.assert_allclose(unit, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-5)

    def test_cosine_similarity_of_vectors(self):
        model = BertEmbedder(BERT(BertConfig(**TINY)))
        sims = model.cosine_similarity(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[3.0, 0.0], [1.0, 1.0]]))
        np.testing.assert_allclose(sims, [[1.0, np.sqrt(0.5)], [0.0, np.sqrt(0.5)]], atol=1e-12)

    def test_bad_pooling_mode(self):
        with pytest.raises(ValueError, match="pooling must be one of"):
            BertEmbedder(BERT(BertConfig(**TINY)), pooling="sum")

    def test_keras_round_trip(self, tmp_path):
        model = BertEmbedder(BERT(BertConfig(**TINY)), pooling="max", normalize=False)
        loaded = self.assert_keras_round_trip(model, random_inputs(), tmp_path)
        assert loaded.pooling_mode == "max" and loaded.normalize is False

    # ---- the real checkpoint ---------------------------------------------
    def test_reproduces_sentence_transformers_embedding_of_minilm(self):
        """Reference: transformers.BertModel + mean pooling + L2 norm (tests/fixtures/make_minilm_reference.py)."""
        reference = np.load(FIXTURE)
        model = BertEmbedder(BERT.from_preset(minilm_source(resolve=True)), pooling="mean", normalize=True)
        n = reference["sentence_embedding"].shape[0]
        x = {k: reference[k][:n] for k in ("token_ids", "segment_ids", "padding_mask")}
        got = np.asarray(model(x))
        np.testing.assert_allclose(got, reference["sentence_embedding"], atol=2e-5)
        np.testing.assert_allclose(model.cosine_similarity(got, got), reference["sentence_embedding"] @ reference["sentence_embedding"].T, atol=1e-5)
