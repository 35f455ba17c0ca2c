"""Reading ``--data`` (a built-in set, an ``.npz`` or a CSV) on the host, and the checks of its values:
no NaN or infinite values, none beyond the range of the network's dtype."""

from __future__ import annotations

import argparse
import os
import zipfile
import zlib
from typing import Any

import numpy as np

from xdnn.cli.errors import InputError

BUILTIN_DATA = ("planar", "moons", "circles", "digits", "breast-cancer")

LOADERS = {
    "planar": "planar_host",
    "moons": "moons_host",
    "circles": "circles_host",
    "digits": "digits_host",
    "breast-cancer": "breast_cancer_host",
    "breast_cancer": "breast_cancer_host",
}


def is_csv(spec: str) -> bool:
    """Whether ``--data spec`` names a CSV file (anything that is neither a built-in set nor an ``.npz``)."""
    return spec not in LOADERS and not spec.endswith(".npz")


def check_target_option(arguments: argparse.Namespace) -> None:
    """``--target`` names a CSV column: refuse it for a built-in set or an ``.npz`` instead of ignoring it."""
    if arguments.target is not None and not is_csv(arguments.data):
        kind = (
            "an .npz file (its target is the array 'y')" if arguments.data.endswith(".npz") else "a built-in data set"
        )
        raise InputError(f"--target applies to CSV files only, and {arguments.data} is {kind}; drop --target")


def csv_header(path: str) -> list[str]:
    """The column names of the CSV file at ``path``."""
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

    if target is not None and not is_csv(spec):
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
        check_finite_data(X, y, spec, verb)
        return X, y, [f"x{i + 1}" for i in range(X.shape[1])]
    if spec.endswith(".csv") or os.path.isfile(spec):
        try:
            X, y, names = datasets.load_csv_host(spec, target, require_target=require_target)
        except (FileNotFoundError, ValueError) as error:
            raise InputError(str(error)) from None
        check_finite_data(X, y, spec, verb)
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
            X = archive["X"]
            y = archive["y"] if "y" in archive.files else None
            for name, array in (("X", X), ("y", y)):
                if array is not None and array.dtype.kind == "c":
                    raise InputError(f"{spec}: array {name!r} holds complex numbers; xdnn needs real numbers")
            X = np.asarray(X, dtype=np.float64)
    except (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise InputError(f"cannot read {spec}: {error}") from None
    return X, y


def check_finite_data(X: np.ndarray, y: Any, spec: str, verb: str = "training") -> None:
    """Refuse NaN or infinite features or targets, naming the file and which it was."""
    for values, what in ((X, "feature"), (y, "target")):
        if values is None or not np.issubdtype(np.asarray(values).dtype, np.floating):
            continue
        values = np.asarray(values)
        if not np.all(np.isfinite(values)):
            bad = "NaN" if np.isnan(values).any() else "infinite"
            raise InputError(f"{spec} contains {bad} {what} values; remove or impute them before {verb}")


def largest_magnitudes(X: np.ndarray) -> np.ndarray:
    """Each column's largest ``|x|``, shape ``(n_features,)`` (NaN where a column holds NaN), without
    a temporary ``|X|`` as large as ``X``."""
    with np.errstate(invalid="ignore"):
        return np.maximum(X.max(axis=0), -X.min(axis=0))


def check_magnitudes(raw: np.ndarray, scaled: np.ndarray | None, names: list[str], dtype: str, hint: str) -> None:
    """Refuse, by name, a column that overflows when standardised (``scaled`` not finite) or that holds
    values beyond the network's ``dtype`` (``scaled``, or ``raw`` when not standardised); ``raw`` and
    ``scaled`` are each column's largest magnitude before and after standardising."""
    limit = float(np.finfo(dtype).max)
    reached = raw if scaled is None else scaled
    for column in np.flatnonzero(~(reached <= limit)):  # beyond the range, inf or NaN
        if not np.isfinite(reached[column]):
            raise too_large_to_standardise(names[column], raw[column])
        once = "" if scaled is None else f" ({reached[column]:.3g} once standardised)"
        raise InputError(
            f"column {names[column]!r} holds values up to {raw[column]:.3g} in magnitude{once}, "
            f"beyond {dtype}'s range ({limit:.2g}); {hint}"
        )


def too_large_to_standardise(name: str, largest: float) -> InputError:
    """The error for column ``name``, whose largest magnitude ``largest`` overflows float64 when standardised."""
    return InputError(
        f"column {name!r} holds values up to {largest:.3g} in magnitude, too large to standardise in float64; "
        "rescale it (e.g. divide it by a power of ten)"
    )


def check_target_range(y: np.ndarray, name: str, dtype: str) -> None:
    """Refuse regression targets beyond the network's ``dtype`` (they would become inf in training)."""
    largest, limit = float(np.max(np.abs(y))), float(np.finfo(dtype).max)
    if largest > limit:
        hint = "rescale it" if dtype == "float64" else "use --dtype float64 or rescale it"
        raise InputError(
            f"the target {name!r} holds values up to {largest:.3g} in magnitude, beyond {dtype}'s range "
            f"({limit:.2g}); {hint}"
        )
