"""``xdnn info`` (xdnn's version and which backends and devices are available) and ``xdnn demo`` (the
tutorial's planar flower network)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from xdnn._backend import BACKEND_NAMES, use_backend
from xdnn.cli.backends import backend_name, describe_active, describe_backend
from xdnn.cli.output import print_line


def command_info(arguments: argparse.Namespace) -> int:
    """Print xdnn's version, its dependencies' and each backend's state."""
    import array_api_compat

    import xdnn

    print_line(
        f"xdnn {xdnn.__version__} (Python {sys.version.split()[0]}, NumPy {np.__version__}, "
        f"array-api-compat {array_api_compat.__version__})"
    )
    print_line(f"active backend: {describe_active()}")
    for name in BACKEND_NAMES[1:]:
        print_line(f"  {name:<17} {describe_backend(name)}")
    return 0


def command_demo(arguments: argparse.Namespace) -> int:
    """Train the tutorial's planar flower network for ``--iterations`` steps."""
    from xdnn.demo import run_demo

    with use_backend(backend_name(arguments)):
        run_demo(num_iterations=arguments.iterations)
    return 0
