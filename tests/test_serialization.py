"""xdnn.serialization: ``Network.save`` / ``xdnn.load`` -- exact, portable, pickle-free, atomic, and loud on bad files.

Every test runs on each selected backend (the ``backend`` fixture); files are written
under pytest's ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import xdnn
from xdnn import atomic_file, model_file, serialization
from xdnn.layers import Activation, BatchNorm, Dense, Dropout
from xdnn.serialization import ModelFileError

# --- networks and data ---------------------------------------------------------------------------


def _data(n_outputs: int, loss: str, n_samples: int = 24):
    """Host ``X (n_samples, 3)`` and targets that fit the network's output."""
    random_state = np.random.RandomState(7)
    X = random_state.randn(n_samples, 3)
    if loss == "mse":
        return X, X[:, :n_outputs] * 0.5 + 0.1
    if n_outputs == 1:
        return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X, np.argmax(X[:, :n_outputs], axis=1)


# One network per optimizer, schedule and layer form; between them every activation, both dtypes,
# batch norm, dropout (device and host masks), l2 and every loss.
NETWORKS = {
    "sizes-sgd-constant-tanh-float64": lambda: xdnn.Network(
        [3, 5, 1], activation="tanh", optimizer="sgd", learning_rate=0.1, dtype="float64", seed=1
    ),
    "sizes-momentum-step-leaky_relu-l2-float32": lambda: xdnn.Network(
        [3, 6, 4, 3],
        activation="leaky_relu",
        optimizer=xdnn.Momentum(beta=0.8),
        learning_rate=xdnn.StepDecay(0.05, drop=0.5, every=1),
        l2=1e-2,
        seed=2,
    ),
    "sizes-nesterov-inverse_time_power-relu-float32": lambda: xdnn.Network(
        [3, 5, 3],
        optimizer=xdnn.SGDMomentum(momentum=0.8, nesterov=True),
        learning_rate=xdnn.InverseTimeDecay(0.05, rate=40.0, power=0.5),
        seed=5,
    ),
    "sizes-rmsprop-inverse_time-gelu-mse-float64": lambda: xdnn.Network(
        [3, 5, 2],
        activation="gelu",
        loss="mse",
        optimizer=xdnn.RMSprop(rho=0.8, epsilon=1e-7),
        learning_rate=xdnn.InverseTimeDecay(0.01, rate=0.5),
        dtype="float64",
        seed=3,
    ),
    "sizes-adam-exponential-batchnorm-dropout-float32": lambda: xdnn.Network(
        [3, 6, 5, 1],
        activation="elu",
        optimizer=xdnn.Adam(beta1=0.85, beta2=0.99, epsilon=1e-6),
        learning_rate=xdnn.ExponentialDecay(0.01, rate=0.9, steps=2),
        l2=1e-3,
        dropout=0.2,
        batch_norm=True,
        seed=4,
    ),
    "layers-adam-batchnorm-hostdropout-sigmoid-float64": lambda: xdnn.Network(
        [
            Dense(6, "relu", initialization="xavier"),
            BatchNorm(momentum=0.8, epsilon=1e-3),
            Activation("sigmoid"),
            Dropout(0.25),
            Dense(3, "softmax"),
        ],
        optimizer="adam",
        learning_rate=0.02,
        dtype="float64",
        seed=5,
        dropout_masks="host",
        metrics=[],
    ),
}

METADATA = {"classes": ["a", "b"], "scale": [1.5, 2.0], "nested": {"ok": True, "none": None}, "note": "ünïcode"}


def _trained(name: str, epochs: int = 2):
    """A fitted network of kind ``name`` with metadata, and its training data."""
    network = NETWORKS[name]()
    X, y = _data(network.output_units, network.loss.name)
    network.fit(X, y, epochs=epochs, batch_size=8, verbose=0)
    network.metadata = json.loads(json.dumps(METADATA))
    return network, X, y


def _host(group) -> dict[str, np.ndarray]:
    return {name: xdnn.to_numpy(value) for name, value in group.items()}


def _assert_identical_arrays(expected, actual, where: str) -> None:
    expected, actual = _host(expected), _host(actual)
    assert set(actual) == set(expected), f"{where}: entries {sorted(actual)} != {sorted(expected)}"
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype, f"{where}/{name}: dtype {actual[name].dtype} != {value.dtype}"
        assert np.array_equal(actual[name], value), f"{where}/{name}: not bit-identical"


def _assert_same_network(original, loaded, backend_name: str) -> None:
    """Bit-identical arrays and the same settings, counters and metadata."""
    where = f"[{backend_name}]"
    _assert_identical_arrays(original.parameters, loaded.parameters, f"{where} parameters")
    _assert_identical_arrays(original.state, loaded.state, f"{where} state")
    _assert_identical_arrays(original.optimizer.state, loaded.optimizer.state, f"{where} optimizer")
    assert loaded.optimizer.iterations == original.optimizer.iterations, where
    assert loaded.epochs_trained == original.epochs_trained, where
    assert type(loaded.optimizer) is type(original.optimizer), where
    assert loaded.optimizer.config() == original.optimizer.config(), where
    assert type(loaded.learning_rate) is type(original.learning_rate), where
    assert loaded.learning_rate.config() == original.learning_rate.config(), where
    assert [layer.config() for layer in loaded.layers] == [layer.config() for layer in original.layers], where
    for attribute in ("n_features", "l2", "dtype_name", "seed", "initialization", "dropout_masks", "metrics"):
        assert getattr(loaded, attribute) == getattr(original, attribute), f"{where} {attribute}"
    assert loaded.loss.name == original.loss.name, where
    assert loaded.metadata == original.metadata, where


