"""The weight map between tfbert and original google-research/bert TF1 checkpoints.

A released checkpoint is a prefix such as ``uncased_L-12_H-768_A-12/bert_model.ckpt``
(files ``.index`` and ``.data-00000-of-00001``) with ``bert_config.json`` and
``vocab.txt`` beside it. Variable names are ``bert/embeddings/...``,
``bert/encoder/layer_N/attention/self/query/kernel``, ..., ``bert/pooler/dense``
and the pretraining heads under ``cls/``. TF1 Dense kernels are already
``[in, out]``, so everything copies as is except the NSP weights
``cls/seq_relationship/output_weights`` ``[2, H]``, which are transposed.
Optimizer slots (``adam_m``, ``adam_v``) and ``global_step`` are skipped and
reported as such. :func:`save_tf_checkpoint` writes the same layout back.

Example:
>>> import os, tempfile
>>> from tfbert import BERT, BertConfig
>>> from tfbert.checkpoints.google import save_tf_checkpoint
>>> cfg = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
...                  intermediate_size=32, max_position_embeddings=32)
>>> prefix = os.path.join(tempfile.mkdtemp(), "bert_model.ckpt")
>>> save_tf_checkpoint(BERT(cfg), prefix)
>>> sorted(os.listdir(os.path.dirname(prefix)))
['bert_config.json', 'bert_model.ckpt.data-00000-of-00001', 'bert_model.ckpt.index']
>>> len(BERT.from_tf_checkpoint(prefix).load_report.loaded)
39
"""

import glob
import logging
import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tfbert.checkpoints.overrides import apply_overrides, check_config_matches_weights, encoder_layer_indices
from tfbert.checkpoints.report import assign, relative_variables
from tfbert.checkpoints.vocabulary import check_vocabulary_size, model_vocabulary, write_tokens
from tfbert.config import BertConfig

logger = logging.getLogger(__name__)

CONFIG_FILE = "bert_config.json"
VOCAB_FILE = "vocab.txt"
# Checkpoint entries that are not model weights: optimizer state and bookkeeping.
_SKIPPED = re.compile(r"(^|/)(adam_m|adam_v|Adam|Adam_1|global_step|beta1_power|beta2_power)$"
                      r"|^_CHECKPOINTABLE_OBJECT_GRAPH$")

MLM_PAIRS = [
    ("transform_dense/kernel", "cls/predictions/transform/dense/kernel"),
    ("transform_dense/bias", "cls/predictions/transform/dense/bias"),
    ("transform_layer_norm/gamma", "cls/predictions/transform/LayerNorm/gamma"),
    ("transform_layer_norm/beta", "cls/predictions/transform/LayerNorm/beta"),
    ("output_bias", "cls/predictions/output_bias"),
]
NSP_PAIRS = [
    ("dense/kernel", "cls/seq_relationship/output_weights"),  # [2, H], transposed
    ("dense/bias", "cls/seq_relationship/output_bias"),
]
_TRANSPOSED = {"cls/seq_relationship/output_weights"}


def backbone_pairs(num_layers, prefix="bert/"):
    """(tfbert name, TF1 name) for every backbone weight."""
    pairs = [
        ("embeddings/word_embeddings/embeddings", "embeddings/word_embeddings"),
        ("embeddings/position_embeddings/embeddings", "embeddings/position_embeddings"),
        ("embeddings/token_type_embeddings/embeddings", "embeddings/token_type_embeddings"),
        ("embeddings/layer_norm/gamma", "embeddings/LayerNorm/gamma"),
        ("embeddings/layer_norm/beta", "embeddings/LayerNorm/beta"),
    ]
    block = [
        ("attention/query", "attention/self/query"),
        ("attention/key", "attention/self/key"),
        ("attention/value", "attention/self/value"),
        ("attention/output_dense", "attention/output/dense"),
        ("intermediate_dense", "intermediate/dense"),
        ("output_dense", "output/dense"),
    ]
    norms = [("attention_layer_norm", "attention/output/LayerNorm"), ("output_layer_norm", "output/LayerNorm")]
    for i in range(num_layers):
        for ours, theirs in block:
            pairs += [(f"layer_{i}/{ours}/kernel", f"encoder/layer_{i}/{theirs}/kernel"),
                      (f"layer_{i}/{ours}/bias", f"encoder/layer_{i}/{theirs}/bias")]
        for ours, theirs in norms:
            pairs += [(f"layer_{i}/{ours}/gamma", f"encoder/layer_{i}/{theirs}/gamma"),
                      (f"layer_{i}/{ours}/beta", f"encoder/layer_{i}/{theirs}/beta")]
    pairs += [("pooler/dense/kernel", "pooler/dense/kernel"), ("pooler/dense/bias", "pooler/dense/bias")]
    return [(ours, prefix + theirs) for ours, theirs in pairs]


