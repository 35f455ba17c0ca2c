"""Tests for ``xdnn/callbacks.py``: History, EarlyStopping, the progress bar and print_cost.

Early stopping is checked against an uninterrupted run of the same seeded network
(callbacks do not change training, so the stopped run must be a prefix of it) and
against weights recorded at every epoch by a callback written here.
"""

from __future__ import annotations

import io
import math
import re
import sys

import numpy as np
import pytest

import xdnn
from xdnn.callbacks import History, PrintCost, ProgressBar


def make_data(seed=0, m=40, n_val=30, flip_validation=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m + n_val, 2))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.normal(size=m + n_val) > 0).astype(np.int64)
    y_val = 1 - y[m:] if flip_validation else y[m:]
    return X[:m], y[:m], X[m:], y_val


def host(value):
    return np.asarray(xdnn.to_numpy(value))


class RecordWeights(xdnn.Callback):
    """Host copies of the parameters at the end of every epoch (and at the start of training)."""

    def on_train_begin(self, network):
        self.start = self._copy(network)
        self.epochs = []

    def on_epoch_end(self, network, epoch, logs):
        self.epochs.append(self._copy(network))

    @staticmethod
    def _copy(network):
        return {name: host(value).copy() for name, value in network.parameters.items()}


def assert_weights_equal(actual, expected, backend):
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(host(actual[name]), value, err_msg=f"{name} ({backend.name})")


def new_network(seed=0, learning_rate=0.05):
    return xdnn.Network([2, 6, 1], activation="tanh", optimizer="adam", learning_rate=learning_rate, seed=seed)


def train(to_device, data, epochs, callbacks=(), seed=0, batch_size=None, learning_rate=0.05):
    X, y, X_val, y_val = data
    net = new_network(seed, learning_rate)
    history = net.fit(
        to_device(X),
        to_device(y),
        epochs=epochs,
        batch_size=batch_size,
        validation_data=(to_device(X_val), to_device(y_val)),
        callbacks=list(callbacks),
        verbose=0,
    )
    return net, history


def first_stop(values, patience, min_delta, maximize):
    """Keras' rule on a finished run: ``(stopped epoch or None, best epoch)``."""
    best, best_epoch, wait = (-math.inf if maximize else math.inf), None, 0
    for epoch, value in enumerate(values):
        improved = value > best + min_delta if maximize else value < best - min_delta
        if improved:
            best, best_epoch, wait = value, epoch, 0
            continue
        wait += 1
        if wait >= patience:
            return epoch, best_epoch
    return None, best_epoch


# --- History --------------------------------------------------------------------------------------


def test_history_is_a_dict_of_lists_per_epoch():
    history = History()
    history.record(0, {"loss": 0.5, "accuracy": 0.75})
    history.record(1, {"loss": 0.25, "accuracy": 1.0})
    assert isinstance(history, dict) and history.history is history
    assert history == {"loss": [0.5, 0.25], "accuracy": [0.75, 1.0]} and history.epoch == [0, 1]


def test_fit_returns_a_fresh_history_per_call(backend, to_device):
    data = make_data()
    net, history = train(to_device, data, epochs=3)
    assert history is net.history and history.epoch == [0, 1, 2], backend.name
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in history.values())
    X, y, X_val, y_val = data
    second = net.fit(to_device(X), to_device(y), epochs=2, batch_size=None, verbose=0)
    assert second is net.history and second is not history
    assert second.epoch == [0, 1] and set(second) == {"loss", "accuracy"} and len(history["loss"]) == 3
    assert net.epochs_trained == 5
    assert xdnn.Network([2, 1]).history == {}


