"""TensorFlow's ``saved_model_cli`` with the tensorflow-text ops registered.

``saved_model_cli show --all --dir export/1`` works as it is, but ``saved_model_cli
run`` on a tfbert export stops with "Op type not registered
'FastWordpieceTokenizeWithOffsets'": the command never imports tensorflow_text,
whose kernel the in-graph tokenizer uses. This wrapper imports it and then runs
the very same command with the same arguments:

    python examples/serving/saved_model_cli.py run --dir export/1 --tag_set serve \\
        --signature_def serving_default --input_exprs 'text=["a great movie"]'
"""

import sys

import tensorflow_text  # noqa: F401  (registers FastWordpieceTokenizeWithOffsets)
from tensorflow.python.tools.saved_model_cli import main  # what the saved_model_cli script runs

if __name__ == "__main__":
    sys.argv[0] = "saved_model_cli"
    sys.exit(main())
