"""PNG figures of a run: training curves and a classifier's confusion matrix.

matplotlib is optional (``pip install "tfbert[plots]"``); ``plots_available()``
says whether it is installed, and the plotting functions raise ``ImportError``
with that advice when it is not. ``confusion_matrix`` itself needs only numpy.

Example:
>>> import os, tempfile
>>> from tfbert.plots import confusion_matrix, plot_confusion_matrix, plot_history, plots_available
>>> confusion_matrix([0, 1, 1, 1], [0, 1, 0, 1], num_classes=2).tolist()
[[1, 0], [1, 2]]
>>> out = tempfile.mkdtemp()
>>> if plots_available():
...     _ = plot_history({"loss": [0.9, 0.5], "val_loss": [0.8, 0.6]}, os.path.join(out, "curves.png"))
...     _ = plot_confusion_matrix([[1, 0], [1, 2]], ["neg", "pos"], os.path.join(out, "cm.png"))
>>> sorted(os.listdir(out)) == (["cm.png", "curves.png"] if plots_available() else [])
True
"""

import importlib.util
import io

import numpy as np

from tfbert.fileio import atomic_file

INSTALL_HINT = 'install matplotlib (pip install "tfbert[plots]") to get PNG plots'


def plots_available():
    """True if matplotlib is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot():
    if not plots_available():
        raise ImportError(f"matplotlib is not installed; {INSTALL_HINT}.")
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix(labels, predictions, num_classes):
    """Counts ``[true class, predicted class]`` as an int64 array [num_classes, num_classes]."""
    labels = np.asarray(labels, dtype="int64").reshape(-1)
    predictions = np.asarray(predictions, dtype="int64").reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions differ in length: {labels.shape[0]} vs {predictions.shape[0]}.")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got values {values.min()}..{values.max()}.")
    counts = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _save(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    with atomic_file(path, "wb") as f:
        f.write(buffer.getvalue())
    return path


def plot_history(history, path, title="Training curves"):
    """One panel per metric (``loss``, ``accuracy``, ...), train and ``val_`` curves by epoch."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    names = [k for k in history if not k.startswith("val_") and k not in ("learning_rate", "lr")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    if not names:
        raise ValueError("history holds no metric to plot.")
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in history and len(history[key]):
                values = history[key]
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_confusion_matrix(matrix, class_names, path, title="Confusion matrix"):
    """A heat map of ``matrix`` [true, predicted] with counts written in the cells."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    if matrix.shape != (len(class_names), len(class_names)):
        raise ValueError(f"matrix shape {matrix.shape} does not match {len(class_names)} class names.")
    size = 1.6 + 0.7 * len(class_names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in ticks:
        for j in ticks:
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > threshold else "black")
    ax.set_title(title)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
