"""Command line: ``xdnn train | predict | evaluate | export | info | demo`` (also ``python -m xdnn``).

Exit codes: 0 success; 2 usage or input error (one line on stderr, no traceback);
1 unexpected failure.

The modules, one job each: :mod:`~xdnn.cli.parser` (the options), :mod:`~xdnn.cli.data` (reading
``--data`` and checking its values), :mod:`~xdnn.cli.model_files` (loading a model, checking its
metadata), :mod:`~xdnn.cli.model_inputs` (data matched to a saved model), :mod:`~xdnn.cli.train`,
:mod:`~xdnn.cli.predict` (predict, evaluate), :mod:`~xdnn.cli.export` (ONNX), :mod:`~xdnn.cli.info` (info, demo),
:mod:`~xdnn.cli.plots`, :mod:`~xdnn.cli.output` (writing results and reporting failures to write),
:mod:`~xdnn.cli.backends` and :mod:`~xdnn.cli.errors`.
"""

from __future__ import annotations

import sys

from xdnn._backend import BackendError
from xdnn.cli.data import BUILTIN_DATA, LOADERS, load_data
from xdnn.cli.errors import InputError
from xdnn.cli.export import command_export
from xdnn.cli.info import command_demo, command_info
from xdnn.cli.output import discard_stdout, flush_stdout, os_error_message, report_error
from xdnn.cli.parser import build_parser, usage_error
from xdnn.cli.predict import command_evaluate, command_predict
from xdnn.cli.train import command_train, split_rows

__all__ = [
    "BUILTIN_DATA",
    "LOADERS",
    "InputError",
    "build_parser",
    "command_demo",
    "command_evaluate",
    "command_export",
    "command_info",
    "command_predict",
    "command_train",
    "load_data",
    "main",
    "split_rows",
]

_split = split_rows  # its name before xdnn/cli.py became this package (tests/test_cli.py uses it)


def main(argv: list[str] | None = None) -> int:
    """Run ``xdnn`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    arguments, unknown = parser.parse_known_args(argv)
    if arguments.command is None:  # a bare `xdnn`: what it can do, not only "a command is required"
        parser.print_help(sys.stderr)
        return 2
    command = f"xdnn {arguments.command}"
    if unknown:  # reported by the sub-command, so that the line says which command's --help to read
        usage_error(command, f"unrecognized arguments: {' '.join(unknown)}")
    try:
        code = arguments.handler(arguments)
    except (InputError, BackendError, FileNotFoundError, ImportError, ValueError, TypeError) as error:
        code = report_error(command, str(error))
    except KeyboardInterrupt:
        print("xdnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `xdnn predict ... | head`): stop quietly
        discard_stdout()
        return 0
    except OSError as error:  # the machine's, not the input's: a full disk, a folder removed meanwhile ...
        code = report_error(command, os_error_message(error))
    return flush_stdout(command, code)
