"""``xdnn train``: read the data, choose the task and encode the target, split and standardise it,
fit a network, save it, and report (or refuse) a training that diverged."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Any

import numpy as np

from xdnn._backend import use_backend
from xdnn.cli.backends import backend_name
from xdnn.cli.data import (
    check_magnitudes,
    check_target_option,
    check_target_range,
    csv_header,
    is_csv,
    largest_magnitudes,
    load_data,
    too_large_to_standardise,
)
from xdnn.cli.errors import InputError, one_line, reason
from xdnn.cli.output import check_output_file, check_output_folder, print_line
from xdnn.cli.plots import OnRawFeatures, check_matplotlib, write_plots


def command_train(arguments: argparse.Namespace) -> int:
    """Train a network on ``--data`` and save it to ``--out``; returns the exit code."""
    import xdnn

    _check_train_outputs(arguments)  # everything that can be checked is checked before training starts
    backend = backend_name(arguments)
    X, y, feature_names = load_data(arguments.data, arguments.target)
    task = _choose_task(np.asarray(y), arguments.task)
    metadata: dict[str, Any] = {"feature_names": feature_names, "task": task, "data": arguments.data}
    if is_csv(arguments.data):  # the target column's name, so that evaluate can ask for it by name
        metadata["target"] = arguments.target or csv_header(arguments.data)[-1]
    y, outputs, output_activation = _encode_target(y, task, metadata)
    train, validation = split_rows(X.shape[0], arguments.val_split, arguments.seed)
    # One reordered copy, validation rows first: the validation and training sets are then views of it.
    order, n_validation = np.concatenate([validation, train]), len(validation)
    X, y = np.asarray(X[order], dtype=np.float64), y[order]
    shown = X.copy() if arguments.plots and arguments.standardize else X  # the plots show the data's own units
    _prepare_features(X, n_validation, feature_names, metadata, arguments)
    if task == "regression":
        check_target_range(y, metadata.get("target", "y"), arguments.dtype)
    with use_backend(backend) as active:
        network = xdnn.Network(
            [X.shape[1], *arguments.layers, outputs],
            activation=arguments.hidden,
            output_activation=output_activation,
            optimizer=arguments.optimizer,
            learning_rate=arguments.lr,
            l2=arguments.l2,
            dropout=arguments.dropout,
            dtype=arguments.dtype,
            seed=arguments.seed,
        )
        network.metadata = metadata
        start = time.perf_counter()
        history = _fit(network, X, y, n_validation, arguments)
        seconds = time.perf_counter() - start
        if not history.epoch:  # it diverged before any epoch could be kept: nothing worth saving
            raise InputError(
                f"training diverged at epoch {network.diverged_epoch} (the cost became inf or NaN) before any "
                f"epoch could be kept, so nothing was saved; try {_divergence_advice(arguments)}"
            )
        print_line(f"trained {network} for {len(history.epoch)} epochs in {seconds:.2f} s")
        print_line(f"backend: {active.name}, device: {active.device}")
        for name, values in history.items():
            if values:
                print_line(f"final {name}: {values[-1]:.4f}")
        if "classes" in metadata:  # kept by the network itself: predict answers with them, in Python too
            network.classes_ = np.asarray(metadata["classes"])
        _save_model(network, arguments.out)
        print_line(f"model saved to {arguments.out}")
        if network.diverged_epoch is not None:
            print(
                f"xdnn train: warning: training diverged at epoch {network.diverged_epoch} (the cost became inf or "
                f"NaN); the model saved is the one after {len(history.epoch)} epochs, the last checkpoint whose "
                f"cost was finite; try {_divergence_advice(arguments)}",
                file=sys.stderr,
            )
        if arguments.plots:
            model = OnRawFeatures(network, metadata)
            write_plots(arguments.plots, model, history, shown, y, n_validation, task, arguments.out)
    return 0


def _check_train_outputs(arguments: argparse.Namespace) -> None:
    """Refuse, before the data is read, a ``--target``, ``--out`` or ``--plots`` that cannot work."""
    check_target_option(arguments)
    check_output_file(arguments.out, "--out", "model.npz")
    if os.path.exists(arguments.out) and not os.path.isfile(arguments.out):
        raise InputError(f"--out {arguments.out} is not a regular file (a device, pipe or socket); choose a file name")
    if arguments.plots:
        check_output_folder(arguments.plots, "--plots")
        check_matplotlib()


def _choose_task(y: np.ndarray, requested: str) -> str:
    """``--task auto``: classification for text labels, and for whole-number labels (integers, or
    floats such as an ``.npz``'s 0./1., read as a CSV's are) with few distinct values; else regression."""
    if requested != "auto":
        return requested
    if y.dtype.kind in "USO":  # class names
        return "classification"
    if y.ndim != 1:  # several targets: regression (a classifier takes one label per sample)
        return "regression"
    integral = y.dtype.kind in "biu" or (y.dtype.kind == "f" and bool(np.all(y == np.round(y))))
    return "classification" if integral and len(np.unique(y)) <= max(20, int(0.05 * len(y))) else "regression"


def split_rows(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(training, validation)`` row indices of ``n`` samples, shuffled by ``seed``, ``fraction`` of them
    for validation."""
    order = np.random.default_rng(seed).permutation(n)
    n_validation = int(round(n * fraction))
    if fraction > 0 and (n_validation == 0 or n_validation >= n):
        raise InputError(f"--val-split {fraction} leaves no training or validation samples for {n} samples")
    return order[n_validation:], order[:n_validation]


