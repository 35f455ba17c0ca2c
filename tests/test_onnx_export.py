"""ONNX export (:mod:`xdnn.onnx_export`, ``Network.to_onnx``, ``xdnn export``): onnxruntime's outputs of the
exported model against the network's own ``predict`` and ``predict_proba`` on random inputs."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import xdnn
from xdnn import cli
from xdnn.activations import ACTIVATIONS
from xdnn.layers import Activation, BatchNorm, Dense, Dropout

# The export runs on the host whatever the network's backend: once, in the numpy session (nox installs
# the onnx extra there); the cross-backend test below still runs every backend selected with --backend.
pytestmark = pytest.mark.skipif(
    os.environ.get("XDNN_BACKEND", "numpy") != "numpy",
    reason="the ONNX export is tested once, in the numpy session (which installs the onnx extra)",
)
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'xdnn-array[onnx]')")
pytest.importorskip("ndonnx", reason="ndonnx is not installed (pip install 'xdnn-array[onnx]')")

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
N_FEATURES = 4
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*arguments, cwd):
    """``python -m xdnn ARGUMENTS`` in a subprocess, as tests/test_cli.py runs it."""
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    environment.setdefault("XDNN_BACKEND", "numpy")
    command = [sys.executable, "-m", "xdnn", *arguments]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=300)


def run_onnx(model, X):
    """``{output name: array}`` of ``model`` run by onnxruntime on ``X``."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X}), strict=True))


def assert_close(actual, expected, dtype_name, case):
    expected = xdnn.to_numpy(expected)
    assert actual.shape == expected.shape, f"{case}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{case}: dtype {actual.dtype} != {expected.dtype}"
    difference = float(np.max(np.abs(actual - expected), initial=0.0))
    tolerance = TOLERANCE[dtype_name]
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance, err_msg=f"{case}: max {difference}")


def assert_matches_network(network, model, X, case):
    """The model's outputs are the network's ``predict`` (exactly) and ``predict_proba`` (within the dtype's
    tolerance) on ``X``."""
    outputs = run_onnx(model, X)
    if network.is_classifier:
        assert sorted(outputs) == ["label", "probabilities"], case
        assert_close(outputs["probabilities"], network.predict_proba(X), network.dtype_name, case)
        labels = xdnn.to_numpy(network.predict(X))
        assert outputs["label"].shape == labels.shape, case
        np.testing.assert_array_equal(outputs["label"], labels, err_msg=case)
    else:
        assert sorted(outputs) == ["prediction"], case
        assert_close(outputs["prediction"], network.predict(X), network.dtype_name, case)
    return outputs


def random_X(rows=64, dtype="float32", seed=1):
    return (2.0 * np.random.default_rng(seed).normal(size=(rows, N_FEATURES))).astype(dtype)


OUTPUT_KINDS = {
    "sigmoid-binary": (1, None, lambda rng, X: (X[:, 0] > 0).astype(int)),
    "sigmoid-multilabel": (3, "sigmoid", lambda rng, X: (X[:, :3] > 0).astype(int)),
    "softmax": (3, None, lambda rng, X: np.argmax(X[:, :3], axis=1)),
    "identity-1": (1, "identity", lambda rng, X: X[:, 0] - X[:, 1]),
    "identity-k": (2, "identity", lambda rng, X: X[:, :2] * 3.0),
    "exp-poisson": (1, "exp", lambda rng, X: rng.poisson(np.exp(0.3 * X[:, 0]))),
}


# Each output kind in both dtypes, the hidden layer taking each activation of xdnn.activations in turn.
HIDDEN = list(ACTIVATIONS)
CASES = [
    (kind, dtype, HIDDEN[position % len(HIDDEN)])
    for position, (kind, dtype) in enumerate((kind, dtype) for dtype in ("float32", "float64") for kind in OUTPUT_KINDS)
]


def test_the_cases_cover_every_activation():
    assert {hidden for _, _, hidden in CASES} == set(ACTIVATIONS)


@pytest.mark.parametrize("kind, dtype, hidden", CASES, ids=["-".join(case) for case in CASES])
def test_every_output_kind_and_hidden_activation_matches_predict(kind, dtype, hidden):
    units, output_activation, target = OUTPUT_KINDS[kind]
    rng = np.random.default_rng(0)
    X = random_X(128, dtype)
    network = xdnn.Network(
        [N_FEATURES, 8, units], activation=hidden, output_activation=output_activation, dtype=dtype, seed=0
    )
    network.fit(X, target(rng, X), epochs=3, batch_size=32, verbose=0)
    model = network.to_onnx()
    assert [value.name for value in model.graph.input] == ["X"]
    outputs = assert_matches_network(network, model, random_X(64, dtype, seed=2), f"{kind} {dtype} {hidden}")
    empty = run_onnx(model, random_X(0, dtype))  # a batch of no rows
    assert all(value.shape[0] == 0 for value in empty.values()) and len(empty) == len(outputs)


