"""xdnn.interrupts: a real Ctrl-C (SIGINT) during fit never leaves a step half applied."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest

import xdnn
from xdnn.interrupts import DeferredInterrupt

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGINT") or signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs Python's own SIGINT handler in this process",
)

M, BATCH = 96, 4  # 24 steps an epoch: much of the time in the updates


def _data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((M, 4))
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


def _network():
    # Adam over five parameter arrays: a torn step would leave some of them (or Adam's state) a step ahead.
    return xdnn.Network([4, 16, 8, 1], optimizer="adam", learning_rate=0.01, dtype="float64", seed=3)


def _arrays(network):
    weights = network.get_weights()
    return {f"{group}/{name}": xdnn.to_numpy(value) for group in ("parameters", "optimizer")
            for name, value in weights[group].items()}  # fmt: skip


def _after_steps(steps: int):
    """A network trained exactly ``steps`` steps without interruption (the batches are taken in order;
    a last partial epoch runs as a shorter fit, whose products may round a last bit differently)."""
    X, y = _data()
    network = _network()
    epochs, rest = divmod(steps, M // BATCH)
    if epochs:
        network.fit(X, y, epochs=epochs, batch_size=BATCH, shuffle=False, verbose=0)
    if rest:  # the first `rest` batches of the next epoch
        network.fit(X[: rest * BATCH], y[: rest * BATCH], epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    return network


def test_ctrl_c_at_random_moments_leaves_whole_steps(backend):
    """40 SIGINTs sent at random moments of a fit (6 on JAX, which compiles each replay's shapes): each
    leaves the network exactly as an uninterrupted fit of as many steps as it counts, with a history of
    its completed epochs.  (Before steps were made atomic, 60 of 100 such interrupts tore a step on
    array-api-strict, whose updates are slow Python.)"""
    X, y = _data()
    rng = np.random.default_rng(0)
    _network().fit(X, y, epochs=2, batch_size=BATCH, shuffle=False, verbose=0)  # compile / warm up
    references: dict[int, dict] = {}
    interrupted = 0
    trials = 6 if backend.name == "jax" else 40
    for trial in range(trials):
        network = _network()
        timer = threading.Timer(rng.uniform(0.0, 0.03), os.kill, (os.getpid(), signal.SIGINT))
        try:
            timer.start()
            network.fit(X, y, epochs=100_000, batch_size=BATCH, shuffle=False, verbose=0)
        except KeyboardInterrupt:
            interrupted += 1
        finally:
            timer.join()
        steps = network.optimizer.iterations
        assert network.epochs_trained == steps // (M // BATCH), f"[{backend.name}] trial {trial}"
        assert len(network.history.epoch) == network.epochs_trained, f"[{backend.name}] trial {trial}"
        if steps not in references:
            references[steps] = _arrays(_after_steps(steps))
        got = _arrays(network)
        for name, expected in references[steps].items():  # (a step moves each parameter by about 1e-2)
            np.testing.assert_allclose(
                got[name], expected, rtol=1e-9, atol=1e-12, err_msg=f"[{backend.name}] trial {trial}: {name}"
            )
        network.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)  # still usable: training goes on from there
        assert network.optimizer.iterations == steps + M // BATCH
    assert interrupted == trials


def test_an_interrupt_is_held_until_delivered_and_then_raised():
    with pytest.raises(KeyboardInterrupt):
        with DeferredInterrupt() as interrupts:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs between bytecodes: it has run by now
                pass
            assert interrupts.held is not None  # held, not raised
            interrupts.deliver()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_after_the_last_step_is_raised_when_the_block_ends():
    with pytest.raises(KeyboardInterrupt):
        with DeferredInterrupt():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_programs_own_handler_is_called_and_restored():
    calls = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with DeferredInterrupt() as interrupts:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
            assert calls == []
            interrupts.deliver()
            assert calls == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_nothing_is_replaced():
    seen = []

    def run():
        with DeferredInterrupt() as interrupts:
            seen.append(interrupts.previous)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [None]
