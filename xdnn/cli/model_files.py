"""Loading a model file written by ``xdnn train``, and checking that its metadata (feature names,
standardisation statistics, classes) fits its network; any failure is one line."""

from __future__ import annotations

import math
import reprlib
from typing import Any

from xdnn._backend import BackendError
from xdnn.cli.errors import InputError


def load_model(path: str, backend: str) -> Any:
    """The network saved at ``path``, on ``backend``, its metadata checked; any failure to load is one line."""
    from xdnn.serialization import ModelFileError, load_network

    try:
        network = load_network(path, backend=backend)
    except (FileNotFoundError, ModelFileError) as error:
        raise InputError(str(error)) from None
    except BackendError:
        raise
    except Exception as error:  # defensively: whatever a corrupt file trips over is one line, not a traceback
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise InputError(f"cannot load model {path}: {detail}") from None
    problem = metadata_problem(network)
    if problem:
        raise InputError(f"cannot use model {path}: its metadata does not fit its network: {problem}")
    return network


def metadata_problem(network: Any) -> str | None:
    """What in a loaded model's metadata (written by ``xdnn train``, or edited) contradicts its network,
    or None: feature names, standardisation statistics and classes must fit its inputs and outputs."""
    metadata, n_features = network.metadata, network.n_features
    names = metadata.get("feature_names")
    if names is not None and not (
        isinstance(names, list) and len(names) == n_features and all(isinstance(name, str) for name in names)
    ):
        return f"'feature_names' is {reprlib.repr(names)}, not a list of {n_features} column names"
    target = metadata.get("target")
    if target is not None and not isinstance(target, str):
        return f"'target' is {reprlib.repr(target)}, not a column name"
    return _statistics_problem(metadata, n_features) or _classes_problem(metadata, network)


def _statistics_problem(metadata: dict[str, Any], n_features: int) -> str | None:
    """What is wrong with ``feature_mean`` and ``feature_std`` (both or neither; one finite number per
    feature; standard deviations positive), or None."""
    keys = [key for key in ("feature_mean", "feature_std") if key in metadata]
    if len(keys) == 1:
        return f"it has {keys[0]!r} but not the other of 'feature_mean' and 'feature_std'"
    for key in keys:
        values = metadata[key]
        if not (isinstance(values, list) and len(values) == n_features and all(map(_is_finite_number, values))):
            return f"{key!r} is {reprlib.repr(values)}, not a list of {n_features} finite numbers (one per feature)"
    if keys and not all(value > 0 for value in metadata["feature_std"]):
        return "'feature_std' holds a standard deviation that is not positive"
    return None


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _classes_problem(metadata: dict[str, Any], network: Any) -> str | None:
    """What is wrong with ``classes`` (one distinct label per class the network's output tells apart:
    two for a sigmoid unit, one per softmax unit; none for a regression), or None."""
    if "classes" not in metadata:
        return None
    classes, loss = metadata["classes"], network.loss.name
    expected = {"binary_crossentropy": 2, "categorical_crossentropy": network.output_units}.get(loss)
    if expected is None:
        return f"it lists classes, but the network is not a classifier (its loss is {loss})"
    if not (isinstance(classes, list) and len(classes) == expected):
        return f"'classes' is {reprlib.repr(classes)}, but the network's output tells {expected} classes apart"
    labels = all(isinstance(label, (str, int, float)) and not isinstance(label, bool) for label in classes)
    if not labels or len(set(classes)) != len(classes):
        return f"'classes' {reprlib.repr(classes)} must be distinct labels (text or numbers)"
    return None