def _transforms(pairs):
    return {ours: lambda value, shape: np.transpose(value) for ours, theirs in pairs if theirs in _TRANSPOSED}


def find_checkpoint(path):
    """Accept a checkpoint prefix or a directory holding one; return the prefix."""
    if os.path.isfile(path + ".index"):
        return path
    if os.path.isdir(path):
        indexes = sorted(glob.glob(os.path.join(path, "*.index")))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        found = [os.path.basename(p)[: -len(".index")] for p in indexes]
        raise FileNotFoundError(
            f"{path} holds {len(found)} TF checkpoints {found}; pass the prefix of one, e.g. {path}/bert_model.ckpt."
            if found else f"No TF checkpoint (*.index file) in {path}; expected e.g. bert_model.ckpt.index there."
        )
    folder = os.path.dirname(path) or "."
    nearby = sorted(os.path.basename(p)[: -len(".index")] for p in glob.glob(os.path.join(folder, "*.index")))
    raise FileNotFoundError(
        f"TF checkpoint not found: {path}.index does not exist. Pass the checkpoint prefix (the file name "
        f"without .index / .data-*)" + (f"; prefixes in {folder}: {nearby}." if nearby else ".")
    )


class CheckpointWeights:
    """Read-only mapping from TF1 variable names to numpy arrays, optimizer state left out (``skipped``)."""

    def __init__(self, path):
        self.prefix = find_checkpoint(path)
        self.label = self.prefix
        try:
            self._reader = tf.train.load_checkpoint(self.prefix)
            shapes = self._reader.get_variable_to_shape_map()
        except (tf.errors.OpError, ValueError, IndexError, OSError) as e:
            raise ValueError(
                f"{self.prefix}.index / .data-* is truncated or corrupt ({type(e).__name__}: {e}). "
                "Download or extract the checkpoint again."
            ) from e
        self._shapes = shapes
        self.skipped = sorted(name for name in shapes if _SKIPPED.search(name))
        self._names = sorted(set(shapes) - set(self.skipped))

    def keys(self):
        return self._names

    def __getitem__(self, name):
        try:
            return self._reader.get_tensor(name)
        except (tf.errors.OpError, IndexError, OSError) as e:  # TF maps OutOfRange to IndexError
            raise ValueError(f"{self.prefix}: variable {name!r} could not be read; the data file is "
                             f"truncated or corrupt ({e}). Download the checkpoint again.") from e

    def shape(self, name):
        """The variable's shape, read from the index (no data)."""
        return self._shapes[name]

    def backbone_prefix(self):
        """``"bert/"`` for released checkpoints; ``""`` for exports without the scope."""
        return "" if "bert/embeddings/word_embeddings" not in self._names and \
            "embeddings/word_embeddings" in self._names else "bert/"


def _read_config(config, prefix, weights=None):
    if isinstance(config, (BertConfig, dict)):
        if weights is not None:
            _check_config(config, "the given config", weights)
        return BertConfig.coerce(config), "the given config"
    path = config if config is not None else os.path.join(os.path.dirname(prefix), CONFIG_FILE)
    if not os.path.isfile(path) and not os.path.isabs(path):
        beside = os.path.join(os.path.dirname(prefix), path)
        path = beside if os.path.isfile(beside) else path
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"BERT config not found: {path}. Pass config= the bert_config.json that came with {prefix} "
            "(or a BertConfig)."
        )
    if weights is not None:
        from tfbert.config import read_json_object

        _check_config(read_json_object(path), path, weights)
    return BertConfig.from_json(path), path


def read_checkpoint_config(path):
    """The BertConfig of the ``bert_config.json`` beside a TF1 checkpoint (``path``: its prefix or folder)."""
    return _read_config(None, find_checkpoint(path))[0]


def _check_config(values, label, weights):
    """The config against the checkpoint's variables (encoder layers, embedding width)."""
    prefix = weights.backbone_prefix()
    layers = encoder_layer_indices(weights.keys(), "^" + re.escape(prefix) + r"encoder/layer_(\d+)/")
    embedding = f"{prefix}embeddings/word_embeddings"
    hidden_size = int(weights.shape(embedding)[-1]) if embedding in weights.keys() else None
    check_config_matches_weights(values, label, weights.label, layers=layers or None, hidden_size=hidden_size)


def guess_lowercase(folder):
    """Google's release folders say it: ``uncased_L-12_H-768_A-12`` vs ``cased_L-12_H-768_A-12``."""
    name = os.path.basename(os.path.abspath(folder)).lower()
    if "uncased" in name:
        return True
    return False if "cased" in name else None


