"""Corrupted xdnn model files, and the check that ``xdnn.load`` is total on them.

Each case is one of three saved models damaged one way: bytes flipped, the file cut short, zip
entries removed, duplicated, renamed or added, zip header fields changed (compression method,
flag bits, sizes), the whole file recompressed, the JSON architecture mutated (nesting depth,
huge numbers, ``Infinity``, negative counters, changed units, wrong types), an array replaced by
one of the wrong shape, dtype or values, or a deflate bomb.  Loading it must either raise
:class:`xdnn.ModelFileError` (outcome ``refused``) or give a network whose predictions on finite
data are finite (outcome ``loaded``); anything else -- another exception, a warning from ``load``
or ``predict``, a case over :data:`SECONDS_PER_CASE` -- is a failure.  Cases are numbered:
``make_case(models, index, seed)`` rebuilds any one of them.

    python tests/model_file_fuzz.py 10000            # outcome counts, slowest case, memory growth
    python tests/model_file_fuzz.py --case 123       # what case 123 (of seed 0) is, and its outcome

``tests/test_model_file_fuzz.py`` runs a smaller count in CI; ``nox -s fuzz -- 10000`` runs this.
"""

from __future__ import annotations

import argparse
import bz2
import functools
import io
import json
import os
import struct
import sys
import tempfile
import time
import tracemalloc
import warnings
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numpy.lib import format as npy_format

import xdnn

SECONDS_PER_CASE = 5.0
BOMB_MEGABYTES = 1024  # what a deflate bomb inflates to: 1 GiB from about 1 MB
MEGABYTE = 2**20


# --- the saved models ------------------------------------------------------------------------------


def _binary_network() -> xdnn.Network:
    return xdnn.Network([4, 8, 1], activation="tanh", optimizer="sgd", learning_rate=0.1, dtype="float64", seed=1)


def _softmax_network() -> xdnn.Network:
    return xdnn.Network([5, 8, 6, 3], batch_norm=True, dropout=0.2, optimizer="rmsprop", learning_rate=0.01, seed=2)


def _regression_network() -> xdnn.Network:
    return xdnn.Network([3, 7, 2], activation="relu", loss="mse", optimizer="adam", learning_rate=0.01, seed=3)


# A sigmoid binary classifier (float64, plain SGD), a softmax classifier with batch norm and dropout
# (float32, RMSprop) and an Adam-trained regression network (float32).
NETWORKS: dict[str, Callable[[], xdnn.Network]] = {
    "sigmoid-binary": _binary_network,
    "softmax-batchnorm-dropout": _softmax_network,
    "adam-regression": _regression_network,
}


@dataclass(frozen=True)
class SavedModel:
    """A model file as ``save`` wrote it: its bytes, its zip entries in order, its architecture."""

    name: str
    contents: bytes
    entries: tuple[tuple[str, bytes], ...]
    architecture: dict[str, Any]

    @property
    def arrays(self) -> list[str]:
        return [name for name, _ in self.entries if name != "architecture.npy"]


def _trained(name: str) -> xdnn.Network:
    """Network ``name`` fitted for two epochs on random data that suits its output."""
    network = NETWORKS[name]()
    random = np.random.default_rng(0)
    X = random.standard_normal((40, network.n_features))
    if network.loss.name == "mse":
        y = X[:, : network.output_units] * 0.5
    else:
        y = random.integers(0, max(network.output_units, 2), size=40)
    network.fit(X, y, epochs=2, batch_size=8, verbose=0)
    network.metadata = {"features": [f"x{i}" for i in range(network.n_features)], "note": "fuzz"}
    return network


