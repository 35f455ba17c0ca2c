"""Save and load a :class:`xdnn.Network` as one ``.npz`` file -- no pickle anywhere.

Contents: ``architecture`` (a JSON string: format tag, version, layers, loss,
optimizer and schedule settings, dtype, input size), ``parameters/<name>``,
``state/<name>`` and ``optimizer/<name>`` arrays.  Loading uses
``allow_pickle=False``, so a model file can never run code, and checks every
entry against the architecture before building anything.  Writes go to a
temporary file in the same folder and are renamed into place, so an interrupted
save never leaves a broken model behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from xdnn._namespace import to_numpy

FORMAT = "xdnn.Network"
VERSION = 1


class ModelFileError(ValueError):
    """A model file is corrupt, truncated, foreign or inconsistent."""


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
    }


def save_network(network: Any, path: str | os.PathLike) -> None:
    """Write ``network`` to ``path`` (``.npz`` is not appended) atomically."""
    if not network.built:
        raise ValueError("nothing to save: the network has no parameters yet (fit it first)")
    arrays: dict[str, np.ndarray] = {"architecture": np.array(json.dumps(_architecture(network)))}
    for prefix, group in (
        ("parameters", network.parameters),
        ("state", network.state),
        ("optimizer", network.optimizer.state),
    ):
        for name, value in group.items():
            arrays[f"{prefix}/{name}"] = np.ascontiguousarray(to_numpy(value))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".xdnn-", suffix=".npz.tmp", dir=folder)
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
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ModelFileError(f"{path} is not a readable xdnn model (.npz) file: {error}") from None
    except ValueError as error:  # pickled objects refused, or malformed members
        raise ModelFileError(f"{path} holds data xdnn will not load: {error}") from None
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
        n_features = int(architecture["n_features"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path} has an invalid architecture: {error}") from None
    chosen = resolve_backend(backend) if backend is not None else active_backend()
    context = ArrayContext(chosen.xp, chosen.device)
    network.build(n_features, context)
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
            if not np.all(np.isfinite(value)):
                raise ModelFileError(f"{path}: {prefix}/{name} contains NaN or inf")
    network._place(context, groups["parameters"], groups["state"], groups["optimizer"])
    network.optimizer.iterations = int(architecture.get("optimizer_iterations", 0))
    network.epochs_trained = int(architecture.get("epochs_trained", 0))
    metadata = architecture.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path} has invalid metadata (expected a JSON object)")
    network.metadata = metadata
    return network