def _encode_target(y: Any, task: str, metadata: dict[str, Any]) -> tuple[np.ndarray, int, str]:
    """``(y, output units, output activation)`` for ``task``: a classifier's labels become indices
    ``0..k-1`` of ``metadata["classes"]`` (one sigmoid unit for two classes, else softmax)."""
    if task == "regression":
        if np.asarray(y).dtype.kind in "USO":
            raise InputError(
                f"the target {metadata.get('target', 'y')!r} holds text labels, which --task regression cannot "
                "fit: use --task classification (or auto)"
            )
        y = np.asarray(y, dtype=np.float64)
        return y, 1 if y.ndim == 1 else y.shape[1], "identity"
    classes, y = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise InputError(
            f"the target has a single class ({classes.tolist()[0]!r}); a classifier needs at least two "
            "(or use --task regression)"
        )
    metadata["classes"] = classes.tolist()
    outputs = 1 if len(classes) == 2 else len(classes)
    return y.reshape(-1), outputs, "sigmoid" if outputs == 1 else "softmax"


def _prepare_features(
    X: np.ndarray, n_validation: int, names: list[str], metadata: dict[str, Any], arguments: argparse.Namespace
) -> None:
    """Standardise ``X`` in place (unless ``--no-standardize``) with the statistics of its training rows
    ``X[n_validation:]``, recorded in ``metadata`` for ``predict``; refuse a column too large for ``--dtype``."""
    raw = largest_magnitudes(X)
    scaled = None
    if arguments.standardize:
        mean, std = _standardize_in_place(X, n_validation, names, raw)
        metadata["feature_mean"], metadata["feature_std"] = mean.tolist(), std.tolist()
        scaled = largest_magnitudes(X)
    hint = "rescale it" if arguments.dtype == "float64" else "use --dtype float64 or rescale it"
    check_magnitudes(raw, scaled, names, arguments.dtype, hint)


def _standardize_in_place(
    X: np.ndarray, n_validation: int, names: list[str], raw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``X <- (X - mean) / std`` in place, with the mean and (population) standard deviation of the training
    rows ``X[n_validation:]`` so that the validation rows stay unseen; a constant column keeps std 1.

    ``X (n_samples, n_features)`` float64; returns ``(mean, std)``, each ``(n_features,)``.  The sum of
    squares is einsum's, which makes no temporary copy of ``X``.  A column whose mean or standard
    deviation overflows float64 (``raw``: each column's largest magnitude) is refused by name.
    """
    training = X[n_validation:]
    with np.errstate(over="ignore", invalid="ignore"):
        mean = training.mean(axis=0)
        X -= mean
        std = np.sqrt(np.einsum("ij,ij->j", training, training) / training.shape[0])
        std[std == 0] = 1.0
        X /= std
    for column in np.flatnonzero(~np.isfinite(mean) | ~np.isfinite(std)):
        raise too_large_to_standardise(names[column], raw[column])
    return mean, std


def _fit(network: Any, X: np.ndarray, y: np.ndarray, n_validation: int, arguments: argparse.Namespace) -> Any:
    """``network.fit`` on the rows ``X[n_validation:]``, validated on ``X[:n_validation]``; returns the history.

    Python warnings are caught rather than printed over several lines: a ``DivergenceWarning`` is
    reported by the caller from ``network.diverged_epoch``, NumPy's overflow warnings of a diverging
    fit are noise, and any other warning is printed as one line.
    """
    validation_data = (X[:n_validation], y[:n_validation]) if n_validation else None
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        history = network.fit(
            X[n_validation:],
            y[n_validation:],
            epochs=arguments.epochs,
            batch_size=arguments.batch_size,
            validation_data=validation_data,
            verbose=not arguments.quiet,
        )
    for warning in caught:
        if not issubclass(warning.category, RuntimeWarning):  # (a DivergenceWarning is a RuntimeWarning)
            print(f"xdnn train: warning: {one_line(str(warning.message))}", file=sys.stderr)
    return history


def _divergence_advice(arguments: argparse.Namespace) -> str:
    """What to change after training diverged, from the options that were given."""
    advice = [f"a smaller --lr (it is {arguments.lr:g})"]
    if not arguments.standardize:
        advice.append("standardised features (drop --no-standardize)")
    if arguments.hidden not in ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu"):  # e.g. exp
        advice.append(f"another --hidden activation such as tanh (it is {arguments.hidden})")
    return ", ".join(advice[:-1]) + " or " + advice[-1] if len(advice) > 1 else advice[0]


def _save_model(network: Any, path: str) -> None:
    """``network.save(path)``; a failure (disk full, folder gone, nothing storable) is one line."""
    try:
        network.save(path)
    except (OSError, ValueError, TypeError) as error:
        problem = reason(error) if isinstance(error, OSError) else str(error)
        raise InputError(f"cannot save the model to {path}: {problem}") from None
