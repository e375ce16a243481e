"""The weight map between tfbert (BERT and its pretraining heads) and Hugging Face BERT checkpoints.

A Hugging Face directory holds ``config.json`` and ``model.safetensors`` (or a
sharded ``model.safetensors.index.json``; ``pytorch_model.bin`` only with
torch installed). Weight names such as
``encoder.layer.0.attention.self.query.weight`` appear with a ``bert.`` prefix
(``BertForPreTraining``) or without (``BertModel``, sentence-transformers);
older files call LayerNorm parameters ``gamma``/``beta`` instead of
``weight``/``bias``. :class:`HuggingFaceWeights` reads any of these lazily,
one tensor at a time, under canonical names (no prefix, ``weight``/``bias``).
PyTorch ``Linear`` weights are ``[out, in]`` and are transposed into Keras
``[in, out]`` kernels; everything else copies as is.

Example:
>>> import os, tempfile
>>> from tfbert import BERT, BertConfig
>>> from tfbert.checkpoints.huggingface import save_huggingface, read_config, load_huggingface_weights
>>> cfg = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
...                  intermediate_size=32, max_position_embeddings=32)
>>> path = os.path.join(tempfile.mkdtemp(), "hf")
>>> save_huggingface(BERT(cfg), path)
>>> sorted(os.listdir(path))
['config.json', 'model.safetensors']
>>> report = load_huggingface_weights(BERT(read_config(path)), path)
>>> len(report.loaded), report.newly_initialized, report.unused
(39, [], [])
"""

import contextlib
import json
import os
import re

import numpy as np

from tfbert.checkpoints.report import assign, relative_variables
from tfbert.checkpoints.vocabulary import model_vocabulary, write_tokens
from tfbert.config import BertConfig, read_json_object
from tfbert.fileio import atomic_directory

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_FILE = "pytorch_model.bin"
TORCH_INDEX = "pytorch_model.bin.index.json"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

# HF entries that are not weights of their own: buffers, and the decoder tied to the word embeddings.
_SKIPPED = re.compile(r"(^|\.)position_ids$|^cls\.predictions\.decoder\.weight$")

# Activation names Hugging Face does not know, written under the name it does.
_HF_ACTIVATION = {"gelu_approximate": "gelu_new"}

MLM_PAIRS = [
    ("transform_dense/kernel", "cls.predictions.transform.dense.weight"),
    ("transform_dense/bias", "cls.predictions.transform.dense.bias"),
    ("transform_layer_norm/gamma", "cls.predictions.transform.LayerNorm.weight"),
    ("transform_layer_norm/beta", "cls.predictions.transform.LayerNorm.bias"),
    ("output_bias", "cls.predictions.bias"),
]
NSP_PAIRS = [
    ("dense/kernel", "cls.seq_relationship.weight"),
    ("dense/bias", "cls.seq_relationship.bias"),
]


def backbone_pairs(num_layers):
    """(tfbert name, canonical HF name) for every backbone weight."""
    pairs = [
        ("embeddings/word_embeddings/embeddings", "embeddings.word_embeddings.weight"),
        ("embeddings/position_embeddings/embeddings", "embeddings.position_embeddings.weight"),
        ("embeddings/token_type_embeddings/embeddings", "embeddings.token_type_embeddings.weight"),
        ("embeddings/layer_norm/gamma", "embeddings.LayerNorm.weight"),
        ("embeddings/layer_norm/beta", "embeddings.LayerNorm.bias"),
    ]
    dense = [
        ("attention/query", "attention.self.query"),
        ("attention/key", "attention.self.key"),
        ("attention/value", "attention.self.value"),
        ("attention/output_dense", "attention.output.dense"),
        ("intermediate_dense", "intermediate.dense"),
        ("output_dense", "output.dense"),
    ]
    norms = [("attention_layer_norm", "attention.output.LayerNorm"), ("output_layer_norm", "output.LayerNorm")]
    for i in range(num_layers):
        for ours, theirs in dense:
            pairs += [(f"layer_{i}/{ours}/kernel", f"encoder.layer.{i}.{theirs}.weight"),
                      (f"layer_{i}/{ours}/bias", f"encoder.layer.{i}.{theirs}.bias")]
        for ours, theirs in norms:
            pairs += [(f"layer_{i}/{ours}/gamma", f"encoder.layer.{i}.{theirs}.weight"),
                      (f"layer_{i}/{ours}/beta", f"encoder.layer.{i}.{theirs}.bias")]
    pairs += [("pooler/dense/kernel", "pooler.dense.weight"), ("pooler/dense/bias", "pooler.dense.bias")]
    return pairs


