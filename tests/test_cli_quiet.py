"""The command starts quiet: --help never imports TensorFlow, and no TensorFlow start-up lines reach stderr."""

import os
import subprocess
import sys

from test_case import REPO_ROOT

def _python(*args, env=None):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, **(env or {}))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)


def test_help_does_not_import_tensorflow():
    for argv in (["--help"], ["finetune", "--help"], ["predict", "--help"], ["--version"]):
        result = _python("-X", "importtime", "-m", "tfbert", *argv)
        assert result.returncode == 0, result.stderr
        imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                    if line.startswith("import time:")]
        assert not any(name.split(".")[0] in ("tensorflow", "keras") for name in imported), argv
        quiet = _python("-m", "tfbert", *argv)
        assert quiet.returncode == 0 and quiet.stderr == "", (argv, quiet.stderr)


def test_python_dash_m_tfbert_help_prints_nothing_on_stderr():
    result = _python("-X", "importtime", "-m", "tfbert", "--help")
    assert result.returncode == 0 and "usage: tfbert" in result.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "tfbert.cli" in imported and not any(name.split(".")[0] == "tensorflow" for name in imported)


def test_a_real_command_prints_no_tensorflow_start_up_lines():
    result = _python("-m", "tfbert", "info", "tiny")
    assert result.returncode == 0 and "num_hidden_layers: 2" in result.stdout
    assert result.stderr == "", result.stderr  # was: oneDNN, "Could not find cuda drivers", E0000 cuInit, ...


def test_verbose_shows_tensorflow_logs():
    result = _python("-m", "tfbert", "info", "tiny", "--verbose")
    assert result.returncode == 0
    assert "oneDNN" in result.stderr or ".cc:" in result.stderr, result.stderr


def test_quiet_import_keeps_lines_that_are_not_start_up_chatter():
    from tfbert.cli.errors import _STARTUP_LINE

    chatter = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796190633.023895    6929 port.cc:153] oneDNN custom operations are on. You may see ...",
        "I0000 00:00:1796190633.024115    6929 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
        "will not be used.",
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
        "appropriate compiler flags.",
    ]
    assert all(_STARTUP_LINE.match(line) for line in chatter)
    for line in ("E0000 00:00:1.0 6962 cuda_platform.cc:52] failed call to cuInit",
                 "Traceback (most recent call last):",
                 "ImportError: libfoo.so: cannot open shared object file"):
        assert not _STARTUP_LINE.match(line)