# --- EarlyStopping ----------------------------------------------------------------------------------


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch(backend, to_device):
    """Validation labels flipped: the validation loss rises as training fits, so epoch 0 is best."""
    data = make_data(flip_validation=True)
    _, full = train(to_device, data, epochs=8)
    assert full["val_loss"][0] == min(full["val_loss"]), "setup: the flipped validation loss should only rise"
    recorder = RecordWeights()
    stopper = xdnn.EarlyStopping("val_loss", patience=3, restore_best_weights=True)
    net, history = train(to_device, data, epochs=20, callbacks=[recorder, stopper])
    assert history.epoch == [0, 1, 2, 3] and stopper.stopped_epoch == 3 and stopper.best_epoch == 0, backend.name
    assert net.stop_training and net.epochs_trained == 4
    np.testing.assert_array_equal(history["val_loss"], full["val_loss"][:4])
    assert_weights_equal(net.parameters, recorder.epochs[0], backend)


@pytest.mark.parametrize(
    ("monitor", "mode", "patience", "min_delta"),
    [
        ("val_loss", "auto", 2, 0.0),
        ("val_loss", "min", 1, 0.002),
        ("loss", "auto", 2, 0.01),
        ("val_accuracy", "auto", 2, 0.0),
        ("val_accuracy", "max", 3, 0.02),
        ("val_accuracy", "min", 2, 0.0),
    ],
)
def test_early_stopping_follows_the_uninterrupted_run(backend, to_device, monitor, mode, patience, min_delta):
    """Shuffled mini-batches at a high rate: the monitored values go up and down."""
    data, epochs, noisy = make_data(seed=3), 15, {"seed": 1, "batch_size": 8, "learning_rate": 0.1}
    _, full = train(to_device, data, epochs=epochs, **noisy)
    maximize = mode == "max" or (mode == "auto" and "accuracy" in monitor)
    stop, best = first_stop(full[monitor], patience, min_delta, maximize)
    recorder = RecordWeights()
    stopper = xdnn.EarlyStopping(monitor, patience=patience, min_delta=min_delta, mode=mode)
    net, history = train(to_device, data, epochs=epochs, callbacks=[recorder, stopper], **noisy)
    ran = epochs if stop is None else stop + 1
    assert len(history[monitor]) == ran and stopper.stopped_epoch == stop, (backend.name, full[monitor])
    assert stopper.best_epoch == best
    np.testing.assert_array_equal(history[monitor], full[monitor][:ran])
    assert_weights_equal(net.parameters, recorder.epochs[best], backend)


def test_early_stopping_mode_auto_maximises_accuracy(backend, to_device):
    """A learnable problem from a poor start: validation accuracy climbs, so "min" stops at once."""
    data = make_data(seed=3)
    runs = {}
    for mode in ("auto", "max", "min"):
        stopper = xdnn.EarlyStopping("val_accuracy", patience=2, mode=mode)
        _, history = train(to_device, data, epochs=15, callbacks=[stopper], seed=1)
        runs[mode] = (len(history["val_accuracy"]), stopper.best_epoch)
    assert runs["auto"] == runs["max"], backend.name
    assert runs["min"] != runs["max"], runs


def test_min_delta_larger_than_any_change_stops_after_patience(backend, to_device):
    recorder = RecordWeights()
    stopper = xdnn.EarlyStopping("val_loss", patience=2, min_delta=1e6)
    net, history = train(to_device, make_data(), epochs=10, callbacks=[recorder, stopper])
    assert history.epoch == [0, 1, 2] and stopper.best_epoch == 0, backend.name
    assert_weights_equal(net.parameters, recorder.epochs[0], backend)


def test_without_restore_the_last_weights_stay(backend, to_device):
    recorder = RecordWeights()
    stopper = xdnn.EarlyStopping("val_loss", patience=2, restore_best_weights=False)
    net, history = train(to_device, make_data(flip_validation=True), epochs=10, callbacks=[recorder, stopper])
    assert history.epoch == [0, 1, 2] and stopper.best_weights is None, backend.name
    assert_weights_equal(net.parameters, recorder.epochs[-1], backend)
    assert not np.array_equal(recorder.epochs[-1]["W1"], recorder.epochs[0]["W1"])