def _assert_same_predictions(original, loaded, X, backend_name: str) -> None:
    for method in ("predict", "predict_proba"):
        expected = xdnn.to_numpy(getattr(original, method)(X))
        actual = xdnn.to_numpy(getattr(loaded, method)(X))
        assert np.array_equal(actual, expected), f"[{backend_name}] {method} differs after load"


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# --- exact round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(NETWORKS))
def test_round_trip_is_exact(backend, tmp_path, name):
    network, X, y = _trained(name)
    path = tmp_path / "model.npz"
    network.save(path)
    loaded = xdnn.load(path)
    assert loaded.backend == backend.name
    assert loaded.dtype == getattr(backend.xp, network.dtype_name)
    _assert_same_network(network, loaded, backend.name)
    _assert_same_predictions(network, loaded, X, backend.name)
    assert loaded.evaluate(X, y) == network.evaluate(X, y), backend.name


@pytest.mark.parametrize("name", list(NETWORKS))
def test_training_resumed_after_load_matches_training_never_stopped(backend, tmp_path, name):
    """Optimizer moments, iteration count (Adam's bias correction), schedule epoch, batch-norm
    statistics, the shuffle order and the dropout stream all continue across save/load."""
    network, X, y = _trained(name)
    device_dropout = network.dropout_masks == "device" and any(isinstance(layer, Dropout) for layer in network.layers)
    if backend.name == "cupy" and device_dropout:
        pytest.skip("CuPy's device generator state is not saved: its dropout masks restart from the seed")
    network.save(tmp_path / "model.npz")
    loaded = xdnn.load(tmp_path / "model.npz")
    for model in (network, loaded):
        model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    _assert_same_network(network, loaded, backend.name)


def test_untrained_network_of_known_size_round_trips(backend, tmp_path):
    """A sizes network has parameters from construction: it saves, and resumes like the original."""
    network = xdnn.Network([3, 4, 1], optimizer="adam", seed=0)
    network.save(tmp_path / "fresh.npz")
    loaded = xdnn.load(tmp_path / "fresh.npz")
    _assert_same_network(network, loaded, backend.name)
    assert loaded.optimizer.iterations == 0 and loaded.epochs_trained == 0
    X, y = _data(1, "binary_crossentropy")
    for model in (network, loaded):
        model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    _assert_same_network(network, loaded, backend.name)


def test_network_without_parameters_is_refused_and_nothing_written(backend, tmp_path):
    network = xdnn.Network([Dense(4, "relu"), Dense(1, "sigmoid")])  # input size unknown until fit
    with pytest.raises(ValueError, match="nothing to save.*fit it first"):
        network.save(tmp_path / "model.npz")
    assert _listing(tmp_path) == [], backend.name


def test_metadata_that_is_not_json_is_refused_before_touching_the_file(backend, tmp_path):
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64")
    path = tmp_path / "model.npz"
    network.save(path)
    before = path.read_bytes()
    network.metadata = {"scale": np.arange(3)}
    with pytest.raises(TypeError, match="JSON-serialisable"):
        network.save(path)
    assert path.read_bytes() == before, backend.name
    assert _listing(tmp_path) == ["model.npz"], backend.name


# --- backends ------------------------------------------------------------------------------------


def test_load_onto_a_chosen_backend_or_the_active_one(backend, tmp_path):
    network, X, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32")
    path = tmp_path / "model.npz"
    network.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert json.loads(str(archive["architecture"]))["trained_on"] == backend.name

    on_numpy = xdnn.load(path, backend="numpy")
    assert on_numpy.backend == "numpy"
    assert all(isinstance(value, np.ndarray) for value in on_numpy.parameters.values())
    _assert_same_network(network, on_numpy, f"{backend.name} -> numpy")
    expected = xdnn.to_numpy(network.predict_proba(X))
    np.testing.assert_allclose(
        on_numpy.predict_proba(X), expected, rtol=1e-5, atol=1e-6, err_msg=f"{backend.name} -> numpy"
    )

    with xdnn.use_backend("numpy"):
        chosen = xdnn.load(path, backend=backend.name)
        default = xdnn.load(path)
    assert chosen.backend == backend.name
    assert default.backend == "numpy"
    _assert_same_network(network, chosen, backend.name)
    _assert_same_predictions(network, chosen, X, backend.name)


def test_loads_where_the_training_library_is_not_installed(backend, tmp_path):
    """A model trained on any backend loads in a process where only NumPy can be imported
    (how a CuPy-trained model reaches a machine without a GPU)."""
    network, X, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32")
    network.save(tmp_path / "model.npz")
    np.save(tmp_path / "X.npy", X)
    script = (
        "import sys\n"
        "for name in ('torch', 'cupy', 'array_api_strict'): sys.modules[name] = None  # 'not installed'\n"
        "import numpy as np, xdnn\n"
        "network = xdnn.load(sys.argv[1], backend='numpy')\n"
        "np.save(sys.argv[2], network.predict_proba(np.load(sys.argv[3])))\n"
    )
    arguments = [str(tmp_path / "model.npz"), str(tmp_path / "out.npy"), str(tmp_path / "X.npy")]
    completed = subprocess.run([sys.executable, "-c", script, *arguments], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, f"[{backend.name}] {completed.stderr}"
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npy"),
        xdnn.to_numpy(network.predict_proba(X)),
        rtol=1e-5,
        atol=1e-6,
        err_msg=backend.name,
    )


# --- the file: a plain .npz, never a pickle ------------------------------------------------------


def test_file_is_a_plain_npz_with_a_json_architecture(backend, tmp_path):
    network, _, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32")
    path = tmp_path / "model.npz"
    network.save(path)
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    assert all(value.dtype != object for value in arrays.values()), backend.name
    architecture = json.loads(str(arrays.pop("architecture")))
    assert architecture["format"] == "xdnn.Network" and architecture["version"] == serialization.VERSION
    assert architecture["optimizer"] == {"name": "adam", "beta1": 0.85, "beta2": 0.99, "epsilon": 1e-6}
    assert architecture["learning_rate"] == {"name": "exponential", "initial": 0.01, "rate": 0.9, "steps": 2}
    assert architecture["optimizer_iterations"] == network.optimizer.iterations == 6
    assert architecture["metadata"] == METADATA
    expected = {f"parameters/{name}" for name in network.parameters}
    expected |= {f"state/{name}" for name in network.state} | {f"optimizer/{name}" for name in network.optimizer.state}
    assert set(arrays) == expected, backend.name
    assert {"state/running_mean1", "state/running_var1", "optimizer/v_W1", "optimizer/s_gamma2"} <= set(arrays)
    for name, value in arrays.items():
        assert value.dtype == np.float32, f"[{backend.name}] {name} is {value.dtype}"


