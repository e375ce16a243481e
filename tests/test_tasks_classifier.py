"""BertClassifier: fit, decode, regression, label names, compile defaults, .keras round trip."""

import keras
import numpy as np
import pytest

from test_case import TINY, TestCase, random_inputs
from tfbert import BERT, BertClassifier, BertConfig
from tfbert.optimization import BertAdamW, WarmupLinearDecay

ONE_LAYER = dict(TINY, num_hidden_layers=1)  # traces faster; the task code is what is tested


def make(num_classes=3, **kwargs):
    return BertClassifier(BERT(BertConfig(**ONE_LAYER)), num_classes=num_classes, **kwargs)


def tiny_preprocessor(sequence_length=None):
    from tfbert.preprocessing import BertPreprocessor, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "film", "plot", "great", "dull"]
    return BertPreprocessor(BertTokenizer(vocab), sequence_length=sequence_length, max_sequence_length=32)


class TestBertClassifier(TestCase):
    def test_task_behaviors(self, tmp_path):
        self.run_task_test(lambda: make(3, label_names=["a", "b", "c"]), random_inputs(batch=4, seq_len=8),
                           np.array([0, 1, 2, 0]), tmp_path, expected_output_shape=(4, 3), jit_compile=True)

    def test_task_behaviors_with_a_preprocessor(self, tmp_path):
        model = make(2, preprocessor=tiny_preprocessor())
        x = {k: np.asarray(v) for k, v in model.preprocessor(["a good film", "dull plot"]).items()}
        self.run_task_test(lambda: make(2, preprocessor=tiny_preprocessor()), x, np.array([1, 0]), tmp_path,
                           expected_output_shape=(2, 2))

    def test_call_shapes_and_float32_logits(self):
        model = make(3)
        logits = model(random_inputs(batch=4))
        assert logits.shape == (4, 3) and logits.dtype == "float32"

    def test_overfits_a_small_batch_under_xla(self):
        x = random_inputs(batch=6, seq_len=8)
        y = np.array([0, 1, 2, 0, 1, 2])
        self.assert_overfits(make(3), x, y, jit_compile=True)

    def test_regression_uses_mse_and_learns(self):
        model = make(1)
        model.compile()
        assert isinstance(model.loss, keras.losses.MeanSquaredError)
        x = random_inputs(batch=4, seq_len=8)
        self.assert_overfits(make(1), x, np.array([0.5, -1.0, 2.0, 1.0], "float32"), steps=60)
        out = model.decode(np.array([[0.25]]))
        assert out == [{"score": 0.25}]

    def test_compile_defaults_and_overrides(self):
        model = make(2)
        model.compile(learning_rate=2e-5, num_train_steps=100)
        assert isinstance(model.optimizer, BertAdamW)
        assert isinstance(model.optimizer._learning_rate, WarmupLinearDecay)
        assert model.optimizer._learning_rate.warmup_steps == 10
        assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy) and model.loss.from_logits
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
        assert isinstance(model.optimizer, keras.optimizers.SGD) and model.loss == "mse"
        with pytest.raises(ValueError, match="only configure optimizer='auto'"):
            model.compile(optimizer="sgd", learning_rate=1e-3)

    def test_decode_with_label_names(self):
        model = make(2, label_names=["negative", "positive"])
        out = model.decode(np.array([[0.0, np.log(3.0)]]))[0]
        assert out["label"] == "positive"
        assert out["score"] == pytest.approx(0.75)
        assert out["probabilities"] == pytest.approx({"negative": 0.25, "positive": 0.75})
        assert make(2).decode(np.array([[2.0, 0.0]]))[0]["label"] == "0"

    def test_label_names_must_match_num_classes(self):
        with pytest.raises(ValueError, match="label_names has 3 names .* but num_classes=2"):
            make(2, label_names=["a", "b", "c"])
        with pytest.raises(ValueError, match="num_classes must be >= 1"):
            make(0)

    def test_predict_text_needs_a_preprocessor(self):
        with pytest.raises(ValueError, match="needs a preprocessor"):
            make(2).predict_text(["hello"])

    def test_keras_round_trip(self, tmp_path):
        model = make(2, label_names=["no", "yes"], dropout=0.2)
        model.compile(learning_rate=1e-3, num_train_steps=10)
        x = random_inputs(batch=2)
        model.fit(x, np.array([0, 1]), epochs=1, verbose=0)
        loaded = self.assert_keras_round_trip(model, x, tmp_path)
        assert loaded.label_names == ["no", "yes"] and loaded.dropout == 0.2
        assert isinstance(loaded.optimizer, BertAdamW)
        assert loaded.optimizer.no_decay_patterns == model.optimizer.no_decay_patterns
        loaded.fit(x, np.array([0, 1]), epochs=1, verbose=0)   # the restored compile state trains

    def test_predict_text_singles_and_pairs_learns_raw_text(self):
        model = make(2, label_names=["neg", "pos"], preprocessor=tiny_preprocessor())
        texts = ["a good film", "a bad film", "great plot", "dull plot"]
        x = {k: np.asarray(v) for k, v in model.preprocessor(texts).items()}
        self.assert_overfits(model, x, np.array([1, 0, 1, 0]), steps=60, learning_rate=5e-3, factor=0.2)
        assert [o["label"] for o in model.predict_text(texts, batch_size=3)] == ["pos", "neg", "pos", "neg"]
        pairs = model.predict_text(["a film", "a plot"], text_pairs=["good", "bad"])
        assert len(pairs) == 2 and all(set(p["probabilities"]) == {"neg", "pos"} for p in pairs)
        with pytest.raises(ValueError, match="2 texts but 1 text_pairs"):
            model.predict_text(["a", "b"], text_pairs=["c"])

    def test_keras_round_trip_keeps_the_preprocessor(self, tmp_path):
        model = make(2, preprocessor=tiny_preprocessor(sequence_length=8))
        x = {k: np.asarray(v) for k, v in model.preprocessor(["a good film"]).items()}
        loaded = self.assert_keras_round_trip(model, x, tmp_path)
        assert loaded.preprocessor.sequence_length == 8
        assert loaded.preprocessor.tokenizer.vocabulary == model.preprocessor.tokenizer.vocabulary
        assert loaded.predict_text(["a good film"]) == model.predict_text(["a good film"])
