"""xdnn.sparse_input: a sparse ``X`` (scipy.sparse on NumPy, cupyx.scipy.sparse on CuPy) trains, predicts
and scores as its dense twin does -- the same numbers in float64, to 1e-10 -- without ever being
densified; the backends without sparse matrices refuse it with an error that names the way out."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import normalize

import xdnn
from xdnn import MLPClassifier, MLPRegressor, executors, linear
from xdnn.backends import numpy_threads

SPARSE_BACKENDS = ("numpy", "cupy")
TOLERANCE = 1e-10  # float64: sparse and dense products add the same terms in another order
REFUSAL = "sparse X needs the numpy backend"


def newsgroups_like(n_samples=300, n_features=2000, density=0.01, n_classes=4, seed=0):
    """A TF-IDF-like CSR ``(n_samples, n_features)``: rows of non-negative weights, L2-normalised, each
    with a few words of its class's own vocabulary among random ones; labels ``0..n_classes-1``."""
    rng = np.random.default_rng(seed)
    X = scipy.sparse.random(n_samples, n_features, density=density, format="lil", random_state=seed)
    y = rng.integers(0, n_classes, n_samples)
    for row, label in enumerate(y):
        X[row, label * 20 + rng.integers(0, 20, 3)] = rng.uniform(1.0, 2.0, 3)
    return normalize(X.tocsr()), y


@pytest.fixture
def sparse_backend(backend):
    """The backend under test where it takes sparse X (others refuse it: test_refused_without_a_sparse_library)."""
    if backend.name not in SPARSE_BACKENDS:
        pytest.skip(f"{backend.name} has no sparse matrices: sparse X is refused there (tested below)")
    return backend


def on_backend(backend, X_csr, kind="csr_matrix"):
    """``X_csr`` as the sparse matrix of ``kind`` of the backend's library."""
    converted = getattr(scipy.sparse, kind)(X_csr)
    if backend.name == "cupy":
        import cupyx.scipy.sparse

        return getattr(cupyx.scipy.sparse, kind.replace("_array", "_matrix"))(converted)
    return converted


def dense_on(backend, X_csr):
    return backend.xp.asarray(X_csr.toarray(), device=backend.device)


def max_difference(got, expected) -> float:
    got, expected = np.asarray(xdnn.to_numpy(got), dtype=np.float64), np.asarray(xdnn.to_numpy(expected))
    assert got.shape == expected.shape, (got.shape, expected.shape)
    return float(np.max(np.abs(got - expected), initial=0.0))


def assert_same_fit(sparse_net, dense_net, sparse_history, dense_history, what):
    assert sorted(sparse_net.parameters) == sorted(dense_net.parameters)
    for name, value in dense_net.parameters.items():
        assert max_difference(sparse_net.parameters[name], value) < TOLERANCE, f"{what}: {name}"
    for name, value in dense_net.state.items():
        assert max_difference(sparse_net.state[name], value) < TOLERANCE, f"{what}: {name}"
    assert list(sparse_history) == list(dense_history), what
    for column in dense_history:
        assert max_difference(sparse_history[column], dense_history[column]) < TOLERANCE, f"{what}: {column}"


# --- Network: the sparse fit is the dense fit ------------------------------------------------------

NETWORKS = {  # (Network arguments, targets, fit options)
    "sigmoid": (dict(layers=[16, 1], activation="tanh"), "binary", {}),
    "softmax-l2": (dict(layers=[16, 8, 4], l2=0.05), "classes", {}),
    "regression": (dict(layers=[16, 2], output_activation="identity"), "values", {}),
    "weighted": (dict(layers=[16, 4]), "classes", {"sample_weight": True}),
    "batch-norm-dropout": (dict(layers=[16, 4], batch_norm=True, dropout=0.2), "classes", {}),
    "no-hidden-layer": (dict(layers=[4], optimizer="sgd", learning_rate=0.5), "classes", {}),
    "validation-in-order": (dict(layers=[16, 4]), "classes", {"validation": True, "shuffle": False}),
    "full-batch": (dict(layers=[16, 4]), "classes", {"batch_size": None}),
}


def targets(kind, y, rng):
    if kind == "binary":
        return (y % 2).astype(np.int64)
    if kind == "values":
        return rng.normal(size=(y.shape[0], 2))
    return y


@pytest.mark.parametrize("config", list(NETWORKS))
def test_a_network_fits_sparse_x_as_it_fits_its_dense_twin(sparse_backend, config):
    X, labels = newsgroups_like(160, 400, density=0.02)
    arguments, target_kind, options = NETWORKS[config]
    arguments = dict(arguments)
    sizes = [X.shape[1], *arguments.pop("layers")]
    rng = np.random.default_rng(1)
    y = targets(target_kind, labels, rng)
    fit_options = {"epochs": 4, "batch_size": options.get("batch_size", 32), "shuffle": options.get("shuffle", True)}
    if options.get("sample_weight"):
        fit_options["sample_weight"] = rng.uniform(0.0, 2.0, X.shape[0])
    results = {}
    for form in ("sparse", "dense"):
        data = on_backend(sparse_backend, X) if form == "sparse" else dense_on(sparse_backend, X)
        extra = dict(fit_options)
        if options.get("validation"):
            extra["validation_data"] = (data[:40], y[:40])
        net = xdnn.Network(sizes, dtype="float64", seed=3, **arguments)
        history = net.fit(data, y, verbose=0, **extra)
        results[form] = (net, history, data)
    (sparse_net, sparse_history, X_sparse), (dense_net, dense_history, X_dense) = results["sparse"], results["dense"]
    what = f"{config} on {sparse_backend.name}"
    assert_same_fit(sparse_net, dense_net, sparse_history, dense_history, what)
    assert max_difference(sparse_net.predict_proba(X_sparse), dense_net.predict_proba(X_dense)) < TOLERANCE, what
    assert max_difference(sparse_net.predict(X_sparse), dense_net.predict(X_dense)) < TOLERANCE, what
    sparse_scores, dense_scores = sparse_net.evaluate(X_sparse, y), dense_net.evaluate(X_dense, y)
    assert sparse_scores.keys() == dense_scores.keys()
    for name, value in dense_scores.items():
        assert sparse_scores[name] == pytest.approx(value, abs=TOLERANCE), (what, name)


@pytest.mark.parametrize("kind", ["csc_matrix", "csr_array", "coo_matrix"])
def test_other_formats_train_as_csr_does(sparse_backend, kind):
    X, y = newsgroups_like(80, 300, density=0.03)
    histories, outputs = {}, {}
    for form in ("csr_matrix", kind):
        net = xdnn.Network([300, 8, 4], dtype="float64", seed=0)
        histories[form] = net.fit(on_backend(sparse_backend, X, form), y, epochs=2, batch_size=16, verbose=0)
        outputs[form] = net.predict_proba(on_backend(sparse_backend, X, form))
    assert max_difference(histories[kind]["loss"], histories["csr_matrix"]["loss"]) < TOLERANCE
    assert max_difference(outputs[kind], outputs["csr_matrix"]) < TOLERANCE


def test_float32_integer_host_data(sparse_backend):
    """Word counts (integers) of a ``scipy.sparse`` X: cast to the network's float32 -- and on CuPy moved
    to the device as ``cupyx.scipy.sparse``, as dense host data is moved -- never densified."""
    X, y = newsgroups_like(60, 200, density=0.05)
    counts = X.copy()
    counts.data = np.ceil(counts.data * 5).astype(np.int64)
    net = xdnn.Network([200, 8, 4], seed=0)  # float32
    net.fit(counts, y, epochs=2, batch_size=16, verbose=0)
    twin = xdnn.Network([200, 8, 4], seed=0)
    twin.fit(counts.toarray(), y, epochs=2, batch_size=16, verbose=0)
    assert net.dtype_name == "float32" and net.backend == sparse_backend.name
    assert max_difference(net.predict_proba(counts), twin.predict_proba(counts.toarray())) < 1e-5
    assert counts.dtype == np.int64  # (the caller's matrix is left as it was)


def test_the_fit_never_densifies_x(sparse_backend, monkeypatch):
    """Every densifying method of the sparse classes raises: the fit, predictions and evaluation
    multiply the stored values only."""
    if sparse_backend.name != "numpy":
        pytest.skip("checked on scipy.sparse")
    X, y = newsgroups_like(100, 500, density=0.02)
    X_val = X[:30]

    def densified(*args, **kwargs):
        raise AssertionError("a sparse X was densified")

    for cls in type(X).__mro__:
        for method in ("toarray", "todense", "__array__"):
            if method in vars(cls):
                monkeypatch.setattr(cls, method, densified)
    net = xdnn.Network([500, 16, 4], dtype="float64", seed=0, l2=0.01)
    net.fit(X, y, epochs=2, batch_size=32, validation_data=(X_val, y[:30]), verbose=0)
    net.fit(X, y, epochs=1, batch_size=None, verbose=0)
    assert net.predict_proba(X).shape == (100, 4)
    assert set(net.evaluate(X, y)) == {"loss", "accuracy"}


