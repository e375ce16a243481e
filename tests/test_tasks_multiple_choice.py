"""BertMultipleChoice: [B, C, S] inputs, one score per choice, fit, .keras round trip."""

import numpy as np
import pytest

from test_case import TINY, TestCase
from tfbert import BERT, BertConfig, BertMultipleChoice

ONE_LAYER = dict(TINY, num_hidden_layers=1)  # traces faster; the task code is what is tested


def choice_inputs(batch=3, choices=4, seq_len=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, 64, (batch, choices, seq_len)).astype("int32")
    mask = np.ones_like(ids)
    mask[:, :, -2:] = 0
    return {"token_ids": ids * mask, "segment_ids": np.zeros_like(ids), "padding_mask": mask}


class TestBertMultipleChoice(TestCase):
    def test_task_behaviors(self, tmp_path):
        self.run_task_test(lambda: BertMultipleChoice(BERT(BertConfig(**ONE_LAYER))), choice_inputs(),
                           np.array([0, 3, 1]), tmp_path, expected_output_shape=(3, 4))

    def test_scores_each_choice_independently(self):
        model = BertMultipleChoice(BERT(BertConfig(**ONE_LAYER)), dropout=0.0)
        x = choice_inputs()
        scores = np.asarray(model(x))
        assert scores.shape == (3, 4)
        # choice 2 of example 1, run alone, gives the same score
        single = {k: v[1:2, 2:3] for k, v in x.items()}
        np.testing.assert_allclose(np.asarray(model(single))[0, 0], scores[1, 2], atol=1e-5)

    def test_overfits_under_xla(self):
        self.assert_overfits(BertMultipleChoice(BERT(BertConfig(**ONE_LAYER))), choice_inputs(), np.array([0, 3, 1]),
                             jit_compile=True)

    def test_rejects_two_dimensional_inputs(self):
        with pytest.raises(ValueError, match=r"\[batch, choices, seq_len\]"):
            BertMultipleChoice(BERT(BertConfig(**ONE_LAYER)))({k: v[:, 0] for k, v in choice_inputs().items()})

    def test_keras_round_trip(self, tmp_path):
        model = BertMultipleChoice(BERT(BertConfig(**ONE_LAYER)), dropout=0.3)
        self.assert_keras_round_trip(model, choice_inputs(), tmp_path)
