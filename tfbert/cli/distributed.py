"""The training commands under a ``tf.distribute`` strategy: one strategy per process, chief-only run files.

``tfbert finetune`` and ``tfbert pretrain`` run the same way on a laptop, on a
machine with 8 GPUs and on N machines (each with its own ``TF_CONFIG``):
:func:`worker_run` creates the strategy named by ``--strategy`` before any
other TensorFlow work, and :func:`start_worker_run` opens the run directory.
With a TPU strategy (or ``--static-shapes``), :func:`static_shapes` turns on
the fixed shapes a TPU compiles once. The chief (worker 0, or the ``chief``
task) opens the real run directory, as a one-process run does. Every other
worker opens a private run folder under the system's temporary directory (its logs, metrics, plots and ``model.keras`` land
there, since saving takes every worker) and :func:`worker_run` removes it at the
end, failure or not. With ``--resume`` every worker reads the settings and the
checkpoints from the real run directory, which must be on a file system they all
see.

Example:
>>> import argparse
>>> from tfbert.cli.distributed import worker_run
>>> args = argparse.Namespace(strategy="default")
>>> with worker_run(args) as strategy:
...     strategy.num_replicas_in_sync
1
"""

import contextlib
import os
import shutil

from tfbert.cli.options import UsageError


@contextlib.contextmanager
def worker_run(args):
    """Create ``args.strategy``'s strategy (kept as ``args.distribute_strategy``) and yield it; afterwards
    remove the private run folder of a non-chief worker, if one was made."""
    from tfbert.distribute import get_strategy

    strategy = get_strategy(getattr(args, "strategy", None) or "auto")  # logs what it picked and why
    args.distribute_strategy = strategy
    args.worker_folder = None
    try:
        yield strategy
    finally:
        if args.worker_folder is not None:  # made by start_worker_run below; nothing else is in it
            shutil.rmtree(args.worker_folder, ignore_errors=True)


def start_worker_run(args, command, defaults, fixed, check=None):
    """``tfbert.runs.start_run`` on the chief; a private run folder on the other workers (see the module).

    Returns ``(run, settings, check(settings))`` like ``start_run``; use the run
    as a context manager. ``args.checkpoint_dir`` is set to where every worker
    restores from (the chief's ``checkpoints/``).
    """
    from tfbert.cli.options import run_mode
    from tfbert.distribute import is_chief, private_folder
    from tfbert.runs import RunDirectory, open_run, resolve_settings, start_run

    mode = run_mode(args, command)
    if is_chief(args.distribute_strategy):
        run, settings, checked = start_run(args.output_dir, command, args, defaults, fixed, check=check, mode=mode)
        args.checkpoint_dir = run.checkpoint_dir
        return run, settings, checked
    stored = None
    args.checkpoint_dir = os.path.join(os.path.abspath(args.output_dir), "checkpoints")
    if mode == "resume":
        try:
            shared = RunDirectory(args.output_dir)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"{error} With --resume every worker reads the chief's run directory: put "
                                    "--output-dir on a file system that all workers see.") from None
        stored = shared.settings
        args.checkpoint_dir = shared.checkpoint_dir
    settings = resolve_settings(args, defaults, stored, fixed)
    checked = check(settings) if check else None
    args.worker_folder = private_folder("run", args.output_dir)
    return open_run(os.path.join(args.worker_folder, "run"), command, settings, mode="new"), settings, checked


def static_shapes(args, run, settings):
    """Whether this run trains on fixed shapes (``--static-shapes``, always on a TPU); said and recorded."""
    from tfbert.distribute import is_tpu

    strategy = args.distribute_strategy
    if is_tpu(strategy) and not settings["static_shapes"]:
        settings["static_shapes"] = True
        run.update_record(settings=settings)  # a resumed run keeps the shapes it trained on
        print("a TPU strategy: static shapes (as --static-shapes)")
    if not settings["static_shapes"]:
        return False
    replicas = strategy.num_replicas_in_sync
    if settings["batch_size"] % replicas:
        raise UsageError(f"--static-shapes splits each batch evenly over the {replicas} replicas, but "
                         f"--batch-size {settings['batch_size']} is not a multiple of {replicas}; give a multiple.")
    return True
