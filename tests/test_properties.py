"""Property tests (hypothesis) of ``xdnn.Network``'s public API, on the selected backend.

1. A call given bad input -- ``fit``, ``predict``, ``predict_proba``, ``evaluate``, ``set_weights`` --
   raises ``ValueError`` or ``TypeError`` with a message that names the argument, and the network
   keeps every bit it had: parameters, running statistics, optimizer state and step count, epochs
   trained, history and random streams.  Inference on finite input of any magnitude returns finite
   values or raises ``ValueError``, and changes nothing either way.
2. ``save`` then ``xdnn.load`` gives the same network bit for bit: arrays (and dtypes), counters,
   predictions, and training continued on both.
3. Backprop's gradients match two-sided finite differences (``Network.gradient_check``), and, through
   the public API alone, one full-batch SGD step ``(W - W_new) / learning_rate`` matches central
   differences of ``evaluate``'s loss.

Architectures are drawn from a small space (1-3 hidden layers of 1-8 units; sigmoid, softmax and
identity outputs; optional L2, batch norm and dropout; float32/float64) and trained on one fixed
12 x 3 data set, so that JAX meets few shapes.  Examples are derandomised (the same on every run) and
no example database is written.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import importlib.util
import json
import math
import os
import re
import tempfile
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xdnn
from xdnn.serialization import random_state_of

N_FEATURES = 3
N_SAMPLES = 12
OUTPUT_UNITS = {"sigmoid": 1, "softmax": 3, "identity": 1, "exp": 1}
OUTPUTS = ("sigmoid", "softmax", "identity")  # binary, 3 classes, regression (exp + Poisson: gradients only)
HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid")
SMOOTH_ACTIVATIONS = ("tanh", "sigmoid", "gelu", "elu")  # no kink for finite differences to straddle
REFUSED = (ValueError, TypeError)


def hidden_widths(backend, largest: int = 8) -> st.SearchStrategy[int]:
    """Hidden-layer widths 1..``largest``; on JAX, which compiles every operation for each new shape, three."""
    if backend.name == "jax":
        return st.sampled_from((1, (largest + 1) // 2, largest))
    return st.integers(1, largest)


def _settings(backend, examples: int, jax_examples: int):
    """Derandomised settings, no example database.  JAX compiles each new architecture's training step
    and each operation's new shapes (a second or two per example on a CPU; elsewhere an example takes
    milliseconds), so it runs fewer examples."""
    return settings(
        max_examples=jax_examples if backend.name == "jax" else examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- architectures and data ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One point of the architecture space, and how it trains (``batch_size`` divides 12)."""

    hidden: tuple[int, ...]
    activation: str
    output: str
    optimizer: str = "adam"
    l2: float = 0.0
    batch_norm: bool = False
    dropout: float = 0.0
    dropout_masks: str = "device"
    dtype: str = "float32"
    batch_size: int | None = 4

    def network(self, learning_rate: float = 0.05) -> xdnn.Network:
        return xdnn.Network(
            [N_FEATURES, *self.hidden, OUTPUT_UNITS[self.output]],
            activation=self.activation,
            output_activation=self.output,
            optimizer=self.optimizer,
            learning_rate=learning_rate,
            l2=self.l2,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            dtype=self.dtype,
            seed=0,
            dropout_masks=self.dropout_masks,
        )


def architectures(
    *,
    activations: tuple[str, ...] = HIDDEN_ACTIVATIONS,
    outputs: tuple[str, ...] = OUTPUTS,
    optimizers: tuple[str, ...] = ("sgd", "momentum", "adam"),
    dtypes: tuple[str, ...] = ("float32", "float64"),
    widths: st.SearchStrategy[int],
) -> st.SearchStrategy[Architecture]:
    return st.builds(
        Architecture,
        hidden=st.lists(widths, min_size=1, max_size=3).map(tuple),
        activation=st.sampled_from(activations),
        output=st.sampled_from(outputs),
        optimizer=st.sampled_from(optimizers),
        l2=st.sampled_from((0.0, 1e-2)),
        batch_norm=st.booleans(),
        dropout=st.sampled_from((0.0, 0.25)),
        dropout_masks=st.sampled_from(("device", "host")),
        dtype=st.sampled_from(dtypes),
        batch_size=st.sampled_from((4, None)),
    )


