"""Export a fine-tuned model as a SavedModel that reads raw text, and serve it without tfbert.

    python examples/export_and_serve.py --model runs/rotten_tomatoes_minilm/model.keras   # e.g. after `make demo`
    python examples/export_and_serve.py --fast                                           # a tiny untrained classifier

The flow of TF's "Serving a TensorFlow Model" tutorial: export to <base>/<version>/ (the
layout TF Serving watches), inspect the signatures, then load the SavedModel in a fresh
Python process that imports only tensorflow and tensorflow_text (tokenization runs
inside the graph, so the exported model needs neither tfbert nor keras), and send it
raw strings. It prints the TF Serving REST request for the same call.
"""

import argparse
import json
import os
import subprocess
import sys

import tfbert  # noqa: F401  (registers the tfbert classes that model.keras files hold)
import keras

from tfbert.export import export_saved_model

SENTENCES = ["A gripping, beautifully acted film.", "A tedious, clumsy mess."]

# Runs in a separate interpreter: only tensorflow + tensorflow_text, as on a serving host.
CLIENT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops the graph uses
served = tf.saved_model.load(sys.argv[1])
signature = served.signatures["serving_default"]
print("inputs:", {k: (v.dtype.name, v.shape.as_list()) for k, v in signature.structured_input_signature[1].items()})
outputs = signature(text=tf.constant(json.loads(sys.argv[2])))
for key, value in sorted(outputs.items()):
    print(f"{key}: {value.numpy().tolist()}")
print("modules loaded:", sorted(m for m in ("tfbert", "keras_hub") if m in sys.modules) or "no tfbert, no keras_hub")
"""


def fast_model():
    from _fast import POSITIVE, NEGATIVE, tiny_preset

    return tfbert.BertClassifier.from_preset(tiny_preset(POSITIVE + NEGATIVE), num_classes=2,
                                             label_names=["negative", "positive"], sequence_length=32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/rotten_tomatoes_minilm/model.keras",
                        help="a fine-tuned .keras file (e.g. from `tfbert finetune` or `make demo`)")
    parser.add_argument("--fast", action="store_true", help="export a tiny untrained classifier instead")
    parser.add_argument("--output-dir", default="saved_models/export_and_serve")
    args = parser.parse_args(argv)

    if args.fast:
        model = fast_model()
    elif os.path.isfile(args.model):
        model = keras.saving.load_model(args.model)
    else:
        parser.exit(2, f"{args.model} not found: run `make demo` first, pass --model, or use --fast\n")

    base = args.output_dir if not args.fast else os.path.join(args.output_dir, "tiny_classifier")
    path = export_saved_model(model, base)  # the next free version: base/1, base/2, ...
    print(f"exported to {path}")

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the client cannot import tfbert from here
    result = subprocess.run([sys.executable, "-c", CLIENT, path, json.dumps(SENTENCES)], capture_output=True,
                            text=True, env=env, cwd=os.path.dirname(os.path.abspath(path)))
    if result.returncode != 0:
        sys.exit(f"the serving client failed:\n{result.stderr[-3000:]}")
    print(result.stdout, end="")

    request = {"signature_name": "serving_default", "instances": [{"text": s} for s in SENTENCES]}
    print("TF Serving: tensorflow_model_server --rest_api_port=8501 --model_name=bert "
          f"--model_base_path={os.path.abspath(base)}")
    print(f"  curl -d '{json.dumps(request)}' http://localhost:8501/v1/models/bert:predict")
    print("done")


if __name__ == "__main__":
    main()