def saved_models() -> list[SavedModel]:
    """The three models of :data:`NETWORKS`, trained and saved (on NumPy)."""
    models = []
    with tempfile.TemporaryDirectory(prefix="xdnn-fuzz-") as folder, xdnn.use_backend("numpy"):
        for name in NETWORKS:
            path = os.path.join(folder, f"{name}.npz")
            _trained(name).save(path)
            with open(path, "rb") as stream:
                contents = stream.read()
            with zipfile.ZipFile(path) as archive:
                entries = tuple((info.filename, archive.read(info)) for info in archive.infolist())
            architecture = json.loads(str(np.load(io.BytesIO(dict(entries)["architecture.npy"]))))
            models.append(SavedModel(name, contents, entries, architecture))
    return models


# --- building blocks: .npy entries and zip archives written field by field --------------------------


def npy(array: np.ndarray) -> bytes:
    """``array`` as the bytes of an ``.npy`` file (object arrays pickled, as a forger would)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header (magic, version 1.0, dictionary) of an array of ``descr`` and ``shape``."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def load_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


@dataclass(frozen=True)
class Entry:
    """One zip entry as written: ``data`` compressed with ``method``; ``size`` and ``crc`` declared."""

    name: str
    data: bytes
    method: int = zipfile.ZIP_STORED
    size: int | None = None  # default: len(data), for a stored entry
    crc: int | None = None  # default: CRC-32 of data, for a stored entry


def zip_bytes(entries: list[Entry]) -> bytes:
    """A zip archive of ``entries``, written field by field so that a name may repeat and a declared
    size or CRC may lie (a bomb's, a forger's)."""
    body, directory = bytearray(), bytearray()
    for entry in entries:
        name = entry.name.encode("utf-8")
        size = len(entry.data) if entry.size is None else entry.size
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        fields = struct.pack("<HHHHHIIIHH", 20, 0x800, entry.method, 0, 0x21, crc, len(entry.data), size, len(name), 0)
        directory += b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, len(body))
        directory += name
        body += b"PK\x03\x04" + fields + name + entry.data
    count = len(entries)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    return bytes(body + directory + end)


def entries_of(model: SavedModel) -> list[Entry]:
    return [Entry(name, data) for name, data in model.entries]


def replaced(model: SavedModel, name: str, data: bytes) -> bytes:
    """``model``'s file with entry ``name`` holding ``data`` instead."""
    return zip_bytes([Entry(entry, data if entry == name else old) for entry, old in model.entries])


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@functools.lru_cache(maxsize=None)
def deflated_zeros(prefix: bytes, megabytes: int) -> tuple[bytes, int, int]:
    """``(deflate stream, CRC-32, size)`` of ``prefix`` and ``megabytes`` MiB of zeros, made without
    holding the zeros: after a full flush each MiB deflates to the same block, repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(MEGABYTE)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    return head + block * megabytes + b"\x03\x00", crc, len(prefix) + megabytes * MEGABYTE


def architecture_npy(text: str) -> bytes:
    return npy(np.array(text))


def with_architecture(model: SavedModel, text: str) -> bytes:
    return replaced(model, "architecture.npy", architecture_npy(text))


# --- the mutations: each (random, model) -> (variant, file bytes) -----------------------------------


def flip_bytes(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    contents = bytearray(model.contents)
    for position in random.integers(0, len(contents), size=random.integers(1, 9)):
        contents[position] ^= int(random.integers(1, 256))
    return "xor", bytes(contents)


def flip_bit(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    contents = bytearray(model.contents)
    contents[int(random.integers(0, len(contents)))] ^= 1 << int(random.integers(0, 8))
    return "bit", bytes(contents)


def truncate(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    cut = int(random.integers(0, len(model.contents)))
    if random.random() < 0.3:  # or keep the end: a lost beginning
        return "head-lost", model.contents[cut:]
    return "tail-lost", model.contents[:cut]


def append_garbage(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    garbage = random.bytes(int(random.integers(1, 2000)))
    position = int(random.integers(0, len(model.contents)))
    if random.random() < 0.5:
        return "appended", model.contents + garbage
    return "inserted", model.contents[:position] + garbage + model.contents[position:]


# Offsets and widths of the zip header fields a mutation may change.
LOCAL_FIELDS = {"flags": (6, 2), "method": (8, 2), "crc": (14, 4), "compressed": (18, 4), "size": (22, 4)}
LOCAL_FIELDS |= {"name_length": (26, 2), "extra_length": (28, 2)}
CENTRAL_FIELDS = {"flags": (8, 2), "method": (10, 2), "crc": (16, 4), "compressed": (20, 4), "size": (24, 4)}
CENTRAL_FIELDS |= {"name_length": (28, 2), "extra_length": (30, 2), "comment_length": (32, 2), "offset": (42, 4)}
END_FIELDS = {"entries_here": (8, 2), "entries": (10, 2), "directory_size": (12, 4), "directory_offset": (16, 4)}
END_FIELDS |= {"comment_length": (20, 2)}
HEADERS = {b"PK\x03\x04": LOCAL_FIELDS, b"PK\x01\x02": CENTRAL_FIELDS, b"PK\x05\x06": END_FIELDS}
METHODS = (1, 6, 8, 9, 12, 14, 19, 93, 95, 96, 97, 98, 99, 0xFFFF)
FLAG_BITS = (0, 1, 2, 3, 4, 5, 6, 11, 12, 13, 15)


def _headers(contents: bytes, signature: bytes) -> list[int]:
    found, start = [], contents.find(signature)
    while start >= 0:
        found.append(start)
        start = contents.find(signature, start + 1)
    return found


def _field_value(random: np.random.Generator, field_name: str, old: int, width: int) -> int:
    """A new value for a header field: what breaks that field, or a random one."""
    largest = 2 ** (8 * width) - 1
    if field_name == "method" and random.random() < 0.8:
        return int(random.choice(METHODS))
    if field_name == "flags" and random.random() < 0.8:
        return old | (1 << int(random.choice(FLAG_BITS)))
    choices = [0, 1, old + 1, max(old - 1, 0), largest, largest // 2, int(random.integers(0, largest + 1))]
    return min(int(random.choice(choices)), largest)


def zip_field(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """One field of one local, central or end-of-directory header set to another value."""
    signature = list(HEADERS)[int(random.integers(0, len(HEADERS)))]
    fields = HEADERS[signature]
    positions = _headers(model.contents, signature)
    names = list(fields)
    if signature != b"PK\x05\x06" and random.random() < 0.5:  # how an entry is read: method and flags, often
        names = ["method", "flags"]
    field_name = names[int(random.integers(0, len(names)))]
    offset, width = fields[field_name]
    start = positions[int(random.integers(0, len(positions)))] + offset
    contents = bytearray(model.contents)
    old = int.from_bytes(contents[start : start + width], "little")
    new = _field_value(random, field_name, old, width)
    contents[start : start + width] = new.to_bytes(width, "little")
    kind = {b"PK\x03\x04": "local", b"PK\x01\x02": "central", b"PK\x05\x06": "end"}[signature]
    return f"{kind}-{field_name}", bytes(contents)


def remove_entry(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    entries = entries_of(model)
    del entries[int(random.integers(0, len(entries)))]
    return "removed", zip_bytes(entries)


def duplicate_entry(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """An entry twice: the same bytes, or a second copy of the right shape holding other values."""
    entries = entries_of(model)
    chosen = entries[int(random.integers(0, len(entries)))]
    copy = chosen
    if chosen.name != "architecture.npy" and random.random() < 0.5:
        copy = Entry(chosen.name, npy(np.zeros_like(load_npy(chosen.data))))
    entries.insert(int(random.integers(0, len(entries) + 1)), copy)
    return "duplicated", zip_bytes(entries)


def _new_name(random: np.random.Generator, name: str, model: SavedModel) -> str:
    stem = name.rsplit("/", 1)[-1]
    names = [f"{group}/{stem}" for group in ("parameters", "state", "optimizer", "weights")] + [
        name.removesuffix(".npy"),
        name.upper(),
        f"../{stem}",
        f"/{name}",
        f"parameters/{stem}/x.npy",
        "parameters/W 1.npy",
        "parameters/ü.npy",
        "parameters/",
        model.entries[int(random.integers(0, len(model.entries)))][0],  # another entry's: a duplicate
        "architecture.npy",
    ]
    return names[int(random.integers(0, len(names)))]


def rename_entry(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    entries = entries_of(model)
    index = int(random.integers(0, len(entries)))
    entries[index] = Entry(_new_name(random, entries[index].name, model), entries[index].data)
    return "renamed", zip_bytes(entries)


def add_entry(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    extras = [
        Entry("parameters/W9.npy", npy(np.zeros((2, 2), np.float32))),
        Entry("optimizer/v_W9.npy", npy(np.zeros((2, 2), np.float32))),
        Entry("notes.txt", b"hello"),
        Entry("parameters/extra.npy", random.bytes(64)),
        Entry("state/", b""),
    ]
    entries = entries_of(model)
    entries.insert(int(random.integers(0, len(entries) + 1)), extras[int(random.integers(0, len(extras)))])
    return "added", zip_bytes(entries)


def recompress(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """Every entry deflated (a valid model file), or one entry in a method a model file never uses."""
    entries = entries_of(model)
    if random.random() < 0.4:
        deflated = [
            Entry(e.name, deflate(e.data), zipfile.ZIP_DEFLATED, len(e.data), zlib.crc32(e.data)) for e in entries
        ]
        return "deflated", zip_bytes(deflated)
    index = int(random.integers(0, len(entries)))
    data = entries[index].data
    method, compressed = [(zipfile.ZIP_BZIP2, bz2.compress(data)), (zipfile.ZIP_LZMA, data), (99, data)][
        int(random.integers(0, 3))
    ]
    entries[index] = Entry(entries[index].name, compressed, method, len(data), zlib.crc32(data))
    return f"method-{method}", zip_bytes(entries)


def deflate_bomb(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """An entry that inflates to :data:`BOMB_MEGABYTES` of zeros: as an array, as the architecture, as
    an extra entry, or declaring the small size of the entry it replaces (a liar)."""
    variant = ["array", "architecture", "extra", "lying-size", "architecture-at-limit"][int(random.integers(0, 5))]
    entries = entries_of(model)
    index = 1 + int(random.integers(0, len(entries) - 1))
    if variant.startswith("architecture"):
        index = 0
    megabytes = 32 if variant == "architecture-at-limit" else BOMB_MEGABYTES
    descr = "<U" if variant.startswith("architecture") else "<f8"
    count = megabytes * MEGABYTE // (4 if descr == "<U" else 8)
    header = npy_header(f"{descr}{count}", ()) if descr == "<U" else npy_header(descr, (count,))
    stream, crc, size = deflated_zeros(header, megabytes)
    if variant == "lying-size":
        size = len(entries[index].data)
    bomb = Entry(entries[index].name, stream, zipfile.ZIP_DEFLATED, size, crc)
    if variant == "extra":
        entries.append(Entry("parameters/bomb.npy", stream, zipfile.ZIP_DEFLATED, size, crc))
    else:
        entries[index] = bomb
    return variant, zip_bytes(entries)


# Headers (after the magic and length) a forger might write, and the magic strings one might change.
NPY_HEADERS = [
    "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': ((),), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
    "{'descr': '<f8', 'fortran_order': 'yes', 'shape': (3,), }",
    "{'descr': 'not a dtype', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), } '''",
    "[1, 2, 3]",
    "__import__('os').system('echo pwned')",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",), }",
    "{" * 10000,
    "{'descr': '<f8' " + " " * 20000 + "}",
]


def npy_header_mutation(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """An entry's ``.npy`` header replaced by a forged one, its text edited, or its magic changed."""
    name, data = model.entries[int(random.integers(0, len(model.entries)))]
    header_length = int.from_bytes(data[8:10], "little")
    choice = random.random()
    if choice < 0.4:
        text = NPY_HEADERS[int(random.integers(0, len(NPY_HEADERS)))].encode("latin1") + b"\n"
        forged = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data[10 + header_length :]
        return "forged", replaced(model, name, forged)
    if choice < 0.8:
        header = bytearray(data[10 : 10 + header_length])
        position = int(random.integers(0, len(header)))
        header[position] = int(random.choice(list(b"{}()[]',:0123456789-eE<>|fOUV \\\"x\n")))
        return "edited", replaced(model, name, data[:10] + bytes(header) + data[10 + header_length :])
    magic = [b"\x93NUMPY\x03\x00", b"\x93NUMPY\x09\x09", b"\x93NUMPX\x01\x00", b"\x93NUMPY\x02\x00"]
    return "magic", replaced(model, name, magic[int(random.integers(0, len(magic)))] + data[8:])