def test_restored_weights_include_the_optimizer_state(backend, to_device):
    stopper = xdnn.EarlyStopping("val_loss", patience=2)
    net, _ = train(to_device, make_data(flip_validation=True), epochs=10, callbacks=[stopper])
    assert net.optimizer.iterations == 1  # best epoch 0: one full-batch step
    reference = new_network()
    X, y, _, _ = make_data(flip_validation=True)
    reference.fit(to_device(X), to_device(y), epochs=1, batch_size=None, verbose=0)
    for name, value in reference.optimizer.state.items():
        np.testing.assert_array_equal(host(net.optimizer.state[name]), host(value), err_msg=name)


def test_early_stopping_errors(backend, to_device):
    with pytest.raises(ValueError, match="mode must be"):
        xdnn.EarlyStopping(mode="largest")
    X, y, _, _ = make_data()
    net = new_network()
    before = {name: host(value).copy() for name, value in net.parameters.items()}
    with pytest.raises(ValueError, match=r"val_loss.*validation_data"):
        net.fit(to_device(X), to_device(y), epochs=3, callbacks=[xdnn.EarlyStopping("val_loss")], verbose=0)
    # refused before anything changed: no epoch trained, parameters and optimizer untouched
    assert net.epochs_trained == 0 and net.optimizer.iterations == 0 and net.history == {}
    assert_weights_equal(net.parameters, before, backend)
    with pytest.raises(ValueError, match="val_accuracy"):
        net.fit(to_device(X), to_device(y), epochs=1, callbacks=[xdnn.EarlyStopping("val_accuracy")], verbose=0)
    assert net.epochs_trained == 0
    with pytest.raises(ValueError, match=r"'val_acc' but each epoch only logs .*'val_loss'.*monitor one of those"):
        net.fit(
            to_device(X), to_device(y), epochs=1, validation_data=(to_device(X), to_device(y)),
            callbacks=[xdnn.EarlyStopping("val_acc")], verbose=0,
        )  # fmt: skip
    assert net.epochs_trained == 0


# --- custom callbacks -----------------------------------------------------------------------------


def test_callbacks_see_each_epoch_and_can_stop_training(backend, to_device):
    calls = []

    class StopAtEpochTwo:  # duck typing: no base class needed, hooks are optional
        def on_train_begin(self, network):
            calls.append(("begin", network.epochs_trained))

        def on_epoch_end(self, network, epoch, logs):
            calls.append(("epoch", epoch, sorted(logs)))
            assert logs["loss"] == network.history["loss"][-1]
            if epoch == 2:
                network.stop_training = True

        def on_train_end(self, network):
            calls.append(("end", network.epochs_trained))

    class OnlyEpochs:
        def on_epoch_end(self, network, epoch, logs):
            calls.append(("only", epoch))

    net, history = train(to_device, make_data(), epochs=10, callbacks=[StopAtEpochTwo(), OnlyEpochs()])
    keys = ["accuracy", "loss", "val_accuracy", "val_loss"]
    epochs = [call for call in calls if call[0] in ("epoch", "only")]
    assert calls[0] == ("begin", 0) and calls[-1] == ("end", 3), backend.name
    assert epochs == [("epoch", 0, keys), ("only", 0), ("epoch", 1, keys), ("only", 1), ("epoch", 2, keys), ("only", 2)]
    assert history.epoch == [0, 1, 2]


# --- progress bar and print_cost ------------------------------------------------------------------