class _CreatesMarkerWhenUnpickled:
    """Unpickling this calls ``os.mkdir(marker)``: proof that a file ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _valid_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def test_object_array_inside_is_refused_without_running_code(backend, tmp_path):
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64")
    network.save(tmp_path / "good.npz")
    marker = tmp_path / "code-ran"
    arrays = _valid_arrays(tmp_path / "good.npz")
    arrays["parameters/W1"] = np.array([_CreatesMarkerWhenUnpickled(marker)], dtype=object)
    evil = tmp_path / "evil.npz"
    np.savez(evil, **arrays)
    # The file really is dangerous: NumPy with pickles allowed runs its code.
    with np.load(evil, allow_pickle=True) as archive:
        archive["parameters/W1"]
    assert marker.is_dir()
    marker.rmdir()

    with pytest.raises(ModelFileError, match="never contain pickled objects") as raised:
        xdnn.load(evil)
    assert str(evil) in str(raised.value)
    assert not marker.exists(), f"[{backend.name}] loading ran code from the file"


@pytest.mark.parametrize("where", ["whole-file", "zip-member"])
def test_raw_pickle_is_refused_without_running_code(backend, tmp_path, where):
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(_CreatesMarkerWhenUnpickled(marker))
    path = tmp_path / "model.npz"
    if where == "whole-file":
        path.write_bytes(payload)
        expected = "not an .npz"
    else:  # a zip member that is not an .npy array: NumPy would hand it back as raw bytes
        network, _, _ = _trained("sizes-sgd-constant-tanh-float64")
        network.save(tmp_path / "good.npz")
        with zipfile.ZipFile(tmp_path / "good.npz") as good, zipfile.ZipFile(path, "w") as forged:
            for member in good.namelist():
                forged.writestr(member, payload if member == "parameters/W1.npy" else good.read(member))
        expected = "entry 'parameters/W1' is not an .npy array"
    with pytest.raises(ModelFileError, match=expected):
        xdnn.load(path)
    assert not marker.exists(), f"[{backend.name}] loading ran code from the file"


# --- atomic writes -------------------------------------------------------------------------------


def _interrupted_savez(error: BaseException):
    real_savez = np.savez

    def savez(file, *args, **kwargs):
        real_savez(file, *args, **kwargs)
        file.seek(file.tell() // 2)  # half written ...
        file.truncate()
        raise error  # ... then the disk fills up, or the user presses Ctrl-C

    return savez


@pytest.mark.parametrize(
    "interruption",
    ["savez-oserror", "savez-keyboardinterrupt", "replace-oserror"],
)
def test_interrupted_save_leaves_the_previous_model_and_no_temporary_file(backend, tmp_path, monkeypatch, interruption):
    first, X, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)
    second, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=3)
    path = tmp_path / "model.npz"
    first.save(path)
    before = path.read_bytes()
    error = KeyboardInterrupt() if interruption == "savez-keyboardinterrupt" else OSError("No space left on device")
    if interruption.startswith("savez"):
        monkeypatch.setattr(np, "savez", _interrupted_savez(error))
    else:
        monkeypatch.setattr(os, "replace", lambda *arguments: (_ for _ in ()).throw(error))
    with pytest.raises(type(error)):
        second.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before, f"[{backend.name}] {interruption}: the existing model changed"
    assert _listing(tmp_path) == ["model.npz"], f"[{backend.name}] {interruption}: a temporary file was left"
    _assert_same_network(first, xdnn.load(path), backend.name)


def test_interrupted_first_save_leaves_nothing(backend, tmp_path, monkeypatch):
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64")
    monkeypatch.setattr(np, "savez", _interrupted_savez(OSError("No space left on device")))
    with pytest.raises(OSError, match="No space"):
        network.save(tmp_path / "model.npz")
    assert _listing(tmp_path) == [], backend.name


def test_saving_over_an_existing_model_replaces_it(backend, tmp_path):
    first, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)
    second, _, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32", epochs=1)
    path = tmp_path / "model.npz"
    first.save(path)
    second.save(path)
    _assert_same_network(second, xdnn.load(path), backend.name)
    assert _listing(tmp_path) == ["model.npz"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX symbolic links")
def test_saving_through_a_symbolic_link_keeps_the_link(backend, tmp_path):
    network, X, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32")
    target = tmp_path / "models" / "current.npz"
    target.parent.mkdir()
    target.write_bytes(b"an older model")
    link = tmp_path / "model.npz"
    link.symlink_to(target)
    network.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target), backend.name
    np.testing.assert_array_equal(
        xdnn.to_numpy(xdnn.load(target).predict_proba(X)), xdnn.to_numpy(network.predict_proba(X))
    )


@pytest.mark.skipif(os.name != "posix", reason="POSIX named pipes")
def test_saving_onto_a_device_or_pipe_is_refused(backend, tmp_path):
    network, _, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        network.save(fifo)
    assert not fifo.is_file() and fifo.exists(), backend.name
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pipe"]  # no temporary left behind


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_saved_file_has_ordinary_permissions(backend, tmp_path):
    """The temporary file must not pass its private 0o600 mode on: a new model gets what ``open``
    would give (0o666 less the umask); a replaced one keeps the mode it had."""
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)
    umask = os.umask(0o022)
    try:
        network.save(tmp_path / "new.npz")
        (tmp_path / "kept.npz").write_bytes(b"")
        os.chmod(tmp_path / "kept.npz", 0o640)
        network.save(tmp_path / "kept.npz")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.npz").stat().st_mode & 0o777 == 0o644, backend.name
    assert (tmp_path / "kept.npz").stat().st_mode & 0o777 == 0o640, backend.name


def test_save_into_a_missing_folder_names_it(backend, tmp_path):
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)
    path = tmp_path / "no-such-folder" / "model.npz"
    with pytest.raises(FileNotFoundError, match="does not exist") as raised:
        network.save(path)
    assert str(path) in str(raised.value)


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [str, Path])
def test_str_and_pathlib_paths(backend, tmp_path, kind):
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)
    path = kind(tmp_path / "model.npz")
    network.save(path)
    _assert_same_network(network, xdnn.load(path), backend.name)


def test_path_without_npz_suffix_is_used_as_given(backend, tmp_path):
    """``numpy.savez("model")`` would write ``model.npz``; xdnn writes exactly the path it is given,
    so ``xdnn.load`` with the same path finds the file ``save`` wrote."""
    np.savez(tmp_path / "numpy-style", a=np.zeros(1))
    assert (tmp_path / "numpy-style.npz").exists()  # what NumPy alone would do

    network, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)
    network.save(tmp_path / "model")
    assert (tmp_path / "model").exists() and not (tmp_path / "model.npz").exists()
    _assert_same_network(network, xdnn.load(tmp_path / "model"), backend.name)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        xdnn.load(tmp_path / "model.npz")


# --- bad files: a clear error that names the file and the problem ---------------------------------


def _model_file(tmp_path: Path) -> Path:
    network, _, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32", epochs=1)
    network.save(tmp_path / "good.npz")
    return tmp_path / "good.npz"


def _make_random_bytes(good: Path, path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def _make_truncated(good: Path, path: Path) -> None:
    contents = good.read_bytes()
    path.write_bytes(contents[: len(contents) // 2])


def _make_empty(good: Path, path: Path) -> None:
    path.write_bytes(b"")


def _make_foreign_npz(good: Path, path: Path) -> None:
    with open(path, "wb") as stream:
        np.savez(stream, X=np.zeros((3, 2)), y=np.ones(3))


def _make_npy(good: Path, path: Path) -> None:
    with open(path, "wb") as stream:
        np.save(stream, np.zeros(3))


def _make_foreign_zip(good: Path, path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")


def _make_corrupt_member(good: Path, path: Path) -> None:
    contents = bytearray(good.read_bytes())
    offset = contents.index(b"parameters/W1.npy") + 200  # inside that member's data
    contents[offset : offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(contents))


BAD_FILES = {
    "random-bytes": (_make_random_bytes, "not an .npz"),
    "truncated": (_make_truncated, "truncated or corrupt"),
    "empty": (_make_empty, "is empty"),
    "foreign-npz": (_make_foreign_npz, "no 'architecture' entry"),
    "npy-not-npz": (_make_npy, "not an .npz"),
    "foreign-zip": (_make_foreign_zip, "no 'architecture' entry"),
    "corrupt-member": (_make_corrupt_member, "truncated or corrupt"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_refused_with_a_clear_error(backend, tmp_path, case):
    make, expected = BAD_FILES[case]
    path = tmp_path / "model.npz"
    make(_model_file(tmp_path), path)
    with pytest.raises(ModelFileError, match=expected) as raised:
        xdnn.load(path)
    assert str(path) in str(raised.value), f"[{backend.name}] {case}: {raised.value}"


def test_directory_and_missing_path(backend, tmp_path):
    with pytest.raises(ModelFileError, match="is a directory") as raised:
        xdnn.load(tmp_path)
    assert str(tmp_path) in str(raised.value)
    missing = tmp_path / "missing.npz"
    with pytest.raises(FileNotFoundError, match="model file not found") as raised:
        xdnn.load(missing)
    assert str(missing) in str(raised.value)


def _set(key, value):
    def edit(architecture, arrays):
        architecture[key] = value

    return edit


def _delete(key):
    def edit(architecture, arrays):
        del architecture[key]

    return edit


def _edit_arrays(function):
    def edit(architecture, arrays):
        function(arrays)

    return edit


def _corrupt_architecture_text(architecture, arrays):
    arrays["architecture"] = np.array('{"format": "xdnn.Network", "version": 1, ')  # cut short


def _bad_layer(architecture, arrays):
    architecture["layers"][0] = {"kind": "convolution", "filters": 3}


def _set_units(units):
    def edit(architecture, arrays):
        architecture["layers"][0]["units"] = units

    return edit


def _architecture_text(replace):
    """An edit of the architecture's JSON text: ``replace(text)`` (what json.dumps cannot write)."""

    def edit(architecture, arrays):
        arrays["architecture"] = np.array(replace(json.dumps(architecture)))

    return edit


