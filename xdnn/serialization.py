"""Save and load a :class:`xdnn.Network` as one ``.npz`` file -- no pickle anywhere.

Contents: ``architecture`` (a JSON string: format tag, version, layers, loss,
optimizer and schedule settings, dtype, input size), ``parameters/<name>``,
``state/<name>`` and ``optimizer/<name>`` arrays.  The architecture also keeps the
random streams (the shuffle order and the dropout masks' generator, except CuPy's),
so training continued after loading matches training continued without the save.

Loading is total: any file gives a network, or :class:`ModelFileError` saying what is wrong --
never another exception, never code run from the file, in bounded time and memory
(:mod:`xdnn.model_file` lists the checks and limits).  ``save`` refuses what ``load`` would
refuse, so a file that was written can be read back.  Saving is atomic: an interrupted save
never leaves a broken model behind (:mod:`xdnn.atomic_file` says how, and how the temporary
files of killed saves are removed).  Pickling a network carries the same file as bytes.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import warnings
from typing import Any

import numpy as np

from xdnn import model_file
from xdnn._backend import BACKEND_NAMES, BackendError, JaxKeys
from xdnn._namespace import ArrayContext, to_numpy
from xdnn._random import HostRandom
from xdnn.atomic_file import write_atomically
from xdnn.labels import labels_for_file
from xdnn.model_file import (
    FORMAT,
    MAX_ARCHITECTURE_CHARACTERS,
    MAX_COUNTER,
    MAX_PARAMETERS,
    VERSION,
    ZIP_SIGNATURES,
    ModelFileError,
    never_negative_entries,
    read_model_file,
    value_refusal,
)

__all__ = [
    "FORMAT",
    "MAX_ARCHITECTURE_CHARACTERS",
    "MAX_COUNTER",
    "MAX_PARAMETERS",
    "VERSION",
    "ZIP_SIGNATURES",
    "ModelFileError",
    "load_network",
    "network_from_state",
    "network_state",
    "random_state_of",
    "restore_random_state",
    "save_network",
]


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
        "classes": labels_for_file(network.classes_),
        "feature_names": None if network.feature_names_in_ is None else network.feature_names_in_.tolist(),
        "random_state": random_state_of(network),
    }


def _model_destination(path: str) -> str:
    """The regular file a save replaces: a symbolic link's target (the link itself is kept), never a
    folder, device, pipe or socket (which the rename would otherwise replace), in a folder that exists."""
    destination = os.path.realpath(path) if os.path.islink(path) else path
    if os.path.exists(destination) and not os.path.isfile(destination):
        kind = "a folder" if os.path.isdir(destination) else "not a regular file (a device, pipe or socket)"
        raise ValueError(f"cannot save a model to {path}: it is {kind}; choose a file name such as model.npz")
    folder = os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save the model to {destination}: the folder {folder} does not exist")
    return destination


def _arrays_to_save(network: Any) -> dict[str, np.ndarray]:
    """The entries of ``network``'s model file, architecture first, each checked by :func:`value_refusal`."""
    labels_for_file(network.classes_)  # labels JSON cannot keep are refused by name (before the JSON below)
    try:
        architecture = json.dumps(_architecture(network), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"cannot save the model: metadata (and seed) must be JSON-serialisable, numbers finite ({error})"
        ) from None
    longest = model_file.MAX_ARCHITECTURE_CHARACTERS  # looked up now: load reads the same limit
    if len(architecture) > longest:
        raise ValueError(
            f"cannot save the model: its architecture and metadata take {len(architecture):,} characters of JSON, "
            f"more than a model file may hold ({longest:,}); keep less in network.metadata"
        )
    arrays: dict[str, np.ndarray] = {"architecture": np.array(architecture)}
    never_negative = never_negative_entries(network, network.optimizer.state)
    for prefix, group in (
        ("parameters", network.parameters),
        ("state", network.state),
        ("optimizer", network.optimizer.state),
    ):
        for name, value in group.items():
            key = f"{prefix}/{name}"
            array = arrays[key] = np.ascontiguousarray(to_numpy(value))
            problem = value_refusal(key, array, array.dtype, key in never_negative)
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
    temporary files that killed saves left in the folder (see :mod:`xdnn.atomic_file`).
    """
    if not network.built:
        raise ValueError("nothing to save: the network has no parameters yet (fit it first)")
    arrays = _arrays_to_save(network)
    path = _model_destination(os.fspath(path))
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def load_network(
    path: str | os.PathLike, *, backend: str | None = None, max_parameters: int | None = MAX_PARAMETERS
) -> Any:
    """Read a network saved by :meth:`xdnn.Network.save` onto ``backend`` (default: the active one).

    A network trained on CuPy loads on a machine with only NumPy.  A file that is damaged,
    forged or foreign raises :class:`ModelFileError` naming the problem, and nothing else (see
    :mod:`xdnn.model_file`); a missing one ``FileNotFoundError``.  ``max_parameters`` bounds the
    trainable parameters a file may declare (default :data:`MAX_PARAMETERS`, 100 million); raise
    it for a larger model you trust, or pass ``None`` for no bound.
    """
    from xdnn._backend import active_backend, resolve_backend

    if max_parameters is not None and (
        isinstance(max_parameters, bool) or not isinstance(max_parameters, int) or max_parameters < 0
    ):
        raise ValueError(f"max_parameters must be a non-negative integer or None, got {max_parameters!r}")
    path = os.fspath(path)
    network, groups, architecture = read_model_file(path, max_parameters)
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