def test_a_large_batch_split_across_threads_takes_sparse_slices(sparse_backend, monkeypatch):
    """NumPy splits a large batch's samples across threads (xdnn.backends.numpy_threads): its slices of
    a sparse batch are sparse, and the fit gives the dense fit's numbers."""
    if sparse_backend.name != "numpy":
        pytest.skip("NumPy's split steps")
    monkeypatch.setattr(numpy_threads, "available_threads", lambda: 2)
    monkeypatch.setattr(numpy_threads, "MIN_SLICE_SAMPLES", 16)
    monkeypatch.setattr(numpy_threads, "MIN_SLICE_MULTIPLY_ADDS", 0)
    slices = []
    original = numpy_threads.SplitSteps.run

    def counted(self, gradients, Xt, Yt):
        slices.append(scipy.sparse.issparse(Xt))
        return original(self, gradients, Xt, Yt)

    monkeypatch.setattr(numpy_threads.SplitSteps, "run", counted)
    X, y = newsgroups_like(120, 300, density=0.03)
    fits = {}
    for form, data in (("sparse", X), ("dense", X.toarray())):
        net = xdnn.Network([300, 16, 4], dtype="float64", seed=0)
        fits[form] = (net, net.fit(data, y, epochs=3, batch_size=None, verbose=0))
    assert slices == [True] * 3 + [False] * 3
    assert_same_fit(*fits["sparse"][:1], *fits["dense"][:1], fits["sparse"][1], fits["dense"][1], "split steps")


def test_the_portable_definitions_train_on_sparse_x(sparse_backend, fast_paths):
    """With the backend's executors off, the portable ``W @ A_prev`` reaches the sparse library's own
    product (its reflected ``@``): the same fit."""
    X, y = newsgroups_like(80, 300, density=0.03)
    histories = {}
    for enabled in (True, False):
        fast_paths(enabled)
        net = xdnn.Network([300, 8, 4], dtype="float64", seed=0, batch_norm=True)
        histories[enabled] = net.fit(on_backend(sparse_backend, X), y, epochs=2, batch_size=16, verbose=0)
    assert max_difference(histories[False]["loss"], histories[True]["loss"]) < TOLERANCE


# --- the executors of the first layer's product ------------------------------------------------------


def test_the_linear_executors_match_their_definitions_on_sparse_input(sparse_backend):
    """The registered executors of linear_forward / linear_backward on a sparse ``A_prev (n[0], m)`` (a
    CSR batch transposed, with a duplicate entry and an empty row) give the definition's numbers, both
    on the sparse input (through the library's ``@``) and on its dense twin."""
    xp, backend = sparse_backend.xp, sparse_backend
    rng = np.random.default_rng(0)
    X = scipy.sparse.random(40, 30, density=0.1, format="lil", random_state=0)
    X[5] = 0.0  # an empty row: a sample of no stored values
    X = X.tocsr()
    X = scipy.sparse.csr_matrix((np.append(X.data, 0.5), np.append(X.indices, X.indices[-1]),
                                 np.append(X.indptr[:-1], X.nnz + 1)), shape=X.shape)  # fmt: skip
    assert not X.has_canonical_format  # (the last row holds one column twice)
    sparse_t, dense_t = on_backend(backend, X).T, dense_on(backend, X).T
    W, b, dZ = (backend.xp.asarray(a, device=backend.device) for a in (rng.normal(size=(6, 30)),
                rng.normal(size=(6, 1)), rng.normal(size=(6, 40))))  # fmt: skip
    forward, backward = executors.find(linear.linear_forward, xp), executors.find(linear.linear_backward, xp)
    assert forward is not None and backward is not None, f"{backend.name}: no executors of the linear part"
    for bias in (b, None):
        expected = linear.linear_forward(dense_t, W, bias, xp=xp)
        assert max_difference(forward(sparse_t, W, bias), expected) < 1e-12
        assert max_difference(linear.linear_forward(sparse_t, W, bias, xp=xp), expected) < 1e-12
    for input_gradient in (False, True):
        expected = linear.linear_backward(dZ, dense_t, W, xp=xp, input_gradient=input_gradient)
        for got in (
            backward(dZ, sparse_t, W, input_gradient=input_gradient),
            linear.linear_backward(dZ, sparse_t, W, xp=xp, input_gradient=input_gradient),
        ):
            assert (got[0] is None) == (not input_gradient)
            for part, value in zip(got, expected, strict=True):
                if value is not None:
                    assert max_difference(part, value) < 1e-12
    if backend.name == "numpy":  # (the dW a dense product gives: row-major, as W)
        assert backward(dZ, sparse_t, W, input_gradient=False)[1].flags.c_contiguous


