"""Command line: ``xdnn demo`` (also ``python -m xdnn demo``)."""

from __future__ import annotations

import argparse
import sys

from xdnn._backend import BACKEND_NAMES, BackendError, use_backend


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xdnn", description="Deep neural networks from first principles.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train the tutorial's planar flower network")
    demo.add_argument("--backend", default=None, choices=BACKEND_NAMES, help="backend (default: XDNN_BACKEND or auto)")
    demo.add_argument("--iterations", type=int, default=10_000, help="gradient-descent iterations (default 10000)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "demo":
            from xdnn._backend import get_backend
            from xdnn.demo import run_demo

            with use_backend(arguments.backend or get_backend()):
                run_demo(num_iterations=arguments.iterations)
            return 0
    except (BackendError, ValueError) as error:
        print(f"xdnn: error: {error}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands
