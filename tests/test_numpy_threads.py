"""Data-parallel NumPy training steps (xdnn.backends.numpy_threads): a large batch's samples split across
threads, each slice's gradients on single-threaded BLAS, combined as size-weighted means.  The
split changes the order of the sums only: costs, gradients and trained weights match the unsplit
step's to rounding, a seeded fit repeats bit for bit, and BLAS's thread count is put back."""

from __future__ import annotations

import threading
import types
import warnings

import numpy as np
import pytest

import xdnn
from xdnn.backends import numpy as numpy_executors
from xdnn.backends import numpy_threads


def slice_numbered_batch():
    """A (2, 4096) batch whose two 2048-sample slices hold their number, 0 or 1, in every entry."""
    return np.repeat(np.array([[0.0] * 2048 + [1.0] * 2048]), 2, axis=0)


def step_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("xdnn-step")]


@pytest.fixture
def numpy_backend():
    with xdnn.use_backend("numpy"):  # whichever backend this session tests: the split is NumPy's
        yield


@pytest.fixture
def two_threads(monkeypatch):
    """Steps split in two whatever this machine's cores (the numbers do not depend on them), unless
    xdnn.set_num_threads caps them at one; the small networks here too (no multiply-add minimum)."""
    monkeypatch.setattr(numpy_threads, "available_threads", lambda: min(2, numpy_threads._SETTING["threads"] or 2))
    monkeypatch.setattr(numpy_threads, "MIN_SLICE_MULTIPLY_ADDS", 0)


@pytest.fixture
def split_calls(monkeypatch):
    """Records the sample count of every step that ran split."""
    calls = []
    real_run = numpy_threads.SplitSteps.run

    def recording_run(self, gradients, Xt, Yt):
        result = real_run(self, gradients, Xt, Yt)
        if result is not None:
            calls.append(Xt.shape[1])
        return result

    monkeypatch.setattr(numpy_threads.SplitSteps, "run", recording_run)
    return calls


@pytest.mark.parametrize(
    ("m", "threads", "expected"),
    [
        (8192, 2, (0, 4096, 8192)),
        (2047, 2, None),  # a slice would have fewer than MIN_SLICE_SAMPLES
        (2048, 2, (0, 1024, 2048)),
        (8192, 1, None),
        (5000, 3, (0, 1664, 3328, 5000)),  # inner boundaries on multiples of 16
        (3000, 3, None),  # a slice for every thread, or no split (BLAS's threads would idle)
        (3000, 8, None),
    ],
)
def test_slice_bounds(m, threads, expected):
    assert numpy_threads.slice_bounds(m, threads) == expected


@pytest.mark.parametrize(
    ("layers", "batch", "split"),
    [
        ([64] * 11 + [1], 2048, True),  # deep-narrow's layers: 3.8M multiply-adds a layer in a slice of 1024
        ([64] * 11 + [1], 2047, False),
        ([16] * 11 + [1], 2048, False),  # 0.24M: split, it ran twice as slow
        ([16] * 11 + [1], 65_536, True),
        ([784, 1024, 1024, 10], 4096, True),  # wide's mini-batches
        ([12288, 20, 7, 5, 1], 209, False),  # the cat classifier
    ],
)
def test_only_batches_with_enough_work_a_slice_are_split(monkeypatch, layers, batch, split):
    monkeypatch.setattr(numpy_threads, "available_threads", lambda: 2)
    multiply_adds = sum(n_in * n_out for n_in, n_out in zip(layers[:-1], layers[1:], strict=True)) / (len(layers) - 1)
    steps = numpy_threads.SplitSteps.for_batches(batch, multiply_adds)
    try:
        assert (steps is not None) == split
    finally:
        if steps is not None:
            steps.close()


