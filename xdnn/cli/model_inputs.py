"""``--data`` for a saved model (``predict``, ``evaluate``): a CSV's feature columns matched to the
model's by name or position, the features standardised as its training data were and checked against
its dtype, and the labels turned into the class indices it predicts."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

import numpy as np

from xdnn.cli.data import check_finite_data, check_magnitudes, is_csv, largest_magnitudes, load_data
from xdnn.cli.errors import InputError


def model_inputs(network: Any, arguments: argparse.Namespace, *, require_target: bool) -> tuple[np.ndarray, Any]:
    """``(X, y)`` of ``--data`` for a saved model: ``X`` standardised as its training data were and
    checked against its dtype, ``y`` (to evaluate) as the class indices the network predicts."""
    metadata = network.metadata
    data = arguments.data
    if is_csv(data) and (data.endswith(".csv") or os.path.isfile(data)):
        X, y, names = _csv_model_inputs(network, data, arguments.target, require_target=require_target)
    else:
        verb = "evaluating" if require_target else "predicting"
        X, y, names = load_data(data, arguments.target, require_target=require_target, verb=verb)
        expected = metadata.get("feature_names")
        if X.shape[1] != network.n_features:
            raise InputError(f"the model expects {network.n_features} features but {data} has {X.shape[1]}")
        names = expected or names
    X = _scaled_for_model(network, X, names)
    classes = _model_classes(network)
    if require_target and y is not None and classes is not None:  # predictions need no labels
        indices = _class_indices(y, classes)
        # a network that keeps its classes (xdnn.labels) takes the labels themselves, one of its own each
        y = indices if network.classes_ is None else network.classes_[indices]
    return X, y


def _model_classes(network: Any) -> list[Any] | None:
    """The class labels of a saved classifier: its ``classes_``, or (older files) its metadata's."""
    if network.classes_ is not None:
        return network.classes_.tolist()
    return network.metadata.get("classes")


def _csv_model_inputs(
    network: Any, path: str, target: str | None, *, require_target: bool
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """``(X, y, feature_names)`` of a CSV for a saved model: feature columns chosen by name when the model
    was trained on a CSV (so their order may differ and extra columns are ignored), else by position
    (every column but the target, which must then leave exactly the model's feature count)."""
    from xdnn import datasets

    try:
        header = datasets.read_csv_header(path)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    metadata = network.metadata
    n_features = network.n_features
    expected = [str(name) for name in metadata.get("feature_names") or []]
    if target is not None and target not in header:
        raise InputError(f"{path}: no column named {target!r}; columns are: {', '.join(header)}")
    if target is None and metadata.get("target") in header:
        target = metadata["target"]
    trained_on_named_columns = is_csv(str(metadata.get("data", ""))) and len(expected) == n_features
    if not trained_on_named_columns and len(expected) == n_features and all(name in header for name in expected):
        trained_on_named_columns = True  # e.g. x1, x2 of a built-in set, written out with its names
    elif not trained_on_named_columns and target is None and len(header) == n_features + 1:
        target = header[-1]  # as `xdnn train` reads a CSV: the last column is the target
        print(f"xdnn: note: column {target!r} of {path} taken as the target (the last column)", file=sys.stderr)
    if trained_on_named_columns:
        missing = [name for name in expected if name not in header]
        if missing:
            found = [name for name in header if name != target]
            raise InputError(
                f"{path} lacks the feature column(s) the model was trained on ({_difference(expected, found)})"
            )
        columns = [header.index(name) for name in expected]
        others = [name for name in header if name not in expected]
        if target is None and len(others) == 1:
            target = others[0]  # the one column that is not a feature: the target, as `train` reads it
    else:
        columns = [position for position, name in enumerate(header) if name != target]
        if len(columns) != n_features:
            hint = "; name the target column with --target" if len(columns) == n_features + 1 else ""
            found = [header[c] for c in columns]
            differs = f" ({_difference(expected, found)})" if expected else ""
            raise InputError(
                f"the model expects {n_features} features but {path} has {len(columns)} feature columns{differs}{hint}"
            )
    if require_target and target is None:
        known = metadata.get("target")
        missing = f"target column {known!r}" if known else "target column"
        raise InputError(
            f"{path} has no {missing} to evaluate against; its columns are: {', '.join(header)} "
            f"(the model takes {n_features} features); add the target column or name it with --target"
        )
    try:  # the target column (if any) may hold text labels: read apart from the features
        classes = _model_classes(network) or []
        values, y, names = datasets.load_csv_host(
            path, target, require_target=False, read_target=require_target,
            target_as_text=any(isinstance(label, str) for label in classes),
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    X = _columns(values, [names.index(header[column]) for column in columns])
    check_finite_data(X, y, path, "evaluating" if require_target else "predicting")
    return X, y, [header[column] for column in columns]


def _names(names: list[str], limit: int = 10) -> str:
    """At most ``limit`` of ``names``, then how many more there are."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _difference(expected: list[str], found: list[str]) -> str:
    """How the file's feature names differ from the model's, briefly: ``missing: ...; unexpected: ...``."""
    present = set(found)
    missing = [name for name in expected if name not in present]
    known = set(expected)
    unexpected = [name for name in found if name not in known]
    parts = [f"missing: {_names(missing)}"] if missing else []
    parts += [f"unexpected: {_names(unexpected)}"] if unexpected else []
    return "; ".join(parts) or f"the same names, but {len(found)} of them instead of {len(expected)}"


def _columns(values: np.ndarray, columns: list[int]) -> np.ndarray:
    """``values[:, columns]``: a view, not a copy of a large file's numbers, when the columns are adjacent
    and in order."""
    start, stop = columns[0], columns[0] + len(columns)
    return values[:, start:stop] if columns == list(range(start, stop)) else values[:, columns]


def _scaled_for_model(network: Any, X: np.ndarray, names: list[str]) -> np.ndarray:
    """``X`` standardised (in place, where it may be written) as the model's training data were, each
    column checked against the model's dtype: a value too large is named, not turned into inf or NaN."""
    metadata = network.metadata
    X = np.asarray(X, dtype=np.float64)
    if not X.flags.writeable:
        X = X.copy()
    raw, scaled = largest_magnitudes(X), None
    if "feature_mean" in metadata:
        with np.errstate(over="ignore", invalid="ignore"):
            X -= np.asarray(metadata["feature_mean"], dtype=np.float64)
            X /= np.asarray(metadata["feature_std"], dtype=np.float64)
        scaled = largest_magnitudes(X)
    dtype = network.dtype_name
    check_magnitudes(raw, scaled, names, dtype, f"the model computes in {dtype}: rescale it as its training data were")
    return X


def _class_indices(y: Any, classes: list[Any]) -> np.ndarray:
    """The index in ``classes`` of each label of ``y``, labels compared as a CSV writes them: first as
    their exact text, then as numbers (``1``, ``1.0`` and ``"1"`` are one label).  Labels never seen in
    training are one line that names them."""
    values = np.asarray(y)
    if values.ndim != 1:
        raise InputError(f"a classifier's target is one label per sample, got shape {values.shape}")
    exact = {str(label): index for index, label in enumerate(classes)}
    as_numbers: dict[str, int] = {}
    for index, label in enumerate(classes):
        key = _number_key(label)
        if key is not None:
            as_numbers.setdefault(key, index)
    indices, unknown = np.empty(values.shape[0], dtype=np.int64), {}
    for row, value in enumerate(values.tolist()):
        found = exact.get(str(value), as_numbers.get(_number_key(value)))
        if found is None:
            unknown.setdefault(str(value), value)
        else:
            indices[row] = found
    if unknown:
        shown = ", ".join(repr(label) for label in list(unknown.values())[:5]) + (", ..." if len(unknown) > 5 else "")
        verb = "label {} was" if len(unknown) == 1 else "labels {} were"
        raise InputError(f"{verb.format(shown)} not seen in training (classes: {classes})")
    return indices


def _number_key(label: Any) -> str | None:
    """A label's value as a number, written one way (``"1"`` for 1, 1.0 and ``"1.0"``), or None for text."""
    if isinstance(label, str):
        if not label.isascii() or "_" in label:  # (as the CSV reader: no 1_000, no non-ASCII digits)
            return None
        try:
            value = float(label)
        except ValueError:
            return None
    elif isinstance(label, (int, float)) and not isinstance(label, bool):
        value = float(label)
    else:
        return None
    if not math.isfinite(value):
        return None
    return str(int(value)) if value.is_integer() else repr(value)