def test_batch_norm_uses_its_running_statistics_and_dropout_is_the_identity():
    X = random_X(256) + 1.5  # shifted, so the running mean moves away from 0
    network = xdnn.Network([N_FEATURES, 16, 8, 3], batch_norm=True, dropout=0.3, seed=5)
    network.fit(X, np.argmax(X[:, :3], axis=1), epochs=5, batch_size=32, verbose=0)
    state = xdnn.to_numpy(network.state)
    assert np.abs(state["running_mean1"]).max() > 0.1 and np.abs(state["running_var1"] - 1).max() > 0.1
    assert_matches_network(network, network.to_onnx(), random_X(seed=6) + 1.5, "batch norm + dropout")


def test_a_network_of_layers_matches_predict():
    layers = [
        Dense(8, use_bias=False),
        BatchNorm(momentum=0.5),
        Activation("gelu"),
        Dropout(0.2),
        Dense(6, "elu"),
        Activation("leaky_relu"),
        Dense(5),
        Activation("softmax"),
        Dense(1, "exp"),
    ]
    X = random_X(128, "float64")
    network = xdnn.Network(layers, dtype="float64", seed=7)
    network.fit(X, np.random.default_rng(0).poisson(1.0, 128), epochs=3, verbose=0)
    assert_matches_network(network, network.to_onnx(), random_X(dtype="float64", seed=8), "layers")


def test_a_network_on_any_backend_exports_its_own_predictions(backend):
    X = random_X(64)
    network = xdnn.Network([N_FEATURES, 8, 3], activation="tanh", seed=9)
    network.fit(X, np.argmax(X[:, :3], axis=1), epochs=2, verbose=0)
    assert network.backend == backend.name, backend.name
    outputs = run_onnx(network.to_onnx(), X)
    assert_close(outputs["probabilities"], network.predict_proba(X), "float32", backend.name)
    np.testing.assert_array_equal(outputs["label"], xdnn.to_numpy(network.predict(X)), err_msg=backend.name)


def softmax_network(units=3, seed=10):
    X = random_X(64)
    network = xdnn.Network([N_FEATURES, 6, units], seed=seed)
    network.fit(X, np.argmax(X[:, :units], axis=1) if units > 1 else (X[:, 0] > 0).astype(int), epochs=2, verbose=0)
    return network


@pytest.mark.parametrize(
    "units, classes",
    [(3, ["cat", "dog", "emu"]), (1, np.array(["no", "yes"], dtype=object)), (3, [10, 20, 30]), (1, [False, True])],
    ids=["text-softmax", "text-sigmoid", "integers", "booleans"],
)
def test_class_labels_become_the_label_output(units, classes):
    from xdnn.onnx_export import export_network

    network = softmax_network(units)
    X = random_X(seed=11)
    model = export_network(network, classes=classes)
    expected = np.asarray(classes)[xdnn.to_numpy(network.predict(X))]
    label = run_onnx(model, X)["label"]
    np.testing.assert_array_equal(label.astype(expected.dtype), expected)
    properties = {entry.key: entry.value for entry in model.metadata_props}
    assert json.loads(properties["xdnn_classes"]) == np.asarray(classes).tolist()
    assert properties["xdnn_task"] == "classification" and properties["xdnn_version"] == xdnn.__version__


def test_classes_that_do_not_fit_the_output_are_refused():
    from xdnn.onnx_export import export_network

    with pytest.raises(ValueError, match="classes has 2 labels, but the network's output tells 3 apart"):
        export_network(softmax_network(3), classes=["a", "b"])
    with pytest.raises(ValueError, match="strings, numbers or booleans"):
        export_network(softmax_network(3), classes=[object(), object(), object()])


def test_string_classes_of_the_network_are_its_labels(tmp_path):
    X = random_X(96)
    y = np.array(["cat", "dog", "emu"])[np.argmax(X[:, :3], axis=1)]
    network = xdnn.Network([N_FEATURES, 6, 3], seed=12)
    try:
        network.fit(X, y, epochs=2, verbose=0)
    except (TypeError, ValueError) as error:
        pytest.skip(f"Network does not take string labels yet ({error})")
    if getattr(network, "classes_", None) is None:
        pytest.skip("Network has no classes_ yet")
    expected = np.asarray(xdnn.to_numpy(network.predict(X))).astype(str)
    np.testing.assert_array_equal(run_onnx(network.to_onnx(), X)["label"].astype(str), expected)
    network.save(tmp_path / "model.npz")  # and through `xdnn export`, from the model file
    assert cli.main(["export", str(tmp_path / "model.npz"), str(tmp_path / "model.onnx")]) == 0
    import onnx

    np.testing.assert_array_equal(run_onnx(onnx.load(str(tmp_path / "model.onnx")), X)["label"], expected)