def training_data(output: str) -> tuple[np.ndarray, np.ndarray]:
    """Host ``X (12, 3)`` and targets for ``output``: 0/1 labels, 3-class labels, or real values."""
    random_state = np.random.RandomState(0)
    X = random_state.randn(N_SAMPLES, N_FEATURES)
    if output == "sigmoid":
        return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    if output == "softmax":
        return X, np.argmax(X, axis=1)
    if output == "exp":
        return X, random_state.poisson(2.0, size=N_SAMPLES).astype(np.float64)
    return X, 0.5 * X[:, 0] - X[:, 2] + 0.1


def trained(architecture: Architecture, epochs: int = 2) -> tuple[xdnn.Network, np.ndarray, np.ndarray]:
    network = architecture.network()
    X, y = training_data(architecture.output)
    network.fit(X, y, epochs=epochs, batch_size=architecture.batch_size, verbose=0)
    return network, X, y


# --- what a network holds, on the host ---------------------------------------------------------------


def host_weights(network: xdnn.Network) -> dict[str, Any]:
    """``get_weights()`` with every array brought home as a NumPy copy."""
    weights = network.get_weights()
    return {
        key: {name: np.array(xdnn.to_numpy(value), copy=True) for name, value in group.items()}
        if isinstance(group, dict)
        else group
        for key, group in weights.items()
    }


def snapshot(network: xdnn.Network) -> dict[str, Any]:
    """Everything a refused call must leave alone."""
    return {
        "weights": host_weights(network),
        "epochs_trained": network.epochs_trained,
        "history": copy.deepcopy(dict(network.history.history)),
        "history_epochs": list(network.history.epoch),
        "diverged_epoch": network.diverged_epoch,
        "random_streams": json.dumps(random_state_of(network), sort_keys=True),
    }


def assert_same_weights(expected: dict[str, Any], actual: dict[str, Any], where: str) -> None:
    """Bit-equal arrays of the same dtype in every group, and the same optimizer step count."""
    assert set(actual) == set(expected), f"{where}: groups {sorted(actual)} != {sorted(expected)}"
    for key, group in expected.items():
        if not isinstance(group, dict):
            assert actual[key] == group, f"{where}: {key} {actual[key]!r} != {group!r}"
            continue
        assert set(actual[key]) == set(group), f"{where}: {key} names {sorted(actual[key])} != {sorted(group)}"
        for name, value in group.items():
            got = actual[key][name]
            assert got.dtype == value.dtype, f"{where}: {key}/{name} dtype {got.dtype} != {value.dtype}"
            assert np.array_equal(got, value), f"{where}: {key}/{name} changed"


def assert_same_snapshot(expected: dict[str, Any], actual: dict[str, Any], where: str) -> None:
    assert_same_weights(expected["weights"], actual["weights"], where)
    for key in ("epochs_trained", "history", "history_epochs", "diverged_epoch", "random_streams"):
        assert actual[key] == expected[key], f"{where}: {key} changed: {expected[key]!r} -> {actual[key]!r}"


# --- 1. a refused call changes nothing ---------------------------------------------------------------


class Call:
    """``getattr(network, method)(*args, **kwargs)``, expected to be refused; its message must name
    one of ``names`` (as a word) -- ``None``: any non-empty message.  (A plain class: hypothesis
    prints a failing example by its ``repr``, not array by array.)"""

    def __init__(self, description: str, method: str, args: tuple, kwargs: dict, names: tuple[str, ...] | None):
        self.description, self.method, self.args, self.kwargs, self.names = description, method, args, kwargs, names

    def __repr__(self) -> str:
        return f"Call({self.method}: {self.description})"


def _cell(draw, array: np.ndarray, value: Any) -> np.ndarray:
    """A copy of ``array`` (as float64) with one drawn entry set to ``value``."""
    changed = np.array(array, dtype=np.float64, copy=True)
    index = tuple(draw(st.integers(0, size - 1)) for size in changed.shape)
    changed[index] = value
    return changed