def _set_value(key, position, value, dtype=None):
    """``arrays[key][position] = value``, the array first cast to ``dtype`` when given."""

    def edit(arrays):
        array = arrays[key].astype(dtype or arrays[key].dtype)
        array[position] = value
        arrays[key] = array

    return _edit_arrays(edit)


EDITS = {
    "wrong-version": (_set("version", 99), "format version 99; this xdnn reads 1"),
    "missing-version": (_delete("version"), "format version None"),
    "foreign-format-tag": (_set("format", "keras.Model"), "format tag missing or foreign"),
    "missing-layers": (_delete("layers"), "invalid architecture: missing entry 'layers'"),
    "unknown-layer": (_bad_layer, "unknown layer kind 'convolution'"),
    "unknown-optimizer": (_set("optimizer", {"name": "lbfgs"}), "unknown optimizer 'lbfgs'"),
    "bad-n_features": (_set("n_features", -3), "n_features must be a positive integer"),
    "metadata-not-object": (_set("metadata", [1, 2]), "metadata must be a JSON object"),
    "bad-random-state": (_set("random_state", {"shuffle": {"bit_generator": "MT19937"}}), "invalid random_state"),
    "architecture-not-json": (_corrupt_architecture_text, "corrupt architecture entry"),
    "missing-parameter": (
        _edit_arrays(lambda arrays: arrays.pop("parameters/W2")),
        r"parameters entries do not match the architecture \(missing \['W2'\]",
    ),
    "unexpected-entry": (
        _edit_arrays(lambda arrays: arrays.update({"parameters/W9": np.zeros((2, 2), np.float32)})),
        r"unexpected \['W9'\]",
    ),
    "unknown-group": (
        _edit_arrays(lambda arrays: arrays.update({"weights/W1": np.zeros((2, 2), np.float32)})),
        "unexpected entry 'weights/W1.npy'",
    ),
    "shape-mismatch": (
        _edit_arrays(lambda arrays: arrays.update({"parameters/W1": arrays["parameters/W1"].T})),
        r"parameters/W1 has shape \(3, 6\).*expected a float array of shape \(6, 3\)",
    ),
    "integer-optimizer-state": (
        _edit_arrays(lambda arrays: arrays.update({"optimizer/v_W1": arrays["optimizer/v_W1"].astype(np.int64)})),
        "optimizer/v_W1 has shape .* and dtype int64",
    ),
    "nan-optimizer-state": (
        _edit_arrays(lambda arrays: arrays["optimizer/v_W1"].__setitem__((0, 0), np.nan)),
        "optimizer/v_W1 contains NaN",
    ),
    "nan-running-statistic": (
        _edit_arrays(lambda arrays: arrays["state/running_var1"].__setitem__((0, 0), np.nan)),
        "state/running_var1 contains NaN or inf",
    ),
    "negative-running-variance": (
        _set_value("state/running_var1", (1, 0), -0.5),
        "state/running_var1 holds negative values, but it is an average of squares",
    ),
    "negative-adam-second-moment": (
        _set_value("optimizer/s_W1", (0, 1), -1e-3),
        "optimizer/s_W1 holds negative values, but it is an average of squares",
    ),
    "float64-beyond-float32-in-a-float32-model": (
        _set_value("parameters/W1", (0, 0), 1e39, np.float64),
        "parameters/W1 holds values too large for float32",
    ),
    "json-infinity": (_set("l2", float("inf")), "corrupt architecture entry: Infinity is not a number"),
    "json-nan": (_set("metadata", {"scale": float("nan")}), "corrupt architecture entry: NaN is not a number"),
    "json-number-beyond-float-range": (
        _architecture_text(lambda text: text.replace('"l2": 0.001', '"l2": 1e400')),
        "the number 1e400 is beyond float range",
    ),
    "json-nested-too-deep": (
        _architecture_text(
            lambda text: text.replace('"metadata": {', '"metadata": {"x": ' + "[" * 10**5 + "]" * 10**5 + ", ")
        ),
        "corrupt architecture entry: maximum recursion depth exceeded",
    ),
    "negative-optimizer-iterations": (
        _set("optimizer_iterations", -1),
        r"optimizer_iterations must be an integer in \[0, 2\*\*53\], got -1",
    ),
    "huge-epochs-trained": (_set("epochs_trained", 2**64), r"epochs_trained must be an integer in \[0, 2\*\*53\]"),
    "boolean-epochs-trained": (_set("epochs_trained", True), "epochs_trained must be an integer .* got True"),
    "units-changed": (
        _set_units(9000),
        r"parameters/W1 has shape \(6, 3\).*expected a float array of shape \(9000, 3\)",
    ),
    "units-beyond-max-parameters": (
        _set_units(10**9),
        r"declares a network of 10,000,000,016 parameters, more than max_parameters=100,000,000; "
        r"if you trust the file, load it with xdnn.load\(path, max_parameters=10000000016\)",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_inconsistent_model_file_is_refused_with_a_clear_error(backend, tmp_path, case):
    edit, expected = EDITS[case]
    arrays = _valid_arrays(_model_file(tmp_path))
    original = arrays["architecture"]
    architecture = json.loads(str(original))
    edit(architecture, arrays)
    if arrays["architecture"] is original:  # the edit changed the parsed architecture: write it back
        arrays["architecture"] = np.array(json.dumps(architecture))
    path = tmp_path / "edited.npz"
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)
    with pytest.raises(ModelFileError, match=expected) as raised:
        xdnn.load(path)
    assert str(path) in str(raised.value), f"[{backend.name}] {case}: {raised.value}"


def test_an_optimizer_state_that_overflowed_to_inf_round_trips(backend, tmp_path):
    """Adam's squared-gradient average can overflow to inf on unscaled data while the weights stay
    finite: what save() writes, load() reads back (and pickling works)."""
    import pickle

    network, X, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32", epochs=1)
    key = next(name for name in network.optimizer.state if name.startswith("s_"))
    state = xdnn.to_numpy(network.optimizer.state[key]).copy()
    state[0, 0] = np.inf
    network.optimizer.state[key] = xdnn.asarray(state)
    network.save(tmp_path / "overflowed.npz")
    for restored in (xdnn.load(tmp_path / "overflowed.npz"), pickle.loads(pickle.dumps(network))):
        assert np.isinf(xdnn.to_numpy(restored.optimizer.state[key])[0, 0]), backend.name
        _assert_same_network(network, restored, backend.name)


def test_model_file_error_is_a_value_error_exported_at_top_level():
    assert xdnn.ModelFileError is ModelFileError
    assert issubclass(ModelFileError, ValueError)


def test_a_trained_network_pickles_through_its_model_file(backend):
    import copy
    import pickle

    network, X, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32")
    for restored in (pickle.loads(pickle.dumps(network)), copy.deepcopy(network)):
        _assert_same_network(network, restored, backend.name)
        assert restored.backend == network.backend, backend.name
        np.testing.assert_array_equal(
            xdnn.to_numpy(restored.predict_proba(X)), xdnn.to_numpy(network.predict_proba(X)), err_msg=backend.name
        )


@pytest.mark.parametrize("group, name", [("parameters", "W1"), ("state", "running_var1")])
def test_save_refuses_what_load_would_refuse(tmp_path, group, name):
    """A parameter or running statistic holding NaN or inf (a user's -inf bias, an overflowed
    variance) cannot be read back from a model file, so save says so and writes nothing: the file
    already at the path, and a pickled copy (the same file, as bytes), are never unloadable."""
    network, _, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32", epochs=1)
    path = tmp_path / "model.npz"
    network.save(path)
    written = path.read_bytes()
    arrays, finite = getattr(network, group), xdnn.to_numpy(getattr(network, group)[name])
    poisoned = finite.copy()  # a new array: backend arrays may be immutable (JAX)
    poisoned[0, 0] = -np.inf
    arrays[name] = xdnn.asarray(poisoned)
    with pytest.raises(ValueError, match=f"{group}/{name} contains NaN or inf"):
        network.save(path)
    with pytest.raises(ValueError, match=f"{group}/{name} contains NaN or inf"):
        pickle.dumps(network)
    assert path.read_bytes() == written
    arrays[name] = xdnn.asarray(finite)
    xdnn.load(path)  # the earlier file is intact
    pickle.loads(pickle.dumps(network))


# --- forged zip archives: refused from the listing, before anything is decompressed ---------------


def _entry(good: Path, name: str) -> bytes:
    with zipfile.ZipFile(good) as archive:
        return archive.read(name)


def _rewrite(good: Path, path: Path, name=None, data=b"", *, method=zipfile.ZIP_STORED, extra=()) -> None:
    """``path``: ``good``'s entries, entry ``name`` holding ``data`` written with ``method``, then ``extra``."""
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as forged:
        for info in source.infolist():
            if info.filename == name:
                forged.writestr(zipfile.ZipInfo(name), data, compress_type=method)
            else:
                forged.writestr(info.filename, source.read(info))
        for extra_name, extra_data in extra:
            forged.writestr(extra_name, extra_data)


def _make_duplicate_entry(good: Path, path: Path) -> None:
    """Two ``parameters/W2.npy`` entries (before, the last one won)."""
    with pytest.warns(UserWarning, match="Duplicate name"):
        _rewrite(good, path, extra=[("parameters/W2.npy", _entry(good, "parameters/W2.npy"))])


def _make_lzma_entry(good: Path, path: Path) -> None:
    _rewrite(good, path, "parameters/W1.npy", _entry(good, "parameters/W1.npy"), method=zipfile.ZIP_LZMA)


def _make_encrypted_flag(good: Path, path: Path) -> None:
    """The central directory's "encrypted" bit set on the first entry (zipfile would ask for a password)."""
    contents = bytearray(good.read_bytes())
    central = contents.index(b"PK\x01\x02")
    contents[central + 8] |= 0x1
    path.write_bytes(bytes(contents))


def _make_deflate_bomb(good: Path, path: Path) -> None:
    """``parameters/W1.npy`` replaced by 64 MiB of zeros, deflated to about 64 KB."""
    _rewrite(good, path, "parameters/W1.npy", bytes(64 * 2**20), method=zipfile.ZIP_DEFLATED)


def _make_unknown_entry(good: Path, path: Path) -> None:
    _rewrite(good, path, extra=[("notes.txt", b"hi")])


def _make_broken_npy_header(good: Path, path: Path) -> None:
    """An .npy header cut inside its dictionary (NumPy's parser raised tokenize.TokenError)."""
    data = _entry(good, "parameters/b3.npy")
    broken = data[:10] + b"{'descr': '<f4', 'fortran_order': (" + b" " * (len(data) - 47) + b"\n"
    _rewrite(good, path, "parameters/b3.npy", broken)


FORGED_FILES = {
    "duplicate-entry": (_make_duplicate_entry, "holds the entry 'parameters/W2' twice"),
    "lzma-compressed-entry": (_make_lzma_entry, "entry 'parameters/W1' is encrypted or compressed with method 14"),
    "encrypted-flag": (_make_encrypted_flag, "is encrypted or compressed with method 0"),
    "deflate-bomb": (
        _make_deflate_bomb,
        "entry 'parameters/W1' declares 67,108,864 bytes, more than its array can take",
    ),
    "unknown-entry": (_make_unknown_entry, "unexpected entry 'notes.txt'"),
    "broken-npy-header": (_make_broken_npy_header, "entry 'parameters/b3' is not an .npy array"),
}


@pytest.mark.parametrize("case", list(FORGED_FILES))
def test_forged_archive_is_refused_with_a_clear_error(backend, tmp_path, case):
    make, expected = FORGED_FILES[case]
    path = tmp_path / "forged.npz"
    make(_model_file(tmp_path), path)
    with pytest.raises(ModelFileError, match=expected) as raised:
        xdnn.load(path)
    assert str(path) in str(raised.value), f"[{backend.name}] {case}: {raised.value}"


def test_a_deflated_model_file_loads(backend, tmp_path):
    """``numpy.savez_compressed`` of a model's arrays is a model file too (deflate is allowed)."""
    network, X, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32", epochs=1)
    network.save(tmp_path / "model.npz")
    np.savez_compressed(tmp_path / "compressed.npz", **_valid_arrays(tmp_path / "model.npz"))
    loaded = xdnn.load(tmp_path / "compressed.npz")
    _assert_same_network(network, loaded, backend.name)
    _assert_same_predictions(network, loaded, X, backend.name)


def test_array_data_changed_after_its_header_is_caught_by_the_crc(backend, tmp_path):
    """Entries are read to their end, so zipfile checks each CRC-32: a flipped bit in a weight is refused."""
    good = _model_file(tmp_path)
    contents = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        info = archive.getinfo("parameters/W2.npy")
    local_extra = int.from_bytes(contents[info.header_offset + 28 : info.header_offset + 30], "little")
    data_start = info.header_offset + 30 + len(info.filename) + local_extra  # after the local header
    contents[data_start + info.file_size - 1] ^= 0x01  # the last weight's lowest bit
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(contents))
    with pytest.raises(ModelFileError, match="entry 'parameters/W2' is truncated or corrupt .*CRC"):
        xdnn.load(path)


