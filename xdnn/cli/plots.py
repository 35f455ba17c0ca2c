"""``xdnn train --plots``: the training history, the decision boundary and the confusion matrix as PNGs,
drawn in the data's own units; matplotlib is checked for before training starts."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from xdnn.cli.errors import InputError, reason
from xdnn.cli.output import print_line


class OnRawFeatures:
    """A trained network seen in the data's own units: ``predict`` standardises as training did."""

    def __init__(self, network: Any, metadata: dict[str, Any]) -> None:
        self.network = network
        self.mean = np.asarray(metadata.get("feature_mean", 0.0))
        self.std = np.asarray(metadata.get("feature_std", 1.0))

    def predict(self, X: Any) -> Any:
        """Class indices (a network that keeps its ``classes_`` answers with the labels: their positions
        in the sorted ``classes_``), or regression values."""
        answer = self.network.predict((np.asarray(X, dtype=np.float64) - self.mean) / self.std)
        classes = self.network.classes_
        return answer if classes is None else np.searchsorted(classes, answer)


def write_plots(
    folder: str, network: Any, history: Any, X: np.ndarray, y: np.ndarray, n_validation: int, task: str, saved: str
) -> None:
    """The ``--plots`` PNGs of a model already saved to ``saved``; a failure to write them is one line."""
    try:
        os.makedirs(folder, exist_ok=True)
        written = _draw_plots(folder, network, history, X, y, n_validation, task)
    except OSError as error:
        raise InputError(
            f"the model was saved to {saved}, but the plots could not be written to {folder}: {reason(error)}"
        ) from None
    print_line("plots written: " + ", ".join(written))


def _draw_plots(
    folder: str, network: Any, history: Any, X: np.ndarray, y: np.ndarray, n_validation: int, task: str
) -> list[str]:
    """Draw the history, the decision boundary (two features) and the confusion matrix of the validation
    rows ``X[:n_validation]`` (of every row without validation data); returns the files written."""
    from xdnn import plot

    written = [os.path.join(folder, "history.png")]
    plot.plot_history(history, path=written[0], title="training history")
    if task == "classification":
        if X.shape[1] == 2:
            written.append(os.path.join(folder, "decision_boundary.png"))
            plot.plot_decision_boundary(network, X, y, path=written[-1], title="decision boundary")
        rows = slice(0, n_validation) if n_validation else slice(None)
        subset = "validation set" if n_validation else "training set"
        written.append(os.path.join(folder, "confusion_matrix.png"))
        plot.plot_confusion_matrix(
            y[rows], network.predict(X[rows]), path=written[-1], title=f"confusion matrix ({subset})"
        )
    return written


def check_matplotlib() -> None:
    """Refuse ``--plots`` without matplotlib, saying how to install it."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise InputError(
            '--plots needs matplotlib; install it with: pip install "xdnn-array[examples]" (or drop --plots)'
        )
