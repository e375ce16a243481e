"""Kill -9 one of 2 MultiWorkerMirroredStrategy workers mid-epoch, restart both: the run resumes exactly.

The workers (tests/distribute_resume_worker.py) train with fit_resumable on
127.0.0.1. Once a checkpoint is complete and the next epoch's steps are under
way, the chief is killed with SIGKILL (the other worker then waits in a
collective forever, so it is killed too: "restart all workers"). Restarted,
both continue from the last complete checkpoint and end on exactly the step
count of an uninterrupted run, with identical weights, and only the chief's
checkpoints are in the checkpoint folder.
"""

import os
import signal
import sys
import time

from cluster import REPO_ROOT, kill_group, logs, start_cluster
from tfbert.training import read_state

WORKER = os.path.join(REPO_ROOT, "tests", "distribute_resume_worker.py")
TOTAL_STEPS = 16  # EPOCHS * STEPS_PER_EPOCH of the worker


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().split()


def steps_logged(path):
    words = read_lines(path)
    return [int(words[i + 1]) for i, w in enumerate(words[:-1]) if w == "step"]


def test_kill_a_worker_mid_epoch_and_resume_all(tmp_path):
    checkpoints = str(tmp_path / "checkpoints")
    log = [str(tmp_path / f"steps-{i}.log") for i in range(2)]
    argv = lambda sleep: (lambda i: [sys.executable, WORKER, checkpoints, log[i], str(sleep)])  # noqa: E731

    processes = start_cluster(argv(0.4), 2, str(tmp_path), extra_env={"TMPDIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:  # a checkpoint at step 3 or 6 is done, and steps go on past it
            state = read_state(checkpoints) if os.path.exists(os.path.join(checkpoints, "latest")) else None
            if state and state["global_step"] >= 3 and max(steps_logged(log[0]) or [0]) >= state["global_step"] + 1:
                break
            assert all(p.poll() is None for p in processes), logs(str(tmp_path))
            time.sleep(0.1)
        else:
            raise AssertionError("no checkpoint in time\n" + logs(str(tmp_path)))
        os.killpg(processes[0].pid, signal.SIGKILL)  # the chief, mid-epoch
        processes[0].wait()
    finally:
        for process in processes:
            kill_group(process)
    saved = read_state(checkpoints)["global_step"]
    assert 3 <= saved < TOTAL_STEPS, saved
    killed_at = max(steps_logged(log[0]))
    assert killed_at > saved

    processes = start_cluster(argv(0.0), 2, str(tmp_path), extra_env={"TMPDIR": str(tmp_path)})
    try:
        for process in processes:
            process.wait(timeout=150)
    finally:
        for process in processes:
            kill_group(process)
    assert [p.returncode for p in processes] == [0, 0], logs(str(tmp_path))
    finals = []
    for path in log:
        words = read_lines(path)
        assert words[words.index("start", 1) + 1] == str(saved)  # the second start: from the last checkpoint
        finals.append(words[-3:])
    assert finals[0][0] == finals[1][0] == "done"
    assert finals[0][1] == finals[1][1] == str(TOTAL_STEPS)  # exactly the uninterrupted step count
    assert finals[0][2] == finals[1][2]  # identical weights on both workers
    state = read_state(checkpoints)
    assert state["global_step"] == TOTAL_STEPS and state["finished"]
    assert all(name.startswith(("step-", "latest")) for name in os.listdir(checkpoints))
    assert not [n for n in os.listdir(tmp_path) if n.startswith("tfbert-worker-")]  # the non-chief's folders removed
