"""Save and load a :class:`xdnn.Network` as one ``.npz`` file -- no pickle anywhere.

Contents: ``architecture`` (a JSON string: format tag, version, layers, loss,
optimizer and schedule settings, dtype, input size), ``parameters/<name>``,
``state/<name>`` and ``optimizer/<name>`` arrays.  The architecture also keeps the
random streams (the shuffle order and the dropout masks' generator, except CuPy's),
so training continued after loading matches training continued without the save.
Loading checks the zip signature and uses ``allow_pickle=False``, so a model file
can never run code, and checks every entry against the architecture before building
anything.  Writes go to a temporary file in the same folder and are renamed into
place, so an interrupted save never leaves a broken model behind.
"""

from __future__ import annotations

import json
import os
import pickle
import secrets
import stat
import tempfile
import warnings
import zipfile
import zlib
from typing import Any

import numpy as np

from xdnn._backend import BACKEND_NAMES, BackendError, JaxKeys
from xdnn._namespace import ArrayContext, to_numpy
from xdnn._random import HostRandom

FORMAT = "xdnn.Network"
VERSION = 1
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive with members / an empty one


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


def _create_temporary(path: str) -> tuple[int, str]:
    """Open a new, uniquely named file beside ``path``: ``(descriptor, name)``.

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
        break
    try:
        os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
    except OSError:  # no file there yet (or one whose mode cannot be copied): keep the umask's
        pass
    return handle, temporary


def _model_destination(path: str) -> str:
    """The regular file a save replaces: a symbolic link's target (the link itself is kept), and
    never a folder, device, pipe or socket, which the rename would otherwise replace."""
    destination = os.path.realpath(path) if os.path.islink(path) else path
    if os.path.exists(destination) and not os.path.isfile(destination):
        kind = "a folder" if os.path.isdir(destination) else "not a regular file (a device, pipe or socket)"
        raise ValueError(f"cannot save a model to {path}: it is {kind}; choose a file name such as model.npz")
    return destination


def _storable(group: str, value: np.ndarray) -> bool:
    """Whether a model file may hold ``value`` in ``group``: parameters and running statistics are
    finite, an optimizer's state holds no NaN.  (A running average may have overflowed to inf --
    Adam's squared gradients on unscaled data -- while training went on.)  ``save`` and ``load``
    apply the same rule, so a file that was written can be read back."""
    if group == "optimizer":
        return not np.any(np.isnan(value))
    return bool(np.all(np.isfinite(value)))


def save_network(network: Any, path: str | os.PathLike) -> None:
    """Write ``network`` to ``path`` atomically.

    The file is written exactly at ``path``: unlike ``numpy.savez``, ``.npz`` is not
    appended, so ``load_network(path)`` reads the file ``save_network(path)`` wrote.
    A symbolic link at ``path`` keeps pointing at the new file.  Raises ``ValueError`` for a
    network without parameters, one holding NaN or inf that :func:`load_network` would refuse, or a
    ``path`` that is a folder or a device, and ``TypeError`` when
    ``network.metadata`` is not JSON-serialisable; the file at ``path`` is then untouched.
    """
    if not network.built:
        raise ValueError("nothing to save: the network has no parameters yet (fit it first)")
    try:
        architecture = json.dumps(_architecture(network))
    except (TypeError, ValueError) as error:
        raise TypeError(f"cannot save the model: metadata (and seed) must be JSON-serialisable ({error})") from None
    arrays: dict[str, np.ndarray] = {"architecture": np.array(architecture)}
    for prefix, group in (
        ("parameters", network.parameters),
        ("state", network.state),
        ("optimizer", network.optimizer.state),
    ):
        for name, value in group.items():
            array = arrays[f"{prefix}/{name}"] = np.ascontiguousarray(to_numpy(value))
            if not _storable(prefix, array):  # load() would refuse the file
                raise ValueError(
                    f"cannot save the model: {prefix}/{name} contains NaN or inf, which a model file may not "
                    "hold (xdnn.load refuses it); training diverged or the array was set so -- set finite "
                    "values (set_weights) or train again"
                )
    path = _model_destination(os.fspath(path))
    handle, temporary = _create_temporary(path)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _read(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The architecture (checked format and version) and the other arrays of a model file.

    Only a zip archive is handed to ``np.load`` (never a bare ``.npy`` or a pickle), with
    ``allow_pickle=False``; every entry must be an array.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a directory, not an xdnn model file")
    try:
        with open(path, "rb") as stream:
            signature = stream.read(4)
    except OSError as error:
        raise ModelFileError(f"{path} cannot be read: {error}") from None
    if not signature:
        raise ModelFileError(f"{path} is empty, not an xdnn model file (an interrupted copy?)")
    if signature not in ZIP_SIGNATURES:
        raise ModelFileError(f"{path} is not an xdnn model file: it is not an .npz (zip) archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
        raise ModelFileError(f"{path} is truncated or corrupt (not a readable .npz archive: {error})") from None
    except ValueError as error:  # pickled objects refused, or malformed members
        raise ModelFileError(
            f"{path} holds data xdnn will not load ({error}); model files never contain pickled objects"
        ) from None
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):  # a zip member that is not an .npy array: raw bytes
            raise ModelFileError(f"{path} is not an xdnn model file: entry {name!r} is not an array")
    if "architecture" not in arrays:
        raise ModelFileError(f"{path} is not an xdnn model file (no 'architecture' entry)")
    try:
        architecture = json.loads(str(arrays.pop("architecture")))
    except (json.JSONDecodeError, TypeError) as error:
        raise ModelFileError(f"{path} has a corrupt architecture entry: {error}") from None
    if not isinstance(architecture, dict) or architecture.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an xdnn model file (format tag missing or foreign)")
    if architecture.get("version") != VERSION:
        raise ModelFileError(
            f"{path} has model format version {architecture.get('version')}; this xdnn reads {VERSION}"
        )
    return architecture, arrays


def load_network(path: str | os.PathLike, *, backend: str | None = None) -> Any:
    """Read a network saved by :meth:`xdnn.Network.save` onto ``backend`` (default: the active one).

    A network trained on CuPy loads on a machine with only NumPy.
    """
    from xdnn._backend import active_backend, resolve_backend
    from xdnn._namespace import ArrayContext
    from xdnn.layers import layer_from_config
    from xdnn.network import Network
    from xdnn.optimizers import get_optimizer, get_schedule

    path = os.fspath(path)
    architecture, arrays = _read(path)
    try:
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
        iterations = int(architecture.get("optimizer_iterations", 0))
        epochs_trained = int(architecture.get("epochs_trained", 0))
    except (KeyError, TypeError, ValueError) as error:
        message = f"missing entry {error}" if isinstance(error, KeyError) else str(error)
        raise ModelFileError(f"{path} has an invalid architecture: {message}") from None
    chosen = resolve_backend(backend) if backend is not None else active_backend()
    context = ArrayContext(chosen.xp, chosen.device)
    try:
        network.build(n_features, context)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path} has an invalid architecture: {error}") from None
    expected = {
        "parameters": {name: tuple(value.shape) for name, value in network.parameters.items()},
        "state": {name: tuple(value.shape) for name, value in network.state.items()},
        "optimizer": {name: tuple(value.shape) for name, value in network.optimizer.state.items()},
    }
    groups: dict[str, dict[str, np.ndarray]] = {"parameters": {}, "state": {}, "optimizer": {}}
    for key, value in arrays.items():
        prefix, _, name = key.partition("/")
        if prefix not in groups:
            raise ModelFileError(f"{path} has an unexpected entry {key!r}")
        groups[prefix][name] = value
    for prefix, shapes in expected.items():
        found = groups[prefix]
        if set(found) != set(shapes):
            missing = sorted(set(shapes) - set(found))
            extra = sorted(set(found) - set(shapes))
            raise ModelFileError(
                f"{path}: {prefix} entries do not match the architecture (missing {missing}, unexpected {extra})"
            )
        for name, shape in shapes.items():
            value = found[name]
            if tuple(value.shape) != shape or value.dtype.kind != "f":
                raise ModelFileError(
                    f"{path}: {prefix}/{name} has shape {tuple(value.shape)} and dtype {value.dtype}, "
                    f"expected a float array of shape {shape}"
                )
            if not _storable(prefix, value):
                raise ModelFileError(f"{path}: {prefix}/{name} contains NaN or inf")
    metadata = architecture.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path} has invalid metadata (expected a JSON object)")
    network.place(context, groups["parameters"], groups["state"], groups["optimizer"])
    network.optimizer.iterations = iterations
    network.epochs_trained = epochs_trained
    network.metadata = metadata
    try:
        restore_random_state(network, architecture.get("random_state", {}), architecture.get("trained_on"))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:  # RuntimeError: torch refused the state
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
            network = load_network(path, backend=backend)
        except BackendError as error:
            warnings.warn(
                f"the network was trained on backend {backend!r}, which is not usable here ({error}); "
                "it was loaded onto NumPy instead",
                RuntimeWarning,
                stacklevel=3,
            )
            return load_network(path, backend="numpy")
    context = network.context
    if saved["device"] is not None and str(context.device) != str(saved["device"]):
        network.place(
            ArrayContext(context.xp, saved["device"]), network.parameters, network.state, network.optimizer.state
        )
    return network