def test_units_changed_to_a_huge_layer_are_refused_before_allocating_it(backend, tmp_path):
    """A 20 KB file declaring 9,000,000 units made load allocate 1.5 GB: shapes now come from the
    architecture without building the network, and the entries must match them first."""
    import tracemalloc

    arrays = _valid_arrays(_model_file(tmp_path))
    architecture = json.loads(str(arrays["architecture"]))
    architecture["layers"][0]["units"] = 9_000_000
    arrays["architecture"] = np.array(json.dumps(architecture))
    path = tmp_path / "huge.npz"
    np.savez(path, **arrays)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"expected a float array of shape \(9000000, 3\)"):
            xdnn.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"[{backend.name}] load allocated {peak / 2**20:.0f} MiB"


def test_max_parameters_bounds_what_a_file_may_declare_and_can_be_raised(backend, tmp_path):
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)  # [3, 5, 1]: 26 parameters
    path = tmp_path / "model.npz"
    network.save(path)
    with pytest.raises(ModelFileError, match=r"26 parameters, more than max_parameters=25.*max_parameters=26\)"):
        xdnn.load(path, max_parameters=25)
    for limit in (26, None):
        _assert_same_network(network, xdnn.load(path, max_parameters=limit), backend.name)
    assert serialization.MAX_PARAMETERS == 100_000_000
    for wrong in (-1, True, 2.5, "many"):
        with pytest.raises(ValueError, match="max_parameters must be a non-negative integer or None"):
            xdnn.load(path, max_parameters=wrong)