def transposes(pairs):
    """PyTorch Linear weights are [out, in]; Keras kernels are [in, out]."""
    return {ours: lambda value, shape: np.transpose(value) for ours, _ in pairs if ours.endswith("kernel")}


def canonical_name(key):
    """``bert.encoder.layer.0.output.LayerNorm.gamma`` -> ``encoder.layer.0.output.LayerNorm.weight``."""
    key = key[len("bert."):] if key.startswith("bert.") else key
    key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", key)
    return re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key)


def torch_conversion_hint(path):
    folder = os.path.dirname(os.path.abspath(path))
    return (
        "python -c \"import torch; from safetensors.torch import save_file; "
        f"sd = torch.load('{path}', map_location='cpu', weights_only=True); "
        "save_file({k: v.clone().contiguous() for k, v in sd.items()}, "
        f"'{os.path.join(folder, SAFETENSORS_FILE)}', metadata={{'format': 'pt'}})\""
    )


class HuggingFaceWeights(contextlib.ExitStack):
    """Lazy, read-only mapping from canonical HF weight names to numpy arrays.

    Use as a context manager (files are closed on exit). ``label`` names the
    weights file in messages; ``skipped`` lists entries that are not weights
    (buffers such as ``position_ids``, the tied decoder matrix).
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = directory
        self._where, self._handles, self._arrays = {}, {}, None
        self.skipped = []
        join = lambda name: os.path.join(directory, name)  # noqa: E731
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"Hugging Face checkpoint directory not found: {directory}.")
        if os.path.isfile(join(SAFETENSORS_INDEX)):
            self.label = join(SAFETENSORS_INDEX)
            entries = self._read_index(self.label).items()
        elif os.path.isfile(join(SAFETENSORS_FILE)):
            self.label = join(SAFETENSORS_FILE)
            entries = [(key, SAFETENSORS_FILE) for key in self._open(SAFETENSORS_FILE).keys()]
        elif os.path.isfile(join(TORCH_INDEX)) or os.path.isfile(join(TORCH_FILE)):
            self.label = join(TORCH_INDEX) if os.path.isfile(join(TORCH_INDEX)) else join(TORCH_FILE)
            self._arrays = self._torch_arrays()
            entries = [(key, None) for key in self._arrays]
        else:
            raise FileNotFoundError(
                f"No weights file in {directory}: expected {SAFETENSORS_FILE} (or {SAFETENSORS_INDEX} with its "
                f"shards, or {TORCH_FILE}). Found: {sorted(os.listdir(directory))}."
            )
        keys = {key for key, _ in entries}
        for key, fname in entries:
            name = canonical_name(key)
            if _SKIPPED.search(name) or (name == "cls.predictions.decoder.bias" and "cls.predictions.bias" in
                                          {canonical_name(k) for k in keys}):
                self.skipped.append(key)
                continue
            if name == "cls.predictions.decoder.bias":
                name = "cls.predictions.bias"  # some files keep only the decoder's copy of the bias
            if name in self._where:
                raise ValueError(f"{self.label} holds {self._where[name][1]!r} and {key!r}, which both mean {name!r}.")
            self._where[name] = (fname, key)
        self.skipped.sort()

    def keys(self):
        return self._where.keys()

    def __contains__(self, name):
        return name in self._where

    def __getitem__(self, name):
        fname, key = self._where[name]
        if self._arrays is not None:
            return self._arrays[key]
        return self._open(fname).get_tensor(key)

    def shape(self, name):
        """The shape of a weight, read from the file header (no data is read)."""
        fname, key = self._where[name]
        if self._arrays is not None:
            return tuple(self._arrays[key].shape)
        return tuple(self._open(fname).get_slice(key).get_shape())

    def _open(self, fname):
        if fname not in self._handles:
            import safetensors

            path = os.path.join(self.directory, fname)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"Weights shard {path} is missing (listed in {self.label}).")
            try:
                self._handles[fname] = self.enter_context(safetensors.safe_open(path, framework="numpy"))
            except Exception as e:  # safetensors raises its own SafetensorError
                raise ValueError(
                    f"{path} is truncated or corrupt ({type(e).__name__}: {e}). "
                    "Download or extract the checkpoint again."
                ) from e
        return self._handles[fname]

    @staticmethod
    def _read_index(path):
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)["weight_map"]
        except (ValueError, KeyError) as e:
            raise ValueError(f"{path} is not a valid safetensors index (needs a 'weight_map'): {e}.") from e

    def _torch_arrays(self):
        try:
            import torch
        except ImportError:
            raise ImportError(
                f"{self.directory} has only PyTorch weights ({os.path.basename(self.label)}), and reading them needs "
                "torch, which is not installed. Convert them to safetensors once, on a machine with torch:\n  "
                + torch_conversion_hint(os.path.join(self.directory, TORCH_FILE))
            ) from None
        files = [TORCH_FILE]
        if self.label.endswith(TORCH_INDEX):
            files = sorted(set(self._read_index(self.label).values()))
        arrays = {}
        for fname in files:
            path = os.path.join(self.directory, fname)
            try:  # weights_only: never run pickled code from the file
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as e:
                raise ValueError(f"{path} could not be read safely ({type(e).__name__}: {e}).") from e
            arrays.update({key: value.float().numpy() if value.is_floating_point() else value.numpy()
                           for key, value in state.items()})
        return arrays


def read_config(directory):
    """The BertConfig of an HF directory's ``config.json`` (activation and eps from the file)."""
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: a Hugging Face BERT directory needs {CONFIG_FILE} beside {SAFETENSORS_FILE}."
        )
    values = read_json_object(path)
    model_type = values.get("model_type", "bert")
    if model_type != "bert":
        raise ValueError(f"{path} describes a {model_type!r} model; tfbert loads BERT checkpoints (model_type 'bert').")
    return BertConfig.from_json(path)


