"""``tfbert finetune``: fine-tune a pretrained BERT on a task (classification, regression, ner, qa, multiple_choice, embedding).

From a shell: ``tfbert finetune --data rotten_tomatoes --output-dir runs/rt --epochs 2``.
A killed run continues with ``--resume`` from its last checkpoint, mid-epoch.

Example:
>>> from tfbert.cli.finetune import FINETUNE_DEFAULTS
>>> FINETUNE_DEFAULTS["preset"], FINETUNE_DEFAULTS["epochs"], FINETUNE_DEFAULTS["learning_rate"]
('minilm_l6_en_uncased', 3, 5e-05)
"""

import math

from tfbert.cli.options import (OPTIONS, UsageError, add_distribute_options, add_option, add_training_options,
                                 subcommand, with_default)
from tfbert.cli.policy import apply_policy, check_policy
from tfbert.runs import (CHECKPOINT_EVERY, MODEL_FILE, callbacks_for, progress_verbosity, training_length,
                         write_history_plot)
from tfbert.cli.errors import notice
from tfbert.cli.sources import save_keras
from tfbert.cli.tasks import TASK_DEFAULTS, TASK_FIXED, TASK_HELP, TASKS, add_task_options


FINETUNE_DEFAULTS = dict(
    task="classification", preset="minilm_l6_en_uncased", data=None, epochs=3, steps=None, batch_size=32,
    learning_rate=5e-5, policy="float32", seed=42, max_seq_len=128, max_examples=None,
    text_column=None, label_column=None, text_pair_column=None, steps_per_epoch=None,
    dropout=None, static_shapes=False,
)
FINETUNE_FIXED = ("task", "preset", "data", "batch_size", "max_seq_len", "max_examples", "seed",
                  "text_column", "label_column", "text_pair_column", "policy", "dropout", "static_shapes")
# The split files and task options (tfbert.cli.tasks).
FINETUNE_DEFAULTS.update(TASK_DEFAULTS)
FINETUNE_FIXED += TASK_FIXED


def register(subparsers):
    """Add `tfbert finetune` and its options to the subcommand parsers."""
    d = FINETUNE_DEFAULTS
    p = subcommand(
        subparsers, "finetune", run, "Fine-tune a pretrained BERT on a task",
        "Trains with AdamW (linear warmup over the first 10% of the steps, then linear decay), shows Keras "
        "progress bars with an ETA, evaluates on a validation split after each epoch, and writes the run "
        "directory: model.keras, metrics.json, TensorBoard logs (logs/), PNG plots (plots/) and "
        "checkpoints (checkpoints/) that --resume continues from, mid-epoch. The test split is kept for `tfbert evaluate`.",
        ["tfbert finetune --data rotten_tomatoes --output-dir runs/rt --epochs 2",
         "tfbert finetune --data glue/sst2 --preset bert_base_en_uncased -o runs/sst2 --steps 2000",
         "tfbert finetune --data reviews.csv --text-column review --label-column stars -o runs/reviews",
         "tfbert finetune --task ner --data train.txt --validation-data valid.txt --test-data test.txt -o runs/ner",
         "tfbert finetune --task qa --data train-v1.1.json --test-data dev-v1.1.json -o runs/squad --max-seq-len 384",
         "tfbert finetune -o runs/rt --resume --epochs 4"],
    )
    p.add_argument("--task", choices=tuple(TASKS), help=f"{TASK_HELP} (default: {d['task']})")
    add_option(p, "preset", help=with_default("preset", d["preset"]))
    add_option(p, "data", help=OPTIONS["data"][1]["help"] + " (required, except with --resume)")
    add_option(p, "output_dir")
    length = p.add_mutually_exclusive_group()
    add_option(length, "epochs", help=with_default("epochs", d["epochs"]))
    add_option(length, "steps")
    add_training_options(p, d)
    add_distribute_options(p)
    add_option(p, "max_examples", help=with_default("max_examples", "all"))
    p.add_argument("--text-column", metavar="NAME", help="CSV/TSV column of the text (default: text, sentence, ...)")
    p.add_argument("--text-pair-column", metavar="NAME", help="CSV/TSV column of the second text of a pair task")
    p.add_argument("--label-column", metavar="NAME", help="CSV/TSV column of the label (default: label, ...)")
    add_task_options(p)
    add_option(p, "overwrite", help=OPTIONS["overwrite"][1]["help"] + ": a previous run in the output "
                                    "directory (only a tfbert run is ever deleted)")
    add_option(p, "resume")


def run(args):
    """Run `tfbert finetune` with the parsed arguments; return the exit code."""
    from tfbert.cli.distributed import start_worker_run, worker_run

    with worker_run(args):  # the tf.distribute strategy first; a non-chief worker's private folder removed after
        run, settings, splits = start_worker_run(args, "finetune", FINETUNE_DEFAULTS, FINETUNE_FIXED,
                                                 check=lambda s: _check_settings(s, args.max_seq_len is not None))
        with run:  # holds the run's lock; a start that fails before its first checkpoint leaves nothing behind
            return _finetune(args, run, settings, splits)


