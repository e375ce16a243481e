"""The keras-hub side of presets and the pieces the loaders share: ``bert.save_preset``, the pretraining heads.

``BERT.from_preset`` goes through :func:`tfbert.checkpoints.loaders.get_preset_loader`, whose
keras-hub and Hugging Face loaders use this module: keras-hub's preset machinery builds its
``BertBackbone`` (keras-hub converts Hugging Face safetensors itself) and the weights are copied
across with the table in :mod:`tfbert.checkpoints.keras_hub`. The numerics come from the
*source* config, not from keras-hub's backbone, which hard-codes the tanh GELU:

* Hugging Face directories: ``hidden_act`` and ``layer_norm_eps`` of ``config.json``
  (``"gelu"`` is the exact erf GELU);
* keras-hub presets: ``tfbert.json`` when tfbert wrote the preset; otherwise
  ``hidden_act="gelu"`` (exact) and ``layer_norm_eps=1e-12``, because keras-hub's
  BERT presets were converted from google-research/bert and Hugging Face
  checkpoints, which were trained with the exact GELU;
* Google checkpoints: ``bert_config.json`` (:mod:`tfbert.checkpoints.google`).

Every load returns a model carrying ``model.load_report`` (a ``LoadReport``),
logged through Python ``logging`` (a warning when anything was left
initialised or unused), and ``model.source_vocabulary`` /
``model.source_lowercase`` so the model can be saved again with its vocabulary.

Example:
>>> import os, tempfile
>>> from tfbert import BERT, BertConfig
>>> cfg = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
...                  intermediate_size=32, max_position_embeddings=32)
>>> path = os.path.join(tempfile.mkdtemp(), "preset")
>>> BERT(cfg).save_preset(path)
>>> sorted(os.listdir(path))
['config.json', 'metadata.json', 'model.weights.h5', 'tfbert.json']
>>> model = BERT.from_preset(path, hidden_dropout_prob=0.0)
>>> len(model.load_report.loaded), model.config.hidden_act, model.config.hidden_dropout_prob
(39, 'gelu', 0.0)
"""

import json
import logging
import os

from tfbert.checkpoints import google, huggingface
from tfbert.checkpoints.keras_hub import load_from_backbone, save_to_backbone
from tfbert.checkpoints.overrides import SHAPE_FIELDS, check_config_matches_weights, encoder_layer_indices
from tfbert.checkpoints.presets import TFBERT_METADATA_FILE, resolve_preset
from tfbert.checkpoints.report import LoadReport, relative_variables
from tfbert.checkpoints.vocabulary import model_vocabulary
from tfbert.config import BertConfig, read_json_object
from tfbert.fileio import atomic_directory

logger = logging.getLogger(__name__)

KERAS_HUB_WEIGHTS = "model.weights.h5"
# keras-hub's BertBackbone hard-codes these; presets it wrote say nothing about them.
KERAS_HUB_DEFAULT_ACT = "gelu"
KERAS_HUB_LAYER_NORM_EPS = 1e-12


def check_sequence_length(sequence_length, config, preset, option="sequence_length"):
    """Refuse a length beyond the model's ``max_position_embeddings`` (instead of cutting it silently)."""
    limit = config.max_position_embeddings
    if sequence_length is not None and int(sequence_length) > limit:
        raise ValueError(f"{option} {sequence_length} is longer than {preset} allows (its max_position_embeddings "
                         f"is {limit}); use {option} {limit} or less.")