# --- estimators ---------------------------------------------------------------------------------------


@pytest.fixture
def no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.mark.parametrize("kind", ["csr_matrix", "csr_array", "csc_matrix"])
def test_the_classifier_fits_sparse_text_features_as_dense_ones(sparse_backend, kind, no_convergence_warnings):
    X, y = newsgroups_like()  # 300 x 2000 at about 1% density, 4 classes
    sparse_X, dense_X = on_backend(sparse_backend, X, kind), dense_on(sparse_backend, X)
    fitted = {}
    for form, data in (("sparse", sparse_X), ("dense", dense_X)):
        fitted[form] = MLPClassifier((32,), learning_rate_init=0.01, max_iter=8, random_state=0).fit(data, y)
    sparse_clf, dense_clf = fitted["sparse"], fitted["dense"]
    assert sparse_clf.n_features_in_ == 2000 and not hasattr(sparse_clf, "feature_names_in_")
    for got, expected in zip(sparse_clf.coefs_ + sparse_clf.intercepts_, dense_clf.coefs_ + dense_clf.intercepts_,
                             strict=True):  # fmt: skip
        assert max_difference(got, expected) < TOLERANCE
    assert max_difference(sparse_clf.loss_curve_, dense_clf.loss_curve_) < TOLERANCE
    assert max_difference(sparse_clf.predict_proba(sparse_X), dense_clf.predict_proba(dense_X)) < TOLERANCE
    np.testing.assert_array_equal(
        xdnn.to_numpy(sparse_clf.predict(sparse_X)), xdnn.to_numpy(dense_clf.predict(dense_X))
    )
    assert sparse_clf.score(sparse_X, y) == dense_clf.score(dense_X, y) > 0.5


def test_regressor_partial_fit_early_stopping_and_weights_on_sparse_x(sparse_backend, no_convergence_warnings):
    X, labels = newsgroups_like(200, 800, density=0.02)
    y = labels + np.random.default_rng(0).normal(scale=0.1, size=labels.shape)
    weights = np.random.default_rng(1).uniform(0.5, 1.5, labels.shape[0])
    sparse_X, dense_X = on_backend(sparse_backend, X), dense_on(sparse_backend, X)
    settings = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0, early_stopping=True, n_iter_no_change=2)
    sparse_reg = MLPRegressor(**settings).fit(sparse_X, y, sample_weight=weights)
    dense_reg = MLPRegressor(**settings).fit(dense_X, y, sample_weight=weights)
    assert max_difference(sparse_reg.validation_scores_, dense_reg.validation_scores_) < TOLERANCE
    assert max_difference(sparse_reg.predict(sparse_X), dense_reg.predict(dense_X)) < TOLERANCE
    assert sparse_reg.score(sparse_X, y) == pytest.approx(dense_reg.score(dense_X, y), abs=TOLERANCE)
    classifiers = [MLPClassifier((8,), random_state=0) for _ in range(2)]
    for data, clf in zip((sparse_X, dense_X), classifiers, strict=True):
        clf.partial_fit(data[:100], labels[:100], classes=np.arange(4))
        clf.partial_fit(data[100:], labels[100:])
    assert max_difference(classifiers[0].loss_curve_, classifiers[1].loss_curve_) < TOLERANCE
    assert max_difference(classifiers[0].coefs_[0], classifiers[1].coefs_[0]) < TOLERANCE


# --- bad sparse input ----------------------------------------------------------------------------------


def spoiled(X, problem):
    X = X.copy()
    if problem == "nan":
        X.data[3] = np.nan
    elif problem == "inf":
        X.data[3] = np.inf
    elif problem == "complex":
        X = X.astype(np.complex128)
    elif problem == "too-large-for-float32":
        X.data[3] = 1e39
    return X