def _array_entry(random: np.random.Generator, model: SavedModel) -> tuple[str, np.ndarray]:
    name = model.arrays[int(random.integers(0, len(model.arrays)))]
    return name, load_npy(dict(model.entries)[name])


def wrong_shape(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    name, value = _array_entry(random, model)
    shapes = [
        value.T,
        value.ravel(),
        value[..., None],
        np.concatenate([value, value[:1]]),
        value[:0],
        value.ravel()[:1],
    ]
    shapes += [np.asarray(value.ravel()[0]), np.asfortranarray(value), np.zeros((1000, 1000), value.dtype)]
    return name, replaced(model, name, npy(shapes[int(random.integers(0, len(shapes)))]))


def wrong_dtype(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    name, value = _array_entry(random, model)
    dtypes = ["int64", "int8", "bool", "complex64", "float16", ">f4", ">f8", "longdouble", "U8", "S8", "uint32"]
    chosen = int(random.integers(0, len(dtypes) + 2))
    if chosen == len(dtypes):
        return "structured", replaced(model, name, npy(np.zeros(value.shape, [("a", "<f4"), ("b", "<f4")])))
    if chosen == len(dtypes) + 1:
        return "object", replaced(model, name, npy(np.array([value], dtype=object)))
    with np.errstate(all="ignore"):
        return dtypes[chosen], replaced(model, name, npy(value.astype(dtypes[chosen])))


def wrong_values(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """An array holding NaN, inf, a value beyond float32 or a negative variance -- or new valid values
    (random normal of scale 0.001 to 1000, zeros, 1e-300; never negative for a variance)."""
    variances = [entry for entry in model.arrays if "running_var" in entry or entry.startswith("optimizer/s_")]
    variant = ["nan", "inf", "-inf", "beyond-float32", "negative", "random", "zeros", "tiny"][
        int(random.integers(0, 8))
    ]
    names = variances if variant == "negative" and variances else model.arrays
    name = names[int(random.integers(0, len(names)))]
    value = load_npy(dict(model.entries)[name]).astype(np.float64)
    if variant in ("nan", "inf", "-inf", "beyond-float32", "negative"):
        position = tuple(int(random.integers(0, extent)) for extent in value.shape)
        bad = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "beyond-float32": 1e39}
        value[position] = bad.get(variant, -float(random.uniform(1e-6, 10.0)))
    else:
        scale = {"random": 10.0 ** int(random.integers(-3, 4)), "zeros": 0.0, "tiny": 1e-300}[variant]
        value = (random.standard_normal(value.shape) if variant == "random" else np.ones(value.shape)) * scale
        value = np.abs(value) if name in variances else value
    keep_float64 = variant in ("beyond-float32", "tiny") or model.architecture["dtype"] == "float64"
    return variant, replaced(model, name, npy(value if keep_float64 else value.astype(model.architecture["dtype"])))


# --- mutations of the JSON architecture ---------------------------------------------------------------


JSON_VALUES: list[Any] = [
    None, True, False, -1, 0, 1, 2, 3, 9000, 2**31, 2**53 + 1, 2**63, 2**64, -(2**63), 10**30, 1e308, -1e308,
    5e-324, 0.5, -0.5, 1.5, "", "x", "float16", "float32", "float64", "relu", "exp", "softmax", "identity",
    "sigmoid", "tanh", "adam", "sgd", "mse", "dense", "batch_norm", "dropout", [], {}, [1, 2], {"name": "adam"},
    {"kind": "dense", "units": 2}, [{"kind": "activation", "activation": "relu"}],
]  # fmt: skip


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a JSON value, its own included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


def _set_path(architecture: Any, path: tuple, value: Any) -> None:
    target = architecture
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def json_field(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """One value anywhere in the architecture replaced by another (of any type), or deleted."""
    architecture = json.loads(json.dumps(model.architecture))
    key = list(architecture)[int(random.integers(0, len(architecture)))]  # a field, then a place inside it
    paths = _paths(architecture[key], (key,))
    path = paths[int(random.integers(0, len(paths)))]
    if random.random() < 0.15 and isinstance(path[-1], str):
        target = architecture
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return f"deleted-{path[0]}", with_architecture(model, json.dumps(architecture))
    _set_path(architecture, path, JSON_VALUES[int(random.integers(0, len(JSON_VALUES)))])
    return f"set-{path[0]}", with_architecture(model, json.dumps(architecture))


def json_counters_and_units(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """A counter (``optimizer_iterations``, ``epochs_trained``), ``n_features`` or a Dense's ``units`` changed."""
    architecture = json.loads(json.dumps(model.architecture))
    values: list[Any] = [-1, 0, 1, 2**53, 2**53 + 1, 2**64, 10**400, 1.5, True, "3", None, 9000, 10**6, 10**9, 10**12]
    dense = [index for index, layer in enumerate(architecture["layers"]) if layer["kind"] == "dense"]
    choices = [("optimizer_iterations",), ("epochs_trained",), ("n_features",)]
    choices += [("layers", index, "units") for index in dense]
    path = choices[int(random.integers(0, len(choices)))]
    old = architecture
    for key in path:
        old = old[key]
    values += [old + 1, old - 1]
    _set_path(architecture, path, values[int(random.integers(0, len(values)))])
    return path[-1], with_architecture(model, json.dumps(architecture))


def json_layers(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """The layer list changed: one dropped, duplicated or moved, or a layer inserted."""
    architecture = json.loads(json.dumps(model.architecture))
    layers = architecture["layers"]
    index = int(random.integers(0, len(layers)))
    variant = ["drop", "duplicate", "move", "insert", "dtype", "optimizer"][int(random.integers(0, 6))]
    if variant == "drop":
        del layers[index]
    elif variant == "duplicate":
        layers.insert(index, dict(layers[index]))
    elif variant == "move":
        layers.insert(int(random.integers(0, len(layers))), layers.pop(index))
    elif variant == "insert":
        inserted = [{"kind": "batch_norm", "momentum": 0.9, "epsilon": 1e-5}, {"kind": "dropout", "rate": 0.5}]
        inserted += [{"kind": "activation", "activation": "tanh"}, {"kind": "convolution", "filters": 3}]
        layers.insert(index, inserted[int(random.integers(0, len(inserted)))])
    elif variant == "dtype":
        architecture["dtype"] = "float32" if architecture["dtype"] == "float64" else "float64"
    else:
        optimizers = [{"name": "sgd"}, {"name": "adam", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}]
        optimizers += [{"name": "rmsprop", "rho": 0.9, "epsilon": 1e-8}, {"name": "momentum", "beta": 0.9}]
        architecture["optimizer"] = optimizers[int(random.integers(0, len(optimizers)))]
    return variant, with_architecture(model, json.dumps(architecture))


NUMBER_TEXTS = ["Infinity", "-Infinity", "NaN", "1e400", "-1e400", "1" + "0" * 5000, "1e-400", "-0", "0x10", "1.", ".5"]


def json_text(random: np.random.Generator, model: SavedModel) -> tuple[str, bytes]:
    """The JSON text edited: a number written as ``Infinity``, ``NaN``, ``1e400`` or 5,000 digits,
    deep nesting in the metadata, a duplicate key, or one character changed."""
    text = json.dumps(model.architecture)
    variant = ["number", "nesting", "duplicate-key", "character", "not-an-object"][int(random.integers(0, 5))]
    if variant == "number":
        numbers = [index for index in range(1, len(text)) if text[index].isdigit() and text[index - 1] in " [-"]
        start = numbers[int(random.integers(0, len(numbers)))]
        end = start
        while end < len(text) and (text[end].isdigit() or text[end] in ".eE-+"):
            end += 1
        text = text[:start] + NUMBER_TEXTS[int(random.integers(0, len(NUMBER_TEXTS)))] + text[end:]
    elif variant == "nesting":
        depth = int(random.choice([10, 500, 990, 2000, 100_000, 1_000_000]))
        text = text.replace('"metadata": {', '"metadata": {"deep": ' + "[" * depth + "]" * depth + ", ", 1)
    elif variant == "duplicate-key":
        text = text.replace('"version": 1', '"version": 1, "version": 2', 1)
    elif variant == "character":
        position = int(random.integers(0, len(text)))
        text = text[:position] + str(random.choice(list('{}[]",:0123456789.eE-tfn \\'))) + text[position + 1 :]
    else:
        text = json.dumps([model.architecture])
    return variant, with_architecture(model, text)


MUTATIONS: dict[str, Callable[[np.random.Generator, SavedModel], tuple[str, bytes]]] = {
    "flip-bytes": flip_bytes,
    "flip-bit": flip_bit,
    "truncate": truncate,
    "append-garbage": append_garbage,
    "zip-field": zip_field,
    "remove-entry": remove_entry,
    "duplicate-entry": duplicate_entry,
    "rename-entry": rename_entry,
    "add-entry": add_entry,
    "recompress": recompress,
    "deflate-bomb": deflate_bomb,
    "npy-header": npy_header_mutation,
    "wrong-shape": wrong_shape,
    "wrong-dtype": wrong_dtype,
    "wrong-values": wrong_values,
    "json-field": json_field,
    "json-counters-units": json_counters_and_units,
    "json-layers": json_layers,
    "json-text": json_text,
}


@dataclass(frozen=True)
class Case:
    index: int
    kind: str
    variant: str
    model: str
    contents: bytes


def make_case(models: list[SavedModel], index: int, seed: int = 0) -> Case:
    """Case ``index`` of the run seeded ``seed``: the same bytes every time, whatever ran before it."""
    random = np.random.default_rng([seed, index])
    kind = list(MUTATIONS)[index % len(MUTATIONS)]
    model = models[int(random.integers(0, len(models)))]
    variant, contents = MUTATIONS[kind](random, model)
    return Case(index, kind, variant, model.name, contents)


# --- running cases --------------------------------------------------------------------------------


def outcome(path: str, random: np.random.Generator) -> str:
    """``"refused"`` (ModelFileError) or ``"loaded"`` (and its predictions on random normal data are
    finite); any other exception propagates, and finite predictions are asserted."""
    try:
        network = xdnn.load(path, backend="numpy")
    except xdnn.ModelFileError:
        return "refused"
    X = random.standard_normal((16, network.n_features))
    for predictions in (network.predict_proba(X), network.predict(X)):
        assert np.all(np.isfinite(xdnn.to_numpy(predictions))), f"non-finite predictions: {predictions}"
    return "loaded"


@dataclass
class Report:
    """What a run found: outcome counts by mutation, failures, the slowest case, memory growth."""

    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)  # (kind, outcome) -> count
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    slowest_case: str = ""
    largest_allocation: int = 0  # bytes, the most any one load traced at its peak (tracemalloc)
    largest_allocation_case: str = ""
    rss_growth: int | None = None  # bytes, growth of the process's peak resident memory over the run
    seconds: float = 0.0

    def table(self) -> str:
        kinds = sorted({kind for kind, _ in self.outcomes})
        lines = [f"{'mutation':22s} {'refused':>8s} {'loaded':>8s} {'failed':>8s}"]
        for kind in kinds + ["total"]:
            counts = [
                sum(n for (k, o), n in self.outcomes.items() if o == name and kind in (k, "total"))
                for name in ("refused", "loaded", "failed")
            ]
            lines.append(f"{kind:22s} {counts[0]:8d} {counts[1]:8d} {counts[2]:8d}")
        growth = "n/a" if self.rss_growth is None else f"{self.rss_growth / MEGABYTE:.1f} MiB"
        lines += [
            f"{self.cases} cases in {self.seconds:.1f} s; slowest {self.slowest:.3f} s ({self.slowest_case})",
            f"largest traced allocation of one load: {self.largest_allocation / MEGABYTE:.1f} MiB "
            f"({self.largest_allocation_case}); peak RSS growth over the run: {growth}",
        ]
        return "\n".join(lines + [f"FAILED {failure}" for failure in self.failures[:20]])


def _peak_rss() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _run_one(case: Case, path: str, report: Report, trace: bool) -> None:
    with open(path, "wb") as stream:
        stream.write(case.contents)
    label = f"case {case.index}: {case.kind}/{case.variant} of {case.model}"
    if trace:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning from load or predict is a finding too
            result = outcome(path, np.random.default_rng(case.index))
    except Exception as error:
        result = "failed"
        report.failures.append(f"{label}: {type(error).__name__}: {str(error)[:300]}")
    elapsed = time.perf_counter() - start
    if trace:
        allocated = tracemalloc.get_traced_memory()[1] - before
        if allocated > report.largest_allocation:
            report.largest_allocation, report.largest_allocation_case = allocated, label
    if elapsed > report.slowest:
        report.slowest, report.slowest_case = elapsed, label
    if elapsed > SECONDS_PER_CASE:
        report.failures.append(f"{label}: took {elapsed:.1f} s")
    report.outcomes[case.kind, result] += 1
    report.cases += 1


def run(count: int, *, seed: int = 0, folder: str | None = None, trace: bool = True) -> Report:
    """Load ``count`` corrupted model files (cases 0 to count - 1 of ``seed``) and report."""
    models = saved_models()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="xdnn-fuzz-") as own_folder:
        path = os.path.join(folder or own_folder, "case.npz")
        started, peak_before = time.perf_counter(), _peak_rss()
        if trace:
            tracemalloc.start()
        try:
            for index in range(count):
                _run_one(make_case(models, index, seed), path, report, trace)
        finally:
            if trace:
                tracemalloc.stop()
        report.seconds = time.perf_counter() - started
        peak_after = _peak_rss()
        if peak_before is not None and peak_after is not None:
            report.rss_growth = peak_after - peak_before
    return report


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=10_000, help="how many cases (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", type=int, help="describe and run only this case")
    parser.add_argument("--no-trace", action="store_true", help="skip tracemalloc (faster; no allocation figure)")
    options = parser.parse_args(arguments)
    if options.case is not None:
        case = make_case(saved_models(), options.case, options.seed)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "case.npz")
            with open(path, "wb") as stream:
                stream.write(case.contents)
            print(f"case {case.index}: {case.kind}/{case.variant} of {case.model}, {len(case.contents):,} bytes")
            print(outcome(path, np.random.default_rng(case.index)))
        return 0
    report = run(options.count, seed=options.seed, trace=not options.no_trace)
    print(report.table())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
