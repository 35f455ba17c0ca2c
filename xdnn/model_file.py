"""Read and check a model file: every check made before the bytes it guards are read.

A model file is one ``.npz`` (zip) archive: ``architecture`` (a JSON string: format tag, version,
layers, loss, optimizer and schedule settings, dtype, input size, counters, metadata, random
state), ``parameters/<name>``, ``state/<name>`` and ``optimizer/<name>`` arrays.

Reading is total: any file gives a network whose arrays fit its architecture and hold only
values a trained network can hold (listed below), or :class:`ModelFileError` saying what is
wrong -- never another exception, never code run from the file (nothing is unpickled), and in
time and memory bounded by the limits below, however the file was damaged or forged:

* the zip listing is checked before anything is decompressed: each entry once, only
  ``architecture.npy`` and ``parameters/``, ``state/``, ``optimizer/<name>.npy``, stored or
  deflated, not encrypted;
* the architecture entry holds at most :data:`MAX_ARCHITECTURE_CHARACTERS` characters of
  standard JSON (metadata included): no ``NaN`` or ``Infinity``, no number beyond float range,
  nesting no deeper than Python's recursion limit; its counters are integers in
  ``[0, MAX_COUNTER]``;
* the arrays' names and shapes follow from the architecture without building the network;
  their trainable parameters number at most ``max_parameters`` (default
  :data:`MAX_PARAMETERS`; ``xdnn.load(path, max_parameters=...)`` raises it), and each entry's
  declared size must be exactly its ``.npy`` header's and data's, so a deflate bomb is refused
  unread; every entry is read completely, so its CRC-32 is verified;
* arrays are float16, float32 or float64; parameters and running statistics finite and within
  the range of the model's dtype; an optimizer's state free of NaN (it may hold inf: a running
  average that overflowed while training went on); averages of squares (batch norm's running
  variance, the ``s`` of RMSprop and Adam) never negative (:func:`value_refusal`).  Saving
  refuses what reading would refuse, so a file that was written can be read back.

:func:`read_model_file` is the entry point; ``xdnn.serialization`` places what it returns on a
backend.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
import zlib
from typing import Any, Callable

import numpy as np
from numpy.lib import format as npy_format

from xdnn.labels import labels_from_file, names_from_file
from xdnn.layers import BatchNorm, build_layers, layer_from_config
from xdnn.optimizers import Adam, RMSprop, get_optimizer, get_schedule

FORMAT = "xdnn.Network"
VERSION = 1
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive with members / an empty one

MAX_PARAMETERS = 100_000_000
"""Default of ``max_parameters``: the most trainable parameters a model file may declare (400 MB in float32)."""

MAX_ARCHITECTURE_CHARACTERS = 8 * 2**20
"""The longest architecture JSON (metadata included: e.g. the feature names of wide data) a model
file may hold, in characters; stored as UTF-32, it takes up to 32 MiB.  ``save`` refuses longer."""

MAX_COUNTER = 2**53
"""The largest ``optimizer_iterations`` and ``epochs_trained`` a model file may hold (exact in float64)."""

_NPY_HEADER_BYTES = 4096  # the longest .npy header accepted (NumPy writes 128 bytes for these arrays)
_FLOAT_ITEMSIZES = (2, 4, 8)  # float16, float32, float64
_ARRAY_ENTRY = re.compile(r"(?:parameters|state|optimizer)/[A-Za-z_][A-Za-z0-9_]*\.npy")
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_REFUSED_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, compressed patched data, strong encryption


class ModelFileError(ValueError):
    """A model file is corrupt, truncated, foreign or inconsistent."""


def never_negative_entries(network: Any, optimizer_names: Any) -> set[str]:
    """The entries that are averages of squares, where a negative value would make ``sqrt`` NaN:
    batch norm's running variances and the squared-gradient averages ``s_*`` of RMSprop and Adam
    (``optimizer_names``: the names of the optimizer's state)."""
    keys = {f"state/{layer.names['running_var']}" for layer in network.layers if isinstance(layer, BatchNorm)}
    if isinstance(network.optimizer, (RMSprop, Adam)):
        keys |= {f"optimizer/{name}" for name in optimizer_names if name.startswith("s_")}
    return keys


def value_refusal(key: str, value: np.ndarray, dtype: np.dtype, never_negative: bool) -> str | None:
    """Why a model file may not hold ``value`` as entry ``key`` of a ``dtype`` model (``None``: it may).

    Parameters and running statistics are finite and within ``dtype``'s range; an optimizer's
    state holds no NaN (a running average may have overflowed to inf -- Adam's squared gradients
    on unscaled data -- while training went on); averages of squares are never negative.
    ``save`` and ``load`` apply the same rule, so a file that was written can be read back.
    """
    if key.startswith("optimizer/"):
        if np.any(np.isnan(value)):
            return "contains NaN"
    elif not np.all(np.isfinite(value)):
        return "contains NaN or inf"
    elif value.size and float(np.max(np.abs(value))) > float(np.finfo(dtype).max):
        return f"holds values too large for {dtype} (largest magnitude {float(np.finfo(dtype).max):.4g})"
    if never_negative and np.any(value < 0):
        return "holds negative values, but it is an average of squares (a variance)"
    return None


class _Shape:
    """Stands for an initial array by its shape alone (``randn(...) * scale`` stays one)."""

    def __init__(self, *shape: int) -> None:
        self.shape = tuple(shape)

    def __mul__(self, other: Any) -> _Shape:
        return self

    __rmul__ = __mul__


class _ShapeDraws:
    """:class:`xdnn.initializers.HostDraws` and an array namespace's ``zeros_like``, as far as layers
    and optimizers use them, drawing shapes instead of arrays: which arrays a network has, and of
    what shapes, without allocating them."""

    randn = zeros = ones = _Shape

    @staticmethod
    def zeros_like(value: _Shape) -> _Shape:
        return value


def _expected_shapes(network: Any, n_features: int) -> dict[str, dict[str, tuple[int, ...]]]:
    """``{"parameters": {"W1": (units, n_features), ...}, "state": {...}, "optimizer": {...}}``: the
    arrays a model file of ``network`` holds.  The layers are numbered as ``Network.build`` numbers
    them: the l-th Dense owns ``W{l}`` and ``b{l}``, a BatchNorm after it ``gamma{l}``, ``beta{l}``..."""
    build_layers(network.layers, n_features)
    draws, parameters, state = _ShapeDraws(), {}, {}
    for layer in network.layers:
        parameters.update(layer.host_parameters(draws, network.initialization))
        state.update(layer.host_state(draws))
    network.optimizer.initialize(parameters, xp=_ShapeDraws)
    optimizer, network.optimizer.state = network.optimizer.state, {}
    groups = {"parameters": parameters, "state": state, "optimizer": optimizer}
    return {group: {name: value.shape for name, value in arrays.items()} for group, arrays in groups.items()}


def _counter(architecture: dict[str, Any], key: str) -> int:
    """``architecture[key]`` (0 when absent), an integer in ``[0, MAX_COUNTER]``."""
    value = architecture.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNTER:
        raise ValueError(f"{key} must be an integer in [0, 2**53], got {value!r}")
    return value


def _network_of(architecture: dict[str, Any]) -> tuple[Any, dict[str, dict[str, tuple[int, ...]]]]:
    """The network ``architecture`` describes (layers numbered, no arrays yet), with its counters and
    metadata, and the shapes of the arrays its file must hold.  Raises what the constructors raise
    (``KeyError``, ``TypeError``, ``ValueError``...) for a bad architecture."""
    from xdnn.network import Network

    network = Network(
        [layer_from_config(config) for config in architecture["layers"]],
        loss=architecture["loss"],
        optimizer=get_optimizer(architecture["optimizer"]),
        learning_rate=get_schedule(architecture["learning_rate"]),
        l2=architecture["l2"],
        initialization=architecture["initialization"],
        dtype=architecture["dtype"],
        seed=architecture["seed"],
        dropout_masks=architecture["dropout_masks"],
        metrics=architecture["metrics"],
    )
    n_features = architecture["n_features"]
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features <= 0:
        raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
    shapes = _expected_shapes(network, n_features)
    network.optimizer.iterations = _counter(architecture, "optimizer_iterations")
    network.epochs_trained = _counter(architecture, "epochs_trained")
    network.metadata = architecture.get("metadata", {})
    if not isinstance(network.metadata, dict):
        raise ValueError("metadata must be a JSON object")
    network.classes_ = labels_from_file(architecture.get("classes"), network)
    network.feature_names_in_ = names_from_file(architecture.get("feature_names"), n_features)
    return network, shapes


def _check_path(path: str) -> None:
    """A regular file that starts like a zip archive; ``FileNotFoundError`` when there is none."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a directory, not an xdnn model file")
    if not os.path.isfile(path):
        raise ModelFileError(f"{path} is not a regular file (a device, pipe or socket), not an xdnn model file")
    try:
        with open(path, "rb") as stream:
            signature = stream.read(4)
    except OSError as error:
        raise ModelFileError(f"{path} cannot be read: {error}") from None
    if not signature:
        raise ModelFileError(f"{path} is empty, not an xdnn model file (an interrupted copy?)")
    if signature not in ZIP_SIGNATURES:
        raise ModelFileError(f"{path} is not an xdnn model file: it is not an .npz (zip) archive")


def _entries(path: str, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's entries by name (``architecture``, ``parameters/W1``, ...), checked from its
    listing alone: each name once, only names a model file has, stored or deflated, not encrypted."""
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        key = info.filename.removesuffix(".npy")
        if key in entries:
            raise ModelFileError(f"{path} holds the entry {key!r} twice (a forged or badly merged file)")
        entries[key] = info
    if "architecture" not in entries:
        raise ModelFileError(f"{path} is not an xdnn model file (no 'architecture' entry)")
    for key, info in entries.items():
        if info.filename != "architecture.npy" and not _ARRAY_ENTRY.fullmatch(info.filename):
            raise ModelFileError(
                f"{path} has an unexpected entry {info.filename!r} (a model file holds architecture.npy and "
                "parameters/, state/ and optimizer/<name>.npy arrays only)"
            )
        if info.compress_type not in _COMPRESSIONS or info.flag_bits & _REFUSED_FLAGS:
            raise ModelFileError(
                f"{path}: entry {key!r} is encrypted or compressed with method {info.compress_type} "
                "(a model file's entries are stored or deflated, never encrypted)"
            )
    return entries


def _read_npy(
    path: str,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    largest: int,
    check: Callable[[tuple[int, ...], np.dtype], str | None],
) -> np.ndarray:
    """The array in entry ``info``, read completely, so that zipfile verifies its CRC-32.

    Nothing past the ``.npy`` header is decompressed unless the entry declares at most ``largest``
    data bytes, ``check(shape, dtype)`` accepts the header (it returns what is wrong, or ``None``)
    and the declared size is exactly the header's and the data's.
    """
    key = info.filename.removesuffix(".npy")
    if info.file_size > _NPY_HEADER_BYTES + largest:
        raise ModelFileError(f"{path}: entry {key!r} declares {info.file_size:,} bytes, more than its array can take")
    try:
        with archive.open(info) as stream:
            shape, fortran_order, dtype = _npy_header(path, key, stream)
            problem = check(shape, dtype)
            if problem is not None:
                raise ModelFileError(f"{path}: {key} has shape {shape} and dtype {dtype}, {problem}")
            size = math.prod(shape) * dtype.itemsize
            if info.file_size != stream.tell() + size:
                raise ModelFileError(
                    f"{path}: entry {key!r} declares {info.file_size:,} bytes, but its header and data take "
                    f"{stream.tell() + size:,} (a truncated or forged entry)"
                )
            data = _read_to_end(stream, size)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ModelFileError(f"{path}: entry {key!r} is truncated or corrupt ({error})") from None
    if data is None:
        raise ModelFileError(f"{path}: entry {key!r} is truncated or corrupt (its data ends early)")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def _read_to_end(stream: Any, size: int) -> bytearray | None:
    """The ``size`` bytes left in ``stream``, read in pieces into one buffer (so the memory taken is
    the data's, not twice it), and then the end of the entry, where zipfile checks the CRC-32;
    ``None`` when the entry ends early."""
    data, filled = bytearray(size), 0
    while filled < size:
        piece = stream.read(min(size - filled, 2**20))
        if not piece:
            return None
        data[filled : filled + len(piece)] = piece
        filled += len(piece)
    return data if stream.read(1) == b"" else None


def _npy_header(path: str, key: str, stream: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from the ``.npy`` header at the start of ``stream``; never a
    dtype that holds Python objects."""
    try:
        version = npy_format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version[0]}.{version[1]} (xdnn reads 1.0 and 2.0)")
        read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream, max_header_size=_NPY_HEADER_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError):  # the zip layer: reported as such by the caller
        raise
    except Exception as error:  # NumPy's parser raises many kinds: ValueError, SyntaxError, TokenError...
        raise ModelFileError(f"{path}: entry {key!r} is not an .npy array ({error})") from None
    if dtype.hasobject:
        raise ModelFileError(
            f"{path}: entry {key!r} holds Python objects (dtype {dtype}), which xdnn never unpickles; "
            "model files never contain pickled objects"
        )
    return shape, fortran_order, dtype


def _read_architecture(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    """The architecture entry's JSON object, its format tag and version checked (see the module
    docstring for what JSON it may hold)."""

    def check(shape: tuple[int, ...], dtype: np.dtype) -> str | None:
        return None if shape == () and dtype.kind == "U" else "expected a string"

    if info.file_size > _NPY_HEADER_BYTES + 4 * MAX_ARCHITECTURE_CHARACTERS:
        raise ModelFileError(
            f"{path}: the architecture entry declares {info.file_size:,} bytes, more than an architecture of "
            f"{MAX_ARCHITECTURE_CHARACTERS:,} characters (the most a model file may hold) takes"
        )
    text = _read_npy(path, archive, info, 4 * MAX_ARCHITECTURE_CHARACTERS, check)
    try:
        architecture = json.loads(str(text[()]), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:  # RecursionError: nested deeper than Python's limit
        raise ModelFileError(f"{path} has a corrupt architecture entry: {error}") from None
    if not isinstance(architecture, dict) or architecture.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an xdnn model file (format tag missing or foreign)")
    if architecture.get("version") != VERSION:
        raise ModelFileError(
            f"{path} has model format version {architecture.get('version')}; this xdnn reads {VERSION}"
        )
    return architecture


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a model file may hold (standard JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is beyond float range")
    return value


def _check_entries(
    path: str,
    entries: dict[str, zipfile.ZipInfo],
    shapes: dict[str, dict[str, tuple[int, ...]]],
    max_parameters: int | None,
) -> None:
    """The array entries are exactly those the architecture calls for, of at most ``max_parameters`` parameters."""
    count = sum(math.prod(shape) for shape in shapes["parameters"].values())
    if max_parameters is not None and count > max_parameters:
        raise ModelFileError(
            f"{path} declares a network of {count:,} parameters, more than max_parameters={max_parameters:,}; "
            f"if you trust the file, load it with xdnn.load(path, max_parameters={count})"
        )
    for group, expected in shapes.items():
        found = {key.partition("/")[2] for key in entries if key.startswith(group + "/")}
        if found != set(expected):
            missing, extra = sorted(set(expected) - found), sorted(found - set(expected))
            raise ModelFileError(
                f"{path}: {group} entries do not match the architecture (missing {missing}, unexpected {extra})"
            )


def _float_array_of_shape(shape: tuple[int, ...]) -> Callable[[tuple[int, ...], np.dtype], str | None]:
    """The header check of :func:`_read_npy` for an array of ``shape``: float16, float32 or float64."""

    def check(found: tuple[int, ...], dtype: np.dtype) -> str | None:
        if found == shape and dtype.kind == "f" and dtype.itemsize in _FLOAT_ITEMSIZES:
            return None
        return f"expected a float array of shape {shape}"

    return check


def _read_arrays(
    path: str, archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], network: Any, shapes: dict
) -> dict[str, dict[str, np.ndarray]]:
    """Every array of the file, checked by :func:`value_refusal` and cast to the model's dtype, by group and name."""
    dtype = np.dtype(network.dtype_name)
    never_negative = never_negative_entries(network, shapes["optimizer"])
    groups: dict[str, dict[str, np.ndarray]] = {}
    for group, expected in shapes.items():
        groups[group] = {}
        for name, shape in expected.items():
            key = f"{group}/{name}"
            largest = math.prod(shape) * max(_FLOAT_ITEMSIZES)
            value = _read_npy(path, archive, entries[key], largest, _float_array_of_shape(shape))
            problem = value_refusal(key, value, dtype, key in never_negative)
            if problem is not None:
                raise ModelFileError(f"{path}: {key} {problem}")
            with np.errstate(over="ignore"):  # an optimizer's average beyond float32 becomes inf, as in training
                groups[group][name] = value.astype(dtype)
    return groups


def _parse(path: str, archive: zipfile.ZipFile, max_parameters: int | None) -> tuple[Any, dict, dict]:
    """``(network, arrays by group, architecture)`` of an open model file: the network has its
    layers, counters and metadata but no arrays yet."""
    entries = _entries(path, archive)
    architecture = _read_architecture(path, archive, entries.pop("architecture"))
    try:
        network, shapes = _network_of(architecture)
    except Exception as error:  # whatever the layer, optimizer and network constructors make of it
        message = f"missing entry {error}" if isinstance(error, KeyError) else str(error)
        raise ModelFileError(f"{path} has an invalid architecture: {message}") from None
    _check_entries(path, entries, shapes, max_parameters)
    return network, _read_arrays(path, archive, entries, network, shapes), architecture


def read_model_file(path: str, max_parameters: int | None) -> tuple[Any, dict[str, dict[str, np.ndarray]], dict]:
    """``(network, arrays by group, architecture)`` of the model file at ``path``, every check of the
    module docstring made: the network has its layers, counters and metadata but no arrays yet; the
    arrays are host NumPy arrays of the model's dtype, by group (``"parameters"``, ``"state"``,
    ``"optimizer"``) and name.  Raises :class:`ModelFileError` for a file that is damaged, forged or
    foreign, and nothing else; ``FileNotFoundError`` for a missing one."""
    _check_path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _parse(path, archive, max_parameters)
    except ModelFileError:
        raise
    except Exception as error:  # zipfile, zlib and NumPy raise many kinds (MemoryError and RecursionError too)
        raise ModelFileError(
            f"{path} is truncated or corrupt (not a readable .npz archive: {type(error).__name__}: {error})"
        ) from None