def _finetune(args, run, settings, splits):
    import keras

    from tfbert.cli.distributed import static_shapes
    from tfbert.distribute import static_batches, tpu_compile_options
    from tfbert.training import fit_resumable

    keras.utils.set_random_seed(settings["seed"])
    apply_policy(run, settings)  # --policy auto resolved, printed, recorded in run.json
    task = TASKS[settings["task"]]
    train = task.sample(splits["train"], settings["max_examples"], settings["seed"])
    with args.distribute_strategy.scope():  # --batch-size is the global batch; the schedule counts global steps
        model = task.build(settings, train)
        if settings["dropout"] is not None:
            model.override_dropout(settings["dropout"])
        trainee = task.training_model(model)  # what fit trains; `model` is what is saved
    static = static_shapes(args, run, settings)  # a TPU: fixed batch and sequence sizes, an XLA step

    def batches(data, what, shuffle_seed=None):
        made = task.batches(data, model, settings["batch_size"], shuffle_seed=shuffle_seed)
        return static_batches(made, settings["batch_size"], settings["max_seq_len"], task.label_padding,
                              what=what) if static else made

    train_ds = batches(train, "the training data", shuffle_seed=settings["seed"])
    known = int(train_ds.cardinality())
    epochs, steps_per_epoch = training_length(run, settings, known if known > 0 else
                                              math.ceil(len(train) / settings["batch_size"]))
    total_steps = settings["steps"] or epochs * steps_per_epoch  # --steps N: exactly N, the schedule sized for N
    with args.distribute_strategy.scope():
        trainee.compile(learning_rate=settings["learning_rate"], num_train_steps=total_steps,
                        **(tpu_compile_options(steps_per_epoch, total_steps=total_steps) if static else {}))
    validation = splits["validation"]
    print(f"fine-tuning {settings['preset']} for {task.name} on {len(train)} {settings['data']} {task.unit} "
          f"({task.describe(train)}); {len(validation) if validation is not None else 'none'} for validation; "
          f"{epochs} epoch(s) of {steps_per_epoch} steps ({total_steps} in all), batch size {settings['batch_size']}")
    fit_resumable(
        trainee, train_ds.repeat(), epochs=epochs, steps_per_epoch=steps_per_epoch, checkpoint_dir=args.checkpoint_dir,
        restore_checkpoint=args.resume, save_every=CHECKPOINT_EVERY, callbacks=callbacks_for(run), verbose=progress_verbosity(),
        validation_data=None if validation is None else batches(validation, "the validation data"),
        total_steps=total_steps,
    )
    save_keras(model, run.file(MODEL_FILE))
    run.update_record(model=MODEL_FILE, finished=True)
    final = {k: v[-1] for k, v in run.read_metrics().get("history", {}).items() if v}
    run.update_metrics(final=final, train_examples=len(train), epochs=epochs, steps_per_epoch=steps_per_epoch)
    write_history_plot(run)
    summary = ", ".join(f"{k} {v:.4f}" for k, v in final.items())
    if args.distribute_strategy.num_replicas_in_sync > 1:  # equal on every worker: identical weights
        from tfbert.distribute import weights_digest

        print(f"weights digest {weights_digest(model)}")
    print(f"saved {run.file(MODEL_FILE)}; after epoch {run.read_metrics().get('epochs_done', 0)}: {summary}")
    return 0


def _check_settings(settings, explicit_length=True):
    """Load the data and find the preset before the run directory is written; return the splits."""
    from tfbert.checkpoints.presets import resolve_preset

    check_policy(settings)  # a policy this machine cannot run is refused before anything is written
    if settings["data"] is None:
        raise UsageError("finetune needs --data (see `tfbert finetune --help`)")
    if settings["max_seq_len"] < 3:  # [CLS], one token, [SEP]
        raise UsageError(f"--max-seq-len {settings['max_seq_len']} leaves no room for text: give at least 3 "
                         "([CLS], one token, [SEP]) (see `tfbert finetune --help`)")
    splits = TASKS[settings["task"]].splits(settings)
    if not len(splits["train"]):
        raise ValueError(f"{settings['data']} holds no training examples after the held-out splits; "
                         "give a data set with labelled rows.")
    resolve_preset(settings["preset"])  # fetches an offline preset once, or says how to get it
    _check_max_seq_len(settings, explicit_length)
    return splits


def _check_max_seq_len(settings, explicit=True):
    """--max-seq-len within the preset's max_position_embeddings, before anything is written.

    A length the user gave is refused when too long; the default is lowered to the
    model's limit, said on stderr and recorded in run.json (settings are stored after this check).
    """
    from tfbert.checkpoints.loaders import get_preset_loader
    from tfbert.checkpoints.loading import check_sequence_length

    config = get_preset_loader(settings["preset"]).config()
    if not explicit and settings["max_seq_len"] > config.max_position_embeddings:
        settings["max_seq_len"] = config.max_position_embeddings
        notice(f"--max-seq-len {settings['max_seq_len']}: the longest {settings['preset']} allows "
               "(its max_position_embeddings)")
        return
    try:
        check_sequence_length(settings["max_seq_len"], config, settings["preset"], option="--max-seq-len")
    except ValueError as e:
        raise UsageError(str(e)) from None
