"""Data sets for examples and the command line, returned as ``(X, y)`` on the active backend.

Layout is the high-level one: ``X (n_samples, n_features)`` float64, ``y (n_samples,)``
(int64 class labels, or float64 targets).  ``*_host`` variants return NumPy arrays.

* :func:`planar` -- the tutorials' two-class "flower": for class ``j`` in {0, 1}, 200
  points with ``t = linspace(3.12 j, 3.12 (j + 1), 200) + 0.2 randn(200)``,
  ``r = 4 sin(4 t) + 0.2 randn(200)`` and point ``(r sin t, r cos t)``, drawn after
  the legacy ``np.random.seed(1)`` exactly as the tutorial does (from a private
  ``RandomState``, so the global NumPy generator is left alone).
* :func:`moons`, :func:`circles` -- two interleaving half circles / two concentric
  circles with Gaussian noise, from a seeded generator (no scikit-learn needed).
* :func:`digits`, :func:`breast_cancer` -- scikit-learn's bundled copies (8x8 digit
  images, 10 classes; Wisconsin breast cancer, 2 classes); need ``xdnn-array[examples]``.
* :func:`load_csv` -- a CSV file with a header row and a named target column
  (:func:`read_csv_header` reads only the column names).
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from array import array
from collections.abc import Iterator
from typing import Any

import numpy as np

from xdnn._namespace import array_context


def _on_backend(X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    context = array_context()
    return context.asarray(X), context.asarray(y)


def planar_host(n_samples: int = 400, *, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The flower as NumPy arrays: ``X (n_samples, 2)`` float64, ``y (n_samples,)`` int64 0/1."""
    random_state = np.random.RandomState(seed)
    points_per_class = n_samples // 2
    petals = 4
    X = np.zeros((points_per_class * 2, 2))
    y = np.zeros(points_per_class * 2, dtype=np.int64)
    for label in range(2):
        rows = slice(points_per_class * label, points_per_class * (label + 1))
        t = np.linspace(label * 3.12, (label + 1) * 3.12, points_per_class)
        t = t + random_state.randn(points_per_class) * 0.2
        r = petals * np.sin(4 * t) + random_state.randn(points_per_class) * 0.2
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = label
    return X, y


def load_planar_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's ``load_planar_dataset()``: ``X (2, 400)``, ``Y (1, 400)`` uint8, NumPy."""
    X, y = planar_host()
    return X.T.copy(), y.reshape(1, -1).astype(np.uint8)


def planar(n_samples: int = 400, *, seed: int = 1) -> tuple[Any, Any]:
    """The flower on the active backend: ``X (n_samples, 2)``, ``y (n_samples,)``."""
    return _on_backend(*planar_host(n_samples, seed=seed))


