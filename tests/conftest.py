"""Shared fixtures: tiny configs, random inputs, and the paths of real data."""

import os

import numpy as np
import pytest

import tfbert  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import keras

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.environ.get("TFBERT_SHARED_DATA", os.path.join(REPO_ROOT, "..", "shared", "data"))

TINY = dict(
    vocab_size=64,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=32,
)


@pytest.fixture
def tiny_config():
    return tfbert.BertConfig(**TINY)


def save_tiny_hf_preset(path, vocabulary):
    """A Hugging Face directory at ``path`` holding a tiny random BERT over ``vocabulary``; returns ``path``."""
    config = tfbert.BertConfig(**{**TINY, "vocab_size": len(vocabulary)})
    tfbert.BERT(config).save_huggingface(path, vocabulary=vocabulary, lowercase=True)
    return path


def random_inputs(batch=3, seq_len=10, vocab_size=64, seed=0, pad=True):
    """A batch of model inputs with pair segments and, by default, padding."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, vocab_size, (batch, seq_len)).astype("int32")
    padding_mask = np.ones((batch, seq_len), "int32")
    if pad:
        for row in range(batch):
            padding_mask[row, max(2, seq_len - 3 * row):] = 0
    token_ids = token_ids * padding_mask
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, seq_len // 2:] = 1
    segment_ids *= padding_mask
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts from the float32 policy and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


def shared_data_path(*parts):
    """Path under ../shared/data, or skip the test saying which file is missing."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"real data not available: {path} is missing (it lives in ../shared/data beside the repo)")
    return path


def minilm_source(resolve=False):
    """all-MiniLM-L6-v2 for real-checkpoint tests, or skip saying how to get it.

    ``$TFBERT_MINILM_DIR`` (a Hugging Face directory) when set, else tfbert's
    cache of the offline preset: its name, or with ``resolve=True`` its local
    directory.
    """
    path = os.environ.get("TFBERT_MINILM_DIR")
    if path:
        if not os.path.isdir(path):
            pytest.skip(f"TFBERT_MINILM_DIR={path} is not a directory")
        return path
    from tfbert.checkpoints.presets import is_cached, resolve_preset

    if not is_cached("minilm_l6_en_uncased"):
        pytest.skip("MiniLM is not cached; set TFBERT_MINILM_DIR or run BERT.from_preset('minilm_l6_en_uncased') once")
    return resolve_preset("minilm_l6_en_uncased")[0] if resolve else "minilm_l6_en_uncased"