def test_an_architecture_longer_than_the_limit_is_refused_on_save_and_on_load(backend, tmp_path, monkeypatch):
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)
    network.metadata = {"features": [f"feature_{i}" for i in range(300)]}  # about 4,000 characters
    network.save(tmp_path / "model.npz")
    monkeypatch.setattr(model_file, "MAX_ARCHITECTURE_CHARACTERS", 3000)
    with pytest.raises(ModelFileError, match="the architecture entry declares .* more than an architecture of 3,000"):
        xdnn.load(tmp_path / "model.npz")
    with pytest.raises(ValueError, match="more than a model file may hold .3,000.; keep less in network.metadata"):
        network.save(tmp_path / "longer.npz")
    assert not (tmp_path / "longer.npz").exists()


def test_metadata_with_nan_is_refused_on_save(backend, tmp_path):
    """Standard JSON has no NaN, and load refuses it: save says so first."""
    network, _, _ = _trained("sizes-sgd-constant-tanh-float64", epochs=1)
    network.metadata = {"scale": float("nan")}
    with pytest.raises(TypeError, match="JSON-serialisable, numbers finite"):
        network.save(tmp_path / "model.npz")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("key", ["state/running_var1", "optimizer/s_W1"])
def test_save_refuses_a_negative_average_of_squares(backend, tmp_path, key):
    """A negative running variance (or Adam's ``s``) gives NaN at the next predict (fit): never written."""
    network, _, _ = _trained("sizes-adam-exponential-batchnorm-dropout-float32", epochs=1)
    group, name = key.split("/")
    arrays = network.state if group == "state" else network.optimizer.state
    value = xdnn.to_numpy(arrays[name]).copy()
    value[0, 0] = -1.0
    arrays[name] = xdnn.asarray(value)
    with pytest.raises(ValueError, match=f"{key} holds negative values, but it is an average of squares"):
        network.save(tmp_path / "model.npz")
    assert _listing(tmp_path) == [], backend.name