@st.composite
def bad_X(draw, architecture: Architecture, name: str = "X") -> tuple[str, Any]:
    """``(description, value)``: an ``X`` the network must refuse."""
    X, _ = training_data(architecture.output)
    kinds = ["1-D", "3-D", "feature count", "zero rows", "zero features", "NaN/inf", "strings", "objects", "complex"]
    kinds += ["ragged", "None", "scalar"]
    if architecture.dtype == "float32":
        kinds.append("too large for float32")
    kind = draw(st.sampled_from(kinds))
    if kind == "1-D":
        return f"{name} 1-D", X[draw(st.integers(0, N_SAMPLES - 1))]
    if kind == "3-D":
        return f"{name} 3-D", X[:, :, None]
    if kind == "feature count":
        features = draw(st.sampled_from((1, 2, 4, 5)))
        return f"{name} with {features} features", np.resize(X, (N_SAMPLES, features))
    if kind == "zero rows":
        return f"{name} with no rows", X[:0]
    if kind == "zero features":
        return f"{name} with no features", X[:, :0]
    if kind == "NaN/inf":
        value = draw(st.sampled_from((math.nan, math.inf, -math.inf)))
        return f"{name} holding {value}", _cell(draw, X, value)
    if kind == "too large for float32":
        value = draw(st.floats(3.5e38, 1e300)) * draw(st.sampled_from((1, -1)))
        return f"{name} holding {value:g}", _cell(draw, X, value)
    if kind == "strings":
        return f"{name} of strings", X.astype(str)
    if kind == "objects":
        value = draw(st.sampled_from((None, "a", {}, object())))
        objects = X.astype(object)
        objects[draw(st.integers(0, N_SAMPLES - 1)), 0] = value
        return f"{name} of objects holding {type(value).__name__}", objects
    if kind == "complex":
        imaginary = draw(st.sampled_from((1.0, 1e-3)))
        return f"{name} complex (+{imaginary}j)", X + 1j * imaginary
    if kind == "ragged":
        rows = X.tolist()
        rows[draw(st.integers(0, N_SAMPLES - 1))].pop()
        return f"{name} ragged", rows
    if kind == "None":
        return f"{name} None", None
    return f"{name} a scalar", 1.5


@st.composite
def bad_y(draw, architecture: Architecture, name: str = "y") -> tuple[str, Any]:
    """``(description, value)``: targets the network must refuse (with a good ``X``)."""
    _, y = training_data(architecture.output)
    kinds = ["NaN/inf", "length", "3-D", "columns", "strings", "complex", "None"]
    if architecture.output != "identity":
        kinds.append("label")
    if architecture.output == "softmax":
        kinds.append("one-hot row")
    if architecture.dtype == "float32":
        kinds.append("too large for float32")
    kind = draw(st.sampled_from(kinds))
    if kind == "NaN/inf":
        value = draw(st.sampled_from((math.nan, math.inf, -math.inf)))
        return f"{name} holding {value}", _cell(draw, y, value)
    if kind == "too large for float32":
        value = draw(st.floats(3.5e38, 1e300)) * draw(st.sampled_from((1, -1)))
        return f"{name} holding {value:g}", _cell(draw, y, value)
    if kind == "length":
        length = draw(st.sampled_from((0, 1, N_SAMPLES - 1, N_SAMPLES + 1)))
        return f"{name} of length {length}", np.resize(y, (length,))
    if kind == "3-D":
        return f"{name} 3-D", y[:, None, None]
    if kind == "columns":
        columns = draw(st.sampled_from((2, 4) if architecture.output == "softmax" else (2, 3)))
        return f"{name} with {columns} columns", np.zeros((N_SAMPLES, columns))
    if kind == "strings":  # one text class: no output takes it (two for a sigmoid unit, k for a softmax)
        return f"{name} of one text label", np.full(y.shape, "label")
    if kind == "complex":
        return f"{name} complex", y + 1j
    if kind == "None":
        return f"{name} None", None
    if kind == "one-hot row":
        one_hot = np.eye(3)[y]
        one_hot[draw(st.integers(0, N_SAMPLES - 1))] = draw(st.sampled_from(([0, 0, 0], [1, 1, 0], [0.5, 0.6, 0])))
        return f"{name} one-hot with a row not summing to 1", one_hot
    labels = {"softmax": (3, -1, 1.5, 2.5, 100), "sigmoid": (2, -1, 1.5, -0.5), "exp": (-1, -0.5)}
    value = draw(st.sampled_from(labels[architecture.output]))
    return f"{name} holding label {value}", _cell(draw, y, value)


