"""Command line: ``xdnn train | predict | evaluate | info | demo`` (also ``python -m xdnn``).

Exit codes: 0 success; 2 usage or input error (one line on stderr, no traceback);
1 unexpected failure.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
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
        if not os.path.isfile(spec):
            raise InputError(f"data file not found: {spec}")
        try:
            with np.load(spec, allow_pickle=False) as archive:
                if "X" not in archive.files:
                    raise InputError(f"{spec} must hold an array named 'X' (and 'y' for training)")
                X = np.asarray(archive["X"], dtype=np.float64)
                y = archive["y"] if "y" in archive.files else None
        except (ValueError, OSError) as error:
            raise InputError(f"cannot read {spec}: {error}") from None
        if y is None and require_target:
            raise InputError(f"{spec} has no array named 'y' (the targets)")
        if X.ndim != 2:
            raise InputError(f"{spec}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
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
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, y)`` of a CSV for a saved model: feature columns chosen by name when the model was
    trained on a CSV (so their order may differ and extra columns are ignored), else by position
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
    X = values[:, columns]
    y = None if target is None else values[:, header.index(target)]
    _check_finite_data(X, y, path, "evaluating" if require_target else "predicting")
    if y is not None and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    return X, y


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


def command_train(arguments: argparse.Namespace) -> int:
    import xdnn

    # Everything that can be checked is checked before the data is read and training starts.
    _check_target_option(arguments)
    _check_output_file(arguments.out, "--out", "model.npz")
    if os.path.exists(arguments.out) and not os.path.isfile(arguments.out):
        raise InputError(f"--out {arguments.out} is not a regular file (a device, pipe or socket); choose a file name")
    if arguments.plots:
        _check_output_folder(arguments.plots, "--plots")
        _check_matplotlib()
    backend_name = _backend_name(arguments)
    X, y, feature_names = load_data(arguments.data, arguments.target)
    task = _task(np.asarray(y), arguments.task)
    metadata: dict[str, Any] = {"feature_names": feature_names, "task": task, "data": arguments.data}
    if _is_csv(arguments.data):  # the target column's name, so that evaluate can ask for it by name
        metadata["target"] = arguments.target or _csv_header(arguments.data)[-1]
    if task == "classification":
        classes, y = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InputError("the target has a single class; a classifier needs at least two")
        metadata["classes"] = classes.tolist()
        outputs = 1 if len(classes) == 2 else len(classes)
        output_activation = "sigmoid" if outputs == 1 else "softmax"
    else:
        y = np.asarray(y, dtype=np.float64)
        outputs = 1 if y.ndim == 1 else y.shape[1]
        output_activation = "identity"
    train, validation = _split(X.shape[0], arguments.val_split, arguments.seed)
    scaled = X
    if arguments.standardize:  # the training rows' statistics: the validation rows stay unseen
        mean, std = X[train].mean(axis=0), X[train].std(axis=0)
        std[std == 0] = 1.0
        scaled = (X - mean) / std
        metadata["feature_mean"], metadata["feature_std"] = mean.tolist(), std.tolist()
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
        validation_data = (scaled[validation], y[validation]) if len(validation) else None
        start = time.perf_counter()
        history = network.fit(
            scaled[train],
            y[train],
            epochs=arguments.epochs,
            batch_size=arguments.batch_size,
            validation_data=validation_data,
            verbose=not arguments.quiet,
        )
        seconds = time.perf_counter() - start
        print(f"trained {network} for {len(history.epoch)} epochs in {seconds:.2f} s")
        print(f"backend: {backend.name}, device: {backend.device}")
        for name, values in history.items():
            print(f"final {name}: {values[-1]:.4f}")
        try:
            network.save(arguments.out)
        except (OSError, ValueError) as error:
            reason = _reason(error) if isinstance(error, OSError) else str(error)
            raise InputError(f"cannot save the model to {arguments.out}: {reason}") from None
        print(f"model saved to {arguments.out}")
        if arguments.plots:
            _write_plots(arguments.plots, _OnRawFeatures(network, metadata), history, X, y, validation, task)
    return 0


class _OnRawFeatures:
    """A trained network seen in the data's own units: ``predict`` standardises as training did."""

    def __init__(self, network: Any, metadata: dict[str, Any]) -> None:
        self.network = network
        self.mean = np.asarray(metadata.get("feature_mean", 0.0))
        self.std = np.asarray(metadata.get("feature_std", 1.0))

    def predict(self, X: Any) -> Any:
        return self.network.predict((np.asarray(X, dtype=np.float64) - self.mean) / self.std)