# --- temporary files of killed saves: removed by the next save, never a save in progress's -------


fcntl = pytest.importorskip("fcntl") if os.name == "posix" else None
needs_flock = pytest.mark.skipif(fcntl is None, reason="no fcntl.flock here (Windows): temporaries are not locked")


def _temporaries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(".xdnn-") and name.endswith(".npz.tmp"))


def _small_network():
    return xdnn.Network([3, 4, 1], optimizer="adam", seed=0)  # built at construction: it saves


def test_a_successful_save_removes_temporaries_of_killed_saves(backend, tmp_path):
    """Unlocked temporaries (their writer died) go; names that only look alike, folders and links stay."""
    abandoned = [tmp_path / f".xdnn-{index:016x}.npz.tmp" for index in (1, 2)]
    for temporary in abandoned:
        temporary.write_bytes(b"PK\x03\x04 half a model")
        os.utime(temporary, (time.time() - 3600, time.time() - 3600))  # Windows takes an hour-old file as abandoned
    kept = [tmp_path / ".xdnn-1.npz.tmp", tmp_path / "notes.txt", tmp_path / ".xdnn-00000000000000ff.npz.tmp.bak"]
    for other in kept:
        other.write_bytes(b"not ours")
    (tmp_path / f".xdnn-{3:016x}.npz.tmp").mkdir()
    kept.append(tmp_path / f".xdnn-{3:016x}.npz.tmp")
    if os.name == "posix":
        outside = tmp_path / "outside.npz"
        outside.write_bytes(b"a file a link points at")
        (tmp_path / f".xdnn-{4:016x}.npz.tmp").symlink_to(outside)
        kept += [outside, tmp_path / f".xdnn-{4:016x}.npz.tmp"]
    _small_network().save(tmp_path / "model.npz")
    assert not any(temporary.exists() for temporary in abandoned), backend.name
    assert all(os.path.lexists(other) for other in kept), backend.name
    if os.name == "posix":
        assert (tmp_path / "outside.npz").read_bytes() == b"a file a link points at"


