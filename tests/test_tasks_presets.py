"""Task models from presets: every class through TestCase.run_preset_test on a tiny Hugging Face directory,
then the real MiniLM preset (load reports, raw-text output formats, sentence-transformers parity).

The MiniLM tests skip unless it is available (TFBERT_MINILM_DIR or tfbert's cache of "minilm_l6_en_uncased").
"""

import os

import numpy as np
import pytest

from test_case import REPO_ROOT, TestCase, minilm_source, save_tiny_hf_preset
from tfbert import BERT, BertClassifier, BertEmbedder, BertMultipleChoice, BertQuestionAnswerer, BertTokenClassifier
from tfbert.preprocessing import BertPreprocessor, BertTokenizer
from tfbert.tasks.pretrainer import BertMaskedLM, BertPretrainer

FIXTURE = os.path.join(REPO_ROOT, "tests", "fixtures", "minilm_reference.npz")
SINGLES = 4   # the fixture's first 4 rows are single sentences with sentence-transformers embeddings
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "film", "who", "wrote", "?"]


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    return save_tiny_hf_preset(str(tmp_path_factory.mktemp("presets") / "tiny_hf"), TINY_VOCAB)


class TestTinyPresets(TestCase):
    """Each preset-loading class loads a tiny Hugging Face directory and names an unknown preset."""

    def test_backbone_tokenizer_and_preprocessor(self, tiny_preset):
        bert = self.run_preset_test(BERT, tiny_preset)
        assert bert.config.vocab_size == len(TINY_VOCAB) and bert.load_report.newly_initialized == []
        tokenizer = self.run_preset_test(BertTokenizer, tiny_preset)
        assert tokenizer.vocabulary == TINY_VOCAB and tokenizer.lowercase
        preprocessor = self.run_preset_test(BertPreprocessor, tiny_preset, init_kwargs={"sequence_length": 8})
        assert preprocessor.tokenizer.vocabulary == TINY_VOCAB
        assert preprocessor(["a good film"])["token_ids"].shape == (1, 8)

    @pytest.mark.parametrize("cls, kwargs", [
        (BertClassifier, {"num_classes": 2, "sequence_length": 16}),
        (BertEmbedder, {}),
        (BertMultipleChoice, {"sequence_length": 16}),
        (BertQuestionAnswerer, {"sequence_length": 16, "doc_stride": 4, "max_query_length": 4}),
        (BertTokenClassifier, {"label_names": ["O", "B-X", "I-X"], "sequence_length": 16}),
        (BertMaskedLM, {}),
        (BertPretrainer, {}),
    ], ids=lambda v: v.__name__ if isinstance(v, type) else None)
    def test_task_from_preset(self, tiny_preset, cls, kwargs):
        model = self.run_preset_test(cls, tiny_preset, init_kwargs=kwargs)
        assert model.backbone.config.vocab_size == len(TINY_VOCAB)
        assert model.load_report is not None and model.load_report.loaded
        vocabulary = getattr(model.preprocessor, "tokenizer", model.preprocessor).vocabulary
        assert vocabulary == TINY_VOCAB


@pytest.fixture(scope="module")
def minilm():
    return minilm_source()


@pytest.fixture(scope="module")
def classifier(minilm):
    return BertClassifier.from_preset(minilm, num_classes=3, label_names=["a", "b", "c"], sequence_length=32)


class TestMiniLMPresets(TestCase):
    def test_embedder_from_text_matches_sentence_transformers(self, minilm):
        reference = np.load(FIXTURE)
        texts = [str(t) for t in reference["texts"][:SINGLES]]
        model = self.run_preset_test(BertEmbedder, minilm)
        assert model.load_report.newly_initialized == [] and len(model.load_report.loaded) > 90
        assert model.preprocessor.max_sequence_length == 256   # sentence_bert_config.json's max_seq_length
        vectors = model.embed(texts, batch_size=3)
        np.testing.assert_allclose(vectors, reference["sentence_embedding"], atol=2e-5)
        sims = model.cosine_similarity(texts[:2], texts)
        assert sims.shape == (2, 4) and sims[0, 0] == pytest.approx(1.0, abs=1e-5)

    def test_classifier_from_preset_reports_the_new_head(self, classifier):
        assert classifier.load_report.newly_initialized == ["classification_head/dense/bias",
                                                            "classification_head/dense/kernel"]
        assert classifier.preprocessor.sequence_length == 32
        out = classifier.predict_text(["a fine film", "dull"], text_pairs=["yes", "no"])
        assert [sorted(o) for o in out] == [["label", "probabilities", "score"]] * 2
        assert sum(out[0]["probabilities"].values()) == pytest.approx(1.0)

    def test_raw_text_helpers_of_the_other_tasks(self, classifier):
        """Same backbone and tokenizer (from_preset is the shared BertTask code tested above)."""
        backbone, tokenizer = classifier.backbone, classifier.preprocessor.tokenizer
        ner = BertTokenClassifier(backbone, label_names=["O", "B-PER", "I-PER"], preprocessor=tokenizer)
        out = ner.predict_text("Zoë Saldaña lives in 北京.")[0]
        assert out["words"] == ["Zoë", "Saldaña", "lives", "in", "北", "京", "."] and len(out["tags"]) == 7
        qa = BertQuestionAnswerer(backbone, preprocessor=BertPreprocessor(tokenizer, sequence_length=64), doc_stride=16)
        context = "Zoë Saldaña was born in Passaic, New Jersey, in 1978, and lived in the Dominican Republic."
        answer = qa.predict_text("Where was she born?", context)[0]
        assert context[answer["start"]:answer["end"]] == answer["text"] and answer["text"]
        mc = BertMultipleChoice(backbone, preprocessor=classifier.preprocessor)
        picked = mc.predict_text(["The cat sat on the"], [["mat.", "equation.", "Tuesday."]])[0]
        assert picked["choice"] in ("mat.", "equation.", "Tuesday.") and len(picked["probabilities"]) == 3