@pytest.mark.parametrize("m", [2048, 2063, 3077, 10_000, 65_536])
@pytest.mark.parametrize("threads", [2, 3, 4, 8])
def test_slices_cover_the_batch_in_order_and_about_equally(m, threads):
    bounds = numpy_threads.slice_bounds(m, threads)
    if m // numpy_threads.MIN_SLICE_SAMPLES < threads:
        assert bounds is None
        return
    assert bounds[0] == 0 and bounds[-1] == m
    sizes = np.diff(bounds)
    assert len(sizes) == threads
    assert sizes.min() > numpy_threads.MIN_SLICE_SAMPLES - numpy_threads.SLICE_ALIGNMENT
    assert sizes.max() - sizes.min() <= 2 * numpy_threads.SLICE_ALIGNMENT
    assert all(bound % numpy_threads.SLICE_ALIGNMENT == 0 for bound in bounds[1:-1])


def network_and_batch(kind, dtype, m, l2=0.0):
    rng = np.random.default_rng(3)
    if kind == "binary":
        layers, X = [32, 16, 16, 1], rng.normal(size=(m, 32))
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
        network = xdnn.Network(layers, dtype=dtype, seed=2, l2=l2)
    elif kind == "softmax":
        layers, X = [20, 24, 5], rng.normal(size=(m, 20))
        y = rng.integers(0, 5, size=m)
        network = xdnn.Network(layers, dtype=dtype, seed=2, activation="tanh", l2=l2)
    else:  # samples-major: more features than samples, X.T a view (xdnn.backends.numpy.full_batch)
        layers, X = [m + 64, 8, 1], rng.normal(size=(m, m + 64))
        y = (X[:, 0] > 0).astype(int)
        network = xdnn.Network(layers, dtype=dtype, seed=2, l2=l2)
    network.build(X.shape[1])
    X = X.astype(dtype)
    Y = y.reshape(-1, 1).astype(dtype) if kind != "softmax" else np.eye(5, dtype=dtype)[y]
    return network, X, Y


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("kind", ["binary", "softmax", "samples-major"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_split_step_has_the_cost_and_gradients_of_the_whole_batch(numpy_backend, kind, dtype, l2, threads):
    m = 3077 if kind != "samples-major" else 2100  # uneven slices
    network, X, Y = network_and_batch(kind, dtype, m, l2)
    Xt, Yt = numpy_executors.full_batch(X, Y)
    assert numpy_executors.samples_major(Xt) == (kind == "samples-major")
    bound = network.bind_layers()
    cost, A, grads = network.cost_and_gradients(Xt, Yt, None, bound=bound)

    def unpenalised(X_slice, Y_slice):  # one bound step shared by the threads, as in a fit
        return network.cost_and_gradients(X_slice, Y_slice, None, bound=bound, l2=False)

    steps = numpy_threads.SplitSteps(threads, min_samples=512)  # (the numbers, not the policy)
    try:
        split_cost, split_A, split_grads = steps.run(unpenalised, Xt, Yt)
    finally:
        steps.close()
    split_cost = network.with_l2(split_cost, split_grads, m)
    rtol = 2e-5 if dtype == "float32" else 1e-12
    assert split_A.shape == A.shape and split_A.dtype == A.dtype
    np.testing.assert_allclose(split_A, A, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(float(split_cost), float(cost), rtol=rtol)
    assert sorted(split_grads) == sorted(grads)
    for name, gradient in grads.items():
        assert split_grads[name].shape == gradient.shape and split_grads[name].dtype == gradient.dtype
        scale = float(np.max(np.abs(gradient)))
        np.testing.assert_allclose(split_grads[name], gradient, rtol=0, atol=rtol * scale, err_msg=name)


def fitted_weights(dtype, batch_size, *, split, epochs=4):
    with xdnn.use_backend("numpy"):  # (built on NumPy, whichever backend this session tests)
        network, X, Y = network_and_batch("binary", dtype, 6000)
        xdnn.set_num_threads(None if split else 1)
        try:
            history = network.fit(X, Y.ravel(), epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
        finally:
            xdnn.set_num_threads(None)
    return {name: np.array(value) for name, value in network.parameters.items()}, history


@pytest.mark.parametrize("batch_size", [None, 2500])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_split_matches_training_unsplit_and_repeats_bit_for_bit(two_threads, split_calls, dtype, batch_size):
    unsplit, unsplit_history = fitted_weights(dtype, batch_size, split=False)
    assert split_calls == []
    split, split_history = fitted_weights(dtype, batch_size, split=True)
    # full batch: 6000 samples a step; mini-batches: 2500, 2500, then 1000 (too few to split)
    assert split_calls == ([6000] if batch_size is None else [2500, 2500]) * 4
    again, _ = fitted_weights(dtype, batch_size, split=True)
    rtol = 1e-4 if dtype == "float32" else 1e-11
    for name in unsplit:
        np.testing.assert_array_equal(again[name], split[name], err_msg=name)
        scale = float(np.max(np.abs(unsplit[name])))
        np.testing.assert_allclose(split[name], unsplit[name], rtol=0, atol=rtol * scale, err_msg=name)
    np.testing.assert_allclose(split_history.history["loss"], unsplit_history.history["loss"], rtol=rtol)
    assert step_threads() == []  # the fit's threads end with it


@pytest.mark.parametrize(
    "case",
    ["dropout", "batch norm", "sample weights", "custom loss", "small batches", "one thread", "fast paths off"],
)
def test_steps_that_do_not_split_exactly_are_not_split(two_threads, split_calls, fast_paths, case):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(4096, 8)).astype("float32")
    y = (X[:, 0] > 0).astype(int)
    layers = [xdnn.Dense(16), xdnn.Dense(1, activation="sigmoid")]
    if case == "dropout":
        layers.insert(1, xdnn.Dropout(0.2))
    if case == "batch norm":
        layers.insert(1, xdnn.BatchNorm())
    loss = None
    if case == "custom loss":
        from xdnn import losses

        builtin = losses.get_loss("binary_crossentropy")
        loss = losses.Loss("my_bce", "sigmoid", builtin.cost, builtin.output_gradient)
    network = xdnn.Network(layers, seed=0, dtype="float32", loss=loss)
    options = {"batch_size": None}
    if case == "sample weights":
        options["sample_weight"] = rng.uniform(0.5, 1.5, size=4096)
    if case == "small batches":
        options["batch_size"] = 2047
    if case == "one thread":
        xdnn.set_num_threads(1)
    if case == "fast paths off":
        fast_paths(False)
    try:
        with xdnn.use_backend("numpy"):
            network.fit(X, y, epochs=2, verbose=0, **options)
    finally:
        xdnn.set_num_threads(None)
    assert split_calls == []


@pytest.fixture
def openblas():
    libraries = numpy_threads.openblas_libraries()
    if not libraries:
        pytest.skip("no OpenBLAS loaded in this process (NumPy on another BLAS, or not Linux): steps are not split")
    return libraries


def test_numpy_openblas_is_found_and_its_thread_count_put_back_after_a_step(openblas, numpy_backend):
    before = [library.get_threads() for library in openblas]
    seen = []

    def gradients(X_slice, Y_slice):
        seen.append([library.get_threads() for library in openblas])
        return np.sum(X_slice), X_slice[:1], {"dW": X_slice @ X_slice.T}

    steps = numpy_threads.SplitSteps(2)
    try:
        X = np.ones((4, 4096))
        cost, A, grads = steps.run(gradients, X, X)
    finally:
        steps.close()
    assert seen == [[1] * len(openblas)] * 2  # each slice on single-threaded BLAS
    assert [library.get_threads() for library in openblas] == before
    assert float(cost) == 4 * 4096 / 2 and A.shape == (1, 4096)
    np.testing.assert_array_equal(grads["dW"], np.full((4, 4), 2048.0))


@pytest.mark.parametrize("failing_slice", [0, 1])
def test_an_error_in_a_slice_reaches_the_caller_after_every_slice_ends_and_blas_threads_are_back(failing_slice):
    libraries = numpy_threads.openblas_libraries()
    before = [library.get_threads() for library in libraries]
    finished = []

    def gradients(X_slice, Y_slice):
        if X_slice[0, 0] == failing_slice:
            raise FloatingPointError(f"slice {failing_slice} failed")
        finished.append(int(X_slice[0, 0]))
        return 0.0, X_slice, {}

    X = slice_numbered_batch()
    steps = numpy_threads.SplitSteps(2)
    try:
        with pytest.raises(FloatingPointError, match=f"slice {failing_slice} failed"):
            steps.run(gradients, X, X)
    finally:
        steps.close()
    assert finished == [1 - failing_slice]
    assert [library.get_threads() for library in libraries] == before


def test_thread_count_setting(monkeypatch):
    machine = {"cores": 4, "blas threads": 6}
    blas = numpy_threads.OpenBlas(lambda: machine["blas threads"], None)
    monkeypatch.setattr(numpy_threads, "openblas_libraries", lambda: (blas,))
    monkeypatch.setattr(numpy_threads, "_usable_cores", lambda: machine["cores"])
    monkeypatch.delenv("XDNN_NUM_THREADS", raising=False)
    try:
        assert xdnn.get_num_threads() == 4  # the usable cores...
        machine["blas threads"] = 3
        assert xdnn.get_num_threads() == 3  # ... at most BLAS's own thread count
        machine.update({"cores": 64, "blas threads": 64})
        assert xdnn.get_num_threads() == 1  # more than MAX_THREADS: BLAS's threads keep the step...
        xdnn.set_num_threads(4)
        assert xdnn.get_num_threads() == 4  # ... unless a cap asks
        xdnn.set_num_threads(None)
        machine.update({"cores": 4, "blas threads": 6})
        xdnn.set_num_threads(3)
        assert xdnn.get_num_threads() == 3
        xdnn.set_num_threads(1)
        assert xdnn.get_num_threads() == 1
        xdnn.set_num_threads(None)
        monkeypatch.setenv("XDNN_NUM_THREADS", "2")
        assert xdnn.get_num_threads() == 2
        monkeypatch.setenv("XDNN_NUM_THREADS", "two")
        with pytest.raises(ValueError, match="XDNN_NUM_THREADS must be a whole number"):
            xdnn.get_num_threads()
        monkeypatch.setenv("XDNN_NUM_THREADS", "0")
        with pytest.raises(ValueError, match="XDNN_NUM_THREADS must be at least 1"):
            xdnn.get_num_threads()
        for bad in (0, -2):
            with pytest.raises(ValueError, match="threads must be at least 1"):
                xdnn.set_num_threads(bad)
        for bad in (1.5, True, "4"):
            with pytest.raises(TypeError, match="threads must be an int"):
                xdnn.set_num_threads(bad)
    finally:
        xdnn.set_num_threads(None)


def test_without_openblas_steps_are_not_split(monkeypatch):
    monkeypatch.setattr(numpy_threads, "openblas_libraries", lambda: ())
    assert xdnn.get_num_threads() == 1
    assert numpy_threads.SplitSteps.for_batches(1 << 20, 4096.0) is None


@pytest.mark.parametrize("last_to_end", [0, 1])
def test_split_steps_running_at_once_put_blas_threads_back_when_the_last_ends(openblas, last_to_end):
    """Two fits in two threads of the caller's, the second step starting while the first runs:
    BLAS stays on one thread until both end, then gets its count from before the first back,
    whichever of them ends last."""
    before = [library.get_threads() for library in openblas]
    inside = [threading.Event(), threading.Event()]
    ended = [threading.Event(), threading.Event()]
    seen = []

    def gradients(X_slice, Y_slice):
        step = int(X_slice[1, 0])
        if X_slice[0, 0] == 0:  # each step's first slice, on its caller's thread
            inside[step].set()
            assert inside[1 - step].wait(timeout=30)  # both steps under way
            if step == last_to_end:
                assert ended[1 - step].wait(timeout=30)  # the other has ended
        seen.append([library.get_threads() for library in openblas])
        return 0.0, X_slice, {}

    runners = [numpy_threads.SplitSteps(2) for _ in range(2)]
    errors = []

    def run(step):
        batch = np.array([[0.0] * 2048 + [1.0] * 2048, [float(step)] * 4096])
        try:
            runners[step].run(gradients, batch, batch)
        except BaseException as error:  # reported below
            errors.append(error)
        ended[step].set()

    callers = [threading.Thread(target=run, args=(step,)) for step in range(2)]
    try:
        callers[0].start()
        assert inside[0].wait(timeout=30)  # the first step holds BLAS at one thread before the second starts
        callers[1].start()
        for caller in callers:
            caller.join(timeout=60)
    finally:
        for runner in runners:
            runner.close()
    assert errors == []
    assert seen == [[1] * len(openblas)] * 4
    assert [library.get_threads() for library in openblas] == before


def network_of(case):
    if case == "accuracy, an Activation layer":
        layers = [xdnn.Dense(48), xdnn.Activation("relu"), xdnn.Dense(24, activation="tanh")]
        layers.append(xdnn.Dense(1, activation="sigmoid"))
        return xdnn.Network(layers, seed=5, metrics=["accuracy"], dtype="float64")
    if case == "mse":
        return xdnn.Network([40, 24, 1], seed=5, loss="mse", activation="tanh", dtype="float64")
    return xdnn.Network([40, 24, 1], seed=5, loss="poisson", learning_rate=0.001, dtype="float64")


@pytest.mark.parametrize("case", ["accuracy, an Activation layer", "mse", "poisson"])
def test_a_split_fit_matches_an_unsplit_one_for_other_layers_losses_and_metrics(two_threads, split_calls, case):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(4096, 40))
    signal = X[:, 0] - 0.5 * X[:, 1]
    y = {"mse": signal, "poisson": rng.poisson(np.exp(0.3 * signal))}.get(case, (signal > 0).astype(int))
    results = []
    for threads in (1, None):
        xdnn.set_num_threads(threads)
        try:
            with xdnn.use_backend("numpy"):  # (built on NumPy, whichever backend this session tests)
                network = network_of(case)
                history = network.fit(X, y, epochs=5, batch_size=None, verbose=0)
        finally:
            xdnn.set_num_threads(None)
        results.append((history.history, {name: np.array(value) for name, value in network.parameters.items()}))
    assert split_calls == [4096] * 5  # the second fit only
    (unsplit_history, unsplit), (split_history, split) = results
    assert sorted(split_history) == sorted(unsplit_history)
    for metric, values in unsplit_history.items():
        np.testing.assert_allclose(split_history[metric], values, rtol=1e-12, err_msg=metric)
    for name in unsplit:
        np.testing.assert_allclose(split[name], unsplit[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_slices_run_under_the_callers_numpy_error_state(numpy_backend):
    def gradients(X_slice, Y_slice):
        if X_slice[0, 0] == 1:  # the slice on the pool's thread overflows
            np.multiply(X_slice, 1e308) * 10.0
        return 0.0, X_slice, {}

    X = slice_numbered_batch()
    steps = numpy_threads.SplitSteps(2)
    try:
        with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow"):
            steps.run(gradients, X, X)
        with np.errstate(over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            steps.run(gradients, X, X)  # no RuntimeWarning from the other thread either
    finally:
        steps.close()


class FakeFunction:
    def __init__(self, value):
        self.value = value

    def __call__(self, *arguments):
        return self.value


def test_an_openmp_openblas_is_left_alone(monkeypatch):
    """An OpenMP build reads each calling thread's OpenMP setting, not one process-wide count:
    steps are not split where one is loaded."""
    library = types.SimpleNamespace(
        openblas_set_num_threads=FakeFunction(None),
        openblas_get_num_threads=FakeFunction(4),
        openblas_get_parallel=FakeFunction(2),  # OpenMP
    )
    monkeypatch.setattr(numpy_threads, "_loaded_library_paths", lambda: ["/fake/libopenblas.so.0"])
    monkeypatch.setattr(numpy_threads.ctypes, "CDLL", lambda path, mode: library)
    numpy_threads.openblas_libraries.cache_clear()
    try:
        assert numpy_threads.openblas_libraries() == ()
        library.openblas_get_parallel = FakeFunction(numpy_threads.PTHREADS_BUILD)
        numpy_threads.openblas_libraries.cache_clear()
        (controls,) = numpy_threads.openblas_libraries()
        assert controls.get_threads() == 4
    finally:
        numpy_threads.openblas_libraries.cache_clear()
