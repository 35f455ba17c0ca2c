"""``Network.fit(..., cuda_graph=True)``: a captured step trains exactly as the eager one (GPU
tests, which skip without CUDA), and every network or backend it cannot capture is refused with
a reason before anything changes (everywhere)."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

import xdnn
from xdnn import _cuda_graph
from xdnn._backend import cuda_device_count


def _data(m=120, n=5, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = rng.integers(0, classes, m)
    return X, y


def _cupy_context():
    return types.SimpleNamespace(backend_name="cupy")


# --- refusals: no GPU needed ----------------------------------------------------------------------


def test_refused_on_a_backend_without_cuda_graphs_and_nothing_changes():
    X, y = _data()
    with xdnn.use_backend("numpy"):
        network = xdnn.Network([5, 8, 1], seed=0)
        network.fit(X, y, epochs=1, batch_size=None, verbose=0)
        before = {k: xdnn.to_numpy(v).copy() for k, v in network.parameters.items()}
        with pytest.raises(ValueError, match="needs the cupy backend.*'numpy'"):
            network.fit(X, y, epochs=3, batch_size=None, cuda_graph=True, verbose=0)
        for key, value in network.parameters.items():
            np.testing.assert_array_equal(xdnn.to_numpy(value), before[key])
        assert network.epochs_trained == 1 and len(network.history["loss"]) == 1
        unbuilt = xdnn.Network([xdnn.Dense(8, "relu"), xdnn.Dense(1, "sigmoid")], seed=0)  # sized by fit
        with pytest.raises(ValueError, match="cupy backend"):
            unbuilt.fit(X, y, epochs=3, batch_size=None, cuda_graph=True, verbose=0)
        assert not unbuilt.built


@pytest.mark.parametrize(
    "build, batch, expected",
    [
        (lambda: xdnn.Network([5, 8, 1]), 32, "full-batch step.*batch_size=32.*120 samples"),
        (lambda: xdnn.Network([5, 8, 1], dropout=0.2), 120, "cannot capture dropout"),
        (lambda: xdnn.Network([5, 8, 1], batch_norm=True), 120, "batch normalisation"),
        (lambda: xdnn.Network([5, 8, 1], optimizer="adam"), 120, None),
        (lambda: xdnn.Network([5, 8, 1], dropout=0.0), 120, None),
    ],
)
def test_refusal_names_what_a_graph_cannot_capture(build, batch, expected):
    reason = _cuda_graph.refusal(build(), _cupy_context(), batch, 120)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and __import__("re").search(expected, reason), reason


def test_refusal_of_sample_weights_before_anything_changes():
    """A weighted fit cannot be captured: refused on any backend, the network left unchanged."""
    rng = np.random.default_rng(3)
    network = xdnn.Network([5, 8, 1])
    before = {key: xdnn.to_numpy(value).copy() for key, value in network.parameters.items()}
    assert "without sample weights" in _cuda_graph.refusal(network, _cupy_context(), 120, 120, weighted=True)
    with pytest.raises(ValueError, match="cuda_graph=True trains without sample weights"):
        network.fit(
            rng.normal(size=(120, 5)), rng.integers(0, 2, 120), epochs=1, batch_size=None, verbose=0,
            cuda_graph=True, sample_weight=np.ones(120),
        )  # fmt: skip
    assert network.epochs_trained == 0
    for key, value in network.parameters.items():
        np.testing.assert_array_equal(xdnn.to_numpy(value), before[key])


def test_refusal_of_custom_layers_and_optimizers_and_of_the_portable_path():
    class Scaled(xdnn.Dense):
        pass

    class Clipped(xdnn.optimizers.GradientDescent):
        pass

    network = xdnn.Network([Scaled(4, "relu"), xdnn.Dense(1, "sigmoid")])
    assert "built-in layers only, not Scaled" in _cuda_graph.refusal(network, _cupy_context(), 10, 10)
    network = xdnn.Network([5, 4, 1], optimizer=Clipped())
    assert "built-in optimizer" in _cuda_graph.refusal(network, _cupy_context(), 10, 10)
    try:
        xdnn.set_fast_paths(False)
        assert "fused CuPy kernels" in _cuda_graph.refusal(xdnn.Network([5, 4, 1]), _cupy_context(), 10, 10)
    finally:
        xdnn.set_fast_paths(True)


def test_step_scalars_are_the_eager_updates_scalars():
    adam = xdnn.optimizers.get_optimizer("adam")
    scalars = xdnn._cupy_kernels.step_scalars(adam, 0.01, 3)
    assert scalars["lr"] == pytest.approx(0.01 / (1 - 0.9**3), rel=1e-15)
    assert scalars["c2"] == pytest.approx(1 - 0.999**3, rel=1e-15)
    assert xdnn._cupy_kernels.step_scalars(xdnn.optimizers.get_optimizer("sgd"), 0.5, 7) == {"lr": 0.5}


def test_cupys_linear_functions_are_the_portable_formulas(monkeypatch):
    """On CuPy the linear forward and backward go through ``_cupy_kernels.product`` (so that a CUDA
    graph's step can swap cuBLAS for a capturable kernel); outside a graph step they are exactly the
    portable ``W @ A + b``, ``dZ A^T / m``, ``sum(dZ) / m``, ``W^T dZ`` (run here on NumPy arrays,
    through array-api-compat's NumPy namespace taken for CuPy's)."""
    import array_api_compat.numpy as compat_numpy  # not NumPy itself: the portable path

    from xdnn import _cupy_kernels, linear

    assert _cupy_kernels.applies_to(types.ModuleType("cupy"))
    rng = np.random.default_rng(2)
    A, W, b, dZ = rng.normal(size=(6, 50)), rng.normal(size=(4, 6)), rng.normal(size=(4, 1)), rng.normal(size=(4, 50))
    portable = linear.backward_function(compat_numpy)(dZ, A, W, True)
    products = []

    def counted(a, b):
        products.append((a.shape, b.shape))
        return a @ b

    monkeypatch.setattr(_cupy_kernels, "product", counted)
    monkeypatch.setattr(_cupy_kernels, "applies_to", lambda xp: xp is compat_numpy)
    np.testing.assert_array_equal(linear.forward_function(compat_numpy)(A, W, b), W @ A + b)
    backward = linear.backward_function(compat_numpy)
    for ours, theirs in zip(backward(dZ, A, W, True), portable, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert backward(dZ, A, W, False)[0] is None
    assert products == [((4, 6), (6, 50)), ((4, 50), (50, 6)), ((6, 4), (4, 50)), ((4, 50), (50, 6))]


# --- captured training on a GPU ---------------------------------------------------------------------

needs_gpu = pytest.mark.skipif(
    cuda_device_count() == 0, reason="no CUDA device: CUDA-graph capture needs a CUDA GPU and CuPy"
)


@pytest.fixture
def graph_log(monkeypatch):
    """Counts captures and graph launches, and turns a failed capture's warning into an error:
    a test of captured training must not pass by training eagerly."""
    log = {"captures": 0, "launches": 0, "eager": 0}
    capture, run = _cuda_graph.CapturedStep._capture, _cuda_graph.CapturedStep.run

    def counting_capture(self):
        log["captures"] += 1
        return capture(self)

    def counting_run(self, learning_rate):
        outputs = run(self, learning_rate)
        log["launches" if self.graph is not None else "eager"] += 1
        return outputs

    monkeypatch.setattr(_cuda_graph.CapturedStep, "_capture", counting_capture)
    monkeypatch.setattr(_cuda_graph.CapturedStep, "run", counting_run)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield log


def _train(graph, *, optimizer, dims, dtype, epochs=12, callbacks=None, classes=2, activation="relu"):
    X, y = _data(classes=classes)
    with xdnn.use_backend("cupy"):
        network = xdnn.Network(
            dims,
            activation=activation,
            optimizer=optimizer,
            learning_rate=xdnn.ExponentialDecay(0.05, rate=0.9),  # a new step size every epoch
            dtype=dtype,
            seed=0,
            l2=1e-3,
        )
        history = network.fit(X, y, epochs=epochs, batch_size=None, verbose=0, callbacks=callbacks, cuda_graph=graph)
        weights = {key: xdnn.to_numpy(value) for key, value in network.parameters.items()}
    return network, history, weights


def _assert_same_weights(eager, captured, tolerance=1e-12):
    """The weights of two ``_train`` results agree, parameter by parameter."""
    for key, value in eager[2].items():
        np.testing.assert_allclose(captured[2][key], value, rtol=tolerance, atol=tolerance, err_msg=key)


def _eager_and_captured(**settings):
    """``_train`` without and with ``cuda_graph``, the same settings."""
    return [_train(graph, **settings) for graph in (False, True)]


@needs_gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_captured_training_equals_eager_training(optimizer, dtype, graph_log):
    pytest.importorskip("cupy")
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    results = _eager_and_captured(optimizer=optimizer, dims=[5, 16, 8, 1], dtype=dtype)
    (eager, eager_history, _), (captured, captured_history, _) = results
    assert captured.optimizer.iterations == eager.optimizer.iterations == 12
    assert captured.epochs_trained == 12
    assert graph_log == {"captures": 1, "launches": 11, "eager": 1}  # a warm-up step, then the graph
    np.testing.assert_allclose(captured_history["loss"], eager_history["loss"], rtol=tolerance)
    np.testing.assert_allclose(captured_history["accuracy"], eager_history["accuracy"], rtol=tolerance)
    _assert_same_weights(*results, tolerance)


@needs_gpu
def test_captured_softmax_tanh_training_equals_eager_training(graph_log):
    pytest.importorskip("cupy")
    _assert_same_weights(
        *_eager_and_captured(optimizer="adam", dims=[5, 12, 3], dtype="float64", classes=3, activation="tanh")
    )
    assert graph_log["launches"] == 11


@needs_gpu
def test_replaced_parameters_are_captured_again(graph_log):
    """A callback that swaps the weights mid-fit: the graph must train the new arrays, not the old."""
    pytest.importorskip("cupy")

    class Reset(xdnn.Callback):
        def on_train_begin(self, network):
            self.saved = None

        def on_epoch_end(self, network, epoch, logs):
            if epoch == 2:
                self.saved = network.get_weights()
            if epoch == 5:
                network.set_weights(self.saved)  # new arrays in network.parameters

    runs = _eager_and_captured(optimizer="momentum", dims=[5, 8, 1], dtype="float64", callbacks=[Reset()])
    np.testing.assert_allclose(runs[1][1]["loss"], runs[0][1]["loss"], rtol=1e-12)
    _assert_same_weights(*runs)
    assert graph_log == {"captures": 2, "launches": 11, "eager": 1}  # captured again after set_weights


@needs_gpu
def test_a_changed_hyper_parameter_is_captured_again(graph_log):
    """Momentum's beta is a constant of the graph: changing it mid-fit needs a new capture."""
    pytest.importorskip("cupy")

    class Slower(xdnn.Callback):
        def on_epoch_end(self, network, epoch, logs):
            if epoch == 4:
                network.optimizer.beta = 0.5

    _assert_same_weights(
        *_eager_and_captured(optimizer="momentum", dims=[5, 8, 1], dtype="float64", callbacks=[Slower()])
    )
    assert graph_log["captures"] == 2


@needs_gpu
def test_a_capture_failing_midway_warns_and_trains_eagerly(monkeypatch):
    """An error inside the capture (here: in the optimizer update) ends the capture, warns with
    that error, and the fit goes on eagerly with the same numbers."""
    cupy = pytest.importorskip("cupy")
    eager = _train(False, optimizer="adam", dims=[5, 8, 1], dtype="float64")
    update_with = xdnn._cupy_kernels.update_with

    def failing_while_capturing(*arguments):
        if cupy.cuda.get_current_stream().is_capturing():
            raise RuntimeError("not capturable, for the test")
        return update_with(*arguments)

    monkeypatch.setattr(xdnn._cupy_kernels, "update_with", failing_while_capturing)
    with pytest.warns(RuntimeWarning, match="not capturable, for the test"):
        captured = _train(True, optimizer="adam", dims=[5, 8, 1], dtype="float64")
    _assert_same_weights(eager, captured)


@needs_gpu
def test_a_failed_capture_warns_and_trains_eagerly(monkeypatch):
    cupy = pytest.importorskip("cupy")

    def refuse(self, mode=None):
        raise RuntimeError("capture refused for the test")

    eager = _train(False, optimizer="sgd", dims=[5, 8, 1], dtype="float64")
    monkeypatch.setattr(cupy.cuda.Stream, "begin_capture", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        captured = _train(True, optimizer="sgd", dims=[5, 8, 1], dtype="float64")
    assert any("capture of the training step failed" in str(w.message) for w in caught)
    _assert_same_weights(eager, captured)