def check_config(directory):
    """``config.json`` against the weights' headers (encoder layers, hidden width), before the model is built."""
    from tfbert.checkpoints.overrides import check_config_matches_weights, encoder_layer_indices

    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(path):
        return  # read_config reports it
    values = read_json_object(path)
    with HuggingFaceWeights(directory) as weights:
        names = list(weights.keys())
        embedding = "embeddings.word_embeddings.weight"
        hidden_size = int(weights.shape(embedding)[-1]) if embedding in weights else None
        label = weights.label
    layers = encoder_layer_indices(names, r"^encoder\.layer\.(\d+)\.")
    check_config_matches_weights(values, path, label, layers=layers or None, hidden_size=hidden_size)


def read_lowercase(directory):
    """``do_lower_case`` from ``tokenizer_config.json``, or None when the file does not say."""
    path = os.path.join(directory, TOKENIZER_CONFIG_FILE)
    if not os.path.isfile(path):
        return None
    value = read_json_object(path).get("do_lower_case")
    return bool(value) if value is not None else None


def load_huggingface_weights(bert, directory):
    """Copy an HF directory's backbone weights straight into ``bert`` (no keras-hub); return a LoadReport."""
    pairs = backbone_pairs(bert.config.num_hidden_layers)
    with HuggingFaceWeights(directory) as weights:
        report = assign(relative_variables(bert), weights, pairs, weights.label, transposes(pairs))
        report.skipped = list(weights.skipped)
    if not report.loaded:
        raise ValueError(f"No BERT weights found in {weights.label}; its names look like {sorted(weights.keys())[:5]}.")
    return report


