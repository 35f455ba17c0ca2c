"""Command line: ``xdnn train | predict | evaluate | info | demo`` (also ``python -m xdnn``).

Exit codes: 0 success; 2 usage or input error (one line on stderr, no traceback);
1 unexpected failure.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import reprlib
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from typing import Any, NoReturn

import numpy as np

from xdnn._backend import BACKEND_NAMES, INSTALL_HINTS, BackendError, get_backend, resolve_backend, use_backend

BUILTIN_DATA = ("planar", "moons", "circles", "digits", "breast-cancer")


class InputError(Exception):
    """A problem with what the user asked for: reported in one line with exit code 2."""


# --- data ---------------------------------------------------------------------------------------


LOADERS = {
    "planar": "planar_host",
    "moons": "moons_host",
    "circles": "circles_host",
    "digits": "digits_host",
    "breast-cancer": "breast_cancer_host",
    "breast_cancer": "breast_cancer_host",
}


def _is_csv(spec: str) -> bool:
    """Whether ``--data spec`` names a CSV file (anything that is neither a built-in set nor an ``.npz``)."""
    return spec not in LOADERS and not spec.endswith(".npz")


def _check_target_option(arguments: argparse.Namespace) -> None:
    """``--target`` names a CSV column: refuse it for a built-in set or an ``.npz`` instead of ignoring it."""
    if arguments.target is not None and not _is_csv(arguments.data):
        kind = (
            "an .npz file (its target is the array 'y')" if arguments.data.endswith(".npz") else "a built-in data set"
        )
        raise InputError(f"--target applies to CSV files only, and {arguments.data} is {kind}; drop --target")


def _csv_header(path: str) -> list[str]:
    from xdnn import datasets

    try:
        return datasets.read_csv_header(path)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None


def load_data(
    spec: str, target: str | None, *, require_target: bool = True, verb: str = "training"
) -> tuple[np.ndarray, Any, list[str]]:
    """``(X, y, feature_names)`` on the host from a built-in name, a ``.csv`` or an ``.npz`` (``X``, ``y``);
    ``verb`` (training, evaluating, predicting) goes into the message about NaN or infinite values."""
    from xdnn import datasets

    if target is not None and not _is_csv(spec):
        raise InputError(f"a target column applies to CSV files only, not to {spec}")
    if spec in LOADERS:
        X, y = getattr(datasets, LOADERS[spec])()
        return X, y, [f"x{i + 1}" for i in range(X.shape[1])]
    if spec.endswith(".npz"):
        X, y = _read_npz(spec)
        if y is None and require_target:
            raise InputError(f"{spec} has no array named 'y' (the targets)")
        if X.ndim != 2 or 0 in X.shape:
            raise InputError(f"{spec}: X must be 2-D (n_samples, n_features) and not empty, got shape {X.shape}")
        if y is not None and (y.ndim not in (1, 2) or y.shape[0] != X.shape[0]):
            raise InputError(
                f"{spec}: y must be 1-D or 2-D with one row per sample of X; X has shape {X.shape}, y {y.shape}"
            )
        _check_finite_data(X, y, spec, verb)
        return X, y, [f"x{i + 1}" for i in range(X.shape[1])]
    if spec.endswith(".csv") or os.path.isfile(spec):
        try:
            X, y, names = datasets.load_csv_host(spec, target, require_target=require_target)
        except (FileNotFoundError, ValueError) as error:
            raise InputError(str(error)) from None
        _check_finite_data(X, y, spec, verb)
        return X, y, names
    raise InputError(f"unknown data {spec!r}: use one of {', '.join(BUILTIN_DATA)}, a .csv or an .npz file")


def _read_npz(spec: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, y)`` of an ``.npz`` archive, ``X`` as float64 and ``y`` None when it has none; only a zip
    archive is opened (not a bare ``.npy`` or a pickle renamed), and never unpickled."""
    from xdnn.serialization import ZIP_SIGNATURES

    if not os.path.exists(spec):
        raise InputError(f"data file not found: {spec}")
    if not os.path.isfile(spec):
        raise InputError(f"{spec} is not a file (a folder?); give an .npz archive")
    try:
        with open(spec, "rb") as stream:
            if stream.read(4) not in ZIP_SIGNATURES:
                raise InputError(f"{spec} is not an .npz archive (a zip of NumPy arrays named X and y)")
        with np.load(spec, allow_pickle=False) as archive:
            if "X" not in archive.files:
                raise InputError(f"{spec} must hold an array named 'X' (and 'y' for training)")
            X = np.asarray(archive["X"], dtype=np.float64)
            y = archive["y"] if "y" in archive.files else None
    except (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise InputError(f"cannot read {spec}: {error}") from None
    return X, y


def _check_finite_data(X: np.ndarray, y: Any, spec: str, verb: str = "training") -> None:
    """Refuse NaN or infinite features or targets, naming the file and which it was."""
    for values, what in ((X, "feature"), (y, "target")):
        if values is None or not np.issubdtype(np.asarray(values).dtype, np.floating):
            continue
        values = np.asarray(values)
        if not np.all(np.isfinite(values)):
            bad = "NaN" if np.isnan(values).any() else "infinite"
            raise InputError(f"{spec} contains {bad} {what} values; remove or impute them before {verb}")


def _csv_model_inputs(
    network: Any, path: str, target: str | None, *, require_target: bool
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """``(X, y, feature_names)`` of a CSV for a saved model: feature columns chosen by name when the model
    was trained on a CSV (so their order may differ and extra columns are ignored), else by position
    (every column but the target, which must then leave exactly the model's feature count)."""
    from xdnn import datasets

    try:
        values, _, header = datasets.load_csv_host(path, None, require_target=False)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    metadata = network.metadata
    n_features = network.n_features
    expected = [str(name) for name in metadata.get("feature_names") or []]
    if target is not None and target not in header:
        raise InputError(f"{path}: no column named {target!r}; columns are: {', '.join(header)}")
    if target is None and metadata.get("target") in header:
        target = metadata["target"]
    trained_on_named_columns = _is_csv(str(metadata.get("data", ""))) and len(expected) == n_features
    if not trained_on_named_columns and len(expected) == n_features and all(name in header for name in expected):
        trained_on_named_columns = True  # e.g. x1, x2 of a built-in set, written out with its names
    elif not trained_on_named_columns and target is None and len(header) == n_features + 1:
        target = header[-1]  # as `xdnn train` reads a CSV: the last column is the target
        print(f"xdnn: note: column {target!r} of {path} taken as the target (the last column)", file=sys.stderr)
    if trained_on_named_columns:
        missing = [name for name in expected if name not in header]
        if missing:
            raise InputError(
                f"{path} lacks the feature column(s) {', '.join(missing)} the model was trained on "
                f"(it expects {', '.join(expected)}; the file has {', '.join(header)})"
            )
        columns = [header.index(name) for name in expected]
        others = [name for name in header if name not in expected]
        if target is None and len(others) == 1:
            target = others[0]  # the one column that is not a feature: the target, as `train` reads it
    else:
        columns = [position for position, name in enumerate(header) if name != target]
        if len(columns) != n_features:
            hint = "; name the target column with --target" if len(columns) == n_features + 1 else ""
            raise InputError(
                f"the model expects {n_features} features ({', '.join(expected)}) but {path} has "
                f"{len(columns)} feature columns ({', '.join(header[c] for c in columns)}){hint}"
            )
    if require_target and target is None:
        known = metadata.get("target")
        missing = f"target column {known!r}" if known else "target column"
        raise InputError(
            f"{path} has no {missing} to evaluate against; its columns are: {', '.join(header)} "
            f"(the model takes {n_features} features); add the target column or name it with --target"
        )
    X = _columns(values, columns)
    y = None if target is None else values[:, header.index(target)]
    _check_finite_data(X, y, path, "evaluating" if require_target else "predicting")
    if y is not None and datasets.holds_integers(y):
        y = y.astype(np.int64)
    return X, y, [header[column] for column in columns]


def _columns(values: np.ndarray, columns: list[int]) -> np.ndarray:
    """``values[:, columns]``: a view, not a copy of a large file's numbers, when the columns are adjacent
    and in order."""
    start, stop = columns[0], columns[0] + len(columns)
    return values[:, start:stop] if columns == list(range(start, stop)) else values[:, columns]


def _task(y: np.ndarray, requested: str) -> str:
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


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_validation = int(round(n * fraction))
    if fraction > 0 and (n_validation == 0 or n_validation >= n):
        raise InputError(f"--val-split {fraction} leaves no training or validation samples for {n} samples")
    return order[n_validation:], order[:n_validation]


# --- commands -----------------------------------------------------------------------------------


def _check_output_file(path: str, option: str, example: str) -> None:
    """Refuse, before any work is done, an output file that cannot be written."""
    if os.path.isdir(path):
        raise InputError(f"{option} {path} is a folder; give a file name, e.g. {os.path.join(path, example)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        problem = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise InputError(f"{option} {path}: the folder {folder} {problem}; create it first or choose another path")
    _check_writable(folder, path, option)


def _check_output_folder(path: str, option: str) -> None:
    """Refuse, before any work is done, an output folder that cannot be created or written in."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError(f"{option} {path} is an existing file, but {option} takes a folder (created if missing)")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise InputError(f"{option} {path}: {existing} is a file, not a folder; choose another path")
    _check_writable(existing, path, option)


def _check_writable(folder: str, path: str, option: str) -> None:
    try:  # a real probe: permission bits do not tell (root, read-only or virtual file systems such as /proc)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(f"{option} {path}: cannot write in {folder} ({_reason(error)}); choose another path") from None


def _reason(error: OSError) -> str:
    """An ``OSError`` without its ``[Errno N]`` prefix and file name (the caller names the path)."""
    return error.strerror.lower() if error.strerror else str(error)


def _backend_name(arguments: argparse.Namespace) -> str:
    """``--backend``, else xdnn's process default (``XDNN_BACKEND``, else ``auto``), resolved."""
    if arguments.backend is not None:
        return arguments.backend
    try:
        return get_backend()
    except ValueError as error:  # an invalid XDNN_BACKEND
        raise InputError(f"{error} (or pass --backend)") from None


def _check_train_outputs(arguments: argparse.Namespace) -> None:
    """Refuse, before the data is read, a ``--target``, ``--out`` or ``--plots`` that cannot work."""
    _check_target_option(arguments)
    _check_output_file(arguments.out, "--out", "model.npz")
    if os.path.exists(arguments.out) and not os.path.isfile(arguments.out):
        raise InputError(f"--out {arguments.out} is not a regular file (a device, pipe or socket); choose a file name")
    if arguments.plots:
        _check_output_folder(arguments.plots, "--plots")
        _check_matplotlib()


def command_train(arguments: argparse.Namespace) -> int:
    import xdnn

    _check_train_outputs(arguments)  # everything that can be checked is checked before training starts
    backend_name = _backend_name(arguments)
    X, y, feature_names = load_data(arguments.data, arguments.target)
    task = _task(np.asarray(y), arguments.task)
    metadata: dict[str, Any] = {"feature_names": feature_names, "task": task, "data": arguments.data}
    if _is_csv(arguments.data):  # the target column's name, so that evaluate can ask for it by name
        metadata["target"] = arguments.target or _csv_header(arguments.data)[-1]
    y, outputs, output_activation = _encode_target(y, task, metadata)
    train, validation = _split(X.shape[0], arguments.val_split, arguments.seed)
    # One reordered copy, validation rows first: the validation and training sets are then views of it.
    order, n_validation = np.concatenate([validation, train]), len(validation)
    X, y = np.asarray(X[order], dtype=np.float64), y[order]
    shown = X.copy() if arguments.plots and arguments.standardize else X  # the plots show the data's own units
    _prepare_features(X, n_validation, feature_names, metadata, arguments)
    if task == "regression":
        _check_target_range(y, metadata.get("target", "y"), arguments.dtype)
    with use_backend(backend_name) as backend:
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
        _print(f"trained {network} for {len(history.epoch)} epochs in {seconds:.2f} s")
        _print(f"backend: {backend.name}, device: {backend.device}")
        for name, values in history.items():
            if values:
                _print(f"final {name}: {values[-1]:.4f}")
        _save_model(network, arguments.out)
        _print(f"model saved to {arguments.out}")
        if network.diverged_epoch is not None:
            print(
                f"xdnn train: warning: training diverged at epoch {network.diverged_epoch} (the cost became inf or "
                f"NaN); the model saved is the one after {len(history.epoch)} epochs, the last checkpoint whose "
                f"cost was finite; try {_divergence_advice(arguments)}",
                file=sys.stderr,
            )
        if arguments.plots:
            model = _OnRawFeatures(network, metadata)
            _write_plots(arguments.plots, model, history, shown, y, n_validation, task, arguments.out)
    return 0


def _encode_target(y: Any, task: str, metadata: dict[str, Any]) -> tuple[np.ndarray, int, str]:
    """``(y, output units, output activation)`` for ``task``: a classifier's labels become indices
    ``0..k-1`` of ``metadata["classes"]`` (one sigmoid unit for two classes, else softmax)."""
    if task == "regression":
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
    raw = _largest_magnitudes(X)
    scaled = None
    if arguments.standardize:
        mean, std = _standardize_in_place(X, n_validation, names, raw)
        metadata["feature_mean"], metadata["feature_std"] = mean.tolist(), std.tolist()
        scaled = _largest_magnitudes(X)
    hint = "rescale it" if arguments.dtype == "float64" else "use --dtype float64 or rescale it"
    _check_magnitudes(raw, scaled, names, arguments.dtype, hint)


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
        raise _too_large_to_standardise(names[column], raw[column])
    return mean, std


def _largest_magnitudes(X: np.ndarray) -> np.ndarray:
    """Each column's largest ``|x|``, shape ``(n_features,)`` (NaN where a column holds NaN), without
    a temporary ``|X|`` as large as ``X``."""
    with np.errstate(invalid="ignore"):
        return np.maximum(X.max(axis=0), -X.min(axis=0))


def _check_magnitudes(raw: np.ndarray, scaled: np.ndarray | None, names: list[str], dtype: str, hint: str) -> None:
    """Refuse, by name, a column that overflows when standardised (``scaled`` not finite) or that holds
    values beyond the network's ``dtype`` (``scaled``, or ``raw`` when not standardised); ``raw`` and
    ``scaled`` are each column's largest magnitude before and after standardising."""
    limit = float(np.finfo(dtype).max)
    reached = raw if scaled is None else scaled
    for column in np.flatnonzero(~(reached <= limit)):  # beyond the range, inf or NaN
        if not np.isfinite(reached[column]):
            raise _too_large_to_standardise(names[column], raw[column])
        once = "" if scaled is None else f" ({reached[column]:.3g} once standardised)"
        raise InputError(
            f"column {names[column]!r} holds values up to {raw[column]:.3g} in magnitude{once}, "
            f"beyond {dtype}'s range ({limit:.2g}); {hint}"
        )


def _too_large_to_standardise(name: str, largest: float) -> InputError:
    return InputError(
        f"column {name!r} holds values up to {largest:.3g} in magnitude, too large to standardise in float64; "
        "rescale it (e.g. divide it by a power of ten)"
    )


def _check_target_range(y: np.ndarray, name: str, dtype: str) -> None:
    """Refuse regression targets beyond the network's ``dtype`` (they would become inf in training)."""
    largest, limit = float(np.max(np.abs(y))), float(np.finfo(dtype).max)
    if largest > limit:
        hint = "rescale it" if dtype == "float64" else "use --dtype float64 or rescale it"
        raise InputError(
            f"the target {name!r} holds values up to {largest:.3g} in magnitude, beyond {dtype}'s range "
            f"({limit:.2g}); {hint}"
        )


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
            print(f"xdnn train: warning: {_one_line(str(warning.message))}", file=sys.stderr)
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
        reason = _reason(error) if isinstance(error, OSError) else str(error)
        raise InputError(f"cannot save the model to {path}: {reason}") from None


class _OnRawFeatures:
    """A trained network seen in the data's own units: ``predict`` standardises as training did."""

    def __init__(self, network: Any, metadata: dict[str, Any]) -> None:
        self.network = network
        self.mean = np.asarray(metadata.get("feature_mean", 0.0))
        self.std = np.asarray(metadata.get("feature_std", 1.0))

    def predict(self, X: Any) -> Any:
        return self.network.predict((np.asarray(X, dtype=np.float64) - self.mean) / self.std)


def _write_plots(
    folder: str, network: Any, history: Any, X: np.ndarray, y: np.ndarray, n_validation: int, task: str, saved: str
) -> None:
    """The ``--plots`` PNGs of a model already saved to ``saved``; a failure to write them is one line."""
    try:
        os.makedirs(folder, exist_ok=True)
        written = _draw_plots(folder, network, history, X, y, n_validation, task)
    except OSError as error:
        raise InputError(
            f"the model was saved to {saved}, but the plots could not be written to {folder}: {_reason(error)}"
        ) from None
    _print("plots written: " + ", ".join(written))


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


def _check_matplotlib() -> None:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise InputError('--plots needs matplotlib; install it with: pip install "xdnn[examples]" (or drop --plots)')


# --- saved models: loading, inputs, predictions --------------------------------------------------

PREDICTION_ROWS = 65_536  # rows per network.predict call and per CSV write: a large file's activations stay small


def _load_model(path: str, backend: str) -> Any:
    """The network saved at ``path``, on ``backend``, its metadata checked; any failure to load is one line."""
    from xdnn.serialization import ModelFileError, load_network

    try:
        network = load_network(path, backend=backend)
    except (FileNotFoundError, ModelFileError) as error:
        raise InputError(str(error)) from None
    except BackendError:
        raise
    except Exception as error:  # defensively: whatever a corrupt file trips over is one line, not a traceback
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise InputError(f"cannot load model {path}: {detail}") from None
    problem = _metadata_problem(network)
    if problem:
        raise InputError(f"cannot use model {path}: its metadata does not fit its network: {problem}")
    return network


def _metadata_problem(network: Any) -> str | None:
    """What in a loaded model's metadata (written by ``xdnn train``, or edited) contradicts its network,
    or None: feature names, standardisation statistics and classes must fit its inputs and outputs."""
    metadata, n_features = network.metadata, network.n_features
    names = metadata.get("feature_names")
    if names is not None and not (
        isinstance(names, list) and len(names) == n_features and all(isinstance(name, str) for name in names)
    ):
        return f"'feature_names' is {reprlib.repr(names)}, not a list of {n_features} column names"
    target = metadata.get("target")
    if target is not None and not isinstance(target, str):
        return f"'target' is {reprlib.repr(target)}, not a column name"
    return _statistics_problem(metadata, n_features) or _classes_problem(metadata, network)


def _statistics_problem(metadata: dict[str, Any], n_features: int) -> str | None:
    """What is wrong with ``feature_mean`` and ``feature_std`` (both or neither; one finite number per
    feature; standard deviations positive), or None."""
    keys = [key for key in ("feature_mean", "feature_std") if key in metadata]
    if len(keys) == 1:
        return f"it has {keys[0]!r} but not the other of 'feature_mean' and 'feature_std'"
    for key in keys:
        values = metadata[key]
        if not (isinstance(values, list) and len(values) == n_features and all(map(_is_finite_number, values))):
            return f"{key!r} is {reprlib.repr(values)}, not a list of {n_features} finite numbers (one per feature)"
    if keys and not all(value > 0 for value in metadata["feature_std"]):
        return "'feature_std' holds a standard deviation that is not positive"
    return None


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _classes_problem(metadata: dict[str, Any], network: Any) -> str | None:
    """What is wrong with ``classes`` (one distinct label per class the network's output tells apart:
    two for a sigmoid unit, one per softmax unit; none for a regression), or None."""
    if "classes" not in metadata:
        return None
    classes, loss = metadata["classes"], network.loss.name
    expected = {"binary_crossentropy": 2, "categorical_crossentropy": network.output_units}.get(loss)
    if expected is None:
        return f"it lists classes, but the network is not a classifier (its loss is {loss})"
    if not (isinstance(classes, list) and len(classes) == expected):
        return f"'classes' is {reprlib.repr(classes)}, but the network's output tells {expected} classes apart"
    labels = all(isinstance(label, (str, int, float)) and not isinstance(label, bool) for label in classes)
    if not labels or len(set(classes)) != len(classes):
        return f"'classes' {reprlib.repr(classes)} must be distinct labels (text or numbers)"
    return None


def _model_inputs(network: Any, arguments: argparse.Namespace, *, require_target: bool) -> tuple[np.ndarray, Any]:
    """``(X, y)`` of ``--data`` for a saved model: ``X`` standardised as its training data were and
    checked against its dtype, ``y`` (to evaluate) as the class indices the network predicts."""
    metadata = network.metadata
    data = arguments.data
    if _is_csv(data) and (data.endswith(".csv") or os.path.isfile(data)):
        X, y, names = _csv_model_inputs(network, data, arguments.target, require_target=require_target)
    else:
        verb = "evaluating" if require_target else "predicting"
        X, y, names = load_data(data, arguments.target, require_target=require_target, verb=verb)
        expected = metadata.get("feature_names")
        if X.shape[1] != network.n_features:
            shown = f" ({', '.join(expected)})" if expected else ""
            raise InputError(f"the model expects {network.n_features} features{shown} but {data} has {X.shape[1]}")
        names = expected or names
    X = _scaled_for_model(network, X, names)
    if require_target and y is not None and "classes" in metadata:  # predictions need no labels
        y = _class_indices(y, metadata["classes"])
    return X, y


def _scaled_for_model(network: Any, X: np.ndarray, names: list[str]) -> np.ndarray:
    """``X`` standardised (in place, where it may be written) as the model's training data were, each
    column checked against the model's dtype: a value too large is named, not turned into inf or NaN."""
    metadata = network.metadata
    X = np.asarray(X, dtype=np.float64)
    if not X.flags.writeable:
        X = X.copy()
    raw, scaled = _largest_magnitudes(X), None
    if "feature_mean" in metadata:
        with np.errstate(over="ignore", invalid="ignore"):
            X -= np.asarray(metadata["feature_mean"], dtype=np.float64)
            X /= np.asarray(metadata["feature_std"], dtype=np.float64)
        scaled = _largest_magnitudes(X)
    dtype = network.dtype_name
    _check_magnitudes(raw, scaled, names, dtype, f"the model computes in {dtype}: rescale it as its training data were")
    return X


def _class_indices(y: Any, classes: list[Any]) -> np.ndarray:
    """The index in ``classes`` of each label of ``y``; a label never seen in training is one line."""
    lookup = {value: index for index, value in enumerate(classes)}
    try:
        return np.asarray([lookup[value] for value in np.asarray(y).tolist()])
    except KeyError as error:
        raise InputError(f"label {error.args[0]!r} was not seen in training (classes: {classes})") from None
    except TypeError:  # rows of several values (unhashable lists)
        raise InputError(f"a classifier's target is one label per sample, got shape {np.shape(y)}") from None


def _predict_in_chunks(network: Any, X: np.ndarray) -> np.ndarray:
    """``network.predict(X)`` on the host, ``PREDICTION_ROWS`` rows at a time, so that the activations of
    a large file never all live at once."""
    from xdnn._namespace import to_numpy

    rows = range(0, X.shape[0], PREDICTION_ROWS)
    return np.concatenate([to_numpy(network.predict(X[start : start + PREDICTION_ROWS])) for start in rows])


def command_predict(arguments: argparse.Namespace) -> int:
    _check_target_option(arguments)
    if arguments.out:
        _check_output_file(arguments.out, "--out", "predictions.csv")
    network = _load_model(arguments.model, _backend_name(arguments))
    X, _ = _model_inputs(network, arguments, require_target=False)
    predictions = _predict_in_chunks(network, X)
    classes = network.metadata.get("classes")
    if classes is not None:  # (checked: one label per class the output tells apart)
        predictions = np.asarray(classes, dtype=object)[predictions.astype(np.int64)]
    _write_predictions(predictions.reshape(len(predictions), -1), arguments.out)
    return 0


def _write_predictions(rows: np.ndarray, out: str | None) -> None:
    """Write ``rows (n_samples, k)`` as CSV to ``out`` (standard output when None); a write that fails
    (a full disk, a folder gone) is one line, and the partial file is removed."""
    header = ["prediction"] if rows.shape[1] == 1 else [f"prediction_{j}" for j in range(rows.shape[1])]
    try:
        stream = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout
    except OSError as error:
        raise InputError(f"cannot write predictions to {out}: {_reason(error)}") from None
    try:
        with stream if out else contextlib.nullcontext(stream):
            writer = csv.writer(stream)
            writer.writerow(header)
            for start in range(0, len(rows), PREDICTION_ROWS):
                writer.writerows(rows[start : start + PREDICTION_ROWS].tolist())
            stream.flush()  # a full disk shows here (or on closing), inside the try
    except BrokenPipeError:  # the reader went away: main stops quietly
        raise
    except OSError as error:
        if out and os.path.isfile(out):
            os.remove(out)
        elif not out:
            _discard_stdout()
        raise InputError(f"cannot write predictions to {out or 'standard output'}: {_reason(error)}") from None
    if out:
        print(f"{len(rows)} predictions written to {out}", file=sys.stderr)


def command_evaluate(arguments: argparse.Namespace) -> int:
    _check_target_option(arguments)
    network = _load_model(arguments.model, _backend_name(arguments))
    X, y = _model_inputs(network, arguments, require_target=True)
    if y is None:
        raise InputError(f"{arguments.data} has no target column to evaluate against (use --target)")
    try:
        results = network.evaluate(X, y)
    except (ValueError, TypeError) as error:
        raise InputError(str(error)) from None
    for name, value in results.items():
        _print(f"{name}: {value:.4f}")
    return 0


def command_info(arguments: argparse.Namespace) -> int:
    import array_api_compat

    import xdnn

    _print(
        f"xdnn {xdnn.__version__} (Python {sys.version.split()[0]}, NumPy {np.__version__}, "
        f"array-api-compat {array_api_compat.__version__})"
    )
    _print(f"active backend: {_describe_active()}")
    for name in BACKEND_NAMES[1:]:
        _print(f"  {name:<17} {_describe_backend(name)}")
    return 0


def _describe_active() -> str:
    from xdnn._backend import active_backend

    try:
        backend = active_backend()
    except (BackendError, ValueError) as error:
        return f"unavailable ({error})"
    return f"{backend.name} (device {backend.device})"


def _describe_backend(name: str) -> str:
    import importlib

    try:
        module = importlib.import_module(name)  # every backend is named after the library it imports
    except ImportError:
        return f"not installed ({INSTALL_HINTS[name]})"
    except Exception as error:  # e.g. a CuPy whose CUDA libraries fail to load
        return f"installed but fails to import: {type(error).__name__}: {error}"
    version = getattr(module, "__version__", "?")
    try:
        backend = resolve_backend(name)
    except BackendError as error:
        return f"installed {version}, not available: {error}"
    device = backend.device
    if name == "cupy":
        try:
            properties = module.cuda.runtime.getDeviceProperties(device.id)
            device = f"{properties['name'].decode()} (cuda:{device.id})"
        except Exception:
            pass
    if name == "torch":
        extra = f", CUDA {module.version.cuda}" if module.version.cuda else ", CPU build"
        return f"installed {version}{extra}, available, device {device}"
    return f"installed {version}, available, device {device}"


def command_demo(arguments: argparse.Namespace) -> int:
    from xdnn.demo import run_demo

    with use_backend(_backend_name(arguments)):
        run_demo(num_iterations=arguments.iterations)
    return 0


# --- parser -------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr (exit code 2); ``--help`` is unchanged."""

    def error(self, message: str) -> NoReturn:
        _usage_error(self.prog, message)


def _usage_error(prog: str, message: str) -> NoReturn:
    message = " ".join(message.split())  # one line, whatever argparse composed
    print(f"{prog}: error: {message} (see '{prog} --help')", file=sys.stderr)
    raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _layer_sizes(text: str) -> list[int]:
    """``"20,7,5"`` -> ``[20, 7, 5]``: every entry a positive integer, none empty."""
    example = "give hidden layer sizes separated by commas, e.g. --layers 20,7,5"
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"no layer sizes in {text!r}; {example}")
    if not all(parts):
        raise argparse.ArgumentTypeError(f"empty entry in {text!r}; {example}")
    try:
        sizes = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers, got {text!r}; {example}"
        ) from None
    if any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}; {example}")
    return sizes


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xdnn", description="Deep neural networks from first principles.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a network and save it")
    train.add_argument("--data", required=True, help=f"{', '.join(BUILTIN_DATA)}, PATH.csv or PATH.npz")
    train.add_argument("--target", help="target column of a CSV (default: the last column)")
    train.add_argument("--task", default="auto", choices=("auto", "classification", "regression"))
    train.add_argument(
        "--layers", type=_layer_sizes, default="20,7,5", help="hidden layer sizes, comma-separated (default 20,7,5)"
    )
    train.add_argument(
        "--hidden", default="relu", help="hidden activation (relu, tanh, sigmoid, leaky_relu, elu, gelu)"
    )
    train.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "rmsprop", "adam"))
    train.add_argument("--lr", type=_positive_float, default=0.01, help="learning rate (default 0.01)")
    train.add_argument("--l2", type=float, default=0.0, help="L2 penalty (default 0)")
    train.add_argument("--dropout", type=_fraction, default=0.0, help="dropout rate after hidden layers")
    train.add_argument("--epochs", type=_positive_int, default=200)
    train.add_argument("--batch-size", type=_positive_int, default=64)
    train.add_argument("--backend", default=None, choices=BACKEND_NAMES, help="backend (default: XDNN_BACKEND or auto)")
    train.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    train.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    train.add_argument("--val-split", type=_fraction, default=0.2, help="validation fraction (default 0.2)")
    train.add_argument("--no-standardize", dest="standardize", action="store_false", help="do not scale features")
    train.add_argument("--out", default="model.npz", help="where to save the model (default: model.npz)")
    train.add_argument("--plots", help="folder for history / decision boundary / confusion matrix PNGs")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=command_train)

    for name, handler, text in (
        ("predict", command_predict, "predict with a saved model"),
        ("evaluate", command_evaluate, "evaluate a saved model on labelled data"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--model", required=True, help="model file written by `xdnn train --out`")
        sub.add_argument("--data", required=True, help="PATH.csv, PATH.npz or a built-in data set")
        sub.add_argument("--target", help="target column of a CSV")
        sub.add_argument(
            "--backend", default=None, choices=BACKEND_NAMES, help="backend (default: XDNN_BACKEND or auto)"
        )
        if name == "predict":
            sub.add_argument("--out", help="write predictions to this CSV (default: standard output)")
        sub.set_defaults(handler=handler)

    info = commands.add_parser("info", help="xdnn's version and which backends and devices are available")
    info.set_defaults(handler=command_info)

    demo = commands.add_parser("demo", help="train the tutorial's planar flower network (the main job)")
    demo.add_argument("--backend", default=None, choices=BACKEND_NAMES, help="backend (default: XDNN_BACKEND or auto)")
    demo.add_argument("--iterations", type=_positive_int, default=10_000, help="gradient-descent iterations")
    demo.set_defaults(handler=command_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments, unknown = parser.parse_known_args(argv)
    command = f"xdnn {arguments.command}"
    if unknown:  # reported by the sub-command, so that the line says which command's --help to read
        _usage_error(command, f"unrecognized arguments: {' '.join(unknown)}")
    try:
        code = arguments.handler(arguments)
    except (InputError, BackendError, FileNotFoundError, ImportError, ValueError, TypeError) as error:
        code = _error(command, str(error))
    except KeyboardInterrupt:
        print("xdnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `xdnn predict ... | head`): stop quietly
        _discard_stdout()
        return 0
    except OSError as error:  # the machine's, not the input's: a full disk, a folder removed meanwhile ...
        code = _error(command, _os_error_message(error))
    return _flush_stdout(command, code)


def _os_error_message(error: OSError) -> str:
    """What an unforeseen ``OSError`` says, naming standard output when that is what cannot be written."""
    try:
        sys.stdout.flush()
    except OSError:  # (what failed to be written is still buffered)
        _discard_stdout()
        return f"cannot write to standard output: {_reason(error)}"
    return f"{_reason(error)} ({error.filename})" if error.filename else _reason(error)


def _print(text: str) -> None:
    """``print(text)`` to standard output; a failure to write there (a full disk) is an error that says so."""
    try:
        print(text)
    except BrokenPipeError:  # the reader went away: main stops quietly
        raise
    except OSError as error:
        _discard_stdout()
        raise InputError(f"cannot write to standard output: {_reason(error)}") from None


def _error(command: str, message: str) -> int:
    """Print ``xdnn COMMAND: error: message`` as one line on stderr; returns exit code 2."""
    print(f"{command}: error: {_one_line(message)}", file=sys.stderr)
    return 2


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _flush_stdout(command: str, code: int) -> int:
    """``code``, once what is buffered for standard output is written: writing to a full disk fails here
    (exit code 2, one line) rather than in the interpreter's final flush; a closed pipe stops quietly."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
    except OSError as error:
        _discard_stdout()
        if code == 0:
            return _error(command, f"cannot write to standard output: {_reason(error)}")
    return code


def _discard_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's final flush of what could not
    be written (to a closed pipe or a full disk) does not fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (e.g. captured by a test): nothing is left to flush at exit
        pass
