"""The ``xdnn`` argument parser: its sub-commands and options, the types that check option values,
and usage errors as one line on stderr (exit code 2)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from xdnn._backend import BACKEND_NAMES, DIST_NAME
from xdnn.cli.data import BUILTIN_DATA
from xdnn.cli.export import command_export
from xdnn.cli.info import command_demo, command_info
from xdnn.cli.predict import command_evaluate, command_predict
from xdnn.cli.train import command_train


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds ``(default: ...)`` to an option's help, except where there is none to show: a required option,
    a default of None (the help says what happens) or a flag's True/False."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr (exit code 2) and whose ``--help``
    shows each option's default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        usage_error(self.prog, message)


def distribution_version() -> str:
    """``"<distribution name> <version>"``: the installed distribution's version, else ``xdnn.__version__``
    (a source checkout that was not installed)."""
    from importlib import metadata

    try:
        version = metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        import xdnn

        version = xdnn.__version__
    return f"{DIST_NAME} {version}"


def usage_error(prog: str, message: str) -> NoReturn:
    """Print ``prog: error: message (see 'prog --help')`` as one line on stderr and exit with code 2."""
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
    """The parser of ``xdnn train | predict | evaluate | export | info | demo``; each sub-command sets ``handler``."""
    parser = _Parser(prog="xdnn", description="Deep neural networks from first principles.")
    parser.add_argument("--version", action="version", version=distribution_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train a network and save it")
    train.add_argument("--data", required=True, help=f"{', '.join(BUILTIN_DATA)}, PATH.csv or PATH.npz")
    train.add_argument("--target", help="target column of a CSV (default: the last column)")
    train.add_argument("--task", default="auto", choices=("auto", "classification", "regression"), help="what to learn")
    train.add_argument("--layers", type=_layer_sizes, default="20,7,5", help="hidden layer sizes, comma-separated")
    train.add_argument(
        "--hidden", default="relu", help="hidden activation (relu, tanh, sigmoid, leaky_relu, elu, gelu)"
    )
    train.add_argument(
        "--optimizer", default="adam", choices=("sgd", "momentum", "rmsprop", "adam"), help="update rule"
    )
    train.add_argument("--lr", type=_positive_float, default=0.01, help="learning rate")
    train.add_argument("--l2", type=float, default=0.0, help="L2 penalty")
    train.add_argument("--dropout", type=_fraction, default=0.0, help="dropout rate after hidden layers")
    train.add_argument("--epochs", type=_positive_int, default=200, help="passes over the training data")
    train.add_argument("--batch-size", type=_positive_int, default=64, help="samples per gradient step")
    train.add_argument("--backend", default=None, choices=BACKEND_NAMES, help="backend (default: XDNN_BACKEND or auto)")
    train.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="floating-point precision")
    train.add_argument("--seed", type=_non_negative_int, default=0, help="random seed")
    train.add_argument("--val-split", type=_fraction, default=0.2, help="validation fraction")
    train.add_argument("--no-standardize", dest="standardize", action="store_false", help="do not scale features")
    train.add_argument("--out", default="model.npz", help="where to save the model")
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

    export = commands.add_parser(
        "export", help='a saved model as an ONNX model that predicts as `xdnn predict` (needs "xdnn-array[onnx]")'
    )
    export.add_argument("model", metavar="MODEL", help="model file written by `xdnn train --out`")
    export.add_argument("out", metavar="ONNX_FILE", help="where to write the ONNX model, e.g. model.onnx")
    export.set_defaults(handler=command_export)

    info = commands.add_parser("info", help="xdnn's version and which backends and devices are available")
    info.set_defaults(handler=command_info)

    demo = commands.add_parser("demo", help="train the tutorial's planar flower network (the main job)")
    demo.add_argument("--backend", default=None, choices=BACKEND_NAMES, help="backend (default: XDNN_BACKEND or auto)")
    demo.add_argument("--iterations", type=_positive_int, default=10_000, help="gradient-descent iterations")
    demo.set_defaults(handler=command_demo)
    return parser