@st.composite
def bad_sample_weight(draw, architecture: Architecture) -> tuple[str, Any]:
    weights = np.ones(N_SAMPLES)
    kinds = ["negative", "all zero", "NaN/inf", "length", "2-D", "strings", "complex", "negative scalar"]
    if architecture.dtype == "float32":
        kinds.append("too large for float32")
    kind = draw(st.sampled_from(kinds))
    if kind == "negative":
        value = -draw(st.floats(1e-6, 1e6))
        return f"sample_weight holding {value:g}", _cell(draw, weights, value)
    if kind == "all zero":
        return "sample_weight all zero", np.zeros(N_SAMPLES)
    if kind == "NaN/inf":
        value = draw(st.sampled_from((math.nan, math.inf, -math.inf)))
        return f"sample_weight holding {value}", _cell(draw, weights, value)
    if kind == "too large for float32":
        return "sample_weight holding 1e39", _cell(draw, weights, 1e39)
    if kind == "length":
        length = draw(st.sampled_from((1, N_SAMPLES - 1, N_SAMPLES + 1)))
        return f"sample_weight of length {length}", np.ones(length)
    if kind == "2-D":
        return "sample_weight 2-D", np.ones((N_SAMPLES, 1))
    if kind == "strings":
        return "sample_weight of strings", weights.astype(str)
    if kind == "complex":
        return "sample_weight complex", weights + 1j
    value = draw(st.sampled_from((-1.0, 0.0)))
    return f"sample_weight the scalar {value}", value


BAD_COUNTS = (-1, -7, 1.5, "3", None, math.nan, math.inf, True, 2 + 0j)


def foreign_library(backend) -> Any:
    """An installed array library other than the backend's (a trained network refuses its arrays), or None."""
    for name in ("array_api_strict", "torch"):
        if name != backend.name and importlib.util.find_spec(name) is not None:
            return importlib.import_module(name)
    return None


@st.composite
def bad_calls(draw, architecture: Architecture, foreign: Any = None) -> Call:
    """One call the network must refuse, with everything else in it valid (``foreign``: an array
    library other than the network's)."""
    X, y = training_data(architecture.output)
    fit_options = {"epochs": 1, "batch_size": architecture.batch_size, "verbose": 0}
    kinds = ["X", "y", "sample_weight", "epochs", "batch_size", "validation_data", "weights"]
    kind = draw(st.sampled_from(kinds + (["foreign"] if foreign is not None else [])))
    if kind == "foreign":
        return draw(foreign_arrays(architecture, foreign, fit_options))
    if kind == "X":
        description, value = draw(bad_X(architecture))
        method = draw(st.sampled_from(("fit", "predict", "predict_proba", "evaluate")))
        if method == "fit":
            return Call(description, method, (value, y), fit_options, ("X",))
        if method == "evaluate":
            return Call(description, method, (value, y), {}, ("X",))
        return Call(description, method, (value,), {}, ("X",))
    if kind == "y":
        description, value = draw(bad_y(architecture))
        if draw(st.booleans()):
            return Call(description, "fit", (X, value), fit_options, ("y",))
        return Call(description, "evaluate", (X, value), {}, ("y",))
    if kind == "sample_weight":
        description, value = draw(bad_sample_weight(architecture))
        return Call(description, "fit", (X, y), {**fit_options, "sample_weight": value}, ("sample_weight",))
    if kind in ("epochs", "batch_size"):
        bad = BAD_COUNTS if kind == "epochs" else (0, *(count for count in BAD_COUNTS if count is not None))
        value = draw(st.sampled_from(bad))
        return Call(f"{kind}={value!r}", "fit", (X, y), {**fit_options, kind: value}, (kind,))
    if kind == "validation_data":
        return draw(bad_validation_data(architecture, fit_options))
    return draw(bad_weights(architecture))


@st.composite
def foreign_arrays(draw, architecture: Architecture, foreign: Any, fit_options: dict) -> Call:
    """Valid data, one argument of it an array of another library than the network's."""
    X, y = training_data(architecture.output)
    move = foreign.asarray
    calls = {
        "predict X": lambda: ("predict", (move(X),), {}),
        "predict_proba X": lambda: ("predict_proba", (move(X),), {}),
        "evaluate X": lambda: ("evaluate", (move(X), y), {}),
        "evaluate y": lambda: ("evaluate", (X, move(y)), {}),
        "fit X": lambda: ("fit", (move(X), y), fit_options),
        "fit y": lambda: ("fit", (X, move(y)), fit_options),
        "fit sample_weight": lambda: ("fit", (X, y), {**fit_options, "sample_weight": move(np.ones(N_SAMPLES))}),
        "fit X_val": lambda: ("fit", (X, y), {**fit_options, "validation_data": (move(X), y)}),
    }
    which = draw(st.sampled_from(sorted(calls)))
    method, args, kwargs = calls[which]()
    return Call(f"{which.split()[1]} of {foreign.__name__}", method, args, kwargs, ("backend",))


