"""BertTokenClassifier: first-piece alignment, chunking, decoding to words and entity spans, fit, round trip."""

import numpy as np
import pytest

from test_case import TINY, TestCase
from tfbert import BERT, BertConfig, BertTokenClassifier
from tfbert.data.ner import IGNORE_LABEL, encode_words, merge_chunk_tags, token_classification_dataset
from tfbert.data.tokens import word_spans
from tfbert.metrics.conlleval import evaluate
from tfbert.preprocessing.tokenizer import BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "john", "smith", "lives", "in", "new", "york", "ber", "##lin",
         "cafe", "##s", "of", "zoe", "北", "京", ".", ",", "-", "1996", "08", "the", "un", "##aff", "##able"]
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
ONE_LAYER = dict(TINY, num_hidden_layers=1, max_position_embeddings=64)


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer(VOCAB)


def make_model(tokenizer):
    return BertTokenClassifier(BERT(BertConfig(**ONE_LAYER)), label_names=LABELS, preprocessor=tokenizer)


def tags_one_sentence_at_a_time(model, tokenizer, sentences, sequence_length, doc_stride=None):
    """The plain reference for predict_words: each sentence's windows alone, one eager call, rows uncut."""
    from tfbert.data.ner import encode_word_windows

    tags = []
    for sentence in sentences:
        f = encode_word_windows(tokenizer, [sentence], sequence_length=sequence_length, doc_stride=doc_stride)
        row_tags = model.decode_tags(model(f.inputs, training=False), f.word_ids, f.num_words)
        tags.extend(merge_chunk_tags(f, row_tags, [len(sentence)]))
    return tags