def keras_hub_config(local_dir):
    """(config path, BertConfig) of a keras-hub BertBackbone preset directory."""
    path = require_keras_hub_file(local_dir, "config.json")
    kh = read_json_object(path).get("config")
    if not isinstance(kh, dict):
        raise ValueError(f"{path} has no \"config\" object: the preset is incomplete or not a keras-hub BertBackbone; "
                         "fetch it again.")
    try:
        values = dict(
            vocab_size=kh["vocabulary_size"], hidden_size=kh["hidden_dim"], num_hidden_layers=kh["num_layers"],
            num_attention_heads=kh["num_heads"], intermediate_size=kh["intermediate_dim"],
            hidden_dropout_prob=kh.get("dropout", 0.1), attention_probs_dropout_prob=kh.get("dropout", 0.1),
            max_position_embeddings=kh.get("max_sequence_length", 512), type_vocab_size=kh.get("num_segments", 2),
            hidden_act=KERAS_HUB_DEFAULT_ACT, layer_norm_eps=KERAS_HUB_LAYER_NORM_EPS,
        )
    except KeyError as e:
        raise ValueError(f"{path} lacks the BertBackbone field {e}; the preset is incomplete or not a BERT.") from None
    _check_keras_hub_weights(local_dir, path, values)
    meta_path = os.path.join(local_dir, TFBERT_METADATA_FILE)
    if os.path.isfile(meta_path):
        meta = BertConfig.from_dict(read_json_object(meta_path).get("config") or {}, strict=False)
        disagree = [f"{k}: {getattr(meta, k)} vs {values[k]}" for k in SHAPE_FIELDS if getattr(meta, k) != values[k]]
        if disagree:
            raise ValueError(f"{meta_path} disagrees with {path} on {', '.join(disagree)}; the preset was edited "
                             "by hand or mixed from two models. Write it again with bert.save_preset(...).")
        values = meta.to_dict()
        path = meta_path
    return path, BertConfig.from_dict(values)


def _check_keras_hub_weights(local_dir, config_path, values):
    """The preset's config against its weights file (layer groups and embedding width, read from the h5 file)."""
    import h5py

    weights_path = os.path.join(local_dir, KERAS_HUB_WEIGHTS)
    if not os.path.isfile(weights_path):
        return  # require_keras_hub_file reports it
    try:
        with h5py.File(weights_path, "r") as f:
            groups = list(f["layers"].keys()) if "layers" in f else []
            embedding = f.get("layers/reversible_embedding/vars/0")
            hidden_size = int(embedding.shape[-1]) if embedding is not None else None
    except OSError:
        return  # unreadable: keras-hub's load reports the file as truncated or corrupt
    # Keras names the backbone's TransformerEncoder layers transformer_encoder, transformer_encoder_1, ...
    layers = encoder_layer_indices([g if g != "transformer_encoder" else "transformer_encoder_0" for g in groups],
                                   r"^transformer_encoder_(\d+)$")
    check_config_matches_weights(values, config_path, weights_path, layers=layers or None, hidden_size=hidden_size)


def save_preset(bert, directory, vocabulary=None, lowercase=None, overwrite=False):
    """Write ``bert`` as a keras-hub preset that ``keras_hub.models.BertBackbone.from_preset`` loads.

    Files: keras-hub's ``config.json``, ``metadata.json``, ``model.weights.h5``;
    with a vocabulary (a path or token list; default: the one the model was
    loaded with) ``tokenizer.json`` + ``assets/tokenizer/vocabulary.txt``; and
    ``tfbert.json`` with the full BertConfig, so tfbert reloads the exact
    activation and eps (keras-hub's own backbone will use tanh GELU). The
    directory appears whole or not at all.
    """
    import keras_hub

    c = bert.config
    tokens, lowercase = model_vocabulary(bert, vocabulary, lowercase)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=c.vocab_size, num_layers=c.num_hidden_layers, num_heads=c.num_attention_heads,
        hidden_dim=c.hidden_size, intermediate_dim=c.intermediate_size, dropout=c.hidden_dropout_prob,
        max_sequence_length=c.max_position_embeddings, num_segments=c.type_vocab_size, dtype="float32",
    )
    save_to_backbone(bert, backbone)
    with atomic_directory(directory, overwrite=overwrite) as tmp:
        backbone.save_to_preset(tmp)
        if tokens is not None:
            keras_hub.models.BertTokenizer(vocabulary=tokens, lowercase=lowercase).save_to_preset(tmp)
        meta = {"format": "tfbert keras-hub preset", "version": 1, "config": c.to_dict(), "lowercase": lowercase}
        with open(os.path.join(tmp, TFBERT_METADATA_FILE), "w", encoding="utf-8") as f:
            f.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if tokens is None:
        logger.warning("Saved %s without a vocabulary: keras-hub will load the backbone but no tokenizer.", directory)


