"""xdnn.dask.data_parallel: a fit on a Dask cluster is the in-process fit (float64, 1e-10), and a
worker killed mid-fit ends in recovery or a clear error, never a half-applied step or a hang.

One LocalCluster of 2 worker processes (1 thread each) serves the module; the tests run in the
numpy session only (the workers compute on NumPy whatever the backend under test).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

import xdnn

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
da = pytest.importorskip("dask.array", reason="dask[array] is not installed")

from xdnn.dask.data_parallel import WorkerLostError, fit_data_parallel  # noqa: E402

TOLERANCE = 1e-10
UNEVEN = (37, 5, 58)  # rows of the three partitions of 100 samples
NETWORKS = {  # (layers and settings, targets) -- sigmoid/BCE, softmax, MSE
    "sigmoid": (dict(layers=[4, 6, 1], activation="tanh", optimizer="adam", learning_rate=0.01), "binary"),
    "softmax": (dict(layers=[4, 7, 3], optimizer="momentum", learning_rate=0.05, l2=0.01), "classes"),
    "mse": (dict(layers=[4, 5, 2], loss="mse", activation="tanh", optimizer="sgd", learning_rate=0.05), "regression"),
}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def cluster(backend, request):
    """The module's client, with its two workers up (a test may have killed one), numpy session only
    (the cluster is started by the first test that gets this far)."""
    if backend.name != "numpy":
        pytest.skip("the Dask cluster tests run in the numpy session (the workers compute on NumPy)")
    client = request.getfixturevalue("client")
    client.wait_for_workers(2, timeout=60)
    return client


def _data(kind: str, m: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 4))
    if kind == "binary":
        return X, (X[:, 0] + X[:, 1] > 0).astype(float)
    if kind == "classes":
        return X, np.digitize(X[:, 0] - X[:, 2], [-0.5, 0.5])
    return X, np.stack([X[:, 0] * X[:, 1], np.sin(X[:, 2])], axis=1)


def _network(kind: str = "sigmoid", **changes) -> xdnn.Network:
    settings, _ = NETWORKS[kind]
    settings = {**settings, **changes}
    return xdnn.Network(settings.pop("layers"), dtype="float64", seed=5, **settings)


def _dask(array, chunks, client=None, workers=None):
    """``array`` as a Dask array of row ``chunks``; with ``workers``, chunk ``i`` persisted on
    ``workers[i]`` (recomputed elsewhere if that worker dies)."""
    if workers is None:
        return da.from_array(array, chunks=(chunks,) + array.shape[1:])
    pieces, start = [], 0
    for rows, worker in zip(chunks, workers, strict=True):
        piece = da.from_array(array[start : start + rows], chunks=(rows,) + array.shape[1:])
        pieces.append(client.persist(piece, workers=[worker], allow_other_workers=True))
        start += rows
    return da.concatenate(pieces, axis=0)


def _largest_difference(first: xdnn.Network, second: xdnn.Network) -> float:
    assert first.parameters.keys() == second.parameters.keys()
    return max(float(np.max(np.abs(first.parameters[name] - second.parameters[name]))) for name in first.parameters)


def _assert_same_fit(reference: xdnn.Network, network: xdnn.Network, where: str) -> None:
    difference = _largest_difference(reference, network)
    assert difference < TOLERANCE, f"{where}: parameters differ by {difference:.3g}"
    assert network.optimizer.iterations == reference.optimizer.iterations, where
    assert network.epochs_trained == reference.epochs_trained, where
    assert reference.history.keys() == network.history.keys(), where
    for name, values in reference.history.items():
        np.testing.assert_allclose(network.history[name], values, rtol=0, atol=TOLERANCE, err_msg=f"{where}: {name}")


def _workers(client) -> list[str]:
    """The addresses of the workers up now (``scheduler_info`` may still list one killed a moment ago)."""
    return sorted(client.run(os.getpid))


def _replica_counts(client) -> list[int]:
    return list(client.run(lambda dask_worker: len(dask_worker.state.actors)).values())


def _wait_for_no_replicas(client, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while any(counts := _replica_counts(client)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return counts


# --- the same algorithm as the in-process fit ---------------------------------------------------


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "in-order"])
@pytest.mark.parametrize("kind", list(NETWORKS))
def test_matches_in_process_fit(cluster, kind, shuffle):
    """Uneven partitions (37, 5, 58 rows), batches of 16: the parameters and the history (loss,
    accuracy) of the in-process fit, within 1e-10 in float64."""
    X, y = _data(NETWORKS[kind][1])
    reference = _network(kind)
    reference.fit(X, y, epochs=4, batch_size=16, shuffle=shuffle, verbose=0)
    network = _network(kind)
    stats = {}
    history = fit_data_parallel(
        network, _dask(X, UNEVEN), _dask(y, UNEVEN), client=cluster, epochs=4, batch_size=16, shuffle=shuffle,
        verbose=0, stats=stats,
    )  # fmt: skip
    assert history is network.history
    _assert_same_fit(reference, network, f"{kind}, shuffle={shuffle}")
    assert stats["steps"] == stats["rounds"] == network.optimizer.iterations == 4 * 7
    assert stats["recoveries"] == 0
    assert _wait_for_no_replicas(cluster) == [0, 0], "the replicas outlive the fit"


def test_full_batch_with_validation_and_l2(cluster):
    """Full batch (every replica computes all its rows each step), L2, validation data (evaluated on
    the client, given as Dask arrays), and a second fit continuing the first, as in-process."""
    X, y = _data("classes")
    X_val, y_val = _data("classes", m=30, seed=1)
    reference = _network("softmax", optimizer="adam", learning_rate=0.02)
    network = _network("softmax", optimizer="adam", learning_rate=0.02)
    for _ in range(2):
        reference.fit(X, y, epochs=3, batch_size=None, validation_data=(X_val, y_val), verbose=0)
        fit_data_parallel(
            network, _dask(X, UNEVEN), _dask(y, UNEVEN), client=cluster, epochs=3, batch_size=None,
            validation_data=(_dask(X_val, (30,)), y_val), verbose=0,
        )  # fmt: skip
        _assert_same_fit(reference, network, "full batch")
    assert "val_loss" in network.history


def test_sample_weight_with_l2(cluster):
    """Weighted sums over the workers: the weighted in-process fit, L2's m being the batch's total
    weight; a partition of zero weights only adds nothing."""
    X, y = _data("binary")
    weights = np.random.default_rng(2).uniform(0.0, 3.0, size=100)
    weights[37:42] = 0.0  # the 5-row partition
    reference = _network("sigmoid", l2=0.05)
    reference.fit(X, y, epochs=3, batch_size=16, sample_weight=weights, verbose=0)
    network = _network("sigmoid", l2=0.05)
    fit_data_parallel(
        network, _dask(X, UNEVEN), _dask(y, UNEVEN), client=cluster, epochs=3, batch_size=16,
        sample_weight=_dask(weights, UNEVEN), verbose=0,
    )  # fmt: skip
    _assert_same_fit(reference, network, "sample_weight")


def test_data_frames_and_an_empty_partition(cluster):
    """A Dask DataFrame and Series (converted with their partitions' lengths), and an array whose row
    chunks include an empty one: the in-process fit."""
    dd = pytest.importorskip("dask.dataframe", reason="dask[dataframe] is not installed")
    pd = pytest.importorskip("pandas")
    X, y = _data("binary")
    reference = _network()
    reference.fit(X, y, epochs=2, batch_size=16, verbose=0)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=3)
    labels = dd.from_pandas(pd.Series(y), npartitions=3)
    network = _network()
    fit_data_parallel(network, frame, labels, client=cluster, epochs=2, batch_size=16, verbose=0)
    _assert_same_fit(reference, network, "data frames")
    with_empty = (37, 0, 5, 58)
    network = _network()
    fit_data_parallel(network, _dask(X, with_empty), _dask(y, with_empty), client=cluster, epochs=2, batch_size=16,
                      verbose=0)  # fmt: skip
    _assert_same_fit(reference, network, "an empty partition")


def test_batches_inside_one_worker_call_only_that_worker(cluster):
    """Two partitions on two different workers, batches in order within one partition: each step
    calls only the worker holding its rows (the other has none of them) -- one round trip a step."""
    workers = _workers(cluster)
    X, y = _data("binary")
    reference = _network()
    reference.fit(X, y, epochs=2, batch_size=25, shuffle=False, verbose=0)
    network = _network()
    stats = {}
    fit_data_parallel(
        network, _dask(X, (50, 50), cluster, workers), _dask(y, (50, 50), cluster, workers), client=cluster,
        epochs=2, batch_size=25, shuffle=False, verbose=0, stats=stats,
    )  # fmt: skip
    _assert_same_fit(reference, network, "batches within a partition")
    assert stats["workers"] == 2
    assert stats["rounds"] == stats["steps"] == stats["actor_calls"] == 8


def test_shuffled_batches_one_call_per_worker_per_step(cluster):
    """Shuffled batches over partitions on both workers: one concurrent round per step, at most one
    call per worker, parameters out and gradient sums back (their size each way per call)."""
    workers = _workers(cluster)
    chunks = (25, 25, 25, 25)
    X, y = _data("binary")
    network = _network()
    stats = {}
    fit_data_parallel(
        network, _dask(X, chunks, cluster, workers * 2), _dask(y, chunks, cluster, workers * 2), client=cluster,
        epochs=2, batch_size=20, verbose=0, stats=stats,
    )  # fmt: skip
    steps = stats["steps"]
    assert stats["workers"] == 2 and steps == stats["rounds"] == 10
    assert steps <= stats["actor_calls"] <= 2 * steps
    parameter_bytes = sum(value.nbytes for value in network.parameters.values())
    assert stats["bytes_received"] == parameter_bytes * stats["actor_calls"]
    assert stats["bytes_sent"] == parameter_bytes * stats["actor_calls"] + 8 * 100 * 2  # + the batches' rows
    assert 0 < stats["worker_seconds"] < stats["exchange_seconds"]


def test_network_fit_with_a_client_trains_on_the_cluster_and_predicts_there(cluster):
    """``network.fit`` of Dask arrays with a client active is this data-parallel fit (its default
    client is the module's); ``predict`` / ``predict_proba`` of a Dask array computed on the cluster
    give the in-memory predictions."""
    assert distributed.default_client() is cluster
    X, y = _data("classes")
    reference = _network("softmax")
    reference.fit(X, y, epochs=2, batch_size=16, verbose=0)
    network = _network("softmax")
    network.fit(_dask(X, UNEVEN), _dask(y, UNEVEN), epochs=2, batch_size=16, verbose=0)
    _assert_same_fit(reference, network, "network.fit with a client")
    assert _replica_counts(cluster) != [] and _wait_for_no_replicas(cluster) == [0, 0]
    labels = network.predict(_dask(X, UNEVEN))
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(cluster.compute(labels).result(), reference.predict(X))
    probabilities = cluster.compute(network.predict_proba(_dask(X, UNEVEN))).result()
    np.testing.assert_allclose(probabilities, reference.predict_proba(X), rtol=0, atol=TOLERANCE)


def test_client_passed_to_fit_is_used_and_refused_for_in_memory_data(cluster):
    """``fit(..., client=c)`` trains on that client's cluster; with in-memory data it is refused."""
    X, y = _data("binary")
    reference = _network("sigmoid")
    reference.fit(X, y, epochs=1, batch_size=16, verbose=0)
    network = _network("sigmoid")
    network.fit(_dask(X, UNEVEN), _dask(y, UNEVEN), epochs=1, batch_size=16, verbose=0, client=cluster)
    _assert_same_fit(reference, network, "network.fit(client=...)")
    with pytest.raises(ValueError, match="client= applies to Dask arrays"):
        _network("sigmoid").fit(X, y, epochs=1, verbose=0, client=cluster)


def test_divergence_rolls_back_as_in_process(cluster):
    """A learning rate that blows the cost up: the same epoch diverges, the same checkpoint is restored
    (Fit's rule: a non-finite cost read from the workers is never applied), the same warning."""
    X, y = _data("regression")
    y = y * 1e3

    def divergence(fit):
        network = _network("mse", learning_rate=50.0)
        with np.errstate(all="ignore"), pytest.warns(xdnn.DivergenceWarning) as warned:
            fit(network)
        return network, [str(item.message) for item in warned if item.category is xdnn.DivergenceWarning]

    reference, expected = divergence(lambda network: network.fit(X, y, epochs=20, batch_size=16, verbose=0))
    network, got = divergence(
        lambda network: fit_data_parallel(
            network, _dask(X, UNEVEN), _dask(y, UNEVEN), client=cluster, epochs=20, batch_size=16, verbose=0
        )
    )
    assert reference.diverged_epoch is not None and network.diverged_epoch == reference.diverged_epoch
    assert got == expected
    for name, value in reference.parameters.items():  # (costs and parameters grow to 1e100s: checked relatively)
        np.testing.assert_allclose(network.parameters[name], value, rtol=1e-10, atol=0, err_msg=name)
    assert network.optimizer.iterations == reference.optimizer.iterations
    np.testing.assert_allclose(network.history["loss"], reference.history["loss"], rtol=1e-10, atol=0)


# --- what it refuses ------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [dict(batch_norm=True), dict(dropout=0.2)], ids=["batch_norm", "dropout"])
def test_refuses_whole_batch_layers(cluster, changes):
    X, y = _data("binary")
    network = _network(**changes)
    with pytest.raises(ValueError, match="batch normalisation's statistics and dropout's masks"):
        fit_data_parallel(network, _dask(X, UNEVEN), _dask(y, UNEVEN), client=cluster, epochs=1, verbose=0)
    assert network.optimizer.iterations == 0


def test_refuses_bad_data_before_training(cluster):
    X, y = _data("binary")
    with pytest.raises(TypeError, match="must be a Dask array or data frame"):
        fit_data_parallel(_network(), X, y, client=cluster, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="different numbers of samples"):
        fit_data_parallel(_network(), _dask(X, UNEVEN), y[:-1], client=cluster, epochs=1, verbose=0)
    bad = y.copy()
    bad[60] = 2.0  # in the third partition (rows 42 to 99)
    network = _network()
    with pytest.raises(ValueError, match=r"rows 42 to 99: y must hold 0/1 labels"):
        fit_data_parallel(network, _dask(X, UNEVEN), _dask(bad, UNEVEN), client=cluster, epochs=1, verbose=0)
    assert network.optimizer.iterations == 0 and network.epochs_trained == 0
    assert _wait_for_no_replicas(cluster) == [0, 0]


# --- faults ---------------------------------------------------------------------------------------


class KillWorker:
    """At the end of epoch ``at``, kill (SIGKILL) the process of a worker holding a replica."""

    def __init__(self, client, at: int) -> None:
        self.client, self.at, self.killed = client, at, None

    def on_epoch_end(self, network, epoch, logs):
        if epoch == self.at:
            replicas = self.client.run(lambda dask_worker: (len(dask_worker.state.actors), os.getpid()))
            self.killed = min(address for address, (count, _) in replicas.items() if count)
            os.kill(replicas[self.killed][1], signal.SIGKILL)


def _spread(client, X, y):
    workers = _workers(client)
    chunks = (25, 25, 25, 25)
    return _dask(X, chunks, client, workers * 2), _dask(y, chunks, client, workers * 2)


def test_worker_killed_mid_fit_is_recovered(cluster):
    """A worker killed after epoch 1: its partitions are recomputed, the replicas placed again, the
    interrupted step run again, and the fit ends as the in-process one (within 1e-10)."""
    X, y = _data("binary")
    reference = _network()
    reference.fit(X, y, epochs=4, batch_size=16, verbose=0)
    network = _network()
    stats, killer = {}, KillWorker(cluster, at=1)
    began = time.monotonic()
    fit_data_parallel(
        network, *_spread(cluster, X, y), client=cluster, epochs=4, batch_size=16, verbose=0, stats=stats,
        callbacks=[killer], timeout=60,
    )  # fmt: skip
    assert killer.killed is not None
    assert stats["recoveries"] == 1
    assert time.monotonic() - began < 60
    _assert_same_fit(reference, network, "after a recovery")


def test_worker_killed_without_recovery_leaves_last_step_and_resumes(cluster):
    """With recovery off, a killed worker ends the fit with WorkerLostError naming it: the network is
    the in-process fit of the epochs completed (no half-applied step), and fitting it again resumes."""
    X, y = _data("binary")
    network = _network()
    killer = KillWorker(cluster, at=1)
    began = time.monotonic()
    with pytest.raises(WorkerLostError, match="was lost.*fit again to resume") as raised:
        fit_data_parallel(
            network, *_spread(cluster, X, y), client=cluster, epochs=4, batch_size=16, verbose=0,
            callbacks=[killer], max_recoveries=0, timeout=60,
        )  # fmt: skip
    assert time.monotonic() - began < 60
    assert killer.killed in str(raised.value)
    reference = _network()
    reference.fit(X, y, epochs=2, batch_size=16, verbose=0)
    _assert_same_fit(reference, network, "stopped by a lost worker")
    assert _wait_for_no_replicas(cluster) == [0] * len(_replica_counts(cluster))
    cluster.wait_for_workers(2, timeout=60)
    fit_data_parallel(network, *_spread(cluster, X, y), client=cluster, epochs=2, batch_size=16, verbose=0)
    assert network.epochs_trained == 4 and network.optimizer.iterations == 4 * 7
    assert len(network.history["loss"]) == 2 and network.parameters_finite()


@pytest.mark.skipif(
    not hasattr(signal, "SIGINT") or signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs Python's own SIGINT handler in this process",
)
def test_ctrl_c_stops_at_a_step_and_releases_the_replicas(cluster):
    """SIGINT during the fit: KeyboardInterrupt at the next step boundary, the network at a completed
    step (here the end of epoch 0), and no replica left on the workers."""

    class Interrupt:
        def on_epoch_end(self, network, epoch, logs):
            os.kill(os.getpid(), signal.SIGINT)

    X, y = _data("binary")
    network = _network()
    with pytest.raises(KeyboardInterrupt):
        fit_data_parallel(
            network, _dask(X, UNEVEN), _dask(y, UNEVEN), client=cluster, epochs=3, batch_size=16, verbose=0,
            callbacks=[Interrupt()],
        )  # fmt: skip
    reference = _network()
    reference.fit(X, y, epochs=1, batch_size=16, verbose=0)
    _assert_same_fit(reference, network, "interrupted")
    assert _wait_for_no_replicas(cluster) == [0, 0]
