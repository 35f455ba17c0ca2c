"""Writing what a command produces: output paths checked before any work is done, lines and prediction
CSVs written to standard output or ``--out``, and a failure to write (a full disk such as /dev/full, a
closed pipe, a folder gone) reported as one line rather than a traceback at exit."""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import tempfile

import numpy as np

from xdnn.cli.errors import InputError, one_line, reason


def check_output_file(path: str, option: str, example: str) -> None:
    """Refuse, before any work is done, an output file that cannot be written."""
    if os.path.isdir(path):
        raise InputError(f"{option} {path} is a folder; give a file name, e.g. {os.path.join(path, example)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        problem = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise InputError(f"{option} {path}: the folder {folder} {problem}; create it first or choose another path")
    _check_writable(folder, path, option)


def check_output_folder(path: str, option: str) -> None:
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
        raise InputError(f"{option} {path}: cannot write in {folder} ({reason(error)}); choose another path") from None


def print_line(text: str) -> None:
    """``print(text)`` to standard output; a failure to write there (a full disk) is an error that says so."""
    try:
        print(text)
    except BrokenPipeError:  # the reader went away: main stops quietly
        raise
    except OSError as error:
        discard_stdout()
        raise InputError(f"cannot write to standard output: {reason(error)}") from None


def write_predictions(rows: np.ndarray, out: str | None, *, chunk_rows: int) -> None:
    """Write ``rows (n_samples, k)`` as CSV to ``out`` (standard output when None), ``chunk_rows`` rows
    at a time; a write that fails (a full disk, a folder gone) is one line, and the partial file is removed."""
    header = ["prediction"] if rows.shape[1] == 1 else [f"prediction_{j}" for j in range(rows.shape[1])]
    try:
        stream = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout
    except OSError as error:
        raise InputError(f"cannot write predictions to {out}: {reason(error)}") from None
    try:
        with stream if out else contextlib.nullcontext(stream):
            writer = csv.writer(stream)
            writer.writerow(header)
            for start in range(0, len(rows), chunk_rows):
                writer.writerows(rows[start : start + chunk_rows].tolist())
            stream.flush()  # a full disk shows here (or on closing), inside the try
    except BrokenPipeError:  # the reader went away: main stops quietly
        raise
    except OSError as error:
        if out and os.path.isfile(out):
            os.remove(out)
        elif not out:
            discard_stdout()
        raise InputError(f"cannot write predictions to {out or 'standard output'}: {reason(error)}") from None
    if out:
        print(f"{len(rows)} predictions written to {out}", file=sys.stderr)


def report_error(command: str, message: str) -> int:
    """Print ``xdnn COMMAND: error: message`` as one line on stderr; returns exit code 2."""
    print(f"{command}: error: {one_line(message)}", file=sys.stderr)
    return 2


def os_error_message(error: OSError) -> str:
    """What an unforeseen ``OSError`` says, naming standard output when that is what cannot be written."""
    try:
        sys.stdout.flush()
    except OSError:  # (what failed to be written is still buffered)
        discard_stdout()
        return f"cannot write to standard output: {reason(error)}"
    return f"{reason(error)} ({error.filename})" if error.filename else reason(error)


def flush_stdout(command: str, code: int) -> int:
    """``code``, once what is buffered for standard output is written: writing to a full disk fails here
    (exit code 2, one line) rather than in the interpreter's final flush; a closed pipe stops quietly."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
    except OSError as error:
        discard_stdout()
        if code == 0:
            return report_error(command, f"cannot write to standard output: {reason(error)}")
    return code


def discard_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's final flush of what could not
    be written (to a closed pipe or a full disk) does not fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (e.g. captured by a test): nothing is left to flush at exit
        pass
