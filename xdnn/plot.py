"""Figures for training runs (needs matplotlib: ``pip install "xdnn-array[examples]"``).

Each function takes arrays from any backend (they are brought home with
:func:`xdnn.to_numpy`), returns a ``matplotlib.figure.Figure`` built without
pyplot (so no GUI backend is needed), and with ``path=`` saves a PNG of
``size`` inches at ``dpi`` dots per inch (default 640 x 480 pixels).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from xdnn._namespace import to_numpy

DEFAULT_SIZE = (6.4, 4.8)
DEFAULT_DPI = 100


def _figure(size: tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('plots need matplotlib; install it with: pip install "xdnn-array[examples]"') from None
    return Figure(figsize=size)


def _finish(figure: Any, path: str | os.PathLike | None, dpi: int) -> Any:
    figure.tight_layout()
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        figure.savefig(path, dpi=dpi, format="png")
    return figure


def plot_history(
    history: Mapping[str, Sequence[float]],
    *,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    size: tuple[float, float] = DEFAULT_SIZE,
    dpi: int = DEFAULT_DPI,
) -> Any:
    """Cost and metric curves per epoch: one panel per metric, training and ``val_`` curves together.

    ``history`` is a :class:`xdnn.History` (or any ``{"loss": [...], "val_loss": [...]}``),
    or a plain list of costs (the tutorial's ``costs``).
    """
    if not isinstance(history, Mapping):
        history = {"loss": list(history)}
    metrics = [name for name in history if not name.startswith("val_")]
    if not metrics:
        raise ValueError("history has no metrics to plot")
    figure = _figure(size)
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axis, name in zip(axes, metrics, strict=False):
        values = [float(v) for v in history[name]]
        axis.plot(range(len(values)), values, label=f"train {name}")
        if f"val_{name}" in history:
            validation = [float(v) for v in history[f"val_{name}"]]
            axis.plot(range(len(validation)), validation, label=f"validation {name}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    return _finish(figure, path, dpi)


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    *,
    path: str | os.PathLike | None = None,
    resolution: int = 200,
    title: str | None = None,
    size: tuple[float, float] = DEFAULT_SIZE,
    dpi: int = DEFAULT_DPI,
) -> Any:
    """Decision regions of a 2-feature classifier over its data, as in the tutorials' figures.

    ``model`` is anything with ``predict(X (n, 2)) -> labels`` (an :class:`xdnn.Network`,
    an estimator) or a function doing that.  ``X (n_samples, 2)``, ``y (n_samples,)``.
    """
    X_host = np.asarray(to_numpy(X), dtype=np.float64)
    y_host = np.asarray(to_numpy(y)).reshape(-1)
    if X_host.ndim != 2 or X_host.shape[1] != 2:
        raise ValueError(f"a decision boundary needs X of shape (n_samples, 2), got {X_host.shape}")
    predict: Callable[[np.ndarray], Any] = model.predict if hasattr(model, "predict") else model
    margin_x = (X_host[:, 0].max() - X_host[:, 0].min()) * 0.1 + 1e-9
    margin_y = (X_host[:, 1].max() - X_host[:, 1].min()) * 0.1 + 1e-9
    grid_x, grid_y = np.meshgrid(
        np.linspace(X_host[:, 0].min() - margin_x, X_host[:, 0].max() + margin_x, resolution),
        np.linspace(X_host[:, 1].min() - margin_y, X_host[:, 1].max() + margin_y, resolution),
    )
    grid = np.c_[grid_x.ravel(), grid_y.ravel()]
    regions = np.asarray(to_numpy(predict(grid))).reshape(grid_x.shape).astype(np.float64)
    figure = _figure(size)
    axis = figure.subplots()
    axis.contourf(grid_x, grid_y, regions, cmap="Spectral", alpha=0.6)
    axis.scatter(X_host[:, 0], X_host[:, 1], c=y_host, cmap="Spectral", s=14, edgecolors="k", linewidths=0.3)
    axis.set_xlabel("x1")
    axis.set_ylabel("x2")
    if title:
        axis.set_title(title)
    return _finish(figure, path, dpi)


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> tuple[np.ndarray, list]:
    """Counts ``C[i, j]`` of samples with true label ``labels[i]`` predicted as ``labels[j]``."""
    truth = np.asarray(to_numpy(y_true)).reshape(-1)
    predicted = np.asarray(to_numpy(y_pred)).reshape(-1)
    if truth.shape != predicted.shape:
        raise ValueError(f"y_true and y_pred differ in length: {truth.shape[0]} and {predicted.shape[0]}")
    labels = list(np.unique(np.r_[truth, predicted])) if labels is None else list(labels)
    index = {label: position for position, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for true_label, predicted_label in zip(truth, predicted, strict=True):
        counts[index[true_label], index[predicted_label]] += 1
    return counts, labels


def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[Any] | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    size: tuple[float, float] = DEFAULT_SIZE,
    dpi: int = DEFAULT_DPI,
) -> Any:
    """A confusion-matrix heat map with the count in every cell."""
    counts, labels = confusion_matrix(y_true, y_pred, labels)
    figure = _figure(size)
    axis = figure.subplots()
    image = axis.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axis)
    ticks = range(len(labels))
    axis.set_xticks(list(ticks), [str(label) for label in labels])
    axis.set_yticks(list(ticks), [str(label) for label in labels])
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    threshold = counts.max() / 2.0 if counts.size else 0
    for i in ticks:
        for j in ticks:
            axis.text(
                j,
                i,
                str(counts[i, j]),
                ha="center",
                va="center",
                color="white" if counts[i, j] > threshold else "black",
            )
    if title:
        axis.set_title(title)
    return _finish(figure, path, dpi)
