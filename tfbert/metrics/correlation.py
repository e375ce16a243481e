"""Regression scores in numpy: Pearson and Spearman correlation, mean squared error (STS-B style).

Spearman's rho is Pearson's r of the ranks, tied values sharing their average
rank (as ``scipy.stats.spearmanr`` computes it). A constant input has no
defined correlation: the result is ``nan``, as in scipy.

Example:
>>> from tfbert.metrics.correlation import pearson, spearman, regression_scores
>>> round(pearson([1, 2, 3, 4], [2, 4, 6, 9]), 4), spearman([1, 2, 3, 4], [1, 4, 9, 16])
(0.9944, 1.0)
>>> spearman([1, 2, 2, 3], [1, 3, 2, 4])
0.9486832980505138
>>> regression_scores([0.0, 1.0], [0.0, 3.0])["mse"]
2.0
"""

import numpy as np


def _pair(predictions, targets):
    x = np.asarray(predictions, "float64").reshape(-1)
    y = np.asarray(targets, "float64").reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"got {x.size} predictions but {y.size} targets; they must pair up one to one.")
    return x, y


def pearson(predictions, targets):
    """Pearson's correlation coefficient r (float; nan when either side is constant or empty)."""
    x, y = _pair(predictions, targets)
    if x.size < 2:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else float("nan")


def average_ranks(values):
    """1-based ranks of ``values``; tied values share the mean of the ranks they span."""
    values = np.asarray(values, "float64").reshape(-1)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size, "float64")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])  # first index of each tie run
    ends = np.r_[starts[1:], values.size]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0  # mean of the ranks start+1 .. end
    return ranks


def spearman(predictions, targets):
    """Spearman's rank correlation rho (Pearson's r of the average ranks)."""
    x, y = _pair(predictions, targets)
    return pearson(average_ranks(x), average_ranks(y))


def regression_scores(predictions, targets):
    """``{"pearson", "spearman", "mse", "examples"}`` for predicted and true scores."""
    x, y = _pair(predictions, targets)
    return {"pearson": pearson(x, y), "spearman": spearman(x, y),
            "mse": float(np.mean((x - y) ** 2)) if x.size else float("nan"), "examples": int(x.size)}
