"""benchmarks/time_to_accuracy.py scores the held-out split with each prediction beside its own label."""

import importlib.util
import os

import numpy as np

from tfbert import BERT, BertClassifier, BertConfig
from tfbert.data.examples import ClassificationData, TextExample
from tfbert.preprocessing import BertPreprocessor, BertTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ["good", "bad", "film", "very", "a", "plot", "dull", "fun"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


def load_benchmark():
    path = os.path.join(ROOT, "benchmarks", "time_to_accuracy.py")
    spec = importlib.util.spec_from_file_location("time_to_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_held_out_accuracy_pairs_predictions_with_labels_despite_length_buckets():
    benchmark = load_benchmark()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, n)) for n in rng.integers(1, 13, 40)]  # 1..12 words: buckets reorder
    clf = BertClassifier(BERT(BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=32, max_position_embeddings=32)),
                         num_classes=2, preprocessor=BertPreprocessor(BertTokenizer(VOCAB), sequence_length=16))
    # A head that splits the texts about evenly between the classes (an untrained one predicts one class).
    pooled = np.asarray(clf.backbone(clf.preprocessor(texts))["pooled_output"])
    w = rng.normal(0, 1, pooled.shape[1])
    dense = clf.classification_head.dense
    dense.kernel.assign(np.stack([np.zeros_like(w), w], axis=1).astype("float32"))
    dense.bias.assign(np.array([0.0, -np.median(pooled @ w)], "float32"))
    # Label every text with the model's own prediction: scored in the right order, accuracy is exactly 1.
    labels = np.argmax(clf.predict_on_batch(clf.preprocessor(texts)), axis=-1)
    assert 5 < labels.sum() < 35
    held = ClassificationData([TextExample(t, int(y)) for t, y in zip(texts, labels)], num_classes=2)
    assert benchmark.held_out_accuracy(clf, held, batch_size=8) == 1.0