def _write_plots(folder: str, network: Any, history: Any, X: np.ndarray, y: np.ndarray, validation, task: str) -> None:
    from xdnn import plot

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the --plots folder {folder}: {_reason(error)}") from None
    written = [os.path.join(folder, "history.png")]
    plot.plot_history(history, path=written[0], title="training history")
    if task == "classification":
        if X.shape[1] == 2:
            written.append(os.path.join(folder, "decision_boundary.png"))
            plot.plot_decision_boundary(network, X, y, path=written[-1], title="decision boundary")
        rows = validation if len(validation) else np.arange(X.shape[0])
        subset = "validation set" if len(validation) else "training set"
        written.append(os.path.join(folder, "confusion_matrix.png"))
        plot.plot_confusion_matrix(
            y[rows], network.predict(X[rows]), path=written[-1], title=f"confusion matrix ({subset})"
        )
    print("plots written: " + ", ".join(written))


def _check_matplotlib() -> None:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise InputError('--plots needs matplotlib; install it with: pip install "xdnn[examples]" (or drop --plots)')


def _load_model(path: str, backend: str) -> Any:
    from xdnn.serialization import ModelFileError, load_network

    try:
        return load_network(path, backend=backend)
    except FileNotFoundError as error:
        raise InputError(str(error)) from None
    except ModelFileError as error:
        raise InputError(str(error)) from None


def _model_inputs(network: Any, arguments: argparse.Namespace, *, require_target: bool) -> tuple[np.ndarray, Any]:
    metadata = network.metadata
    data = arguments.data
    if _is_csv(data) and (data.endswith(".csv") or os.path.isfile(data)):
        X, y = _csv_model_inputs(network, data, arguments.target, require_target=require_target)
    else:
        verb = "evaluating" if require_target else "predicting"
        X, y, _ = load_data(data, arguments.target, require_target=require_target, verb=verb)
        if X.shape[1] != network.n_features:
            expected = metadata.get("feature_names")
            expected = f" ({', '.join(map(str, expected))})" if isinstance(expected, list) else ""
            raise InputError(f"the model expects {network.n_features} features{expected} but {data} has {X.shape[1]}")
    if "feature_mean" in metadata:
        X = (X - np.asarray(metadata["feature_mean"])) / np.asarray(metadata["feature_std"])
    if require_target and y is not None and "classes" in metadata:  # predictions need no labels
        classes = metadata["classes"]
        lookup = {value: index for index, value in enumerate(classes)}
        try:
            y = np.asarray([lookup[value] for value in np.asarray(y).tolist()])
        except KeyError as error:
            raise InputError(f"label {error.args[0]!r} was not seen in training (classes: {classes})") from None
    return X, y


def command_predict(arguments: argparse.Namespace) -> int:
    from xdnn._namespace import to_numpy

    _check_target_option(arguments)
    if arguments.out:
        _check_output_file(arguments.out, "--out", "predictions.csv")
    network = _load_model(arguments.model, _backend_name(arguments))
    X, _ = _model_inputs(network, arguments, require_target=False)
    predictions = to_numpy(network.predict(X))
    classes = network.metadata.get("classes")
    if classes is not None:
        predictions = np.asarray(classes, dtype=object)[np.asarray(predictions).astype(int)]
    rows = np.asarray(predictions).reshape(len(predictions), -1)
    header = ["prediction"] if rows.shape[1] == 1 else [f"prediction_{j}" for j in range(rows.shape[1])]
    try:
        stream = open(arguments.out, "w", newline="", encoding="utf-8") if arguments.out else sys.stdout
    except OSError as error:
        raise InputError(f"cannot write predictions to {arguments.out}: {_reason(error)}") from None
    try:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows.tolist())
    finally:
        if arguments.out:
            stream.close()
            print(f"{len(rows)} predictions written to {arguments.out}", file=sys.stderr)
    return 0


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
        print(f"{name}: {value:.4f}")
    return 0


def command_info(arguments: argparse.Namespace) -> int:
    import array_api_compat

    import xdnn

    print(
        f"xdnn {xdnn.__version__} (Python {sys.version.split()[0]}, NumPy {np.__version__}, "
        f"array-api-compat {array_api_compat.__version__})"
    )
    print(f"active backend: {_describe_active()}")
    for name in BACKEND_NAMES[1:]:
        print(f"  {name:<17} {_describe_backend(name)}")
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
    if unknown:  # reported by the sub-command, so that the line says which command's --help to read
        _usage_error(f"xdnn {arguments.command}", f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return arguments.handler(arguments)
    except (InputError, BackendError, FileNotFoundError, ImportError) as error:
        print(f"xdnn {arguments.command}: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as error:
        print(f"xdnn {arguments.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xdnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `xdnn predict ... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        return 0
