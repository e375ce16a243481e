"""Multi-worker scaling on one machine: 1 worker on 1 core against N workers on one core each.

Each worker is a process pinned to its own core with ``taskset`` and one
intra-op / one inter-op thread, so N workers have N times the compute of one;
N > 1 workers train with ``MultiWorkerMirroredStrategy`` over 127.0.0.1 (ring
all-reduce), each on ``--per-worker-batch`` rows of every global batch, exactly as
``tfbert finetune --strategy multi_worker`` does. The chief reports examples/s
over the timed steps (after warm-up steps, which include tracing). Runs of 1 and
N workers alternate (``--repeats``), so background load hits both alike; the
script prints the median examples/s of each and their ratio (the goal is >= 1.6x
for 2 workers, 80% efficiency).

Models (random weights, the real shapes): ``finetune`` = a MiniLM-L6-H384
classifier (30522 words) at ``--seq-len`` 128; ``pretrain`` = BERT-mini (L4/H256)
masked-LM + NSP. Knobs for finding where the time goes: ``--bytes-per-pack``
(gradient packing of the all-reduce; 0 = TF's default), ``--steps-per-execution``,
``--implementation`` (ring / auto).

Run:  python benchmarks/scaling.py --task finetune                   # MiniLM, seq 128, batch 16 per worker
      python benchmarks/scaling.py --task pretrain
      python benchmarks/scaling.py --quick                           # a tiny model, a few steps: a smoke test
Needs Linux ``taskset`` and at least ``--workers`` free cores for honest figures.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# ---- one worker ----------------------------------------------------------------------------------
def worker(args):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    multi = args.num_workers > 1
    if multi:
        options = tf.distribute.experimental.CommunicationOptions(
            bytes_per_pack=args.bytes_per_pack,
            implementation=getattr(tf.distribute.experimental.CommunicationImplementation, args.implementation.upper()))
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    else:
        strategy = tf.distribute.get_strategy()
    sys.path.insert(0, REPO)
    import keras
    import numpy as np

    import tfbert
    from tfbert.distribute import distribute_batches, is_chief

    keras.utils.set_random_seed(0)
    global_batch = args.per_worker_batch * args.num_workers
    rng = np.random.default_rng(0)
    n = global_batch * 4
    seq = args.seq_len
    if args.quick:
        config = tfbert.BertConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=128, max_position_embeddings=max(seq, 32))
    elif args.task == "finetune":  # all-MiniLM-L6-v2's shapes
        config = tfbert.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                                   intermediate_size=1536, max_position_embeddings=512)
    else:
        config = tfbert.BertConfig.from_preset_size("mini")
    x = {"token_ids": rng.integers(min(1000, config.vocab_size // 2), config.vocab_size, (n, seq)).astype("int32"),
         "segment_ids": np.zeros((n, seq), "int32"), "padding_mask": np.ones((n, seq), "int32")}
    if args.task == "finetune":
        y = rng.integers(0, 2, n).astype("int32")
    else:
        predictions = 20
        x["mask_positions"] = rng.integers(1, seq, (n, predictions)).astype("int32")
        y = {"mask_ids": rng.integers(5, config.vocab_size, (n, predictions)).astype("int32"),
             "mask_weights": np.ones((n, predictions), "float32"),
             "next_sentence_label": rng.integers(0, 2, n).astype("int32")}
    with strategy.scope():
        if args.task == "finetune":
            from tfbert.tasks import BertClassifier

            model = BertClassifier(tfbert.BERT(config), num_classes=2)
        else:
            from tfbert.tasks.pretrainer import BertPretrainer

            model = BertPretrainer(tfbert.BERT(config))
        model.compile(learning_rate=1e-5, steps_per_execution=args.steps_per_execution, jit_compile=False)
    data = distribute_batches(strategy, lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch)
                              .repeat())
    model.fit(data, epochs=1, steps_per_epoch=args.warmup, verbose=0)
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
    elapsed = time.perf_counter() - start
    if is_chief(strategy):
        gradient_bytes = sum(int(np.prod(v.shape)) * 4 for v in model.trainable_variables)
        print(json.dumps({"examples_per_s": args.steps * global_batch / elapsed, "seconds": elapsed,
                          "gradient_mb": gradient_bytes / 2**20}), flush=True)


# ---- the driver ----------------------------------------------------------------------------------
def run_workers(args, workers):
    ports = free_ports(workers)
    folder = tempfile.mkdtemp(prefix="tfbert-scaling-")
    processes = []
    try:
        for index in range(workers):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO, TF_NUM_INTRAOP_THREADS="1",
                       TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
            env.pop("TF_CONFIG", None)
            if workers > 1:
                env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                               "task": {"type": "worker", "index": index}})
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--num-workers", str(workers),
                   *sys.argv[1:]]
            if shutil.which("taskset"):
                cmd = ["taskset", "-c", str(args.first_core + index), *cmd]
            out = open(os.path.join(folder, f"worker-{index}.log"), "w")
            processes.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                              start_new_session=True))
            out.close()
        for process in processes:
            process.wait(timeout=args.timeout)
        with open(os.path.join(folder, "worker-0.log")) as f:
            lines = [line for line in f.read().splitlines() if line.startswith("{")]
        if not lines or any(p.returncode for p in processes):
            with open(os.path.join(folder, "worker-0.log")) as f:
                raise RuntimeError(f"{workers}-worker run failed:\n{f.read()[-3000:]}")
        return json.loads(lines[-1])
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, 9)
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("finetune", "pretrain"), default="finetune")
    parser.add_argument("--workers", type=int, default=2, help="workers of the multi-worker side (default 2)")
    parser.add_argument("--per-worker-batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (tracing included)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--bytes-per-pack", type=int, default=0)
    parser.add_argument("--implementation", choices=("ring", "auto"), default="ring")
    parser.add_argument("--first-core", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--quick", action="store_true", help="tiny model and sequences: a smoke test")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--num-workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.seq_len, args.steps, args.warmup, args.repeats = min(args.seq_len, 32), min(args.steps, 4), 1, 1
    if args.worker:
        return worker(args)
    results = {1: [], args.workers: []}
    for _ in range(args.repeats):
        for workers in (1, args.workers):
            results[workers].append(run_workers(args, workers))
            print(f"{workers} worker(s): {results[workers][-1]['examples_per_s']:.2f} examples/s", flush=True)
    one = statistics.median(r["examples_per_s"] for r in results[1])
    many = statistics.median(r["examples_per_s"] for r in results[args.workers])
    summary = {"task": args.task, "quick": args.quick, "per_worker_batch": args.per_worker_batch,
               "seq_len": args.seq_len, "steps": args.steps, "steps_per_execution": args.steps_per_execution,
               "bytes_per_pack": args.bytes_per_pack, "implementation": args.implementation,
               "gradient_mb": results[1][0]["gradient_mb"], "examples_per_s": {"1": one, str(args.workers): many},
               "speedup": many / one, "efficiency": many / one / args.workers}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
