"""Loading any model a command is given: preset, checkpoint, .keras file, run directory, config or size.

Example:
>>> from tfbert.cli.sources import backbone_of, load_model_source
>>> model, description = load_model_source("tiny")
>>> description, backbone_of(model).config.num_hidden_layers
('BertConfig size, random weights', 2)
"""

import os


SOURCE_HELP = ("a preset name (see `tfbert presets`), a keras-hub preset, Hugging Face or Google checkpoint "
               "directory, a TF1 checkpoint prefix (.../bert_model.ckpt), a .keras file, a run directory, "
               "a BERT config .json file or a size name (tiny ... large; random weights)")


def load_model_source(source):
    """(model, description) for anything ``SOURCE_HELP`` lists."""
    from tfbert.config import SIZES, BertConfig
    from tfbert.model import BERT
    from tfbert.runs import is_run

    if source in SIZES:
        return BERT(BertConfig.from_preset_size(source)), "BertConfig size, random weights"
    if os.path.isdir(source) and is_run(source):
        return load_keras(run_model_path(source)), "run directory"
    if os.path.isfile(source) and source.endswith(".keras"):
        return load_keras(source), ".keras file"
    if os.path.isfile(source) and source.endswith(".json"):
        return BERT(BertConfig.from_json(source)), "config file, random weights"
    if os.path.isfile(source + ".index"):
        return BERT.from_tf_checkpoint(source), "Google TF1 checkpoint"
    if os.path.exists(source) and not os.path.isdir(source):
        raise ValueError(f"cannot read {source!r}: expected {SOURCE_HELP}.")
    model = BERT.from_preset(source)
    return model, "preset"


def load_keras(path):
    import zipfile

    import keras

    import tfbert.tasks  # noqa: F401  (registers the task classes for deserialization)

    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        # Keras answers "File not found" for a file that exists but is cut short or damaged.
        raise ValueError(f"{path} is truncated or corrupt (a .keras file is a zip archive, and this one does not "
                         f"read as one, {os.path.getsize(path):,} bytes); save the model again, or retrain the run.")
    return keras.saving.load_model(path)


def run_model_path(run_dir):
    from tfbert.runs import RunDirectory

    run = RunDirectory(run_dir)
    path = run.file(run.record.get("model", "model.keras"))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"run {run_dir} has no trained model ({os.path.basename(path)} missing): the run did not finish; "
            f"continue it with `tfbert {run.command} --output-dir {run_dir} --resume`."
        )
    return path


def backbone_of(model):
    """The ``tfbert.BERT`` of a backbone or a task model."""
    from tfbert.model import BERT

    if isinstance(model, BERT):
        return model
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, BERT):
        return backbone
    raise TypeError(f"{type(model).__name__} is not a tfbert model (no BERT backbone).")


def save_keras(model, path):
    """``model.save(path)`` through a temporary file and a rename, so ``path`` is never half-written."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)[:-6]}.tmp-{os.getpid()}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
