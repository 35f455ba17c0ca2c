"""xdnn.dask.streaming, xdnn.dask.inference and the estimators' dask input: dask arrays (and data
frames) in one process, out of core.

The streamed fit with ``shuffle=False`` must be the in-memory fit of the same data (float64, 1e-12),
whatever the chunks and batch size; shuffled epochs are seeded and visit every row once; peak memory
is a few chunks; ``predict`` is lazy and ``evaluate`` the in-memory number.  Dask chunks are NumPy
arrays, so these tests run once, in the numpy session, except one small fit that runs on every backend.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import xdnn
from xdnn.dask import default_client
from xdnn.dask.streaming import ChunkSource

da = pytest.importorskip("dask.array")

ROWS = (7, 13, 5)  # uneven chunks of 25 rows
KINDS = {  # layer sizes, loss
    "sigmoid": ([4, 5, 1], None),
    "softmax": ([4, 6, 3], None),
    "mse": ([4, 5, 2], "mse"),
}


@pytest.fixture
def numpy_backend(backend):
    if backend.name != "numpy":
        pytest.skip("dask chunks are NumPy: these tests run once, in the numpy session")
    return backend


@pytest.fixture(autouse=True)
def no_client():
    if default_client() is not None:
        pytest.skip("a distributed client is active here: dask input would train data-parallel on it")


def data(kind: str, n: int = 25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    if kind == "sigmoid":
        return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    if kind == "softmax":
        return X, np.argmax(X[:, :3], axis=1)
    return X, np.stack([X[:, 0] - X[:, 2], 0.5 * X[:, 1]], axis=1)


def chunked(array: np.ndarray, rows=ROWS, columns=None):
    return da.from_array(array, chunks=(rows,) + ((columns,) if columns else array.shape[1:]))


def network(kind: str, **options) -> xdnn.Network:
    sizes, loss = KINDS[kind]
    return xdnn.Network(sizes, loss=loss, dtype="float64", seed=3, **options)


def assert_same_fit(expected: xdnn.Network, got: xdnn.Network, tolerance: float = 1e-12) -> None:
    assert got.epochs_trained == expected.epochs_trained
    assert got.history.history.keys() == expected.history.history.keys()
    for name, values in expected.history.history.items():
        np.testing.assert_allclose(got.history[name], values, rtol=tolerance, atol=tolerance, err_msg=name)
    for name, value in expected.parameters.items():
        np.testing.assert_allclose(
            xdnn.to_numpy(got.parameters[name]), xdnn.to_numpy(value), rtol=0, atol=tolerance, err_msg=name
        )


def snapshot(net: xdnn.Network) -> tuple:
    weights = xdnn.to_numpy(net.get_weights()["parameters"])
    return weights, net.epochs_trained, dict(net.history.history), net.optimizer.iterations


# --- the streamed fit is the in-memory fit -------------------------------------------------------


@pytest.mark.parametrize("batch_size", [4, 8, None])
@pytest.mark.parametrize("kind", KINDS)
def test_a_streamed_fit_without_shuffle_is_the_in_memory_fit(numpy_backend, kind, batch_size):
    X, y = data(kind)
    in_memory, streamed = network(kind, l2=0.01), network(kind, l2=0.01)
    options = dict(epochs=3, batch_size=batch_size, shuffle=False, verbose=0)
    in_memory.fit(X, y, **options)
    history = streamed.fit(chunked(X), chunked(y), **options)
    assert history is streamed.history
    assert_same_fit(in_memory, streamed)


def test_x_chunked_along_features_and_y_chunked_otherwise_are_realigned(numpy_backend):
    X, y = data("softmax", n=40)
    in_memory, streamed = network("softmax"), network("softmax")
    in_memory.fit(X, y, epochs=2, batch_size=6, shuffle=False, verbose=0)
    streamed.fit(chunked(X, (9, 9, 9, 13), columns=3), chunked(y, (20, 20)), epochs=2, batch_size=6, shuffle=False,
                 verbose=0)  # fmt: skip
    assert_same_fit(in_memory, streamed)


def test_in_memory_y_and_validation_data_join_a_dask_x(numpy_backend):
    X, y = data("sigmoid", n=30)
    in_memory, streamed = network("sigmoid"), network("sigmoid")
    options = dict(epochs=2, batch_size=7, shuffle=False, verbose=0)
    in_memory.fit(X, y, validation_data=(X[:10], y[:10]), **options)
    streamed.fit(chunked(X, (12, 18)), y, validation_data=(chunked(X[:10], (5, 5)), y[:10]), **options)
    assert "val_loss" in streamed.history.history
    assert_same_fit(in_memory, streamed)
    dask_validation = network("sigmoid")  # in-memory data, a dask validation set
    dask_validation.fit(X, y, validation_data=(chunked(X[:10], (5, 5)), chunked(y[:10], (5, 5))), **options)
    assert_same_fit(in_memory, dask_validation)


@pytest.mark.parametrize("dask_weights", [True, False])
def test_sample_weights_stream_with_their_rows(numpy_backend, dask_weights):
    X, y = data("sigmoid")
    weights = np.random.default_rng(1).uniform(0, 2, size=25)
    weights[7:20] = 0.0  # a whole chunk of zeros is allowed: only all of them is not
    in_memory, streamed = network("sigmoid", l2=0.1), network("sigmoid", l2=0.1)
    options = dict(epochs=2, batch_size=6, shuffle=False, verbose=0)
    in_memory.fit(X, y, sample_weight=weights, **options)
    streamed.fit(chunked(X), chunked(y), sample_weight=chunked(weights) if dask_weights else weights, **options)
    assert_same_fit(in_memory, streamed)
    in_memory, streamed = network("sigmoid", l2=0.1), network("sigmoid", l2=0.1)  # a number weights all alike
    in_memory.fit(X, y, sample_weight=2.0, **options)
    streamed.fit(chunked(X), chunked(y), sample_weight=2.0, **options)
    assert_same_fit(in_memory, streamed)


def test_all_zero_weights_are_refused_before_training(numpy_backend):
    X, y = data("sigmoid")
    net = xdnn.Network([xdnn.Dense(5, "tanh"), xdnn.Dense(1)], dtype="float64")  # built by its first fit
    with pytest.raises(ValueError, match="all zero"):
        net.fit(chunked(X), chunked(y), sample_weight=chunked(np.zeros(25)), epochs=1, verbose=0)
    assert not net.built


# --- shuffled epochs ----------------------------------------------------------------------------


def epoch_rows(net: xdnn.Network, X, y, batch: int) -> tuple[list[int], list[int]]:
    """The row ids (X's first column) of one shuffled epoch, and the batch sizes."""
    context = net.resolve_context()
    source = ChunkSource(net, X, y, context, batch=batch)
    ids, sizes = [], []
    for Xt, Yt in source.epoch(shuffle=True):
        assert Xt.shape[1] == Yt.shape[1]
        ids += [int(value) for value in xdnn.to_numpy(Xt[0, :])]
        sizes.append(Xt.shape[1])
    return ids, sizes


def test_a_shuffled_epoch_visits_every_row_once_in_a_seeded_order(numpy_backend):
    m, rows = 60, (11, 4, 20, 7, 18)
    X = np.concatenate([np.arange(m, dtype=np.float64)[:, None], np.zeros((m, 3))], axis=1)
    X, y = chunked(X, rows), chunked(np.zeros(m, dtype=np.int64), rows)
    first, second = network("sigmoid"), network("sigmoid")
    ids, sizes = epoch_rows(first, X, y, batch=8)
    assert sorted(ids) == list(range(m))
    assert sizes == [8] * 7 + [4]  # batches run across chunk ends; only the epoch's last is smaller
    assert ids != list(range(m))
    assert epoch_rows(second, X, y, batch=8)[0] == ids  # the same seed, the same order
    again, _ = epoch_rows(first, X, y, batch=8)
    assert sorted(again) == list(range(m)) and again != ids  # the next epoch: another order
    # chunk by chunk: each chunk's rows are visited together, so the chunk changes len(rows) - 1 times
    chunk_of = np.searchsorted(np.cumsum((0,) + rows), ids, side="right") - 1
    assert np.count_nonzero(np.diff(chunk_of)) == len(rows) - 1


def test_shuffled_streamed_fits_are_deterministic(numpy_backend):
    X, y = data("softmax", n=40)
    fits = []
    for _ in range(2):
        net = network("softmax")
        net.fit(chunked(X, (9, 9, 9, 13)), chunked(y, (9, 9, 9, 13)), epochs=3, batch_size=5, verbose=0)
        fits.append(net)
    assert_same_fit(fits[0], fits[1], tolerance=0.0)
    in_memory = network("softmax")
    in_memory.fit(X, y, epochs=3, batch_size=5, verbose=0)
    assert not np.allclose(xdnn.to_numpy(in_memory.parameters["W1"]), xdnn.to_numpy(fits[0].parameters["W1"]))


# --- memory --------------------------------------------------------------------------------------

CHUNK_ROWS, FEATURES, CHUNKS = 10_000, 20, 12


def generated_block(block_id=None):
    return np.random.default_rng(block_id[0]).standard_normal((CHUNK_ROWS, FEATURES))


def test_peak_memory_is_a_few_chunks_not_the_data_set(numpy_backend):
    X = da.map_blocks(generated_block, chunks=((CHUNK_ROWS,) * CHUNKS, (FEATURES,)), dtype=np.float64)
    y = (X[:, 0] > 0).astype(np.int64)
    chunk_bytes = CHUNK_ROWS * FEATURES * 8  # 1.6 MB; the data set is 19.2 MB
    network("sigmoid").fit(X[:20_000, :4], y[:20_000], epochs=1, batch_size=256, verbose=0)  # imports, first calls
    net = xdnn.Network([FEATURES, 16, 1], dtype="float64", seed=0)
    gc.collect()
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=1, batch_size=256, verbose=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert net.epochs_trained == 1 and np.isfinite(net.history["loss"][0])
    # two chunks (the one training, the next being computed) and their targets, the batches, the network,
    # and Dask's graph objects awaiting the garbage collector (about 40 KB a chunk): measured 3.8 MB
    assert peak < 3 * chunk_bytes, f"peak {peak / 1e6:.2f} MB for chunks of {chunk_bytes / 1e6:.2f} MB"
    print(f"\nstreamed fit of {CHUNKS * chunk_bytes / 1e6:.1f} MB in chunks of {chunk_bytes / 1e6:.2f} MB: "
          f"peak {peak / 1e6:.2f} MB traced")  # fmt: skip


# --- predict, predict_proba, evaluate ------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_predict_gives_a_lazy_dask_array_of_the_in_memory_predictions(numpy_backend, kind):
    X, y = data(kind)
    net = network(kind)
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    for method in ("predict", "predict_proba"):
        expected = xdnn.to_numpy(getattr(net, method)(X))
        lazy = getattr(net, method)(chunked(X, columns=2))
        assert isinstance(lazy, da.Array), method
        assert lazy.shape == expected.shape and lazy.dtype == expected.dtype, method
        assert lazy.chunks[0] == ROWS, method
        computed = lazy.compute()
        assert type(computed) is np.ndarray
        np.testing.assert_allclose(computed, expected, rtol=1e-12, atol=1e-15, err_msg=method)


def test_predict_checks_the_features_at_once_and_refuses_an_unfitted_network(numpy_backend):
    X, y = data("sigmoid")
    net = network("sigmoid")
    with pytest.raises(ValueError, match="not been fitted"):
        xdnn.Network([xdnn.Dense(1)]).predict(chunked(X))
    net.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="3 features"):
        net.predict(chunked(X[:, :3]))


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_sums_the_chunks_and_adds_the_l2_term_once(numpy_backend, kind):
    X, y = data(kind)
    net = network(kind, l2=0.5)
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    expected, got = net.evaluate(X, y), net.evaluate(chunked(X), chunked(y))
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert type(got[name]) is float
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