def moons_host(n_samples: int = 500, *, noise: float = 0.2, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: outer ``(cos t, sin t)``, inner ``(1 - cos t, 0.5 - sin t)``, ``t in [0, pi]``."""
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    outer = np.linspace(0.0, math.pi, n_outer)
    inner = np.linspace(0.0, math.pi, n_inner)
    X = np.vstack([np.c_[np.cos(outer), np.sin(outer)], np.c_[1.0 - np.cos(inner), 0.5 - np.sin(inner)]])
    y = np.r_[np.zeros(n_outer, dtype=np.int64), np.ones(n_inner, dtype=np.int64)]
    X = X + rng.normal(scale=noise, size=X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def moons(n_samples: int = 500, *, noise: float = 0.2, seed: int | None = 0) -> tuple[Any, Any]:
    """:func:`moons_host` on the active backend."""
    return _on_backend(*moons_host(n_samples, noise=noise, seed=seed))


def circles_host(
    n_samples: int = 500, *, noise: float = 0.1, factor: float = 0.5, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles, radius 1 (label 0) and ``factor`` (label 1), with Gaussian noise."""
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor must be in (0, 1), got {factor}")
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    outer = np.linspace(0.0, 2 * math.pi, n_outer, endpoint=False)
    inner = np.linspace(0.0, 2 * math.pi, n_inner, endpoint=False)
    X = np.vstack([np.c_[np.cos(outer), np.sin(outer)], factor * np.c_[np.cos(inner), np.sin(inner)]])
    y = np.r_[np.zeros(n_outer, dtype=np.int64), np.ones(n_inner, dtype=np.int64)]
    X = X + rng.normal(scale=noise, size=X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def circles(n_samples: int = 500, *, noise: float = 0.1, factor: float = 0.5, seed: int | None = 0) -> tuple[Any, Any]:
    """:func:`circles_host` on the active backend."""
    return _on_backend(*circles_host(n_samples, noise=noise, factor=factor, seed=seed))


def _sklearn_datasets():
    try:
        import sklearn.datasets
    except ImportError:
        raise ImportError(
            "this data set is read from scikit-learn's bundled files; "
            'install it with: pip install "xdnn-array[examples]"'
        ) from None
    return sklearn.datasets


def digits_host() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digit images: ``X (1797, 64)`` pixel values 0..16, ``y`` 0..9."""
    bunch = _sklearn_datasets().load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


def digits() -> tuple[Any, Any]:
    """:func:`digits_host` on the active backend."""
    return _on_backend(*digits_host())


def breast_cancer_host() -> tuple[np.ndarray, np.ndarray]:
    """Wisconsin breast cancer: ``X (569, 30)`` float64, ``y`` 0 (malignant) / 1 (benign)."""
    bunch = _sklearn_datasets().load_breast_cancer()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


def breast_cancer() -> tuple[Any, Any]:
    """:func:`breast_cancer_host` on the active backend."""
    return _on_backend(*breast_cancer_host())


def _is_number(text: str) -> bool:
    """Whether ``text`` is a number as a CSV file writes one: ``float()``'s forms, less its ``1_000``
    and its non-ASCII digits (``'٣'``, ``'１'``)."""
    if not text.isascii() or "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_header(row: list[str], path: str) -> list[str]:
    """The column names in ``row``; refuse a first row that is data (every field a number)."""
    header = [name.strip() for name in row]
    if all(_is_number(name) for name in header):
        shown = ",".join(header[:5]) + (",..." if len(header) > 5 else "")
        raise ValueError(
            f"{path}: the first row ({shown}) holds numbers, not column names; "
            "CSV files need a header row naming the columns (e.g. x1,x2,label): add one"
        )
    unnamed = [str(position) for position, name in enumerate(header, start=1) if not name]
    if unnamed:
        raise ValueError(f"{path}: header column(s) {', '.join(unnamed)} have no name; name every column")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: the header repeats column name(s) {', '.join(map(repr, repeated))}; rename them")
    return header


def _check_is_file(path: str) -> None:
    """``FileNotFoundError`` for a missing path, ``ValueError`` for a folder (or a device) given as a CSV file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    if not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "not a regular file"
        raise ValueError(f"{path} is {kind}, not a CSV file")


def _csv_rows(stream: Any, path: str) -> Iterator[list[str]]:
    """The non-blank rows of an open CSV file; a file that is not UTF-8 text, or that the ``csv`` module
    cannot parse (e.g. a field longer than its limit), is a ``ValueError`` naming the file and line."""
    reader = csv.reader(stream)
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                yield row
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise ValueError(
            f"{path} is not UTF-8 text (byte {byte:#04x}: {error.reason}); save it as a UTF-8 CSV"
        ) from None
    except csv.Error as error:
        raise ValueError(f"{path}: line {reader.line_num}: {error}") from None


def read_csv_header(path: str | os.PathLike) -> list[str]:
    """The column names of a CSV file (its first non-blank row), read without loading the data.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for an empty file, a folder,
    a file that is not UTF-8 text, or one whose first row is data rather than column names.
    """
    path = os.fspath(path)
    _check_is_file(path)
    with open(path, newline="", encoding="utf-8-sig") as stream:
        for row in _csv_rows(stream, path):
            return _check_header(row, path)
    raise ValueError(f"{path} is empty")


def _row_values(row: list[str], number: int, header: list[str], path: str) -> list[float]:
    """The numbers of data row ``number`` (the header is row 1); a wrong length or a cell that is not a
    number is a ``ValueError`` naming the row and the column."""
    if len(row) != len(header):
        raise ValueError(f"{path}: row {number} has {len(row)} values but the header has {len(header)} columns")
    try:
        values = list(map(float, row))
    except ValueError:
        values = None
    if values is not None:
        text = "".join(row)  # one check per row: float() also takes 1_000 and non-ASCII digits
        if text.isascii() and "_" not in text:
            return values
    for cell, name in zip(row, header, strict=True):
        if not _is_number(cell):
            raise ValueError(f"{path}: row {number}, column {name!r}: {cell!r} is not a number")
    raise ValueError(f"{path}: row {number} holds a value that is not a number")


def _target_column(header: list[str], target: str | None, require_target: bool, path: str) -> int | None:
    """The position of the target column (default: the last one when a target is required), or None."""
    if target is None and require_target:
        target = header[-1]
    if target is None:
        return None
    if target not in header:
        raise ValueError(f"{path}: no column named {target!r}; columns are: {', '.join(header)}")
    if len(header) == 1:
        raise ValueError(f"{path} has only the target column {target!r} and no feature columns")
    return header.index(target)


def holds_integers(values: np.ndarray) -> bool:
    """Whether float ``values`` are all whole numbers that int64 holds exactly (``|v| <= 2**53``): labels,
    not measurements such as 3e39 that merely have no fraction."""
    return bool(np.all(np.abs(values) <= 2.0**53) and np.all(values == np.round(values)))


def load_csv_host(
    path: str | os.PathLike,
    target: str | None = None,
    *,
    require_target: bool = True,
    target_as_text: bool = False,
    read_target: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Read a CSV with a header row: ``(X, y, feature_names)`` as NumPy.

    ``target`` names the label column (default: the last column).  With
    ``require_target=False`` and no ``target`` every column is a feature and ``y``
    is ``None`` (for prediction).  Integer-valued targets become int64 labels; a target column
    with any cell that is not a number is a column of class labels, returned as text, each cell
    as written (empty cells and markers such as ``NA`` are refused).  ``target_as_text`` reads the
    target as labels whatever it holds; ``read_target=False`` leaves the target column out unread
    (``y`` is ``None``).  A
    first row whose every field is a number is refused (``ValueError``): it is data,
    and taking it as the header would silently lose a sample.

    Memory: each row is parsed as it is read and its numbers appended to flat ``array('d')``
    buffers (features, target) that become ``X`` and ``y`` without a copy, so reading peaks
    near the size of the float64 result rather than of the file's text as Python strings.
    """
    path = os.fspath(path)
    _check_is_file(path)
    with open(path, newline="", encoding="utf-8-sig") as stream:  # -sig: a byte-order mark is not a name
        rows = _csv_rows(stream, path)
        first = next(rows, None)
        if first is None:
            raise ValueError(f"{path} is empty")
        header = _check_header(first, path)
        column = _target_column(header, target, require_target, path)
        feature_header = [name for position, name in enumerate(header) if position != column]
        name = header[column] if column is not None else ""
        features, targets = array("d"), TargetColumn(name, path, column or 0, as_text=target_as_text)
        for number, row in enumerate(rows, start=2):
            if column is not None and len(row) == len(header):
                if read_target:
                    targets.append(row[column], number)
                row = row[:column] + row[column + 1 :]
                values = _row_values(row, number, feature_header, path)
            else:
                values = _row_values(row, number, header, path)
            features.extend(values)
    n_rows = len(features) // len(feature_header)
    if n_rows == 0:
        raise ValueError(f"{path} has a header but no data rows")
    X = np.frombuffer(features, dtype=np.float64).reshape(n_rows, -1)
    if column is None:
        return X, None, header
    return X, targets.values() if read_target else None, feature_header


# Cells that mean "no value" in CSV files written by spreadsheets, R and pandas: never a class label.
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})


class TargetColumn:
    """A CSV's target cells, read row by row: numbers while every cell is one (a flat ``array('d')``),
    and from the first cell that is not, class labels -- each distinct text once, each row its code.
    The cells read as numbers before that are read again from the file, as their own text (``"1.0"``
    stays ``"1.0"``).  ``as_text`` reads every cell as a label from the start."""

    def __init__(self, name: str, path: str, column: int, *, as_text: bool = False) -> None:
        self.name, self.path, self.column = name, path, column
        self.numbers: array | None = None if as_text else array("d")
        self.codes = array("q")
        self.labels: dict[str, int] = {}

    def append(self, cell: str, number: int) -> None:
        if self.numbers is not None:
            if _is_number(cell):
                self.numbers.append(float(cell))
                return
            # the first label: the cells read as numbers so far were labels too ("1.0", "2", "cat")
            for row_number, earlier in self._earlier_cells(len(self.numbers)):
                self._add_label(earlier, row_number)
            self.numbers = None
        self._add_label(cell, number)

    def _earlier_cells(self, count: int) -> Iterator[tuple[int, str]]:
        """The first ``count`` target cells of the file (with their row numbers), read again."""
        with open(self.path, newline="", encoding="utf-8-sig") as stream:
            rows = _csv_rows(stream, self.path)
            next(rows)  # the header
            for number, row in enumerate(itertools.islice(rows, count), start=2):
                yield number, row[self.column]

    def _add_label(self, label: str, number: int) -> None:
        if label.strip().lower() in MISSING_MARKERS:
            shown = "empty" if not label.strip() else f"{label!r}, a missing-value marker"
            raise ValueError(
                f"{self.path}: row {number}, column {self.name!r} is {shown}: every sample needs a label; "
                "remove or fill those rows"
            )
        self.codes.append(self.labels.setdefault(label, len(self.labels)))

    def values(self) -> np.ndarray:
        """``(n_rows,)``: int64 for whole numbers, float64 for other numbers, text for labels."""
        if self.numbers is not None:
            y = np.frombuffer(self.numbers, dtype=np.float64)
            return y.astype(np.int64) if holds_integers(y) else y
        return np.asarray(list(self.labels), dtype=str)[np.frombuffer(self.codes, dtype=np.int64)]


def load_csv(path: str | os.PathLike, target: str | None = None) -> tuple[Any, Any]:
    """:func:`load_csv_host` on the active backend: ``(X, y)``; a target of text labels stays a NumPy array
    (labels live on the host: :class:`xdnn.Network` encodes them, see :mod:`xdnn.labels`)."""
    X, y, _ = load_csv_host(path, target)
    if y.dtype.kind == "U":
        return array_context().asarray(X), y
    return _on_backend(X, y)