@needs_flock
def test_a_temporary_that_a_save_in_progress_holds_is_kept(backend, tmp_path):
    """A temporary locked by its writer (here this process, through its own descriptor) survives
    another save's cleanup; once the writer is gone, the next save removes it."""
    temporary = tmp_path / ".xdnn-00000000000000aa.npz.tmp"
    with open(temporary, "wb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        _small_network().save(tmp_path / "model.npz")
        assert temporary.exists(), f"[{backend.name}] a save in progress lost its temporary file"
    _small_network().save(tmp_path / "model.npz")
    assert not temporary.exists(), backend.name


_HOLD_A_TEMPORARY = """
import fcntl, os, sys
handle = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()  # until the test kills it
"""


@needs_flock
def test_a_temporary_held_by_another_process_is_kept_until_it_dies(backend, tmp_path):
    temporary = tmp_path / ".xdnn-00000000000000bb.npz.tmp"
    writer = subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_TEMPORARY, str(temporary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert writer.stdout.readline() == b"locked\n"
        _small_network().save(tmp_path / "model.npz")
        assert temporary.exists(), f"[{backend.name}] another process's save lost its temporary file"
    finally:
        writer.kill()
        writer.wait()
    _small_network().save(tmp_path / "model.npz")
    assert not temporary.exists(), backend.name
    assert _temporaries(tmp_path) == []


@needs_flock
def test_a_writer_whose_new_file_a_cleaner_removed_before_the_lock_takes_another(backend, tmp_path, monkeypatch):
    """Between creating its file and locking it, a writer's file looks abandoned: a cleaner may remove
    it.  The writer sees the name no longer leads to its file and starts again under a new name."""
    names = iter(["00000000000000c1", "00000000000000c2"])
    monkeypatch.setattr(atomic_file.secrets, "token_hex", lambda size: next(names))
    real_flock = fcntl.flock
    first = tmp_path / ".xdnn-00000000000000c1.npz.tmp"

    def flock(handle, operation):
        if operation == fcntl.LOCK_EX and first.exists():
            first.unlink()  # the cleaner wins the race
        return real_flock(handle, operation)

    monkeypatch.setattr(atomic_file.fcntl, "flock", flock)
    network = _small_network()
    network.save(tmp_path / "model.npz")
    monkeypatch.undo()
    _assert_same_network(network, xdnn.load(tmp_path / "model.npz"), backend.name)
    assert _listing(tmp_path) == ["model.npz"], backend.name
    assert next(names, None) is None, "the writer did not take a second name"


def test_saves_from_threads_into_one_folder_never_lose_a_temporary(backend, tmp_path):
    """Each save's cleanup runs while the other threads write: none may remove another's file."""
    networks = [_small_network() for _ in range(3)]
    errors: list[BaseException] = []

    def save_repeatedly(network, target):
        try:
            for _ in range(15):
                network.save(target)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=save_repeatedly, args=(network, tmp_path / ("shared.npz" if index else "own.npz")))
        for index, network in enumerate(networks)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, f"[{backend.name}] {errors!r}"
    assert _listing(tmp_path) == ["own.npz", "shared.npz"], backend.name
    xdnn.load(tmp_path / "shared.npz")


# Saves a 2.8 MB model (seed from the command line) over and over: the test kills it mid-save.
_SAVE_FOREVER = """
import sys
import xdnn
network = xdnn.Network([200, 1000, 500, 1], optimizer="sgd", seed=int(sys.argv[2]))
network.save(sys.argv[1])
print("saved", flush=True)
while True:
    network.save(sys.argv[1])
"""
KILLED_SAVES = int(os.environ.get("XDNN_KILLED_SAVES", "20"))  # 60 and more offline


def _kill_while_saving(children: list[subprocess.Popen], chance: random.Random) -> None:
    """Wait for each child's first save, then SIGKILL each at a random moment; each must die of it."""
    for child in children:
        assert child.stdout.readline() == b"saved\n", child.stderr.read().decode()
    for child in children:
        time.sleep(chance.uniform(0.0, 0.02))  # a save takes about 5 ms: most kills land inside one
        child.send_signal(signal.SIGKILL)
    for child in children:
        _, error = child.communicate()
        assert child.returncode == -signal.SIGKILL, f"a saving process failed by itself:\n{error.decode()}"


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_saves_killed_at_random_moments_leave_a_complete_model_and_no_lasting_debris(backend, tmp_path):
    """Two processes save two models to one path; both are SIGKILLed at random moments, again and
    again.  The path always holds one complete model or the other (neither process ever fails
    because the other removed its file), and one good save later no temporary file remains."""
    if backend.name != "numpy":
        pytest.skip("the children save on NumPy: the kill test runs once, in the numpy session")
    target = tmp_path / "model.npz"
    expected = {seed: xdnn.Network([200, 1000, 500, 1], optimizer="sgd", seed=seed).parameters["W1"] for seed in (1, 2)}
    environment = {**os.environ, "XDNN_BACKEND": "numpy"}
    chance = random.Random(0)
    debris = []
    for _ in range(max(KILLED_SAVES // 2, 1)):
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _SAVE_FOREVER, str(target), str(seed)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
            )
            for seed in expected
        ]
        try:
            _kill_while_saving(children, chance)
        finally:
            for child in children:  # never leave a process saving forever behind a failed assertion
                child.kill()
                child.communicate()
        W1 = xdnn.to_numpy(xdnn.load(target, backend="numpy").parameters["W1"])
        assert any(np.array_equal(W1, value) for value in expected.values()), "the model file is neither model"
        debris.append(len(_temporaries(tmp_path)))
    print(f"{2 * len(debris)} kills; temporary files present after each pair: {debris}")
    _small_network().save(tmp_path / "other.npz")
    assert _temporaries(tmp_path) == [], "a good save left the temporaries of killed saves"
