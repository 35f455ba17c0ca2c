"""``Network.fit(..., cuda_graph=True)``: a captured step trains exactly as the eager one (GPU
tests, which skip without CUDA), and every network or backend it cannot capture is refused with
a reason before anything changes (everywhere)."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

import xdnn
from xdnn import executors, linear, optimizers, training_data
from xdnn._backend import cuda_device_count
from xdnn.backends import cuda_graph
from xdnn.backends import cupy as cupy_backend


def _data(m=120, n=5, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = rng.integers(0, classes, m)
    return X, y


def _fake_cupy():
    """A namespace array-api-compat takes for CuPy's (by its name): the registry's ``"cupy"`` backend."""
    return types.ModuleType("cupy")


# --- refusals: no GPU needed ----------------------------------------------------------------------


def test_refused_on_a_backend_without_cuda_graphs_and_nothing_changes():
    X, y = _data()
    with xdnn.use_backend("numpy"):
        network = xdnn.Network([5, 8, 1], seed=0)
        network.fit(X, y, epochs=1, batch_size=None, verbose=0)
        before = {k: xdnn.to_numpy(v).copy() for k, v in network.parameters.items()}
        with pytest.raises(ValueError, match="record a training step as a CUDA graph.*runs on 'numpy'"):
            network.fit(X, y, epochs=3, batch_size=None, cuda_graph=True, verbose=0)
        for key, value in network.parameters.items():
            np.testing.assert_array_equal(xdnn.to_numpy(value), before[key])
        assert network.epochs_trained == 1 and len(network.history["loss"]) == 1
        unbuilt = xdnn.Network([xdnn.Dense(8, "relu"), xdnn.Dense(1, "sigmoid")], seed=0)  # sized by fit
        with pytest.raises(ValueError, match="record a training step as a CUDA graph"):
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
    reason = cuda_graph.refusal(build(), batch, 120)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and __import__("re").search(expected, reason), reason


def test_refusal_of_sample_weights_before_anything_changes():
    """A weighted fit cannot be captured: refused on any backend (by CuPy's step with this reason; elsewhere
    no step is captured at all), the network left unchanged."""
    rng = np.random.default_rng(3)
    network = xdnn.Network([5, 8, 1])
    before = {key: xdnn.to_numpy(value).copy() for key, value in network.parameters.items()}
    assert "without sample weights" in cuda_graph.refusal(network, 120, 120, weighted=True)
    with pytest.raises(ValueError, match="cuda_graph=True"):
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

    class Clipped(xdnn.optimizers.GradientDescent):  # a rule of its own: no fused kernel runs it
        rule = staticmethod(lambda W, dW, *, learning_rate, xp: W - learning_rate * xp.clip(dW, -1.0, 1.0))

    class Renamed(xdnn.optimizers.GradientDescent):  # the built-in rule, but a class of its own: its
        name = "renamed_sgd"  # settings() could change what a graph keeps as constants

    network = xdnn.Network([Scaled(4, "relu"), xdnn.Dense(1, "sigmoid")])
    assert "built-in layers only, not Scaled" in cuda_graph.refusal(network, 10, 10)
    network = xdnn.Network([5, 4, 1], optimizer=Clipped())
    assert "built-in optimizer" in cuda_graph.refusal(network, 10, 10)
    assert "built-in optimizer" in cuda_graph.refusal(xdnn.Network([5, 4, 1], optimizer=Renamed()), 10, 10)
    assert cuda_graph.refusal(xdnn.Network([5, 4, 1], optimizer="momentum"), 10, 10) is None
    # the captured step is CuPy's executor of graph_step_factory: with fast paths off, the definition refuses
    fake_cupy = _fake_cupy()
    factory = executors.resolve(training_data.graph_step_factory, fake_cupy)
    assert factory is cuda_graph.graph_step_factory
    assert factory(xdnn.Network([5, 4, 1]), 10, 10, False, xp=fake_cupy) == (None, cuda_graph.CapturedStep)
    try:
        xdnn.set_fast_paths(False)
        factory = executors.resolve(training_data.graph_step_factory, fake_cupy)
        assert factory is training_data.graph_step_factory
        reason, made = factory(xdnn.Network([5, 4, 1]), 10, 10, False, xp=fake_cupy)
        assert "fast paths on" in reason and made is None
    finally:
        xdnn.set_fast_paths(True)


def test_step_scalars_are_the_eager_updates_scalars():
    adam = optimizers.get_optimizer("adam")
    adam.iterations = 3
    scalars = cupy_backend.step_scalars(optimizers.adam_update, adam.settings(0.01))
    assert scalars["lr"] == pytest.approx(0.01 / (1 - 0.9**3), rel=1e-15)
    assert scalars["c2"] == pytest.approx(1 - 0.999**3, rel=1e-15)
    sgd = optimizers.get_optimizer("sgd")
    assert cupy_backend.step_scalars(optimizers.gradient_descent_update, sgd.settings(0.5)) == {"lr": 0.5}


def test_cupys_linear_functions_are_the_portable_formulas(monkeypatch):
    """On CuPy the linear forward and backward go through ``xdnn.backends.cupy.product`` (so that a CUDA
    graph's step can swap cuBLAS for a capturable kernel); outside a graph step they are exactly the
    portable ``W @ A + b``, ``dZ A^T / m``, ``sum(dZ) / m``, ``W^T dZ`` (run here on NumPy arrays,
    through array-api-compat's NumPy namespace taken for CuPy's)."""
    import array_api_compat.numpy as compat_numpy  # not NumPy itself: the portable path

    fake_cupy = _fake_cupy()
    assert executors.find(linear.linear_forward, fake_cupy) is cupy_backend.linear_forward
    assert executors.find(linear.linear_backward, fake_cupy) is cupy_backend.linear_backward
    rng = np.random.default_rng(2)
    A, W, b, dZ = rng.normal(size=(6, 50)), rng.normal(size=(4, 6)), rng.normal(size=(4, 1)), rng.normal(size=(4, 50))
    portable = linear.linear_backward(dZ, A, W, xp=compat_numpy)
    products = []

    def counted(a, b):
        products.append((a.shape, b.shape))
        return a @ b

    monkeypatch.setattr(cupy_backend, "product", counted)
    np.testing.assert_array_equal(cupy_backend.linear_forward(A, W, b), linear.linear_forward(A, W, b, xp=compat_numpy))
    backward = cupy_backend.linear_backward
    for ours, theirs in zip(backward(dZ, A, W), portable, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert backward(dZ, A, W, input_gradient=False)[0] is None
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
    capture, run = cuda_graph.CapturedStep._capture, cuda_graph.CapturedStep.run

    def counting_capture(self):
        log["captures"] += 1
        return capture(self)

    def counting_run(self, learning_rate):
        outputs = run(self, learning_rate)
        log["launches" if self.graph is not None else "eager"] += 1
        return outputs

    monkeypatch.setattr(cuda_graph.CapturedStep, "_capture", counting_capture)
    monkeypatch.setattr(cuda_graph.CapturedStep, "run", counting_run)
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
    fused_update = cupy_backend.fused_update

    def failing_while_capturing(*arguments):
        if cupy.cuda.get_current_stream().is_capturing():
            raise RuntimeError("not capturable, for the test")
        return fused_update(*arguments)

    monkeypatch.setattr(cupy_backend, "fused_update", failing_while_capturing)
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
