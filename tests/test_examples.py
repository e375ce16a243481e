"""Every example runs in its fast mode (tiny random BERT, tiny data), and the TPU notebook runs on CPU."""

import os
import runpy
import sys

import pytest

from test_case import REPO_ROOT

EXAMPLES = os.path.join(REPO_ROOT, "examples")
SCRIPTS = [
    "classify_text_with_bert.py",
    "fine_tune_glue.py",
    "ner_conll2003.py",
    "squad.py",
    "pretrain_from_scratch.py",
    "export_and_serve.py",
    "chinese_from_scratch.py",
]


def run_example(name, *argv, monkeypatch):
    """Run examples/<name> as __main__ in this process (TensorFlow is already imported)."""
    monkeypatch.setattr(sys, "argv", [name, *argv])
    monkeypatch.syspath_prepend(EXAMPLES)
    try:
        runpy.run_path(os.path.join(EXAMPLES, name), run_name="__main__")
    except SystemExit as e:
        assert e.code in (None, 0), f"{name} exited with {e.code}"


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_in_fast_mode(name, tmp_path, monkeypatch, capsys):
    run_example(name, "--fast", "--output-dir", str(tmp_path), monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert "done" in out.splitlines()[-1], out[-2000:]


def test_every_example_is_tested():
    found = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py") and not f.startswith("_"))
    assert found == sorted(SCRIPTS)


def test_colab_tpu_notebook_runs_top_to_bottom_on_cpu(tmp_path):
    import ipykernel  # noqa: F401  (the kernel the notebook runs in; nbclient, nbformat and it: the `test` extra)
    import nbclient
    import nbformat

    notebook = nbformat.read(os.path.join(EXAMPLES, "colab_tpu.ipynb"), as_version=4)
    env_before = {k: os.environ.get(k) for k in ("TFBERT_FAST", "TFBERT_OUTPUT_DIR", "PYTHONPATH")}
    os.environ["TFBERT_FAST"] = "1"  # the kernel inherits the environment: tiny model, few steps
    os.environ["TFBERT_OUTPUT_DIR"] = str(tmp_path)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, env_before["PYTHONPATH"]) if p)
    try:
        client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": EXAMPLES}})
        client.execute()
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    outputs = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    assert "strategy: default strategy with 1 replica(s)" in outputs
    assert "reloaded SavedModel predicts" in outputs
    assert os.path.isfile(os.path.join(tmp_path, "colab_tpu_export", "saved_model.pb"))
