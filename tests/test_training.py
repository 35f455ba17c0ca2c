"""xdnn.training: overflow is divergence, and a failure part-way through a step or a callback
leaves the network consistent (the step applied in full or not at all, the history intact)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import xdnn
from xdnn.callbacks import Callback
from xdnn.training import DivergenceWarning


def _arrays(network):
    weights = network.get_weights()
    arrays = {f"{group}/{name}": xdnn.to_numpy(value) for group in ("parameters", "state", "optimizer")
              for name, value in weights[group].items()}  # fmt: skip
    return arrays, weights["optimizer_iterations"]


def _assert_unchanged(before, network, where):
    arrays, iterations = _arrays(network)
    assert iterations == before[1], where
    assert arrays.keys() == before[0].keys(), where
    for name, value in arrays.items():
        np.testing.assert_array_equal(value, before[0][name], err_msg=f"{where}: {name}")


def _assert_consistent(network, epochs_before, where):
    """The invariants every fit leaves, however it ends: finite parameters, a history of exactly the
    epochs counted, and (full batch here) one optimizer step per epoch."""
    assert network.parameters_finite(), where
    trained = network.epochs_trained - epochs_before
    assert trained >= 0 and len(network.history.epoch) == trained, (where, trained, network.history.history)


def _fit_recording(network, *arguments, **keywords):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network.fit(*arguments, verbose=0, **keywords)
    return [str(item.message) for item in caught if issubclass(item.category, DivergenceWarning)]


# --- overflow is divergence -------------------------------------------------------------------


@pytest.mark.parametrize("dtype, target", [("float64", 1e154), ("float32", 3e19)])
def test_costs_whose_sum_overflows_take_the_divergence_path(backend, dtype, target):
    """Each batch's cost is finite (target^2 / 2 fits the dtype) but the first updates make the next
    ones, or the epoch's sum of them, overflow: a warning, a rollback and a consistent history --
    not an internal error (reported: AttributeError, epochs_trained=1 with an empty history)."""
    for epochs in (1, 3, 100):
        network = xdnn.Network([1, 1], output_activation="identity", dtype=dtype, seed=0)
        before = _arrays(network)
        messages = _fit_recording(network, np.ones((64, 1)), np.full(64, target), epochs=epochs, batch_size=1)
        where = f"[{backend.name}] {dtype} epochs={epochs}"
        assert len(messages) == 1 and "diverged at epoch 0" in messages[0], (where, messages)
        assert network.diverged_epoch == 0 and network.epochs_trained == 0, where
        _assert_consistent(network, 0, where)
        _assert_unchanged(before, network, where)  # back to where it started: no cost of epoch 0 summed finite
        network.fit(np.ones((8, 1)), np.ones(8), epochs=2, verbose=0)  # usable: training goes on
        assert network.epochs_trained == 2


def test_an_overflowing_l2_penalty_is_divergence(backend):
    network = xdnn.Network([3, 4, 1], l2=1e308, dtype="float64", seed=0)
    X = np.random.default_rng(0).standard_normal((32, 3))
    messages = _fit_recording(network, X, (X[:, 0] > 0).astype(int), epochs=5, batch_size=8)
    assert messages and network.diverged_epoch is not None, backend.name
    _assert_consistent(network, 0, backend.name)


def test_the_estimator_reports_an_overflowing_fit_as_scikit_learn_does(backend):
    regressor = xdnn.MLPRegressor(hidden_layer_sizes=(2,), batch_size=1, max_iter=3, random_state=0)
    with pytest.raises(ValueError, match="non-finite"), pytest.warns(DivergenceWarning):
        regressor.fit(np.ones((64, 1)), np.full(64, 1e154))


# --- callbacks that raise ---------------------------------------------------------------------


class _RaiseAt(Callback):
    def __init__(self, hook: str, epoch: int = 0) -> None:
        self.hook, self.epoch = hook, epoch

    def on_train_begin(self, network):
        if self.hook == "on_train_begin":
            raise RuntimeError("from on_train_begin")

    def on_epoch_end(self, network, epoch, logs):
        if self.hook == "on_epoch_end" and epoch == self.epoch:
            raise RuntimeError("from on_epoch_end")


def _trained(seed=0):
    X = np.random.default_rng(seed).standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    network = xdnn.Network([3, 5, 1], seed=seed)
    network.fit(X, y, epochs=3, verbose=0)
    return network, X, y


def test_a_callback_raising_at_train_begin_keeps_the_last_fits_history(backend):
    network, X, y = _trained()
    history = network.history
    before = _arrays(network)
    with pytest.raises(RuntimeError, match="on_train_begin"):
        network.fit(X, y, epochs=2, callbacks=[_RaiseAt("on_train_begin")], verbose=0)
    assert network.history is history and len(history.epoch) == 3 and network.epochs_trained == 3, backend.name
    _assert_unchanged(before, network, backend.name)


def test_a_callback_raising_at_an_epoch_end_keeps_the_epochs_recorded(backend):
    network, X, y = _trained()
    with pytest.raises(RuntimeError, match="on_epoch_end"):
        network.fit(X, y, epochs=5, batch_size=None, callbacks=[_RaiseAt("on_epoch_end", epoch=2)], verbose=0)
    assert network.epochs_trained == 6 and network.history.epoch == [0, 1, 2], backend.name
    assert network.optimizer.iterations == 3 * 2 + 3  # three epochs of two steps, then three full-batch steps


# --- a step that fails part-way ---------------------------------------------------------------


def test_an_optimizer_rule_failing_for_one_parameter_applies_nothing(backend):
    """A rule of the user's own raising for the second parameter: no parameter, state array or
    counter moves (the rule's new arrays are put in place only once every one is computed)."""

    calls = {"count": 0}

    def flaky_rule(W, dW, v, *, learning_rate, xp):
        calls["count"] += 1
        if calls["count"] == 6:  # the second parameter of the second step
            raise ArithmeticError("rule failed")
        v = 0.5 * v + dW
        return W - learning_rate * v, v

    class Flaky(xdnn.optimizers.Optimizer):
        name, slots, rule = "flaky", ("v",), staticmethod(flaky_rule)

    network, X, y = _trained()
    network.optimizer = Flaky()
    network.fit(X, y, epochs=1, batch_size=None, verbose=0)  # the first step: 4 parameters
    before = _arrays(network)
    with pytest.raises(ArithmeticError, match="rule failed"):
        network.fit(X, y, epochs=1, batch_size=None, verbose=0)
    _assert_unchanged(before, network, backend.name)
    assert network.epochs_trained == 4


def test_a_loss_failing_part_way_leaves_the_running_statistics_as_they_were(backend):
    """Batch normalisation's forward replaces its running statistics before the loss is taken: a
    failure after it puts them back, so the step is not half applied."""

    X = np.random.default_rng(1).standard_normal((32, 3))
    y = (X[:, 0] > 0).astype(int)
    network = xdnn.Network([3, 4, 1], batch_norm=True, seed=0)
    network.fit(X, y, epochs=2, verbose=0)
    before = _arrays(network)
    original = network.loss

    def failing(*arguments, **keywords):
        raise FloatingPointError("loss failed")

    network.loss = dataclasses.replace(original, cost=failing)
    with pytest.raises(FloatingPointError, match="loss failed"):
        network.fit(X, y, epochs=1, batch_size=None, verbose=0)
    network.loss = original
    _assert_unchanged(before, network, backend.name)
    assert network.epochs_trained == 2 and len(network.history.epoch) == 2  # nothing trained: the last fit's