@st.composite
def bad_validation_data(draw, architecture: Architecture, fit_options: dict) -> Call:
    X, y = training_data(architecture.output)
    shapes = {
        "X alone": X,
        "a 1-tuple": (X,),
        "a 3-tuple": (X, y, y),
        "a dict": {"X": X, "y": y},
        "a string": "Xy",
        "None pair items": [None, None],
    }
    kind = draw(st.sampled_from((*shapes, "bad X_val", "bad y_val")))
    if kind == "bad X_val":
        description, X_val = draw(bad_X(architecture, "X_val"))
        value, names = (X_val, y), ("X_val",)
    elif kind == "bad y_val":
        description, y_val = draw(bad_y(architecture, "y_val"))
        value, names = (X, y_val), ("y_val", "X_val")
    else:
        description, value, names = f"validation_data {kind}", shapes[kind], ("validation_data", "X_val")
    return Call(description, "fit", (X, y), {**fit_options, "validation_data": value}, names)


@st.composite
def bad_weights(draw, architecture: Architecture) -> Call:
    """``set_weights`` of a network's own ``get_weights()`` with every array changed (zeros, so that a
    partial replacement shows) and one defect."""
    network = architecture.network()  # for the names and shapes only
    template = host_weights(network)
    weights = {
        "parameters": {name: np.zeros_like(value) for name, value in template["parameters"].items()},
        "state": {name: value + 1.0 for name, value in template["state"].items()},
        "optimizer": {name: np.ones_like(value) for name, value in template["optimizer"].items()},
        "optimizer_iterations": 7,
    }
    parameter = draw(st.sampled_from(sorted(weights["parameters"])))
    shape = weights["parameters"][parameter].shape
    kinds = ["missing parameter", "extra parameter", "shape", "scalar", "no state", "extra state", "not a mapping"]
    kinds += ["strings", "objects", "complex", "ragged"]
    if weights["optimizer"]:
        kinds.append("optimizer shape")
    kind = draw(st.sampled_from(kinds))
    names: tuple[str, ...] | None = ("set_weights",)
    if kind == "missing parameter":
        del weights["parameters"][parameter]
    elif kind == "extra parameter":
        weights["parameters"]["W99"] = np.zeros((1, 1))
    elif kind == "shape":
        weights["parameters"][parameter] = np.zeros((shape[0] + draw(st.integers(1, 2)), shape[1]))
    elif kind == "scalar":
        weights["parameters"][parameter] = 0.0
    elif kind == "no state":
        del weights["state"]
    elif kind == "extra state":
        weights["state"]["running_mean99"] = np.zeros((1, 1))
    elif kind == "not a mapping":
        weights["parameters"] = list(weights["parameters"].values())
    elif kind == "optimizer shape":
        slot = draw(st.sampled_from(sorted(weights["optimizer"])))
        rows, columns = weights["optimizer"][slot].shape
        weights["optimizer"][slot] = np.zeros((rows + 1, columns))
    else:  # not numbers: any non-empty message (these name the dtype, not the entry)
        names = None
        if kind == "strings":
            weights["parameters"][parameter] = np.full(shape, "0.5")
        elif kind == "objects":
            weights["parameters"][parameter] = np.full(shape, None, dtype=object)
        elif kind == "complex":
            weights["parameters"][parameter] = np.zeros(shape) + 1j
        else:
            rows = np.zeros(shape).tolist()
            rows[-1].append(0.0)
            weights["parameters"][parameter] = rows
    return Call(f"weights with {kind} ({parameter})", "set_weights", (weights,), {}, names)


def _names_one_of(message: str, names: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) for name in names)