def head_targets(mlm_head, nsp_head, mlm_pairs, nsp_pairs):
    """Targets and pairs for the given heads; target names are ``<head name>/<weight>``."""
    targets, pairs = {}, []
    for head, head_pairs in ((mlm_head, mlm_pairs), (nsp_head, nsp_pairs)):
        if head is None:
            continue
        if not head.built:
            head.build()
        variables = relative_variables(head)
        for ours, theirs in head_pairs:
            targets[f"{head.name}/{ours}"] = variables[ours]
            pairs.append((f"{head.name}/{ours}", theirs))
    return targets, pairs


class PrefixSubset:
    """The entries of a mapping whose names start with ``prefix``."""

    def __init__(self, mapping, prefix):
        self._mapping, self._keys = mapping, [k for k in mapping.keys() if k.startswith(prefix)]

    def keys(self):
        return self._keys

    def __getitem__(self, name):
        return self._mapping[name]


def load_huggingface_heads(directory, mlm_head=None, nsp_head=None):
    """Load ``cls.predictions.*`` / ``cls.seq_relationship.*`` into the heads; absent ones are reported new."""
    targets, pairs = head_targets(mlm_head, nsp_head, MLM_PAIRS, NSP_PAIRS)
    with HuggingFaceWeights(directory) as weights:
        report = assign(targets, PrefixSubset(weights, "cls."), pairs, weights.label, transposes(pairs))
        report.skipped = [k for k in weights.skipped if canonical_name(k).startswith("cls.")]
    return report


def save_huggingface(bert, directory, vocabulary=None, lowercase=None, mlm_head=None, nsp_head=None,
                     overwrite=False):
    """Write ``bert`` (and optionally its pretraining heads) as a Hugging Face BERT directory.

    Files: ``config.json`` (``architectures`` BertModel, or BertForPreTraining
    with heads), ``model.safetensors`` (``bert.``-prefixed names when heads are
    included), and with a vocabulary ``vocab.txt`` + ``tokenizer_config.json``.
    ``vocabulary`` (a path or a token list) and ``lowercase`` default to those
    the model was loaded with. The directory appears whole or not at all.
    """
    from safetensors.numpy import save_file

    config = bert.config
    tokens, lowercase = model_vocabulary(bert, vocabulary, lowercase)
    with_heads = mlm_head is not None or nsp_head is not None
    prefix = "bert." if with_heads else ""
    values = {name: np.asarray(v.numpy(), "float32") for name, v in relative_variables(bert).items()}
    tensors = {}
    for ours, theirs in backbone_pairs(config.num_hidden_layers):
        value = values[ours]
        tensors[prefix + theirs] = value.T if ours.endswith("kernel") else value
    targets, pairs = head_targets(mlm_head, nsp_head, MLM_PAIRS, NSP_PAIRS)
    for ours, theirs in pairs:
        value = np.asarray(targets[ours].numpy(), "float32")
        tensors[theirs] = value.T if ours.endswith("kernel") else value
    hf_config = json.loads(config.to_json(style="hf"))
    hf_config["hidden_act"] = _HF_ACTIVATION.get(config.hidden_act, config.hidden_act)
    if with_heads:
        hf_config["architectures"] = ["BertForPreTraining"]
    with atomic_directory(directory, overwrite=overwrite) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, os.path.join(tmp, SAFETENSORS_FILE),
                  metadata={"format": "pt"})
        with open(os.path.join(tmp, CONFIG_FILE), "w", encoding="utf-8") as f:
            f.write(json.dumps(hf_config, indent=2, sort_keys=True) + "\n")
        if tokens is not None:
            write_tokens(os.path.join(tmp, VOCAB_FILE), tokens)
            with open(os.path.join(tmp, TOKENIZER_CONFIG_FILE), "w", encoding="utf-8") as f:
                json.dump({"do_lower_case": lowercase, "tokenizer_class": "BertTokenizer",
                           "model_max_length": config.max_position_embeddings}, f, indent=2)