@pytest.mark.parametrize(
    ("problem", "error", "network_message", "estimator_message"),
    [
        ("nan", ValueError, "X contains NaN values", "Input X contains NaN"),
        ("inf", ValueError, "X contains inf values", "Input X contains infinity"),
        ("complex", (TypeError, ValueError), "must hold real numbers", "Complex data not supported"),
        ("too-large-for-float32", ValueError, "too large for float32", None),
    ],
)
def test_bad_values_are_refused(sparse_backend, problem, error, network_message, estimator_message):
    if sparse_backend.name != "numpy":
        pytest.skip("the messages are checked on scipy.sparse")
    X, y = newsgroups_like(40, 100, density=0.05)
    bad = spoiled(X, problem)
    net = xdnn.Network([100, 4, 4], seed=0)  # float32
    with pytest.raises(error, match=network_message):
        net.fit(bad, y, epochs=1, verbose=0)
    assert not net.history.epoch and net.optimizer.iterations == 0  # nothing changed
    net.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(error, match=network_message.replace("X ", "X_val ")):
        net.fit(X, y, epochs=1, validation_data=(bad, y), verbose=0)
    for call in (net.predict, net.predict_proba):
        with pytest.raises(error, match=network_message):
            call(bad)
    if estimator_message is not None:
        with pytest.raises(ValueError, match=estimator_message):
            MLPClassifier((4,), max_iter=1).fit(bad, y)


def test_the_shape_and_the_first_layer_are_checked(sparse_backend, no_convergence_warnings):
    if sparse_backend.name != "numpy":
        pytest.skip("the messages are checked on scipy.sparse")
    X, y = newsgroups_like(40, 100, density=0.05)
    net = xdnn.Network([100, 4, 4], seed=0)
    with pytest.raises(ValueError, match="X has 99 features, but this network was built for 100 features"):
        net.fit(X[:, :99], y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="must be 2-D"):
        net.fit(scipy.sparse.coo_array(np.ones(100)), y[:1], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="is empty"):
        net.fit(X[:0], y[:0], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="cuda_graph=True"):
        net.fit(X, y, epochs=1, batch_size=None, cuda_graph=True, verbose=0)
    net.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="X has 99 features"):
        net.predict(X[:, :99])
    starts_with_dropout = xdnn.Network([xdnn.Dropout(0.1), xdnn.Dense(4, "softmax")], seed=0)
    with pytest.raises(TypeError, match="needs a Dense layer first"):
        starts_with_dropout.fit(X, y, epochs=1, verbose=0)
    clf = MLPClassifier((4,), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 99 features, but MLPClassifier is expecting 100 features"):
        clf.predict(X[:, :99])


def test_dask_arrays_of_sparse_chunks_are_refused(sparse_backend):
    if sparse_backend.name != "numpy":
        pytest.skip("Dask is tested on NumPy")
    da = pytest.importorskip("dask.array")
    X, y = newsgroups_like(60, 100, density=0.05)
    chunked = da.from_array(X, chunks=(20, 100))
    net = xdnn.Network([100, 4, 4], seed=0)
    for data, labels in ((chunked, y), (X, da.from_array(y, chunks=20))):
        with pytest.raises(TypeError, match="xdnn's Dask fits and predictions do not take"):
            net.fit(data, labels, epochs=1, verbose=0)
    net.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(TypeError, match="sparse"):
        net.predict(chunked)


# --- backends without a sparse library -----------------------------------------------------------------


def test_refused_without_a_sparse_library(backend, no_convergence_warnings):
    """PyTorch, JAX and array-api-strict have no sparse matrices in their Array API namespace: every call
    given a sparse X says so and names the way out, and changes nothing."""
    if backend.name in SPARSE_BACKENDS:
        pytest.skip(f"{backend.name} takes sparse X (tested above)")
    X, y = newsgroups_like(40, 100, density=0.05)
    net = xdnn.Network([100, 4, 4], seed=0)
    for call in (
        lambda: net.fit(X, y, epochs=1, verbose=0),
        lambda: MLPClassifier((4,), max_iter=1).fit(X, y),
    ):
        with pytest.raises(TypeError, match=REFUSAL) as refused:
            call()
        assert backend.name in str(refused.value) and "X.toarray()" in str(refused.value)
    assert net.optimizer.iterations == 0 and net.backend == backend.name
    dense = dense_on(backend, X)
    net.fit(dense, y, epochs=1, verbose=0)
    with pytest.raises(TypeError, match=REFUSAL):
        net.fit(dense, y, epochs=1, validation_data=(X, y), verbose=0)
    for call in (lambda: net.predict(X), lambda: net.predict_proba(X), lambda: net.evaluate(X, y)):
        with pytest.raises(TypeError, match=REFUSAL):
            call()
