"""BertQuestionAnswerer: doc_stride windows, answer positions, offsets, n-best decoding, fit, round trip."""

import numpy as np
import pytest

from test_case import TINY, TestCase
from tfbert import BERT, BertConfig, BertQuestionAnswerer
from tfbert.data.qa import decode_answers, encode_qa, qa_dataset
from tfbert.preprocessing.tokenizer import BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "what", "where", "?", "ada", "love", "##lace", "wrote",
         "the", "first", "program", "in", "london", ".", ",", "zoe", "saldana", "was", "born", "北", "京", "is", "a",
         "city", "she", "lived"]
ONE_LAYER = dict(TINY, num_hidden_layers=1, max_position_embeddings=64)


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer(VOCAB)


def pieces(row, tokenizer):
    return [VOCAB[i] for i in row if i != tokenizer.pad_token_id]


class TestBertQuestionAnswerer(TestCase):
    def test_task_behaviors(self, tokenizer, tmp_path):
        f = encode_qa(tokenizer, ["Who?", "Where?"], ["Ada wrote.", "In London."], sequence_length=12, doc_stride=4,
                      answers=[("Ada", 0), ("London", 3)])
        rows = len(f.start_positions)
        self.run_task_test(lambda: BertQuestionAnswerer(BERT(BertConfig(**ONE_LAYER)), preprocessor=tokenizer,
                                                        doc_stride=4),
                           f.inputs, {"start_logits": f.start_positions, "end_logits": f.end_positions}, tmp_path,
                           expected_output_shape={"start_logits": (rows, 12), "end_logits": (rows, 12)})

    def test_long_context_is_windowed_by_doc_stride_never_cut(self, tokenizer):
        context = "Ada Lovelace wrote the first program in London. She lived in London."   # 15 pieces
        answer = ("London", context.rindex("London"))
        f = encode_qa(tokenizer, ["Where?"], [context], sequence_length=12, doc_stride=4, answers=[answer])
        budget = 12 - 2 - 3   # [CLS] where ? [SEP] ... [SEP]: 7 context pieces per window
        assert f.inputs["token_ids"].shape == (3, 12) and f.example.tolist() == [0, 0, 0]
        windows = [pieces(row, tokenizer)[4:-1] for row in f.inputs["token_ids"]]
        assert all(len(w) <= budget for w in windows)
        covered = [p for w in windows for p in w]
        all_pieces = [VOCAB[i] for i in tokenizer(context).numpy()]
        # windows start at 0, 4, 8: their union is the whole context
        assert windows[0] == all_pieces[0:7] and windows[1] == all_pieces[4:11] and windows[2] == all_pieces[8:15]
        assert set(range(15)) == set(range(0, 7)) | set(range(4, 11)) | set(range(8, 15)) and len(covered) == 21
        # the answer (piece 13) lies only in window 2, at position 4 + (13 - 8)
        assert f.start_positions.tolist() == [0, 0, 9] and f.end_positions.tolist() == [0, 0, 9]
        assert (f.inputs["segment_ids"][2] == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]).all()

    def test_question_is_cut_to_max_query_length(self, tokenizer):
        f = encode_qa(tokenizer, ["who what where who what"], ["Ada wrote."], sequence_length=16, max_query_length=2,
                      doc_stride=4)
        assert pieces(f.inputs["token_ids"][0], tokenizer) == ["[CLS]", "who", "what", "[SEP]", "ada", "wrote", ".", "[SEP]"]

    def test_bad_answer_start_names_the_question(self, tokenizer):
        with pytest.raises(ValueError, match="q-17: answer 'Ada' does not start at answer_start=2"):
            encode_qa(tokenizer, ["Who?"], ["Ada wrote."], answers=[("Ada", 2)], ids=["q-17"], sequence_length=16,
                      doc_stride=4)

    def test_doc_stride_larger_than_window_is_refused(self, tokenizer):
        with pytest.raises(ValueError, match="doc_stride=20 must be between 1 and the context room"):
            encode_qa(tokenizer, ["Who?"], ["Ada wrote."], sequence_length=16, doc_stride=20)

    def test_answer_text_comes_from_the_original_context(self, tokenizer):
        context = "Zoë Saldaña was born in 北京, a city."
        start = context.index("Saldaña")
        f = encode_qa(tokenizer, ["Who?"], [context], sequence_length=24, doc_stride=8, answers=[("Zoë Saldaña", 0)])
        s, e = f.start_positions[0], f.end_positions[0]
        assert pieces(f.inputs["token_ids"][0], tokenizer)[s:e + 1] == ["zoe", "saldana"]
        assert (f.char_start[0, s], f.char_end[0, e]) == (0, start + len("Saldaña"))
        logits = np.full((1, 24), -5.0)
        beijing = list(f.char_start[0]).index(context.index("北"))
        start_logits, end_logits = logits.copy(), logits.copy()
        start_logits[0, beijing], end_logits[0, beijing + 1] = 3.0, 3.0
        out = decode_answers(f, start_logits, end_logits, [context])[0]
        assert out["text"] == "北京" and context[out["start"]:out["end"]] == "北京" and out["score"] == 6.0

    def test_decoding_respects_span_rules(self, tokenizer):
        context = "Ada Lovelace wrote the first program in London."
        f = encode_qa(tokenizer, ["Who?"], [context], sequence_length=20, doc_stride=4)
        # positions: 0 [CLS], 1 who, 2 ?, 3 [SEP], 4 ada, 5 love, 6 ##lace, 7 wrote, 8 the, 9 first,
        # 10 program, 11 in, 12 london, 13 ., 14 [SEP]
        n = f.inputs["token_ids"].shape[1]
        start, end = np.zeros((1, n)), np.zeros((1, n))
        start[0, 0], end[0, 0] = 50.0, 50.0     # [CLS] is never an answer
        start[0, 2], end[0, 2] = 40.0, 40.0     # "?" belongs to the question
        start[0, 4], end[0, 12] = 10.0, 10.0    # "ada" .. "london": 9 pieces
        start[0, 9], end[0, 10] = 9.0, 9.0      # "first program"
        assert decode_answers(f, start, end, [context])[0]["text"] == "Ada Lovelace wrote the first program in London"
        assert decode_answers(f, start, end, [context], max_answer_length=3)[0]["text"] == "first program"
        start[0, 11], end[0, 4] = 30.0, 30.0    # best start "in" and best end "ada": end before start, invalid
        assert decode_answers(f, start, end, [context])[0]["text"] == "in London"        # 30 + 10
        assert decode_answers(f, start, end, [context], n_best=1)[0] == {"text": "", "start": -1, "end": -1,
                                                                         "score": float("-inf")}

    def test_max_context_picks_the_centred_window(self, tokenizer):
        context = "Ada Lovelace wrote the first program in London. She lived in London."
        f = encode_qa(tokenizer, ["Who?"], [context], sequence_length=12, doc_stride=4)
        # windows [0, 7), [4, 11), [8, 15): piece 6 sits at the edge of window 0 and in the middle of window 1
        assert not f.max_context[0, 4 + 6] and f.max_context[1, 4 + 2]
        assert f.max_context[0, 4 + 5] and not f.max_context[1, 4 + 1]   # piece 5: a tie goes to the earlier window
        assert f.max_context.sum() == 15   # every context piece is "max context" in exactly one window

    def test_overfits_and_answers_raw_text(self, tokenizer):
        model = BertQuestionAnswerer(BERT(BertConfig(**ONE_LAYER)), preprocessor=tokenizer, doc_stride=8)
        questions = ["Who wrote the first program?", "Where was Zoë Saldaña born?"]
        contexts = ["Ada Lovelace wrote the first program in London.", "Zoë Saldaña was born in 北京, a city."]
        answers = [("Ada Lovelace", 0), ("北京", contexts[1].index("北"))]
        f = model.encode(questions, contexts, answers=answers)
        assert f.inputs["token_ids"].shape[1] == 64   # the backbone's 64 positions, no preprocessor length
        labels = {"start_logits": f.start_positions, "end_logits": f.end_positions}
        self.assert_overfits(model, f.inputs, labels, steps=60, learning_rate=5e-3, factor=0.1)
        out = model.predict_text(questions, contexts)
        assert [o["text"] for o in out] == ["Ada Lovelace", "北京"]
        assert contexts[1][out[1]["start"]:out[1]["end"]] == "北京"

    def test_qa_dataset_labels_match_output_names(self, tokenizer):
        f = encode_qa(tokenizer, ["Who?"] * 3, ["Ada wrote."] * 3, sequence_length=10, doc_stride=2,
                      answers=[("Ada", 0)] * 3)
        x, y = next(iter(qa_dataset(f, batch_size=2)))
        assert sorted(y) == ["end_logits", "start_logits"] and x["token_ids"].shape == (2, 10)
        batches = list(qa_dataset(f, batch_size=2, dynamic_padding=True, bucket_width=4))
        assert [b[0]["token_ids"].shape[1] for b in batches] == [8, 8]   # [CLS] who ? [SEP] ada wrote . [SEP]
        assert [len(b[1]["start_logits"]) for b in batches] == [2, 1]

    def test_keras_round_trip(self, tokenizer, tmp_path):
        model = BertQuestionAnswerer(BERT(BertConfig(**ONE_LAYER)), preprocessor=tokenizer, doc_stride=16,
                                     max_answer_length=7)
        f = encode_qa(tokenizer, ["Who?"], ["Ada wrote."], sequence_length=16, doc_stride=4)
        loaded = self.assert_keras_round_trip(model, f.inputs, tmp_path)
        assert (loaded.doc_stride, loaded.max_answer_length) == (16, 7)

    def test_mixed_bfloat16_keeps_float32_logits_and_trains_under_xla(self, tokenizer):
        import keras

        keras.config.set_dtype_policy("mixed_bfloat16")
        model = BertQuestionAnswerer(BERT(BertConfig(**ONE_LAYER)))
        f = encode_qa(tokenizer, ["Who?", "Where?"], ["Ada wrote.", "In London."], sequence_length=12, doc_stride=4,
                      answers=[("Ada", 0), ("London", 3)])
        out = model(f.inputs)
        real = f.inputs["padding_mask"] > 0
        assert out["start_logits"].dtype == "float32" and np.all(np.isfinite(np.asarray(out["end_logits"])[real]))
        model.compile(jit_compile=True)
        history = model.fit(f.inputs, {"start_logits": f.start_positions, "end_logits": f.end_positions}, epochs=1,
                            verbose=0)
        assert np.isfinite(history.history["loss"][0])