def test_estimators_export_their_predictions():
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning

    X = random_X(96, "float64")
    classifier = xdnn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    regressor = xdnn.MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X, np.where(X[:, 0] > 0, "yes", "no"))
        regressor.fit(X, X[:, :1] * 2.0)  # a y of one column: predictions (n, 1)
    outputs = run_onnx(classifier.to_onnx(), X)
    np.testing.assert_array_equal(outputs["label"], classifier.predict(X))
    assert_close(outputs["probabilities"], classifier.predict_proba(X), "float64", "MLPClassifier")
    assert_close(run_onnx(regressor.to_onnx(), X)["prediction"], regressor.predict(X), "float64", "MLPRegressor")


def test_the_model_is_written_to_the_path(tmp_path):
    import onnx

    network = softmax_network()
    path = tmp_path / "model.onnx"
    model = network.to_onnx(path)
    assert onnx.load(str(path)) == model
    assert model.producer_name == "xdnn"
    assert [entry.key for entry in model.metadata_props if entry.key.startswith("xdnn_")] == [
        "xdnn_version",
        "xdnn_task",
        "xdnn_metadata",
    ]


def test_an_unfitted_network_and_bad_paths_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not been fitted"):
        xdnn.Network([Dense(4, "relu"), Dense(1, "sigmoid")]).to_onnx(tmp_path / "model.onnx")
    network = softmax_network()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        network.to_onnx(tmp_path / "missing" / "model.onnx")
    with pytest.raises(ValueError, match="not a regular file"):
        network.to_onnx(tmp_path)
    assert os.listdir(tmp_path) == []


def test_without_ndonnx_the_error_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ndonnx", None)  # `import ndonnx` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "xdnn-array\[onnx\]"'):
        softmax_network().to_onnx()
    model = tmp_path / "model.npz"
    softmax_network().save(model)
    capsys.readouterr()
    assert cli.main(["export", str(model), str(tmp_path / "model.onnx")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and 'pip install "xdnn-array[onnx]"' in error, error
    assert not (tmp_path / "model.onnx").exists()


def test_xdnn_export_predicts_as_xdnn_predict(tmp_path, monkeypatch):
    """End to end: `xdnn train` on text labels, `xdnn export` (a subprocess), onnxruntime against `xdnn predict`."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(13)
    # standardised by `xdnn train`, so the graph must do so too, in float64: float32 would round these
    # raw values (1e7 + a few units) to steps of 1 before they are centred
    X = rng.normal(loc=1e7, scale=3.0, size=(150, 3))
    y = np.array(["cat", "dog", "emu"])[np.argmax(X - 1e7, axis=1)]
    np.savez(tmp_path / "animals.npz", X=X, y=y)
    assert cli.main(["train", "--data", "animals.npz", "--layers", "8", "--epochs", "5", "--quiet"]) == 0
    result = run_cli("export", "model.npz", "model.onnx", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote model.onnx: X (N, 3) float64 -> label (N,) string, probabilities (N, 3) float32" in result.stdout
    assert cli.main(["predict", "--model", "model.npz", "--data", "animals.npz", "--out", "predicted.csv"]) == 0
    with open(tmp_path / "predicted.csv", newline="") as stream:
        predicted = [row[-1] for row in csv.reader(stream)][1:]
    import onnx

    outputs = run_onnx(onnx.load(str(tmp_path / "model.onnx")), X)
    assert outputs["label"].tolist() == predicted
    network = xdnn.load(tmp_path / "model.npz")
    scaled = (X - network.metadata["feature_mean"]) / network.metadata["feature_std"]
    assert_close(outputs["probabilities"], network.predict_proba(scaled.astype(np.float32)), "float32", "xdnn export")


def test_xdnn_export_errors_are_one_line(tmp_path, capsys):
    model = tmp_path / "model.npz"
    softmax_network().save(model)
    for arguments, fragment in (
        (["export", str(tmp_path / "missing.npz"), str(tmp_path / "a.onnx")], "missing.npz"),
        (["export", str(model), str(tmp_path / "no" / "a.onnx")], "does not exist"),
        (["export", str(model), str(model)], "is the model file itself"),
    ):
        capsys.readouterr()
        assert cli.main(arguments) == 2, arguments
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and fragment in error and "Traceback" not in error, error