# --- checks before anything changes --------------------------------------------------------------


def test_a_nan_in_a_late_chunk_is_named_and_changes_nothing(numpy_backend):
    X, y = data("sigmoid", n=30)
    net = network("sigmoid")
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    before = snapshot(net)
    bad = X.copy()
    bad[17, 2] = np.nan  # rows 15:20, chunk 3
    with pytest.raises(ValueError, match=r"NaN.*rows 15:20, row chunk 3"):
        net.fit(chunked(bad, (5,) * 6), chunked(y, (5,) * 6), epochs=2, batch_size=4, verbose=0)
    after = snapshot(net)
    assert after[1:] == before[1:]  # epochs_trained, history, optimizer steps
    for name, value in before[0].items():
        np.testing.assert_array_equal(after[0][name], value, err_msg=name)
    assert len(net.history.epoch) == 2 == net.epochs_trained
    fresh = network("softmax")
    with pytest.raises(ValueError, match=r"class labels.*row chunk 2"):
        labels = np.zeros(25, dtype=np.int64)
        labels[22] = 5
        fresh.fit(chunked(data("softmax")[0]), chunked(labels), epochs=1, verbose=0)
    assert fresh.epochs_trained == 0 and fresh.optimizer.iterations == 0 and not fresh.history.epoch


