"""Worker processes for test_runs.py: a process to hold a run's lock, and writers to kill at random instants.

Usage:
    python tests/kill_worker.py hold RUN_DIR            open RUN_DIR as a new finetune run, print "ready", sleep
    python tests/kill_worker.py swap TARGET             overwrite TARGET (a folder of 20 files) in a loop, forever
    python tests/kill_worker.py export MODEL BASE_DIR   `tfbert export MODEL --export-dir BASE_DIR --version 1
                                                        --overwrite` in a loop, forever; "ready" once
                                                        imported, "exported" after each

`swap` loads tfbert/fileio.py alone (no TensorFlow), so it starts in milliseconds and
can be killed hundreds of times in a few seconds.
"""

import importlib.util
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWAP_FILES = 20


def hold(run_dir):
    sys.path.insert(0, REPO)
    from tfbert.runs import open_run

    run = open_run(run_dir, "finetune", {"data": "x.csv"})
    print("ready", flush=True)
    time.sleep(600)
    run.close()


def swap(target):
    spec = importlib.util.spec_from_file_location("fileio", os.path.join(REPO, "tfbert", "fileio.py"))
    fileio = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fileio)
    print("ready", flush=True)
    generation = 0
    while True:
        generation += 1
        with fileio.atomic_directory(target, overwrite=True) as tmp:
            for i in range(SWAP_FILES):
                with open(os.path.join(tmp, f"part-{i:02d}"), "w") as f:
                    f.write(f"{generation}\n" * 200)


def export(model, base_dir):
    sys.path.insert(0, REPO)
    from tfbert.cli import main

    print("ready", flush=True)
    while True:
        code = main(["export", model, "--export-dir", base_dir, "--version", "1", "--overwrite"])
        print("exported" if code == 0 else f"failed {code}", flush=True)


if __name__ == "__main__":
    {"hold": hold, "swap": swap, "export": export}[sys.argv[1]](*sys.argv[2:])
