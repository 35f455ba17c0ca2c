"""Command line: ``xdnn train | predict | evaluate | info | demo`` (also ``python -m xdnn``).

Exit codes: 0 success; 2 usage or input error (one line on stderr, no traceback);
1 unexpected failure.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from typing import Any

import numpy as np

from xdnn._backend import BACKEND_NAMES, INSTALL_HINTS, BackendError, resolve_backend, use_backend

BUILTIN_DATA = ("planar", "moons", "circles", "digits", "breast-cancer")


class InputError(Exception):
    """A problem with what the user asked for: reported in one line with exit code 2."""


# --- data ---------------------------------------------------------------------------------------


def load_data(spec: str, target: str | None, *, require_target: bool = True) -> tuple[np.ndarray, Any, list[str]]:
    """``(X, y, feature_names)`` on the host from a built-in name, a ``.csv`` or an ``.npz`` (``X``, ``y``)."""
    from xdnn import datasets

    loaders = {
        "planar": datasets.planar_host,
        "moons": datasets.moons_host,
        "circles": datasets.circles_host,
        "digits": datasets.digits_host,
        "breast-cancer": datasets.breast_cancer_host,
        "breast_cancer": datasets.breast_cancer_host,
    }
    if spec in loaders:
        X, y = loaders[spec]()
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
            raise InputError(f"{spec} has no array named 'y' to train on")
        if X.ndim != 2:
            raise InputError(f"{spec}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
        return X, y, [f"x{i + 1}" for i in range(X.shape[1])]
    if spec.endswith(".csv") or os.path.isfile(spec):
        try:
            X, y, names = datasets.load_csv_host(spec, target, require_target=require_target)
        except (FileNotFoundError, ValueError) as error:
            raise InputError(str(error)) from None
        return X, y, names
    raise InputError(f"unknown data {spec!r}: use one of {', '.join(BUILTIN_DATA)}, a .csv or an .npz file")


def _task(y: np.ndarray, requested: str) -> str:
    if requested != "auto":
        return requested
    integral = np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)
    return "classification" if integral and len(np.unique(y)) <= max(20, int(0.05 * len(y))) else "regression"


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_validation = int(round(n * fraction))
    if fraction > 0 and (n_validation == 0 or n_validation >= n):
        raise InputError(f"--val-split {fraction} leaves no training or validation samples for {n} samples")
    return order[n_validation:], order[:n_validation]


# --- commands -----------------------------------------------------------------------------------


def _parse_layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--layers must be comma-separated positive integers, got {text!r}") from None
    if any(size <= 0 for size in sizes):
        raise InputError(f"--layers must be positive integers, got {text!r}")
    return sizes


def command_train(arguments: argparse.Namespace) -> int:
    import xdnn

    X, y, feature_names = load_data(arguments.data, arguments.target)
    task = _task(np.asarray(y), arguments.task)
    metadata: dict[str, Any] = {"feature_names": feature_names, "task": task, "data": arguments.data}
    if arguments.target:
        metadata["target"] = arguments.target
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
    if arguments.standardize:
        mean, std = X.mean(axis=0), X.std(axis=0)
        std[std == 0] = 1.0
        X = (X - mean) / std
        metadata["feature_mean"], metadata["feature_std"] = mean.tolist(), std.tolist()
    train, validation = _split(X.shape[0], arguments.val_split, arguments.seed)
    hidden = _parse_layers(arguments.layers)
    with use_backend(arguments.backend) as backend:
        network = xdnn.Network(
            [X.shape[1], *hidden, outputs],
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
        validation_data = (X[validation], y[validation]) if len(validation) else None
        start = time.perf_counter()
        history = network.fit(
            X[train],
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
        if arguments.out:
            network.save(arguments.out)
            print(f"model saved to {arguments.out}")
        if arguments.plots:
            _write_plots(arguments.plots, network, history, X, y, validation, task)
    return 0


def _write_plots(folder: str, network: Any, history: Any, X: np.ndarray, y: np.ndarray, validation, task: str) -> None:
    from xdnn import plot

    os.makedirs(folder, exist_ok=True)
    written = [os.path.join(folder, "history.png")]
    plot.plot_history(history, path=written[0], title="training history")
    if task == "classification":
        if X.shape[1] == 2:
            written.append(os.path.join(folder, "decision_boundary.png"))
            plot.plot_decision_boundary(network, X, y, path=written[-1], title="decision boundary")
        rows = validation if len(validation) else np.arange(X.shape[0])
        written.append(os.path.join(folder, "confusion_matrix.png"))
        plot.plot_confusion_matrix(y[rows], network.predict(X[rows]), path=written[-1], title="confusion matrix")
    print("plots written: " + ", ".join(written))


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
    target = arguments.target or metadata.get("target")
    if target is None and arguments.data.endswith(".csv"):
        # A CSV for prediction may or may not carry the target: compare with the model's features.
        if not os.path.isfile(arguments.data):
            raise InputError(f"data file not found: {arguments.data}")
        with open(arguments.data, newline="", encoding="utf-8") as stream:
            header = next(csv.reader(stream), [])
        if len(header) == network.n_features + 1:
            target = header[-1]
    X, y, _ = load_data(arguments.data, target, require_target=require_target or target is not None)
    if X.shape[1] != network.n_features:
        raise InputError(f"the model expects {network.n_features} features but {arguments.data} has {X.shape[1]}")
    if "feature_mean" in metadata:
        X = (X - np.asarray(metadata["feature_mean"])) / np.asarray(metadata["feature_std"])
    if y is not None and "classes" in metadata:
        classes = metadata["classes"]
        lookup = {value: index for index, value in enumerate(classes)}
        try:
            y = np.asarray([lookup[value] for value in np.asarray(y).tolist()])
        except KeyError as error:
            raise InputError(f"label {error.args[0]!r} was not seen in training (classes: {classes})") from None
    return X, y


def command_predict(arguments: argparse.Namespace) -> int:
    from xdnn._namespace import to_numpy

    network = _load_model(arguments.model, arguments.backend)
    X, _ = _model_inputs(network, arguments, require_target=False)
    predictions = to_numpy(network.predict(X))
    classes = network.metadata.get("classes")
    if classes is not None:
        predictions = np.asarray(classes, dtype=object)[np.asarray(predictions).astype(int)]
    rows = np.asarray(predictions).reshape(len(predictions), -1)
    header = ["prediction"] if rows.shape[1] == 1 else [f"prediction_{j}" for j in range(rows.shape[1])]
    stream = open(arguments.out, "w", newline="", encoding="utf-8") if arguments.out else sys.stdout
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
    network = _load_model(arguments.model, arguments.backend)
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

    module_name = {"numpy": "numpy", "cupy": "cupy", "torch": "torch", "array_api_strict": "array_api_strict"}[name]
    try:
        module = importlib.import_module(module_name)
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
    from xdnn._backend import get_backend
    from xdnn.demo import run_demo

    with use_backend(arguments.backend or get_backend()):
        run_demo(num_iterations=arguments.iterations)
    return 0


# --- parser -------------------------------------------------------------------------------------


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


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xdnn", description="Deep neural networks from first principles.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a network and save it")
    train.add_argument("--data", required=True, help=f"{', '.join(BUILTIN_DATA)}, PATH.csv or PATH.npz")
    train.add_argument("--target", help="target column of a CSV (default: the last column)")
    train.add_argument("--task", default="auto", choices=("auto", "classification", "regression"))
    train.add_argument("--layers", default="20,7,5", help="hidden layer sizes, comma-separated (default 20,7,5)")
    train.add_argument(
        "--hidden", default="relu", help="hidden activation (relu, tanh, sigmoid, leaky_relu, elu, gelu)"
    )
    train.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "rmsprop", "adam"))
    train.add_argument("--lr", type=_positive_float, default=0.01, help="learning rate (default 0.01)")
    train.add_argument("--l2", type=float, default=0.0, help="L2 penalty (default 0)")
    train.add_argument("--dropout", type=_fraction, default=0.0, help="dropout rate after hidden layers")
    train.add_argument("--epochs", type=_positive_int, default=200)
    train.add_argument("--batch-size", type=_positive_int, default=64)
    train.add_argument("--backend", default="auto", choices=BACKEND_NAMES)
    train.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--val-split", type=_fraction, default=0.2, help="validation fraction (default 0.2)")
    train.add_argument("--no-standardize", dest="standardize", action="store_false", help="do not scale features")
    train.add_argument("--out", help="where to save the model (.npz)")
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
        sub.add_argument("--backend", default="auto", choices=BACKEND_NAMES)
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
    arguments = parser.parse_args(argv)
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