def test_a_refused_call_changes_nothing(backend):
    """Every bad input is refused with a ValueError/TypeError naming it, and the network keeps every bit."""
    foreign = foreign_library(backend)

    @_settings(backend, examples=50, jax_examples=5)
    @given(
        case=architectures(widths=hidden_widths(backend)).flatmap(
            lambda a: st.tuples(st.just(a), st.lists(bad_calls(a, foreign), min_size=2, max_size=8))
        )
    )
    def check(case):
        architecture, calls = case
        network, _, _ = trained(architecture)
        for call in calls:
            where = f"[{backend.name}] {architecture} {call!r}"
            before = snapshot(network)
            with pytest.raises(REFUSED) as caught:
                getattr(network, call.method)(*call.args, **call.kwargs)
            message = str(caught.value)
            assert message.strip(), f"{where}: empty message"
            if call.names is not None:
                assert _names_one_of(message, call.names), f"{where}: {message!r} names none of {call.names}"
            assert_same_snapshot(before, snapshot(network), where)

    check()


@pytest.mark.parametrize("iterations", ["many", None, math.nan, -1, 1.5])
def test_set_weights_refuses_a_bad_step_count_before_replacing_anything(backend, iterations):
    network, _, _ = trained(Architecture(hidden=(4,), activation="tanh", output="sigmoid"))
    weights = host_weights(network)
    weights["parameters"] = {name: np.zeros_like(value) for name, value in weights["parameters"].items()}
    weights["optimizer_iterations"] = iterations
    before = snapshot(network)
    with pytest.raises(REFUSED):
        network.set_weights(weights)
    assert_same_snapshot(before, snapshot(network), f"[{backend.name}] optimizer_iterations={iterations!r}")


@pytest.mark.parametrize("weights", [None, [], "weights"], ids=["None", "list", "str"])
def test_set_weights_of_a_non_mapping_is_a_type_error(backend, weights):
    network, _, _ = trained(Architecture(hidden=(4,), activation="tanh", output="sigmoid"))
    with pytest.raises(REFUSED):
        network.set_weights(weights)


FINITE_FLOATS = st.one_of(st.floats(-10, 10), st.floats(allow_nan=False, allow_infinity=False))


# NumPy warns of the overflow (and of inf * 0) on its way to the ValueError that reports it
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_inference_on_finite_input_of_any_size_is_finite_or_refused(backend):
    """``predict_proba``, ``predict`` and ``evaluate`` on finite inputs of any magnitude return finite
    values (probabilities in [0, 1], softmax rows summing to 1) or raise ``ValueError`` (values too
    large for the dtype, activations or a loss that overflow) -- and change nothing either way."""

    @_settings(backend, examples=30, jax_examples=4)
    @given(
        architecture=architectures(widths=hidden_widths(backend)),
        X=hnp.arrays(np.float64, (N_SAMPLES, N_FEATURES), elements=FINITE_FLOATS),
    )
    def check(architecture, X):
        network, _, y = trained(architecture)
        before = snapshot(network)
        for method, args in (("predict_proba", (X,)), ("predict", (X,)), ("evaluate", (X, y))):
            where = f"[{backend.name}] {architecture} {method}"
            try:
                result = getattr(network, method)(*args)
            except ValueError as error:
                assert str(error).strip(), f"{where}: empty message"
                continue
            finally:
                assert_same_snapshot(before, snapshot(network), where)
            if method == "evaluate":
                assert all(math.isfinite(value) for value in result.values()), f"{where}: {result}"
                assert 0.0 <= result.get("accuracy", 0.0) <= 1.0, f"{where}: {result}"
                continue
            values = xdnn.to_numpy(result)
            assert np.all(np.isfinite(values)), f"{where}: non-finite output {values}"
            if method == "predict_proba" and architecture.output != "identity":
                assert np.all((values >= 0) & (values <= 1)), f"{where}: probabilities outside [0, 1]: {values}"
            if method == "predict_proba" and architecture.output == "softmax":
                tolerance = 1e-5 if architecture.dtype == "float32" else 1e-12
                sums = values.astype(np.float64).sum(axis=1)
                assert np.all(np.abs(sums - 1) <= tolerance), f"{where}: softmax rows sum to {sums}"

    check()


# --- 2. save and load round-trip bit for bit --------------------------------------------------------


