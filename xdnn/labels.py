"""The names data carry, kept by :class:`xdnn.Network`: class labels and feature names (host side).

Class labels
------------
A classifier's ``y`` of text (or any other non-numeric values: an object array, a pandas
Series of strings or categories) is encoded on the host before it reaches the network:

* ``classes_`` are the distinct labels, sorted (as scikit-learn's ``LabelEncoder`` orders them),
  a NumPy array of shape ``(k,)``;
* label ``classes_[i]`` trains as class index ``i``: the ``i``-th unit of a softmax output of ``k``
  units, or the value ``i`` (0 or 1) of one sigmoid unit for two classes;
* ``predict`` maps the indices back, ``classes_[index]``.

Numbers keep their meaning as class indices (0/1, 0..k-1), as in the tutorial: they never
pass through here.

Feature names
-------------
The column names of a data frame (anything with ``columns`` whose names are all strings),
kept as ``feature_names_in_`` like scikit-learn's, and checked on every later call that
passes a data frame.

Nothing here changes a network: each function returns what the caller then sets.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import numpy as np

from xdnn._namespace import is_host_data, to_numpy

JSON_LABEL_TYPES = (str, int, float, bool)  # label values a model file stores (in its JSON)


def text_labels(y: Any, name: str = "y") -> np.ndarray | None:
    """``y`` as a 1-D NumPy array of labels when it is host data holding non-numeric values, else
    ``None`` (numbers, and arrays of a backend, are targets as they stand).

    ``y`` of shape ``(n_samples,)`` or ``(n_samples, 1)``; a wider array of text is refused: a
    classifier trained on labels takes one label per sample."""
    if y is None or not is_host_data(y) or _is_numeric_dtype(getattr(y, "dtype", None)):
        return None
    try:
        values = np.asarray(y)
    except (TypeError, ValueError):
        return None  # (the ordinary checks then name the problem)
    if values.dtype.kind not in "USO":
        return None
    if values.dtype.kind == "O" and _all_numbers(values):
        return None  # an object array of numbers: numbers
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"{name} holds text labels in an array of shape {values.shape}: a classifier takes one label per "
            "sample, shape (n_samples,)"
        )
    _check_present(values, name)
    return values


def encoded_targets(
    network: Any, y: Any, name: str = "y", classes: np.ndarray | None = None, *, new: bool = True
) -> tuple[Any, Any]:
    """``(y, classes)`` for a call of ``network`` on targets ``y``: with class labels -- text, or any
    ``y`` once the network has ``classes_`` -- ``y`` becomes their int64 indices ``(n_samples,)`` and
    ``classes`` the network's ``classes_`` (or, at its first fit, :func:`new_classes`); numeric
    targets of a network without classes pass unchanged, with ``classes`` ``None``.  ``classes``
    given (a validation set's) are used instead of the network's.  Only an untrained network's fit
    (``new``) takes new classes: a network trained on numbers refuses labels, and so does a call that
    does not train (``new=False``: evaluate, gradient checks) on a network without ``classes_``.  An
    object array of numbers becomes float64 numbers."""
    classes = network.classes_ if classes is None else classes
    labels = text_labels(y, name)
    if labels is None and classes is not None and y is not None:
        labels = np.asarray(to_numpy(y))  # numbers for a network of labels: encoded, or refused by name
        labels = labels[:, 0] if labels.ndim == 2 and labels.shape[1] == 1 else labels
        if labels.ndim != 1:
            raise ValueError(f"{name} must be one class label per sample, shape (n_samples,), got {labels.shape}")
    if labels is None:
        return _numbers_of(y), None
    if classes is None and not new:
        raise ValueError(
            f"{name} holds class labels ({_preview(_sorted_distinct(labels, name, check=False))}), but this network "
            "has no classes_: it was not fitted on class labels"
        )
    if classes is None and (network.optimizer.iterations > 0 or network.epochs_trained > 0):
        raise ValueError(
            f"{name} holds class labels ({_preview(_sorted_distinct(labels, name, check=False))}), but this network "
            "was trained on numbers (it has no classes_): pass the class indices it was trained on"
        )
    if classes is None:
        classes = new_classes(labels, network, name)
    return encode(labels, classes, name), classes


@contextlib.contextmanager
def names_adopted(network: Any, classes: np.ndarray | None, names: np.ndarray | None) -> Iterator[None]:
    """The block of a fit that trains: ``network.classes_`` become ``classes`` (its targets' labels, when
    there are any) and ``feature_names_in_`` become ``names`` (a data frame's columns, when given); an
    error that ends the block before a first training step puts both back as they were."""
    before = network.classes_, network.feature_names_in_, network.optimizer.iterations
    if classes is not None:
        network.classes_ = classes
    if names is not None:
        network.feature_names_in_ = names
    try:
        yield
    except BaseException:
        if network.optimizer.iterations == before[2]:  # refused, or stopped before its first step
            network.classes_, network.feature_names_in_ = before[:2]
        raise


def new_classes(labels: np.ndarray, network: Any, name: str = "y") -> np.ndarray:
    """The sorted distinct ``labels`` as the ``classes_`` of ``network``'s first fit, checked
    against its output layer: two classes for one sigmoid unit, ``k`` for a softmax of ``k`` units."""
    loss, units = network.loss.name, network.output_units
    if loss not in ("binary_crossentropy", "categorical_crossentropy") or (
        loss == "binary_crossentropy" and units != 1
    ):
        raise ValueError(
            f"{name} holds class labels ({_preview(_sorted_distinct(labels, name, check=False))}), but this "
            f"network's output ({units} "
            f"{network.layers[-1].activation.name} unit(s), loss {loss!r}) is not a classifier of one label per "
            "sample: use one sigmoid unit for two classes or a softmax of k units for k classes"
        )
    classes = _sorted_distinct(labels, name)
    wanted = 2 if loss == "binary_crossentropy" else units
    if classes.shape[0] != wanted:
        output = "one sigmoid unit" if loss == "binary_crossentropy" else f"a softmax output of {units} units"
        raise ValueError(
            f"{name} holds {classes.shape[0]} classes ({_preview(classes)}), but {output} tells apart exactly "
            f"{wanted}: build the network with as many output units as classes"
        )
    return classes


def encode(labels: np.ndarray, classes: np.ndarray, name: str = "y") -> np.ndarray:
    """The index in ``classes`` of each label: int64 ``(n_samples,)``; a label that is not a class
    is a ``ValueError`` naming it (up to five of them) and the classes."""
    try:
        positions = np.searchsorted(classes, labels)
    except TypeError:
        positions = None
    if positions is not None:
        inside = positions < classes.shape[0]
        found = np.zeros(labels.shape, dtype=bool)
        found[inside] = classes[positions[inside]] == labels[inside]
        if found.all():
            return positions.astype(np.int64)
        unknown = labels[~found]
    else:  # labels of another type than the classes' (numbers given to a network of text classes)
        unknown = labels
    raise ValueError(
        f"{name} holds labels this network was not trained on: {_preview(_sorted_distinct(unknown, name, check=False))}"
        f"; its classes are {_preview(classes)}"
    )


def decode(indices: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``classes[indices]``: the labels of class indices (any shape), a NumPy array of ``classes``' dtype."""
    return classes[np.asarray(indices, dtype=np.int64)]


def labels_for_file(classes: np.ndarray | None) -> list[Any] | None:
    """``classes_`` as a JSON list for a model file; ``ValueError`` for labels JSON cannot keep exactly
    (only strings, integers, finite floats and booleans are stored)."""
    if classes is None:
        return None
    values = classes.tolist()
    for value in values:
        if not isinstance(value, JSON_LABEL_TYPES) or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(
                f"cannot save the model: its class label {value!r} ({type(value).__name__}) cannot be stored; "
                "a model file keeps text, integer, finite float and boolean labels"
            )
    return values


def labels_from_file(values: Any, network: Any) -> np.ndarray | None:
    """The ``classes_`` a model file lists (``None`` when it lists none), checked: distinct, sorted,
    of one kind, as many as the output tells apart.  Raises ``ValueError`` otherwise."""
    if values is None:
        return None
    if not isinstance(values, list) or not values:
        raise ValueError(f"classes must be a non-empty list of labels, got {values!r:.80}")
    kinds = {type(value) for value in values}
    if len(kinds) != 1 or not kinds <= set(JSON_LABEL_TYPES):
        raise ValueError(
            f"classes must be labels of one kind (text, integers, ...), got {sorted(k.__name__ for k in kinds)}"
        )
    classes = np.asarray(values) if kinds != {str} else np.asarray(values, dtype=str)
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ValueError("classes must be finite")
    if np.unique(classes).shape[0] != classes.shape[0] or not np.array_equal(np.sort(classes), classes):
        raise ValueError("classes must be distinct and sorted")
    expected = new_classes(classes, network, "classes")  # the same rule as a fit's
    return expected


def feature_names(X: Any) -> np.ndarray | None:
    """The column names of a data frame (any object with ``columns``) as an object array when all are
    strings, ``None`` when none is or ``X`` has no columns; mixed names raise ``TypeError``, as
    scikit-learn's do."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(list(columns), dtype=object)
    strings = [isinstance(name, str) for name in names]
    if all(strings) and names.shape[0] > 0:
        return names
    if any(strings):
        kinds = sorted({type(name).__name__ for name in names})
        raise TypeError(
            "Feature names are only supported if all input features have string names, but your input has "
            f"{kinds} as feature name / column name types. Convert the names to strings (X.columns = "
            "X.columns.astype(str)) to use them."
        )
    return None


def check_feature_names(fitted: np.ndarray | None, names: np.ndarray | None, name: str = "X") -> None:
    """``ValueError`` when data-frame columns ``names`` differ from the ``fitted`` ones (either may be
    ``None``: plain arrays carry no names and are taken by position).  The message lists what differs,
    once and briefly."""
    if fitted is None or names is None:
        return
    if names.shape == fitted.shape and bool(np.all(names == fitted)):
        return
    missing = [str(column) for column in fitted if column not in set(names)]
    unexpected = [str(column) for column in names if column not in set(fitted)]
    parts = []
    if missing:
        parts.append(f"missing {_preview(np.asarray(missing))}")
    if unexpected:
        parts.append(f"unexpected {_preview(np.asarray(unexpected))}")
    if not parts:
        parts.append("the same names in another order")
    raise ValueError(f"{name}'s columns differ from those the network was fitted with: {'; '.join(parts)}")


def names_from_file(values: Any, n_features: int) -> np.ndarray | None:
    """The ``feature_names_in_`` a model file lists, checked: ``n_features`` strings."""
    if values is None:
        return None
    if not isinstance(values, list) or len(values) != n_features or not all(isinstance(v, str) for v in values):
        raise ValueError(f"feature_names must be a list of {n_features} strings, got {values!r:.80}")
    return np.asarray(values, dtype=object)


# --- helpers ---------------------------------------------------------------------------------------


def _is_numeric_dtype(dtype: Any) -> bool:
    if dtype is None:
        return False  # a list or tuple: look at the values
    try:
        return np.dtype(dtype).kind in "biuf"
    except TypeError:
        return False  # not a NumPy dtype (None, a pandas extension dtype): look at the values


def _numbers_of(y: Any) -> Any:
    """An object array of numbers as float64 (the checks of :mod:`xdnn.inputs` take numeric dtypes only)."""
    if isinstance(y, np.ndarray) and y.dtype.kind == "O" and y.size and _all_numbers(y):
        return y.astype(np.float64)
    return y


def _all_numbers(values: np.ndarray) -> bool:
    import numbers

    return all(isinstance(value, numbers.Real) for value in values.reshape(-1).tolist())


def _check_present(values: np.ndarray, name: str) -> None:
    """Refuse missing labels (``None``, NaN) of an object array, naming the first row."""
    if values.dtype.kind != "O":
        return
    for row, value in enumerate(values.tolist()):
        missing = type(value).__name__ in ("NAType", "NaTType")  # pandas' markers, without importing pandas
        if value is None or missing or (isinstance(value, float) and math.isnan(value)):
            raise ValueError(f"{name} has a missing label ({value!r}) at row {row}: every sample needs a class label")


def _sorted_distinct(labels: np.ndarray, name: str, *, check: bool = True) -> np.ndarray:
    try:
        return np.unique(labels)
    except TypeError:
        kinds = sorted({type(value).__name__ for value in labels.tolist()})
        if not check:
            return labels[:5]
        raise ValueError(f"{name} mixes label types ({', '.join(kinds)}): class labels must be of one kind") from None


def _preview(values: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(repr(value) for value in values[:limit].tolist())
    more = values.shape[0] - limit
    return f"[{shown}{f', ... ({more} more)' if more > 0 else ''}]"