def load_tf_checkpoint(cls, ckpt_prefix, config=None, dtype=None, **overrides):
    """Build a ``cls`` (``tfbert.BERT``) from a google-research/bert checkpoint (``BERT.from_tf_checkpoint``).

    ``model.load_report`` says what loaded.

    Args:
        cls: the model class, called as ``cls(config, dtype=...)``.
        ckpt_prefix: e.g. ``".../bert_model.ckpt"``, or the directory holding it.
        config: path of ``bert_config.json`` (default: the one beside the
            checkpoint), a ``BertConfig`` or a dict.
        dtype: Keras dtype policy of the model.
        **overrides: BertConfig fields to change, e.g. ``hidden_dropout_prob``;
            fields that fix weight shapes must agree with the checkpoint.
    """
    weights = CheckpointWeights(ckpt_prefix)
    config, config_label = _read_config(config, weights.prefix, weights)
    config = apply_overrides(config, overrides, config_label)
    kwargs = {"dtype": dtype} if dtype is not None else {}
    bert = cls(config, **kwargs)
    pairs = backbone_pairs(config.num_hidden_layers, weights.backbone_prefix())
    report = assign(relative_variables(bert), weights, pairs, weights.label, _transforms(pairs))
    report.skipped = list(weights.skipped)
    if not report.loaded:
        raise ValueError(f"No BERT weights found in {weights.label}; its variables look like {weights.keys()[:5]}.")
    folder = os.path.dirname(weights.prefix)
    vocab = os.path.join(folder, VOCAB_FILE)
    if os.path.isfile(vocab):
        check_vocabulary_size(vocab, config.vocab_size, weights.label)
    bert.source_vocabulary = vocab if os.path.isfile(vocab) else None
    bert.source_lowercase = guess_lowercase(folder)
    bert.load_report = report
    logger.info("%s", report)
    return bert


def load_google_heads(ckpt_prefix, mlm_head=None, nsp_head=None):
    """Load ``cls/predictions/*`` and ``cls/seq_relationship/*`` into the heads; absent ones are reported new."""
    from tfbert.checkpoints.huggingface import PrefixSubset, head_targets

    weights = CheckpointWeights(ckpt_prefix)
    targets, pairs = head_targets(mlm_head, nsp_head, MLM_PAIRS, NSP_PAIRS)
    report = assign(targets, PrefixSubset(weights, "cls/"), pairs, weights.label, _transforms(pairs))
    report.skipped = [name for name in weights.skipped if name.startswith("cls/")]
    return report


def save_tf_checkpoint(bert, prefix, mlm_head=None, nsp_head=None, vocabulary=None):
    """Write ``bert`` (and the given heads) as a google-research/bert checkpoint at ``prefix``.

    Writes ``<prefix>.index``, ``<prefix>.data-00000-of-00001`` and
    ``bert_config.json`` beside them (plus ``vocab.txt`` when a vocabulary is
    given or known from loading). The checkpoint files are written in a
    temporary directory and moved into place data first, index last, so a
    reader never finds an index without its data.
    """
    config = bert.config
    from tfbert.checkpoints.huggingface import head_targets

    tokens, _ = model_vocabulary(bert, vocabulary, require_casing=False)  # TF1 stores no casing

    values = {name: v for name, v in relative_variables(bert).items()}
    names, tensors = [], []
    for ours, theirs in backbone_pairs(config.num_hidden_layers):
        names.append(theirs)
        tensors.append(tf.convert_to_tensor(np.asarray(values[ours].numpy(), "float32")))
    targets, pairs = head_targets(mlm_head, nsp_head, MLM_PAIRS, NSP_PAIRS)
    for ours, theirs in pairs:
        value = np.asarray(targets[ours].numpy(), "float32")
        names.append(theirs)
        tensors.append(tf.convert_to_tensor(value.T if theirs in _TRANSPOSED else value))

    folder = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    base = os.path.basename(prefix)
    tmp = tempfile.mkdtemp(prefix=f".{base}.tmp-", dir=folder)
    try:
        tf.raw_ops.SaveV2(prefix=os.path.join(tmp, base), tensor_names=names,
                          shape_and_slices=[""] * len(names), tensors=tensors)
        written = sorted(os.listdir(tmp), key=lambda n: n.endswith(".index"))  # index last
        for name in written:
            os.replace(os.path.join(tmp, name), os.path.join(folder, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    config.to_json(os.path.join(folder, CONFIG_FILE), style="google")
    if tokens is not None:
        write_tokens(os.path.join(folder, VOCAB_FILE), tokens)
