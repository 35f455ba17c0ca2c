"""The ``xdnn`` argument parser: its sub-commands and options, the types that check option values,
and usage errors as one line on stderr (exit code 2)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from xdnn._backend import BACKEND_NAMES
from xdnn.cli.data import BUILTIN_DATA
from xdnn.cli.info import command_demo, command_info
from xdnn.cli.predict import command_evaluate, command_predict
from xdnn.cli.train import command_train


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr (exit code 2); ``--help`` is unchanged."""

    def error(self, message: str) -> NoReturn:
        usage_error(self.prog, message)


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
    """The parser of ``xdnn train | predict | evaluate | info | demo``; each sub-command sets ``handler``."""
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
