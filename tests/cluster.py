"""Start a MultiWorkerMirroredStrategy cluster of local processes for the tests, and always clean it up.

``run_cluster(argv_for, workers=2, timeout=...)`` starts one process per worker
on 127.0.0.1 with free ports and its own ``TF_CONFIG``, each in its own process
group, waits for all of them (bounded by ``timeout``), and in every case, error
or timeout included, kills every process group that is still alive before it
returns or raises.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_ports(n):
    """``n`` distinct ports that were free a moment ago (the sockets are held until all are chosen)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker_env(index, ports, extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, env.get("PYTHONPATH")) if p)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                   "task": {"type": "worker", "index": index}})
    env.update(extra or {})
    return env


def kill_group(process):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def start_cluster(argv_for, workers, log_dir, extra_env=None, ports=None):
    """Start the workers; ``argv_for(index)`` is each one's command line. Returns the Popen objects."""
    ports = ports or free_ports(workers)
    processes = []
    try:
        for index in range(workers):
            log = open(os.path.join(log_dir, f"worker-{index}.log"), "w")
            processes.append(subprocess.Popen(argv_for(index), cwd=REPO_ROOT, env=worker_env(index, ports, extra_env),
                                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            log.close()
    except BaseException:
        for process in processes:
            kill_group(process)
        raise
    return processes


def run_cluster(argv_for, log_dir, workers=2, timeout=120, extra_env=None):
    """Run the workers to the end; return their exit codes. On timeout or error, every worker is killed."""
    processes = start_cluster(argv_for, workers, log_dir, extra_env)
    try:
        deadline = time.monotonic() + timeout
        for process in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        return [process.returncode for process in processes]
    finally:
        for process in processes:
            kill_group(process)


def logs(log_dir, workers=2):
    """The workers' combined output (for assertion messages)."""
    parts = []
    for index in range(workers):
        path = os.path.join(log_dir, f"worker-{index}.log")
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                parts.append(f"--- worker {index} ---\n" + f.read()[-4000:])
    return "\n".join(parts)


def python_argv(*args):
    return [sys.executable, *args]