def test_progress_bar_shows_cost_and_accuracy(backend, to_device, capsys):
    pytest.importorskip("tqdm")
    X, y, X_val, y_val = make_data()
    net = new_network()
    history = net.fit(
        to_device(X), to_device(y), epochs=3, batch_size=None, validation_data=(to_device(X_val), to_device(y_val))
    )  # verbose=1 is the default
    captured = capsys.readouterr()
    assert captured.out == "", backend.name
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert f"{name}={history[name][-1]:.4g}" in captured.err, (name, captured.err)
    assert "3/3" in captured.err


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_without_tqdm_writes_plain_lines(backend, to_device, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # "import tqdm.auto" now raises ImportError
    X, y, _, _ = make_data()
    net = new_network()
    history = net.fit(to_device(X), to_device(y), epochs=3, batch_size=None, verbose=1)
    err = capsys.readouterr().err  # not a terminal: whole lines, never a carriage return
    last = f"epoch 3/3 - loss: {history['loss'][-1]:.4g} - accuracy: {history['accuracy'][-1]:.4g}\n"
    assert err.endswith(last) and "\r" not in err, (err, backend.name)
    assert err.startswith(f"epoch 1/3 - loss: {history['loss'][0]:.4g}"), err


def test_plain_progress_line_on_a_terminal_is_rewritten_without_stale_characters(backend, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    net = new_network()
    stream = _Terminal()
    bar = ProgressBar(10, stream=stream)
    bar.on_train_begin(net)
    bar.on_epoch_end(net, 0, {"loss": 0.123456})
    bar.on_epoch_end(net, 1, {"loss": 0.5})
    net.stop_training = True  # stopped early: the line still ends
    bar.on_train_end(net)
    first, second = "epoch 1/10 - loss: 0.1235", "epoch 2/10 - loss: 0.5"
    assert stream.getvalue() == "\r" + first + "\r" + second.ljust(len(first)) + "\n"


def test_plain_progress_to_a_file_prints_about_ten_lines(backend, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    net = new_network()
    stream = io.StringIO()
    bar = ProgressBar(100, stream=stream)
    bar.on_train_begin(net)
    for epoch in range(100):
        bar.on_epoch_end(net, epoch, {"loss": 1.0 / (epoch + 1)})
    bar.on_train_end(net)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [f"{n}/100" for n in range(10, 101, 10)], lines


def test_verbose_zero_prints_nothing(backend, to_device, capfd):
    X, y, X_val, y_val = make_data()
    net = new_network()
    net.fit(to_device(X), to_device(y), epochs=3, validation_data=(to_device(X_val), to_device(y_val)), verbose=0)
    net.predict(to_device(X_val))
    net.evaluate(to_device(X_val), to_device(y_val))
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == "", backend.name


COST_LINE = re.compile(r"^Cost after iteration (\d+): (\d+\.\d{6})$")


@pytest.mark.parametrize(("epochs", "every", "printed"), [(5, 2, [0, 2, 4]), (6, 2, [0, 2, 4, 5]), (3, 100, [0, 2])])
def test_print_cost_prints_the_tutorial_lines(backend, to_device, capsys, epochs, every, printed):
    X, y, _, _ = make_data()
    net = new_network()
    history = net.fit(
        to_device(X), to_device(y), epochs=epochs, batch_size=None, verbose=0, print_cost=True, print_every=every
    )
    lines = capsys.readouterr().out.splitlines()
    assert [COST_LINE.match(line) is not None for line in lines] == [True] * len(printed), lines
    assert [int(COST_LINE.match(line).group(1)) for line in lines] == printed, backend.name
    assert lines == ["Cost after iteration %i: %f" % (i, history["loss"][i]) for i in printed]


def test_print_cost_starts_near_log_two_like_the_tutorial(backend, to_device, capsys):
    """Small initial weights (the tutorial's ``randn * 0.01``) give A = 1/2: cost log 2 = 0.693147."""
    X, y, _, _ = make_data()
    balanced = np.concatenate([np.flatnonzero(y == 0)[:15], np.flatnonzero(y == 1)[:15]])
    net = xdnn.Network([2, 4, 1], activation="tanh", initialization="small", optimizer="sgd", dtype="float64", seed=1)
    net.fit(to_device(X[balanced]), to_device(y[balanced]), epochs=1, verbose=0, print_cost=True)
    line = capsys.readouterr().out.strip()
    assert COST_LINE.match(line) and line.startswith("Cost after iteration 0: 0.6931"), (line, backend.name)


def test_print_cost_writes_to_a_given_stream(backend, to_device):
    stream = io.StringIO()
    printer = PrintCost(every=1, stream=stream, epochs=2)
    X, y, _, _ = make_data()
    net = new_network()
    history = net.fit(to_device(X), to_device(y), epochs=2, callbacks=[printer], verbose=0)
    assert stream.getvalue() == "".join("Cost after iteration %i: %f\n" % (i, history["loss"][i]) for i in (0, 1))
