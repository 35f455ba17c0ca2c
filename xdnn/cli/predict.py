"""``xdnn predict`` and ``xdnn evaluate``: a saved model applied to ``--data``; predictions are made
and written ``PREDICTION_ROWS`` rows at a time, so that a large file's activations stay small."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from xdnn.cli.backends import backend_name
from xdnn.cli.data import check_target_option
from xdnn.cli.errors import InputError
from xdnn.cli.model_files import load_model
from xdnn.cli.model_inputs import model_inputs
from xdnn.cli.output import check_output_file, print_line, write_predictions

PREDICTION_ROWS = 65_536  # rows per network.predict call and per CSV write: a large file's activations stay small


def command_predict(arguments: argparse.Namespace) -> int:
    """Write the saved model's predictions for ``--data`` as CSV (to ``--out`` or standard output)."""
    check_target_option(arguments)
    if arguments.out:
        check_output_file(arguments.out, "--out", "predictions.csv")
    network = load_model(arguments.model, backend_name(arguments))
    X, _ = model_inputs(network, arguments, require_target=False)
    predictions = _predict_in_chunks(network, X)
    classes = network.metadata.get("classes")
    if classes is not None and network.classes_ is None:  # an older file: the labels from its metadata
        predictions = np.asarray(classes, dtype=object)[predictions.astype(np.int64)]
    write_predictions(predictions.reshape(len(predictions), -1), arguments.out, chunk_rows=PREDICTION_ROWS)
    return 0


def _predict_in_chunks(network: Any, X: np.ndarray) -> np.ndarray:
    """``network.predict(X)`` on the host, ``PREDICTION_ROWS`` rows at a time, so that the activations of
    a large file never all live at once."""
    from xdnn._namespace import to_numpy

    rows = range(0, X.shape[0], PREDICTION_ROWS)
    return np.concatenate([to_numpy(network.predict(X[start : start + PREDICTION_ROWS])) for start in rows])


def command_evaluate(arguments: argparse.Namespace) -> int:
    """Print the saved model's metrics on labelled ``--data``, one ``name: value`` line each.

    Unlike ``predict``, the whole file goes through ``network.evaluate`` at once (not in chunks).
    """
    check_target_option(arguments)
    network = load_model(arguments.model, backend_name(arguments))
    X, y = model_inputs(network, arguments, require_target=True)
    if y is None:
        raise InputError(f"{arguments.data} has no target column to evaluate against (use --target)")
    try:
        results = network.evaluate(X, y)
    except (ValueError, TypeError) as error:
        raise InputError(str(error)) from None
    for name, value in results.items():
        print_line(f"{name}: {value:.4f}")
    return 0