def test_save_load_round_trips_bit_for_bit(backend):
    """Arrays, dtypes, counters and predictions are equal after ``save``/``xdnn.load``, and so is
    training continued on both (the shuffle order and the dropout stream are saved)."""

    @_settings(backend, examples=30, jax_examples=5)
    @given(
        architecture=architectures(
            optimizers=("sgd", "momentum", "sgd_momentum", "rmsprop", "adam"), widths=hidden_widths(backend)
        ),
        inputs=hnp.arrays(np.float64, (5, N_FEATURES), elements=st.floats(-4, 4)),
    )
    def check(architecture, inputs):
        where = f"[{backend.name}] {architecture}"
        network, X, y = trained(architecture)
        with tempfile.TemporaryDirectory(prefix="xdnn-properties-") as folder:
            path = os.path.join(folder, "model.npz")
            network.save(path)
            loaded = xdnn.load(path)
        assert loaded.backend == network.backend, where
        assert_same_weights(host_weights(network), host_weights(loaded), where)
        assert loaded.epochs_trained == network.epochs_trained, where
        expected = xdnn.to_numpy(network.predict_proba(inputs))
        actual = xdnn.to_numpy(loaded.predict_proba(inputs))
        assert actual.dtype == expected.dtype and np.array_equal(actual, expected), f"{where}: predict_proba differs"
        # CuPy's device generator state is not saved (xdnn.serialization): its dropout masks restart
        device_dropout = architecture.dropout and architecture.dropout_masks == "device"
        if backend.name == "cupy" and device_dropout:
            return
        for model in (network, loaded):
            model.fit(X, y, epochs=2, batch_size=architecture.batch_size, verbose=0)
        assert_same_weights(host_weights(network), host_weights(loaded), f"{where} continued")
        assert loaded.epochs_trained == network.epochs_trained, where
        assert dict(loaded.history) == dict(network.history), f"{where}: continued histories differ"

    check()


# --- 3. gradients match finite differences -----------------------------------------------------------

LEARNING_RATE = 1.0  # of the one SGD step that reveals the gradient: (W - W_new) / LEARNING_RATE
STEP = 1e-6  # of the central differences of evaluate's loss


def gradient_architectures(backend) -> st.SearchStrategy[Architecture]:
    return architectures(
        activations=SMOOTH_ACTIVATIONS,
        outputs=(*OUTPUTS, "exp"),
        optimizers=("sgd",),
        dtypes=("float64",),
        widths=hidden_widths(backend, 5),
    ).map(lambda architecture: dataclasses.replace(architecture, batch_size=None))


def test_gradients_match_finite_differences(backend):
    """``gradient_check`` (backprop against two-sided differences of the training cost, dropout
    masks held fixed) is below 1e-6; and, for the architecture without batch norm and dropout, one
    full-batch SGD step's ``(W - W_new) / lr`` -- the training path, compiled on JAX -- matches central
    differences of ``evaluate``'s loss, the inference path, on a few drawn entries."""

    @_settings(backend, examples=30, jax_examples=5)
    @given(architecture=gradient_architectures(backend), picks=st.lists(st.integers(0, 2**16), min_size=1, max_size=6))
    def check(architecture, picks):
        where = f"[{backend.name}] {architecture}"
        network = architecture.network(learning_rate=LEARNING_RATE)
        X, y = training_data(architecture.output)
        before = snapshot(network)
        difference = network.gradient_check(X, y)
        assert difference < 1e-6, f"{where}: gradient_check relative difference {difference:.3g}"
        assert_same_snapshot(before, snapshot(network), f"{where} gradient_check")
        # evaluate runs in inference mode (running statistics, no dropout): its loss is the training
        # cost of the same architecture without batch norm and dropout
        network = dataclasses.replace(architecture, batch_norm=False, dropout=0.0).network(learning_rate=LEARNING_RATE)
        start = network.get_weights()
        initial = host_weights(network)["parameters"]
        network.fit(X, y, epochs=1, batch_size=None, shuffle=False, verbose=0)
        stepped = host_weights(network)["parameters"]
        entries = [(name, index) for name, value in initial.items() for index in np.ndindex(value.shape)]
        for name, index in sorted({entries[pick % len(entries)] for pick in picks}):
            analytic = (initial[name][index] - stepped[name][index]) / LEARNING_RATE
            losses = []
            for sign in (1.0, -1.0):
                moved = {key: value.copy() for key, value in initial.items()}
                moved[name][index] += sign * STEP
                network.set_weights({**start, "parameters": moved})
                losses.append(network.evaluate(X, y)["loss"])
            numeric = (losses[0] - losses[1]) / (2 * STEP)
            assert abs(analytic - numeric) <= 1e-7 + 1e-5 * abs(numeric), (
                f"{where}: d{name}{list(index)} from an SGD step {analytic!r}, from evaluate's loss {numeric!r}"
            )

    check()
