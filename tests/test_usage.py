"""xdnn.usage: one fit at a time per network, reads refused from other threads during it."""

from __future__ import annotations

import copy
import pickle
import threading

import numpy as np
import pytest

import xdnn
from xdnn.callbacks import Callback
from xdnn.usage import NetworkBusyError, UsageGuard


def _data(seed: int = 0, m: int = 64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 3))
    return X, (X[:, 0] > 0).astype(int)


class _Gate(Callback):
    """Holds the fit at its first epoch's end until ``release`` is set (``reached`` says it is there)."""

    def __init__(self) -> None:
        self.reached, self.release = threading.Event(), threading.Event()

    def on_epoch_end(self, network, epoch, logs):
        if epoch == 0:
            self.reached.set()
            assert self.release.wait(30)


def _fit_in_thread(network, X, y, gate):
    errors: list[BaseException] = []

    def run():
        try:
            network.fit(X, y, epochs=2, batch_size=16, callbacks=[gate], verbose=0)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    assert gate.reached.wait(30), "the fit never reached its first epoch's end"
    return thread, errors


def test_a_second_fit_from_another_thread_is_refused_and_the_first_completes(backend):
    X, y = _data()
    network = xdnn.Network([3, 4, 1], seed=0)
    gate = _Gate()
    thread, errors = _fit_in_thread(network, X, y, gate)
    try:
        with pytest.raises(NetworkBusyError, match="being trained"):
            network.fit(X, y, epochs=1, verbose=0)
        for call in (network.predict, network.predict_proba):
            with pytest.raises(NetworkBusyError, match=call.__name__):
                call(X)
        with pytest.raises(NetworkBusyError, match="evaluate"):
            network.evaluate(X, y)
        with pytest.raises(NetworkBusyError):
            network.get_weights()
    finally:
        gate.release.set()
        thread.join(60)
    assert not errors, f"[{backend.name}] the running fit failed: {errors!r}"
    assert network.epochs_trained == 2 and len(network.history.epoch) == 2
    network.fit(X, y, epochs=1, verbose=0)  # free again once the first returned
    assert network.epochs_trained == 3


def test_concurrent_fits_end_in_one_success_and_one_clear_error(backend):
    """40 races of two threads calling fit at once: never an internal error."""
    X, y = _data()
    outcomes = {"ok": 0, "busy": 0}

    def run(network, barrier, errors):
        barrier.wait()
        try:
            network.fit(X, y, epochs=2, batch_size=32, verbose=0)
            outcomes["ok"] += 1
        except NetworkBusyError:
            outcomes["busy"] += 1
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    for attempt in range(40):
        network, barrier, errors = xdnn.Network([3, 4, 1], seed=attempt), threading.Barrier(2), []
        threads = [threading.Thread(target=run, args=(network, barrier, errors)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, f"[{backend.name}] attempt {attempt}: {errors!r}"
        trained = network.epochs_trained
        assert trained in (2, 4) and len(network.history.epoch) == 2, f"[{backend.name}] attempt {attempt}"
    assert outcomes["ok"] + outcomes["busy"] == 80 and outcomes["ok"] >= 40


def test_a_fit_from_a_callback_of_the_running_fit_is_refused(backend):
    X, y = _data()
    network = xdnn.Network([3, 4, 1], seed=0)

    class Refit(Callback):
        def on_epoch_end(self, network, epoch, logs):
            network.fit(X, y, epochs=1, verbose=0)

    with pytest.raises(NetworkBusyError, match="called from inside it"):
        network.fit(X, y, epochs=2, callbacks=[Refit()], verbose=0)
    assert network.epochs_trained == 1 and len(network.history.epoch) == 1
    network.fit(X, y, epochs=1, verbose=0)  # the guard was released
    assert network.epochs_trained == 2


def test_callbacks_of_the_running_fit_may_read_and_set_weights(backend):
    X, y = _data()
    network = xdnn.Network([3, 4, 1], seed=0)
    seen = []

    class ReadAndRestore(Callback):
        def on_epoch_end(self, network, epoch, logs):
            seen.append(xdnn.to_numpy(network.predict_proba(X)))
            network.set_weights(network.get_weights())

    network.fit(X, y, epochs=2, callbacks=[ReadAndRestore()], verbose=0)
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[-1], xdnn.to_numpy(network.predict_proba(X)))


def test_predict_from_eight_threads_equals_single_threaded(backend):
    X, y = _data()
    network = xdnn.Network([3, 8, 1], seed=0)
    network.fit(X, y, epochs=3, verbose=0)
    expected = xdnn.to_numpy(network.predict_proba(X))
    results, errors = [], []

    def run():
        try:
            for _ in range(25):
                results.append(xdnn.to_numpy(network.predict_proba(X)))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(results) == 200
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_a_fit_waits_for_reads_already_in_progress():
    guard = UsageGuard()
    order = []
    with guard.reading("predict"):
        thread = threading.Thread(target=lambda: guard.exclusive("fit").__enter__() or order.append("fit"))
        thread.start()
        thread.join(0.2)
        assert thread.is_alive() and not order  # waiting for the read
        order.append("read done")
    thread.join(10)
    assert order == ["read done", "fit"]


def test_guards_copy_and_pickle_fresh():
    network = xdnn.Network([3, 2, 1], seed=0)
    for clone in (copy.deepcopy(network), pickle.loads(pickle.dumps(network))):
        assert clone.usage_guard is not network.usage_guard
        clone.fit(*_data(), epochs=1, verbose=0)
    unbuilt = xdnn.Network([xdnn.layers.Dense(2), xdnn.layers.Dense(1, activation="sigmoid")])
    assert isinstance(pickle.loads(pickle.dumps(unbuilt)).usage_guard, UsageGuard)