def test_layouts_that_cannot_stream_are_refused_with_what_to_do(numpy_backend):
    X, y = data("sigmoid")
    net = network("sigmoid")
    unknown = da.from_array(X, chunks=(5, 4))[da.from_array(y, chunks=5) >= 0]  # boolean indexing: sizes unknown
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        net.fit(unknown, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="different numbers of samples: 25 and 24"):
        net.fit(chunked(X), chunked(y[:24], (7, 17)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="cuda_graph"):
        net.fit(chunked(X), chunked(y), epochs=1, verbose=0, cuda_graph=True)
    with pytest.raises(ValueError, match="2-D"):
        net.fit(chunked(X[:, 0], ROWS), chunked(y), epochs=1, verbose=0)
    assert net.epochs_trained == 0 and net.optimizer.iterations == 0


def test_importing_xdnn_imports_no_dask():
    code = "import sys, xdnn; sys.exit(any(name.split('.')[0] in ('dask', 'distributed') for name in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- on the backend under test -------------------------------------------------------------------


def test_a_streamed_fit_runs_on_the_active_backend(backend):
    """Dask's NumPy chunks go to the active backend: the streamed fit there is its in-memory fit."""
    X, y = data("softmax", n=20)
    in_memory, streamed = network("softmax", l2=0.01), network("softmax", l2=0.01)
    in_memory.fit(X, y, epochs=2, batch_size=6, shuffle=False, verbose=0)
    streamed.fit(chunked(X, (9, 11)), chunked(y, (9, 11)), epochs=2, batch_size=6, shuffle=False, verbose=0)
    assert streamed.backend == backend.name
    assert_same_fit(in_memory, streamed, tolerance=1e-10)
    np.testing.assert_array_equal(streamed.predict(chunked(X, (9, 11))).compute(), xdnn.to_numpy(in_memory.predict(X)))


# --- estimators ----------------------------------------------------------------------------------

ESTIMATOR = dict(hidden_layer_sizes=(6,), random_state=0, shuffle=False, max_iter=4, batch_size=8, dtype="float64")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_classifier_fits_and_predicts_dask_arrays_as_in_memory_ones(numpy_backend):
    X, y = data("softmax", n=40)
    labels = np.array(["cat", "dog", "emu"], dtype=object)[y]
    in_memory = xdnn.MLPClassifier(**ESTIMATOR).fit(X, labels)
    streamed = xdnn.MLPClassifier(**ESTIMATOR).fit(chunked(X, (15, 25)), chunked(labels, (15, 25)))
    np.testing.assert_array_equal(streamed.classes_, in_memory.classes_)
    assert streamed.loss_curve_ == pytest.approx(in_memory.loss_curve_, rel=1e-12)
    for got, expected in zip(streamed.coefs_, in_memory.coefs_, strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    predicted = streamed.predict(chunked(X, (15, 25)))
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), in_memory.predict(X))
    probabilities = streamed.predict_proba(chunked(X, (15, 25)))
    assert isinstance(probabilities, da.Array) and probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.compute(), in_memory.predict_proba(X), rtol=1e-12)
    assert isinstance(streamed.predict_log_proba(chunked(X, (15, 25))), da.Array)
    assert streamed.score(chunked(X, (15, 25)), chunked(labels, (15, 25))) == in_memory.score(X, labels)
    # partial_fit: classes on the first call, then one epoch per call
    incremental = xdnn.MLPClassifier(**ESTIMATOR)
    incremental.partial_fit(chunked(X, (15, 25)), chunked(labels, (15, 25)), classes=["cat", "dog", "emu"])
    incremental.partial_fit(chunked(X, (15, 25)), chunked(labels, (15, 25)))
    assert incremental.n_iter_ == 1 and len(incremental.loss_curve_) == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_binary_classifier_predicts_two_probability_columns(numpy_backend):
    X, y = data("sigmoid", n=30)
    streamed = xdnn.MLPClassifier(**ESTIMATOR).fit(chunked(X, (10, 20)), chunked(y, (10, 20)))
    probabilities = streamed.predict_proba(chunked(X, (10, 20))).compute()
    assert probabilities.shape == (30, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_regressor_takes_dask_data_frames_and_keeps_their_column_names(numpy_backend):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = data("mse", n=40)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(target=y[:, 0])
    dask_frame = dd.from_pandas(frame, npartitions=3)
    features = ["a", "b", "c", "d"]
    in_memory = xdnn.MLPRegressor(**ESTIMATOR).fit(frame[features], frame["target"])
    streamed = xdnn.MLPRegressor(**ESTIMATOR).fit(dask_frame[features], dask_frame["target"])
    assert list(streamed.feature_names_in_) == features
    for got, expected in zip(streamed.coefs_, in_memory.coefs_, strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    predicted = streamed.predict(dask_frame[features])
    assert isinstance(predicted, da.Array)  # lazy: the partitions' lengths are not even computed
    np.testing.assert_allclose(predicted.compute(), in_memory.predict(frame[features]), rtol=1e-12)
    with pytest.raises(ValueError, match="feature names should match"):
        streamed.predict(dask_frame[["b", "a", "c", "d"]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        streamed.predict(chunked(X, (20, 20)))
    two = xdnn.MLPRegressor(**ESTIMATOR).fit(chunked(X, (20, 20)), chunked(y, (20, 20)))
    assert two.predict(chunked(X, (20, 20))).shape == (40, 2)


def test_early_stopping_with_dask_input_is_refused(numpy_backend):
    X, y = data("sigmoid")
    estimator = xdnn.MLPClassifier(early_stopping=True)
    with pytest.raises(ValueError, match="early_stopping=True"):
        estimator.fit(chunked(X), chunked(y))
    assert not hasattr(estimator, "network_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.partial_fit(chunked(X), chunked(y), classes=[0, 1])  # one epoch, no early stopping
    assert hasattr(estimator, "network_")
