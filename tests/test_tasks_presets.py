"""Task models from the real MiniLM preset: load reports, raw-text output formats, sentence-transformers parity.

Skips unless MiniLM is available (TFBERT_MINILM_DIR or tfbert's cache of "minilm_l6_en_uncased").
"""

import os

import numpy as np
import pytest

from conftest import REPO_ROOT, minilm_source
from tfbert import BertClassifier, BertEmbedder, BertMultipleChoice, BertQuestionAnswerer, BertTokenClassifier
from tfbert.preprocessing import BertPreprocessor

FIXTURE = os.path.join(REPO_ROOT, "tests", "fixtures", "minilm_reference.npz")
SINGLES = 4   # the fixture's first 4 rows are single sentences with sentence-transformers embeddings


@pytest.fixture(scope="module")
def minilm():
    return minilm_source()


def test_embedder_from_text_matches_sentence_transformers(minilm):
    reference = np.load(FIXTURE)
    texts = [str(t) for t in reference["texts"][:SINGLES]]
    model = BertEmbedder.from_preset(minilm)
    assert model.load_report.newly_initialized == [] and len(model.load_report.loaded) > 90
    assert model.preprocessor.max_sequence_length == 256   # sentence_bert_config.json's max_seq_length
    vectors = model.embed(texts, batch_size=3)
    np.testing.assert_allclose(vectors, reference["sentence_embedding"], atol=2e-5)
    sims = model.cosine_similarity(texts[:2], texts)
    assert sims.shape == (2, 4) and sims[0, 0] == pytest.approx(1.0, abs=1e-5)


@pytest.fixture(scope="module")
def classifier(minilm):
    return BertClassifier.from_preset(minilm, num_classes=3, label_names=["a", "b", "c"], sequence_length=32)


def test_classifier_from_preset_reports_the_new_head(classifier):
    assert classifier.load_report.newly_initialized == ["classification_head/dense/bias",
                                                        "classification_head/dense/kernel"]
    assert classifier.preprocessor.sequence_length == 32
    out = classifier.predict_text(["a fine film", "dull"], text_pairs=["yes", "no"])
    assert [sorted(o) for o in out] == [["label", "probabilities", "score"]] * 2
    assert sum(out[0]["probabilities"].values()) == pytest.approx(1.0)


def test_raw_text_helpers_of_the_other_tasks(classifier):
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
