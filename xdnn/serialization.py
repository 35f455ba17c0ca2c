"""Save and load a :class:`xdnn.Network` as one ``.npz`` file -- no pickle anywhere.

Contents: ``architecture`` (a JSON string: format tag, version, layers, loss,
optimizer and schedule settings, dtype, input size), ``parameters/<name>``,
``state/<name>`` and ``optimizer/<name>`` arrays.  The architecture also keeps the
random streams (the shuffle order and the dropout masks' generator, except CuPy's),
so training continued after loading matches training continued without the save.

Loading is total: any file gives a network whose arrays fit its architecture and hold only
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
  variance, the ``s`` of RMSprop and Adam) never negative.  ``save`` refuses what ``load``
  would refuse, so a file that was written can be read back.

Saving writes a temporary file ``.xdnn-<16 hex digits>.npz.tmp`` in the target's folder and
renames it into place, so an interrupted save never leaves a broken model behind.  On POSIX
the writer holds an exclusive ``flock`` on its temporary file until the rename, and a save
that succeeds removes the temporary files in its folder that nobody holds locked: those of
saves killed mid-write, never one another thread or process is writing.  (Without ``fcntl``
-- Windows -- it removes those untouched for a minute that it can: a file open for writing
cannot be removed there.  On a network filesystem whose locks are not shared between
machines, two machines saving into one folder at once may remove each other's temporary
file, failing that save.)
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import secrets
import stat
import tempfile
import time
import warnings
import zipfile
import zlib
from typing import Any, Callable

import numpy as np
from numpy.lib import format as npy_format

from xdnn._backend import BACKEND_NAMES, BackendError, JaxKeys
from xdnn._namespace import ArrayContext, to_numpy
from xdnn._random import HostRandom
from xdnn.layers import BatchNorm, build_layers, layer_from_config
from xdnn.optimizers import Adam, RMSprop, get_optimizer, get_schedule

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; see _remove_abandoned_temporary
    fcntl = None

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
_TEMPORARY = re.compile(r"\.xdnn-[0-9a-f]{16}\.npz\.tmp")
_UNLOCKED_TEMPORARY_AGE = 60.0  # seconds: without locks, an older temporary file is taken as abandoned


class ModelFileError(ValueError):
    """A model file is corrupt, truncated, foreign or inconsistent."""


def _dropout_generator(network: Any) -> tuple[str, Any] | None:
    """``(kind, generator)`` behind the dropout masks: ``"numpy"`` (host masks; device masks on
    NumPy, and on array-api-strict, which falls back to a host draw), ``"torch"`` or ``"jax"``;
    ``None`` for CuPy, whose generator state is not kept."""
    random = network.dropout_random
    generator = getattr(random, "generator", None) or getattr(random, "_generator", None)
    if isinstance(generator, HostRandom):
        generator = generator.generator
    if isinstance(generator, np.random.Generator):
        return "numpy", generator
    if type(generator).__module__.startswith("torch") and hasattr(generator, "get_state"):
        return "torch", generator
    if isinstance(generator, JaxKeys):
        return "jax", generator
    return None


def random_state_of(network: Any) -> dict[str, Any]:
    """JSON states of the random streams: ``shuffle`` (host, always) and ``dropout`` (where kept).

    A NumPy ``bit_generator.state`` is a JSON object; a ``torch.Generator`` state is its
    bytes in hex; JAX's is its current key's data, a list of integers.
    """
    dropout = _dropout_generator(network)
    saved_dropout = None
    if dropout is not None:
        kind, generator = dropout
        if kind == "numpy":
            state = generator.bit_generator.state
        elif kind == "jax":
            state = generator.state
        else:
            state = bytes(generator.get_state().numpy()).hex()
        saved_dropout = {"kind": kind, "device": str(network.context.device), "state": state}
    return {"shuffle": network.shuffle_generator.bit_generator.state, "dropout": saved_dropout}


def restore_random_state(network: Any, saved: Any, trained_on: Any) -> None:
    """Continue the saved random streams, so training resumed after loading matches training
    that never stopped.  The shuffle order always continues (it is drawn on the host); dropout
    masks continue when they are host masks (the same on every backend) or the model is loaded
    onto the backend and device that drew them; otherwise they start again from the seed."""
    if not isinstance(saved, dict):
        raise TypeError("random_state must be a JSON object")
    if saved.get("shuffle") is not None:
        network.shuffle_generator.bit_generator.state = saved["shuffle"]
    saved_dropout, dropout = saved.get("dropout"), _dropout_generator(network)
    if saved_dropout is None or dropout is None:
        return
    kind, generator = dropout
    same_stream = network.dropout_masks == "host" or (
        network.backend == trained_on and str(network.context.device) == saved_dropout["device"]
    )
    if saved_dropout["kind"] != kind or not same_stream:
        return
    if kind == "numpy":
        generator.bit_generator.state = saved_dropout["state"]
    elif kind == "jax":
        generator.state = saved_dropout["state"]
    else:
        import torch

        generator.set_state(torch.tensor(list(bytes.fromhex(saved_dropout["state"])), dtype=torch.uint8))


def _architecture(network: Any) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "n_features": network.n_features,
        "layers": [layer.config() for layer in network.layers],
        "loss": network.loss.name,
        "optimizer": network.optimizer.config(),
        "optimizer_iterations": network.optimizer.iterations,
        "learning_rate": network.learning_rate.config(),
        "l2": network.l2,
        "dtype": network.dtype_name,
        "initialization": network.initialization,
        "seed": network.seed,
        "dropout_masks": network.dropout_masks,
        "metrics": list(network.metrics),
        "epochs_trained": network.epochs_trained,
        "trained_on": network.backend,
        "metadata": network.metadata,
        "random_state": random_state_of(network),
    }


def _never_negative(network: Any, optimizer_names: Any) -> set[str]:
    """The entries that are averages of squares, where a negative value would make ``sqrt`` NaN:
    batch norm's running variances and the squared-gradient averages ``s_*`` of RMSprop and Adam
    (``optimizer_names``: the names of the optimizer's state)."""
    keys = {f"state/{layer.names['running_var']}" for layer in network.layers if isinstance(layer, BatchNorm)}
    if isinstance(network.optimizer, (RMSprop, Adam)):
        keys |= {f"optimizer/{name}" for name in optimizer_names if name.startswith("s_")}
    return keys


def _refusal(key: str, value: np.ndarray, dtype: np.dtype, never_negative: bool) -> str | None:
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


def _create_temporary(path: str) -> tuple[int, str]:
    """Open a new, uniquely named file beside ``path``, locked while it is written: ``(descriptor, name)``.

    Unlike ``tempfile.mkstemp`` (mode 0o600) the file gets the permissions a plain
    ``open`` would give (0o666 less the umask), or those of the file it will replace,
    so the saved model stays readable by whoever could read the one before.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save the model to {path}: the folder {folder} does not exist")
    while True:
        temporary = os.path.join(folder, f".xdnn-{secrets.token_hex(8)}.npz.tmp")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        if _lock_as_writer(handle, temporary):
            break
        os.close(handle)
    try:
        os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
    except OSError:  # no file there yet (or one whose mode cannot be copied): keep the umask's
        pass
    return handle, temporary


def _lock_as_writer(handle: int, temporary: str) -> bool:
    """Take the exclusive lock that tells a cleaner this temporary file is being written; ``False``
    when a cleaner removed the file between its creation and the lock (then try another name).
    Where there are no locks (Windows, some network filesystems) the file is used unlocked."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError:  # no flock here: a cleaner cannot lock it either, so never removes it
        return True
    try:
        named = os.stat(temporary, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(handle)
    return (named.st_ino, named.st_dev) == (opened.st_ino, opened.st_dev)


def _remove_abandoned_temporaries(folder: str) -> None:
    """Remove the temporary files of saves killed mid-write in ``folder`` (see the module docstring):
    never a symbolic link, never a file a save in progress holds locked, and never an error."""
    try:
        with os.scandir(folder) as entries:
            found = [entry.path for entry in entries if _TEMPORARY.fullmatch(entry.name)]
    except OSError:
        return
    for temporary in found:
        try:
            _remove_abandoned_temporary(temporary)
        except OSError:  # gone already, or not ours to remove: cleanup never fails a save
            pass


def _remove_abandoned_temporary(temporary: str) -> None:
    """Remove ``temporary`` if no writer holds it: its lock is free (the writer died), and the name
    still leads to the regular file that was locked.  Without ``fcntl`` the removal is simply tried
    (Windows refuses to remove a file open for writing), on a file untouched for a minute: a writer
    there closes its file just before renaming it."""
    if fcntl is None:
        if time.time() - os.stat(temporary).st_mtime > _UNLOCKED_TEMPORARY_AGE:
            os.remove(temporary)
        return
    handle = os.open(temporary, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a save in progress (or no locks on this filesystem): leave it
            return
        opened, named = os.fstat(handle), os.stat(temporary, follow_symlinks=False)
        if stat.S_ISREG(opened.st_mode) and (opened.st_ino, opened.st_dev) == (named.st_ino, named.st_dev):
            os.remove(temporary)
    finally:
        os.close(handle)


def _model_destination(path: str) -> str:
    """The regular file a save replaces: a symbolic link's target (the link itself is kept), and
    never a folder, device, pipe or socket, which the rename would otherwise replace."""
    destination = os.path.realpath(path) if os.path.islink(path) else path
    if os.path.exists(destination) and not os.path.isfile(destination):
        kind = "a folder" if os.path.isdir(destination) else "not a regular file (a device, pipe or socket)"
        raise ValueError(f"cannot save a model to {path}: it is {kind}; choose a file name such as model.npz")
    return destination


def _arrays_to_save(network: Any) -> dict[str, np.ndarray]:
    """The entries of ``network``'s model file, architecture first, each checked by :func:`_refusal`."""
    try:
        architecture = json.dumps(_architecture(network), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"cannot save the model: metadata (and seed) must be JSON-serialisable, numbers finite ({error})"
        ) from None
    if len(architecture) > MAX_ARCHITECTURE_CHARACTERS:
        raise ValueError(
            f"cannot save the model: its architecture and metadata take {len(architecture):,} characters of JSON, "
            f"more than a model file may hold ({MAX_ARCHITECTURE_CHARACTERS:,}); keep less in network.metadata"
        )
    arrays: dict[str, np.ndarray] = {"architecture": np.array(architecture)}
    never_negative = _never_negative(network, network.optimizer.state)
    for prefix, group in (
        ("parameters", network.parameters),
        ("state", network.state),
        ("optimizer", network.optimizer.state),
    ):
        for name, value in group.items():
            key = f"{prefix}/{name}"
            array = arrays[key] = np.ascontiguousarray(to_numpy(value))
            problem = _refusal(key, array, array.dtype, key in never_negative)
            if problem is not None:
                raise ValueError(
                    f"cannot save the model: {key} {problem}, which a model file may not hold (xdnn.load "
                    "refuses it); training diverged or the array was set so -- set valid values (set_weights) "
                    "or train again"
                )
    return arrays


def save_network(network: Any, path: str | os.PathLike) -> None:
    """Write ``network`` to ``path`` atomically.

    The file is written exactly at ``path``: unlike ``numpy.savez``, ``.npz`` is not
    appended, so ``load_network(path)`` reads the file ``save_network(path)`` wrote.
    A symbolic link at ``path`` keeps pointing at the new file.  Raises ``ValueError`` for a
    network without parameters, one holding values that :func:`load_network` would refuse (NaN or
    inf, a negative variance), metadata longer than :data:`MAX_ARCHITECTURE_CHARACTERS`, or a
    ``path`` that is a folder or a device, and ``TypeError`` when ``network.metadata`` is not
    JSON-serialisable; the file at ``path`` is then untouched.  A save that succeeds removes the
    temporary files that killed saves left in the folder (see the module docstring).
    """
    if not network.built:
        raise ValueError("nothing to save: the network has no parameters yet (fit it first)")
    arrays = _arrays_to_save(network)
    path = _model_destination(os.fspath(path))
    handle, temporary = _create_temporary(path)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
            if fcntl is not None:  # renamed while still locked: no cleaner ever sees it unlocked
                os.replace(temporary, path)
        if fcntl is None:  # Windows renames only a closed file
            os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _remove_abandoned_temporaries(os.path.dirname(os.path.abspath(path)))


# --- loading: every check made before the bytes it guards are read ---------------------------------


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
    """Every array of the file, checked by :func:`_refusal` and cast to the model's dtype, by group and name."""
    dtype = np.dtype(network.dtype_name)
    never_negative = _never_negative(network, shapes["optimizer"])
    groups: dict[str, dict[str, np.ndarray]] = {}
    for group, expected in shapes.items():
        groups[group] = {}
        for name, shape in expected.items():
            key = f"{group}/{name}"
            largest = math.prod(shape) * max(_FLOAT_ITEMSIZES)
            value = _read_npy(path, archive, entries[key], largest, _float_array_of_shape(shape))
            problem = _refusal(key, value, dtype, key in never_negative)
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


def load_network(
    path: str | os.PathLike, *, backend: str | None = None, max_parameters: int | None = MAX_PARAMETERS
) -> Any:
    """Read a network saved by :meth:`xdnn.Network.save` onto ``backend`` (default: the active one).

    A network trained on CuPy loads on a machine with only NumPy.  A file that is damaged,
    forged or foreign raises :class:`ModelFileError` naming the problem, and nothing else (see
    the module docstring); a missing one ``FileNotFoundError``.  ``max_parameters`` bounds the
    trainable parameters a file may declare (default :data:`MAX_PARAMETERS`, 100 million); raise
    it for a larger model you trust, or pass ``None`` for no bound.
    """
    from xdnn._backend import active_backend, resolve_backend

    if max_parameters is not None and (
        isinstance(max_parameters, bool) or not isinstance(max_parameters, int) or max_parameters < 0
    ):
        raise ValueError(f"max_parameters must be a non-negative integer or None, got {max_parameters!r}")
    path = os.fspath(path)
    _check_path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            network, groups, architecture = _parse(path, archive, max_parameters)
    except ModelFileError:
        raise
    except Exception as error:  # zipfile, zlib and NumPy raise many kinds (MemoryError and RecursionError too)
        raise ModelFileError(
            f"{path} is truncated or corrupt (not a readable .npz archive: {type(error).__name__}: {error})"
        ) from None
    chosen = resolve_backend(backend) if backend is not None else active_backend()
    network.place(ArrayContext(chosen.xp, chosen.device), groups["parameters"], groups["state"], groups["optimizer"])
    network.n_features = architecture["n_features"]
    try:
        restore_random_state(network, architecture.get("random_state", {}), architecture.get("trained_on"))
    except Exception as error:  # whatever NumPy, PyTorch or JAX make of a forged state
        raise ModelFileError(f"{path} has an invalid random_state: {error}") from None
    return network


# --- pickling (xdnn.Network and the estimators): the same .npz file, carried as bytes ---------------


def network_state(network: Any) -> dict[str, Any]:
    """A picklable copy of ``network``: its xdnn ``.npz`` model file as bytes, plus where it lived."""
    with tempfile.TemporaryDirectory(prefix="xdnn-") as folder:
        path = os.path.join(folder, "network.npz")
        network.save(path)
        with open(path, "rb") as stream:
            contents = stream.read()
    device = network.context.device
    try:
        pickle.dumps(device)
    except Exception:  # a device object that does not pickle: restore onto the backend's default device
        device = None
    return {"npz": contents, "backend": network.backend, "device": device}


def network_from_state(saved: dict[str, Any]) -> Any:
    """Rebuild a network from :func:`network_state`, on its backend and device when available."""
    backend = saved["backend"]
    with tempfile.TemporaryDirectory(prefix="xdnn-") as folder:
        path = os.path.join(folder, "network.npz")
        with open(path, "wb") as stream:
            stream.write(saved["npz"])
        try:
            if backend not in BACKEND_NAMES:
                raise BackendError(f"backend {backend!r} is not one xdnn can restore")
            network = load_network(path, backend=backend, max_parameters=None)  # our own bytes
        except BackendError as error:
            warnings.warn(
                f"the network was trained on backend {backend!r}, which is not usable here ({error}); "
                "it was loaded onto NumPy instead",
                RuntimeWarning,
                stacklevel=3,
            )
            return load_network(path, backend="numpy", max_parameters=None)
    context = network.context
    if saved["device"] is not None and str(context.device) != str(saved["device"]):
        network.place(
            ArrayContext(context.xp, saved["device"]), network.parameters, network.state, network.optimizer.state
        )
    return network