class TestBertTokenClassifier(TestCase):
    def test_task_behaviors(self, tokenizer, tmp_path):
        f = encode_words(tokenizer, [["John", "lives", "in", "Berlin"], ["Zoë", "in", "北京"]], sequence_length=10,
                         tags=[["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "B-LOC"]], label_names=LABELS)
        width = f.inputs["token_ids"].shape[1]   # the longest row: [CLS] john lives in ber ##lin [SEP]
        assert width == 7
        self.run_task_test(lambda: make_model(tokenizer), f.inputs, f.labels, tmp_path,
                           expected_output_shape=(2, width, len(LABELS)), jit_compile=True)

    def test_first_piece_carries_the_label(self, tokenizer):
        words = ["John", "lives", "in", "Berlin", "unaffable", "1996-08"]
        tags = ["B-PER", "O", "O", "B-LOC", "O", "O"]
        f = encode_words(tokenizer, [words], sequence_length=32, tags=[tags], label_names=LABELS)
        ids = f.inputs["token_ids"][0].tolist()
        pieces = [VOCAB[i] for i in ids[:f.lengths[0]]]
        assert pieces == ["[CLS]", "john", "lives", "in", "ber", "##lin", "un", "##aff", "##able", "1996", "-", "08", "[SEP]"]
        assert f.word_ids[0, :13].tolist() == [-1, 0, 1, 2, 3, -1, 4, -1, -1, 5, -1, -1, -1]
        assert f.labels[0, :13].tolist() == [IGNORE_LABEL, 1, 0, 0, 3, IGNORE_LABEL, 0] + [IGNORE_LABEL] * 2 + [0] + [IGNORE_LABEL] * 3
        assert f.inputs["padding_mask"][0].sum() == 13 and f.num_words.tolist() == [6]

    def test_long_sentence_is_split_between_words_not_cut(self, tokenizer):
        words = ["john", "smith", "lives", "in", "new", "york", "berlin", "the", "unaffable"]  # 12 pieces
        tags = ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "B-LOC", "O", "O"]
        f = encode_words(tokenizer, [words, ["john"]], sequence_length=7, tags=[tags, ["B-PER"]], label_names=LABELS)
        assert f.lengths.max() <= 7 and f.sentence.tolist() == [0, 0, 0, 1]
        assert f.first_word.tolist() == [0, 5, 8, 0] and f.num_words.tolist() == [5, 3, 1, 1]
        # every word's label appears exactly once, on its first piece
        labelled = [LABELS[l] for row in f.labels for l in row if l != IGNORE_LABEL]
        assert labelled == tags + ["B-PER"]
        row_tags = [[LABELS[l] for l in row if l != IGNORE_LABEL] for row in f.labels]
        assert merge_chunk_tags(f, row_tags, [len(words), 1]) == [tags, ["B-PER"]]

    def test_offsets_of_accented_and_cjk_words(self, tokenizer):
        text = "Zoë lives in 北京, Cafés."
        spans = word_spans(tokenizer, text)
        assert [text[s:e] for s, e in spans] == ["Zoë", "lives", "in", "北", "京", ",", "Cafés", "."]
        f = encode_words(tokenizer, [["Zoë", "in", "北京"]], sequence_length=16, tags=[["B-PER", "O", "B-LOC"]],
                         label_names=LABELS)
        pieces = [VOCAB[i] for i in f.inputs["token_ids"][0, :f.lengths[0]]]
        assert pieces == ["[CLS]", "zoe", "in", "北", "京", "[SEP]"]
        assert f.word_ids[0, :6].tolist() == [-1, 0, 1, 2, -1, -1]   # 京 continues the word 北京

    def test_unknown_tag_names_the_sentence(self, tokenizer):
        with pytest.raises(ValueError, match="train.txt:7: tag 'B-ORG' of word 0 is not one of the label names"):
            encode_words(tokenizer, [["john"]], tags=[["B-ORG"]], label_names=LABELS, origins=["train.txt:7"])

    def test_dataset_pads_labels_with_ignore(self, tokenizer):
        sentences = [["john", "smith"], ["new", "york", "berlin", "the", "unaffable"], ["in"]]
        tags = [["B-PER", "I-PER"], ["B-LOC", "I-LOC", "B-LOC", "O", "O"], ["O"]]
        f = encode_words(tokenizer, sentences, sequence_length=16, tags=tags, label_names=LABELS)
        batches = list(token_classification_dataset(f, batch_size=8, bucket_boundaries=[4, 8]))
        assert sum(len(y) for _, y in batches) == 3
        for x, y in batches:
            padded = x["padding_mask"].numpy() == 0
            assert np.all(y.numpy()[padded] == IGNORE_LABEL)
            assert x["token_ids"].shape == y.shape

    def test_overfits_and_predicts_entities_with_character_spans(self, tokenizer):
        sentences = [["John", "Smith", "lives", "in", "New", "York", "."], ["Zoë", "lives", "in", "北京", "."]]
        tags = [["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"], ["B-PER", "O", "O", "B-LOC", "O"]]
        f = encode_words(tokenizer, sentences, sequence_length=16, tags=tags, label_names=LABELS)
        model = make_model(tokenizer)
        self.assert_overfits(model, f.inputs, f.labels, steps=80, learning_rate=5e-3, factor=0.1)
        assert model.predict_words(sentences) == tags
        assert evaluate(tags, model.predict_words(sentences))["f1"] == 1.0
        out = model.predict_text(["John Smith lives in New York.", "Zoë lives in 北京."])
        assert out[0]["entities"] == [{"type": "PER", "text": "John Smith", "start": 0, "end": 10},
                                      {"type": "LOC", "text": "New York", "start": 20, "end": 28}]
        assert out[1]["words"] == ["Zoë", "lives", "in", "北", "京", "."]
        assert out[1]["entities"][0] == {"type": "PER", "text": "Zoë", "start": 0, "end": 3}
        assert out[1]["entities"][1]["start"] == 13 and out[1]["entities"][1]["type"] == "LOC"

    def test_predict_words_gives_the_tags_of_one_sentence_at_a_time(self, tokenizer):
        """Length-ordered, width-cut, compiled batches give exactly the tags of each sentence run alone."""
        from tfbert.preprocessing import BertPreprocessor

        preprocessor = BertPreprocessor(tokenizer, sequence_length=24)  # rows up to 24 wide: short batches cut to 16
        model = BertTokenClassifier(BERT(BertConfig(**ONE_LAYER)), label_names=LABELS, preprocessor=preprocessor)
        words = ["john", "smith", "lives", "in", "new", "york", "berlin", "the", "unaffable", "cafes", "of", "zoe"]
        # 16 pieces per 12 words: 1 to 64 pieces, the longest sentences read in several windows of 22 pieces
        sentences = [words[:n] for n in (3, 12, 1, 7, 2, 12, 5)] + [words * 2, words[:9], words * 4, words[:4]]
        expected = tags_one_sentence_at_a_time(model, tokenizer, sentences, 24)
        assert len({tag for tags in expected for tag in tags}) > 1  # random weights, yet more than one tag to get right
        for batch_size in (1, 3, 32):
            assert model.predict_words(sentences, batch_size=batch_size) == expected
        assert model.predict_words(sentences, batch_size=3, doc_stride=5) == \
            tags_one_sentence_at_a_time(model, tokenizer, sentences, 24, doc_stride=5)

    def test_loss_ignores_non_first_pieces(self, tokenizer):
        model = make_model(tokenizer)
        model.compile()
        f = encode_words(tokenizer, [["Berlin", "unaffable"]], sequence_length=8, tags=[["B-LOC", "O"]], label_names=LABELS)
        logits = np.asarray(model(f.inputs))
        keep = f.labels[0] != IGNORE_LABEL
        picked = logits[0][keep]
        log_probs = picked - np.log(np.exp(picked).sum(-1, keepdims=True))
        expected = -log_probs[np.arange(2), f.labels[0][keep]].mean()
        assert float(model.compute_loss(f.inputs, f.labels, logits)) == pytest.approx(expected, rel=1e-5)

    def test_pooler_is_not_trained_but_is_saved(self, tokenizer):
        model = make_model(tokenizer)
        assert not any("pooler" in v.path for v in model.trainable_variables)
        assert sum("pooler" in v.path for v in model.weights) == 2

    def test_label_arguments(self):
        backbone = BERT(BertConfig(**ONE_LAYER))
        assert BertTokenClassifier(backbone, num_labels=4).tag_names == ["0", "1", "2", "3"]
        with pytest.raises(ValueError, match="num_labels >= 1 or label_names"):
            BertTokenClassifier(backbone)
        with pytest.raises(ValueError, match="label_names has 2 names but num_labels=3"):
            BertTokenClassifier(backbone, num_labels=3, label_names=["O", "B-X"])

    def test_keras_round_trip_keeps_the_tokenizer(self, tokenizer, tmp_path):
        model = make_model(tokenizer)
        f = encode_words(tokenizer, [["john", "in", "berlin"]], sequence_length=8)
        loaded = self.assert_keras_round_trip(model, f.inputs, tmp_path)
        assert loaded.label_names == LABELS
        assert loaded.preprocessor.vocabulary == VOCAB
        assert loaded.predict_words([["john", "in", "berlin"]]) == model.predict_words([["john", "in", "berlin"]])