def load_pretraining_heads(source, mlm_head=None, nsp_head=None):
    """Load the MLM / NSP head weights of a checkpoint into the given head layers.

    ``source`` is a Google checkpoint prefix or anything :func:`resolve_preset`
    accepts. Hugging Face files give ``cls.predictions.*`` and
    ``cls.seq_relationship.*`` (read straight from the safetensors file, as
    keras-hub's converter drops them), Google checkpoints ``cls/...``. Heads the
    source lacks (sentence-transformers models, keras-hub presets) keep their
    fresh initialisation and are listed in ``newly_initialized``.
    Returns a LoadReport whose names are ``<head layer name>/<weight>``.
    """
    source = os.fspath(source)
    if os.path.isfile(source + ".index"):
        report = google.load_google_heads(source, mlm_head, nsp_head)
    else:
        local_dir, fmt = resolve_preset(source)
        if fmt == "huggingface":
            report = huggingface.load_huggingface_heads(local_dir, mlm_head, nsp_head)
        elif fmt == "google":
            report = google.load_google_heads(local_dir, mlm_head, nsp_head)
        else:
            names = []
            for head in (mlm_head, nsp_head):
                if head is not None:
                    if not head.built:
                        head.build()
                    names += [f"{head.name}/{n}" for n in relative_variables(head)]
            report = LoadReport(source=f"{local_dir} (keras-hub presets carry no pretraining heads)",
                                newly_initialized=sorted(names))
    log_report(report, source, what="the pretraining heads of ")
    return report


def load_huggingface(bert, local_dir):
    """Backbone weights of an HF directory through keras-hub; torch-only or partial files load directly."""
    pairs = huggingface.backbone_pairs(bert.config.num_hidden_layers)
    with huggingface.HuggingFaceWeights(local_dir) as weights:  # validates the file(s) and names
        label, names, skipped = weights.label, set(weights.keys()), list(weights.skipped)
        _check_shapes(bert, weights, pairs)
    missing = [theirs for _, theirs in pairs if theirs not in names]
    if label.endswith((huggingface.TORCH_FILE, huggingface.TORCH_INDEX)) or missing:
        if missing:
            logger.info("%s lacks %d backbone weights (%s...); loading it directly, as keras-hub's converter "
                        "needs every weight.", label, len(missing), missing[0])
        return huggingface.load_huggingface_weights(bert, local_dir)
    report = load_from_backbone(bert, keras_hub_backbone(local_dir, label), source_label=label)
    report.unused = sorted(names - {theirs for _, theirs in pairs})
    report.skipped = skipped
    return report


def _check_shapes(bert, weights, pairs):
    """Compare the file's shapes (read from headers) with the model's, before keras-hub touches them."""
    targets = relative_variables(bert)
    bad = []
    for ours, theirs in pairs:
        if theirs not in weights:
            continue
        shape = tuple(weights.shape(theirs))
        expected = tuple(targets[ours].shape)
        if (shape[::-1] if ours.endswith("kernel") else shape) != expected:
            bad.append(f"{theirs} {shape} -> {ours} {expected}")
    if bad:
        raise ValueError(
            f"Shape mismatch loading {weights.label}: the config does not match the weights.\n  "
            + "\n  ".join(bad)
            + "\nCheck that config.json (hidden_size, num_hidden_layers, vocab_size, ...) belongs to this checkpoint."
        )


def keras_hub_backbone(local_dir, weights_path):
    """keras-hub's ``BertBackbone`` of a preset directory (float32), or a ``ValueError`` saying what to do."""
    import keras_hub

    try:
        return keras_hub.models.BertBackbone.from_preset(local_dir, dtype="float32")
    except Exception as e:
        raise ValueError(
            f"keras-hub could not load the preset in {local_dir} ({type(e).__name__}: {e}). If {weights_path} is "
            "truncated or corrupt, download or extract the preset again."
        ) from e


def require_keras_hub_file(local_dir, name):
    path = os.path.join(local_dir, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing; a keras-hub BERT preset needs config.json and {KERAS_HUB_WEIGHTS}."
        )
    return path


def log_report(report, preset, what=""):
    """Log a LoadReport: a warning when anything was left initialised or unused."""
    if report.newly_initialized or report.unused:
        logger.warning("Loading %s%s:\n%s", what, preset, report)
    else:
        logger.info("Loading %s%s:\n%s", what, preset, report)
