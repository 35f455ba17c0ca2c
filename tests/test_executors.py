"""xdnn.executors: every registered executor gives its portable definition's results, and the
look-up never swaps a user's own activation, loss or optimizer rule for a backend's executor.

``test_every_executor_matches_its_definition`` walks :func:`xdnn.executors.entries` (every backend
module loaded, CuPy's included, so an entry is enumerated even where it cannot run) and checks each
against :data:`CASES`, the table of example inputs and comparisons of every definition that has
executors.  An entry whose definition has no row there fails: a new kernel cannot go untested.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import pathlib
import re
from typing import Any, Callable

import array_api_compat.numpy as compat_numpy
import numpy as np
import pytest

import xdnn
from xdnn import activations, executors, linear, losses, optimizers, training_data
from xdnn._backend import cuda_device_count, resolve_backend

# --- the table: example inputs and how to compare, one row per definition with executors ------------

DTYPES = ("float32", "float64")
RTOL = {"float32": 2e-5, "float64": 1e-12}


def special_values(A: np.ndarray) -> np.ndarray:
    """``A`` with a NaN, infinities and signed zeros written into its first row (where it is long enough)."""
    A = A.copy()
    values = [np.nan, np.inf, -np.inf, -0.0, 0.0]
    count = min(len(values), A.shape[1])
    A[0, :count] = values[:count]
    return A


def layouts(A: np.ndarray) -> dict[str, np.ndarray]:
    """``A`` row-major, column-major (a transposed view of a row-major array: samples-major, as a
    mini-batch or a wide full batch is), and a strided view."""
    wider = np.zeros((A.shape[0], 2 * A.shape[1]), A.dtype)
    wider[:, ::2] = A
    return {"C": np.ascontiguousarray(A), "F": np.ascontiguousarray(A.T).T, "strided": wider[:, ::2]}


# (n_units, m) shapes: tiny, a tutorial batch, and one above the NumPy executors' thresholds: a row-
# padded (64, 4096) float32 activation, products through np.matmul, a relu along rows of memory (with
# a remainder).  (64, 4096 + 77): large, never padded.
SHAPES = {"tiny": (3, 5), "batch": (7, 300), "padded": (64, 4096), "large": (64, 4096 + 77)}


def activation_inputs(forward: bool):
    """``Z`` (forward) or ``(dA, saved)`` (backward) of every shape and layout."""

    def inputs(rng: np.random.Generator, dtype: str):
        for size, shape in SHAPES.items():
            for layout, Z in layouts(rng.normal(scale=3, size=shape).astype(dtype)).items():
                if size in ("padded", "large") and layout == "strided" and dtype == "float64":
                    continue  # (the float32 case covers the path)
                Z = layouts(special_values(Z))[layout]
                if forward:
                    yield f"{size}-{layout}", (Z,), {}
                else:
                    dA = layouts(rng.normal(size=shape).astype(dtype))[layout]
                    saved = np.tanh(Z)  # a saved output (NaN and +-1 among its values)
                    yield f"{size}-{layout}", (dA, layouts(saved)[layout]), {}

    return inputs


def linear_inputs(backward: bool):
    """``(A_prev, W, b)`` or ``(dZ, A_prev, W)``: feature- and samples-major ``A_prev``, tiny and
    tutorial batches, a padded (64, 4096) product, a one-unit outer product, no bias, a strided input."""
    sizes = [("tiny", 3, 2, 5), ("batch", 7, 5, 400), ("padded", 64, 64, 4096), ("outer", 64, 1, 4096)]

    def inputs(rng: np.random.Generator, dtype: str):
        for size, n_prev, n, m in sizes:
            for layout, A_prev in layouts(rng.normal(size=(n_prev, m)).astype(dtype)).items():
                if layout == "strided" and size in ("padded", "outer"):
                    continue
                W = rng.normal(size=(n, n_prev)).astype(dtype)
                b = rng.normal(size=(n, 1)).astype(dtype)
                dZ = layouts(rng.normal(size=(n, m)).astype(dtype))["C" if layout == "C" else "F"]
                if backward:
                    yield f"{size}-{layout}", (dZ, A_prev, W), {}
                    yield f"{size}-{layout}-no-input-gradient", (dZ, A_prev, W), {"input_gradient": False}
                else:
                    yield f"{size}-{layout}", (A_prev, W, b), {}
                    if size == "batch":
                        yield f"{size}-{layout}-no-bias", (A_prev, W, None), {}

    return inputs


def logits_and_targets(loss: losses.Loss, rng: np.random.Generator, dtype: str, k: int, m: int):
    Z = rng.normal(scale=4, size=(k, m)).astype(dtype)
    Z[0, :2] = [-800.0, 800.0]  # saturated both ways
    if loss.name == "binary_crossentropy":
        Y = (rng.random((k, m)) > 0.5).astype(dtype)
    elif loss.name == "categorical_crossentropy":
        Y = np.eye(k, dtype=dtype)[:, rng.integers(0, k, m)]
    elif loss.name == "poisson":
        Y = rng.poisson(2.0, size=(k, m)).astype(dtype)
    else:
        Y = rng.normal(size=(k, m)).astype(dtype)
    return Z, Y


def cost_inputs(loss: losses.Loss):
    """``(Z, A, Y)`` with and without sample weights, one and several outputs, tiny and wider batches,
    and mixed dtypes (float32 logits, float64 targets: they promote)."""

    def inputs(rng: np.random.Generator, dtype: str):
        for k, m in ((1, 5), (1, 300), (3, 300), (2, 5000)):
            Z, Y = logits_and_targets(loss, rng, dtype, k, m)
            A = np.asarray(activations.ACTIVATIONS[loss.output_activation].forward(Z, xp=np))
            weights = rng.uniform(0.5, 1.5, size=(1, m)).astype(dtype)
            yield f"{k}x{m}", (Z, A, Y), {}
            yield f"{k}x{m}-weighted", (Z, A, Y), {"weights": weights}
            if dtype == "float32":
                yield f"{k}x{m}-float64-targets", (Z, A, Y.astype("float64")), {}
            yield f"{k}x{m}-samples-major", tuple(layouts(a)["F"] for a in (Z, A, Y)), {}

    return inputs


def loss_inputs(loss: losses.Loss):
    """``(Z, A, Y)`` of a whole :class:`xdnn.losses.Loss` (no weights: what a network's step binds)."""

    def inputs(rng: np.random.Generator, dtype: str):
        for k, m in ((1, 5), (1, 300), (3, 300), (2, 5000)):
            Z, Y = logits_and_targets(loss, rng, dtype, k, m)
            A = np.asarray(activations.ACTIVATIONS[loss.output_activation].forward(Z, xp=np))
            yield f"{k}x{m}", (Z, A, Y), {}

    return inputs


# An optimizer rule's state slots and settings, from the built-in optimizer that applies it.
RULE_OPTIMIZERS = {cls.rule: cls for cls in optimizers.OPTIMIZERS.values()}


def rule_inputs(rule: Any):
    """``(parameters, grads, state)`` of a two-layer network's shapes (tiny, and a (64, 4096) weight),
    and the settings of step ``t = 3`` at a Python float rate and at a NumPy scalar rate."""
    optimizer_class = RULE_OPTIMIZERS[rule]

    def inputs(rng: np.random.Generator, dtype: str):
        for size, shapes in {
            "tiny": {"W1": (3, 4), "b1": (3, 1), "W2": (1, 3), "b2": (1, 1)},
            "large": {"W1": (64, 4096), "b1": (64, 1)},
        }.items():
            parameters = {name: rng.normal(size=shape).astype(dtype) for name, shape in shapes.items()}
            grads = {"d" + name: rng.normal(size=shape).astype(dtype) for name, shape in shapes.items()}
            state = {
                f"{slot}_{name}": np.abs(rng.normal(size=shape)).astype(dtype) * 0.1
                for name, shape in shapes.items()
                for slot in optimizer_class.slots
            }
            optimizer = optimizer_class()
            optimizer.iterations = 3
            # (a float64 NumPy rate promotes a float32 parameter in the definition: float64 only)
            rates = {"float-rate": 0.01, "numpy-rate": np.float64(0.3)} if dtype == "float64" else {"float-rate": 0.01}
            for rate_kind, rate in rates.items():
                yield f"{size}-{rate_kind}", (parameters, grads, state), optimizer.settings(rate)

    return inputs


@dataclasses.dataclass(frozen=True)
class Case:
    """How to check an executor of one definition.

    ``inputs(rng, dtype)`` yields ``(label, args, keywords)`` as NumPy arrays (moved to the device
    under test); ``check`` is one of the ``check_*`` functions below; ``exact_on``: the backends
    whose executors promise the definition's very numbers (bit for bit) in their docstrings."""

    inputs: Callable[..., Any] | None
    check: Callable[..., None]
    exact_on: tuple[str, ...] = ()


# Arrays of an executor's arguments that each variant may write over (by position).
OVERWRITABLE = {
    executors.FRESH: (),
    executors.IN_PLACE: (0,),
    activations.OVER_OUTPUT: (0, 1),
}


def to_host(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    return np.asarray(xdnn.to_numpy(value))


def assert_same(got: Any, expected: Any, *, exact: bool, dtype: str, what: str) -> None:
    """``got`` equals ``expected`` (arrays, tuples of arrays, ``None``): bit for bit where ``exact``,
    else to the dtype's tolerance; the same dtype and shape."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(expected), what
        for index, (one, other) in enumerate(zip(got, expected, strict=True)):
            assert_same(one, other, exact=exact, dtype=dtype, what=f"{what}[{index}]")
        return
    if expected is None:
        assert got is None, f"{what}: expected None, got {type(got).__name__}"
        return
    got_host, expected_host = to_host(got), to_host(expected)
    assert got_host.dtype == expected_host.dtype, f"{what}: dtype {got_host.dtype}, expected {expected_host.dtype}"
    assert got_host.shape == expected_host.shape, f"{what}: shape {got_host.shape}, expected {expected_host.shape}"
    if exact:
        np.testing.assert_array_equal(got_host, expected_host, err_msg=what)
    else:
        rtol = RTOL["float32"] if got_host.dtype == np.float32 else RTOL["float64"]
        scale = float(np.max(np.abs(expected_host[np.isfinite(expected_host)]), initial=1.0))
        np.testing.assert_allclose(got_host, expected_host, rtol=rtol, atol=rtol * scale, err_msg=what)


def arrays_in(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [array for item in value for array in arrays_in(item)]
    if isinstance(value, dict):
        return [array for item in value.values() for array in arrays_in(item)]
    return [value] if hasattr(value, "shape") and hasattr(value, "dtype") else []


class Device:
    """The namespace of one backend and a way to move host arrays onto it (copies, never views)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.backend = resolve_backend(name)
        self.xp = self.backend.xp

    def move(self, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            if self.name == "numpy":
                return value.copy(order="K")  # keeps the layout (a transposed view stays samples-major)
            return self.xp.asarray(np.ascontiguousarray(value), device=self.backend.device)
        if isinstance(value, dict):
            return {key: self.move(item) for key, item in value.items()}
        if isinstance(value, tuple):
            return tuple(self.move(item) for item in value)
        return value

    def copy(self, value: Any) -> Any:
        """A copy of device arrays (NumPy's in its own layout, strides and all)."""
        if isinstance(value, dict):
            return {key: self.copy(item) for key, item in value.items()}
        if isinstance(value, tuple):
            return tuple(self.copy(item) for item in value)
        if not hasattr(value, "shape"):
            return value
        if self.name == "numpy":
            if value.flags.c_contiguous or value.flags.f_contiguous:
                return value.copy(order="K")
            return layouts(np.ascontiguousarray(value))["strided"]  # strided stays strided
        return self.xp.asarray(value, copy=True)


def snapshot(value: Any) -> Any:
    """Host copies of the arrays in ``value``, to check later that they are unchanged."""
    return [np.array(to_host(array), copy=True) for array in arrays_in(value)]


def assert_unchanged(value: Any, before: list[np.ndarray], what: str) -> None:
    for index, (array, kept) in enumerate(zip(arrays_in(value), before, strict=True)):
        np.testing.assert_array_equal(to_host(array), kept, err_msg=f"{what}: argument array {index} was changed")


def check_function(entry, device, dtype, label, args, keywords, exact):
    """A fresh executor returns the definition's results and changes no argument; an in-place one
    returns them and changes only the arguments its variant may write over."""
    xp = device.xp
    expected = entry.definition(*device.copy(args), xp=xp, **keywords)
    may_write = OVERWRITABLE[entry.variant]
    for call in ("bound", "with-xp"):  # as executors.bind returns it, and as executors.resolve's callers call it
        given = device.copy(args)
        kept = [snapshot(argument) if position not in may_write else None for position, argument in enumerate(given)]
        extra = {"xp": xp} if call == "with-xp" else {}
        got = entry.function(*given, **keywords, **extra)
        what = f"{entry!r} {device.name} {dtype} {label} {call}"
        assert_same(got, expected, exact=exact, dtype=dtype, what=what)
        for position, argument in enumerate(given):
            if kept[position] is not None:
                assert_unchanged(argument, kept[position], f"{what} (argument {position})")
        if entry.variant == executors.FRESH and device.name == "numpy":
            for output in arrays_in(got):
                assert not any(np.shares_memory(output, argument) for argument in arrays_in(given)), (
                    f"{what}: a fresh executor returned a view of an argument"
                )


def check_rule(entry, device, dtype, label, args, settings, exact):
    """An optimizer rule's in-place executor updates the parameter and state dictionaries to the
    arrays :func:`xdnn.optimizers.apply_rule` makes; ``"in_place"`` leaves the gradients alone."""
    xp = device.xp
    rule = entry.definition
    slots = RULE_OPTIMIZERS[rule].slots
    parameters, grads, state = device.copy(args)
    optimizers.apply_rule(rule, slots, parameters, grads, state, xp=xp, **settings)
    got_parameters, got_grads, got_state = device.copy(args)
    kept_grads = snapshot(got_grads)
    result = entry.function(got_parameters, got_grads, got_state, xp=xp, **settings)
    what = f"{entry!r} {device.name} {dtype} {label}"
    assert result is None, f"{what}: returned {result!r}"
    assert got_parameters.keys() == parameters.keys() and got_state.keys() == state.keys(), what
    for name in parameters:
        assert_same(got_parameters[name], parameters[name], exact=exact, dtype=dtype, what=f"{what} {name}")
    for name in state:
        assert_same(got_state[name], state[name], exact=exact, dtype=dtype, what=f"{what} {name}")
    if entry.variant == optimizers.IN_PLACE:
        assert_unchanged(got_grads, kept_grads, f"{what} (the gradients)")


def check_loss(entry, device, dtype, label, args, keywords, exact):
    """A whole loss's executor ``(Z, A, Y) -> (cost, dZ)`` gives :meth:`Loss.cost_and_gradient`'s numbers."""
    xp = device.xp
    loss = entry.definition
    expected = loss.cost_and_gradient(*device.copy(args), xp=xp)
    given = device.copy(args)
    kept = snapshot(given)
    got = entry.function(*given)
    what = f"{entry!r} {device.name} {dtype} {label}"
    assert_same(tuple(got), tuple(expected), exact=exact, dtype=dtype, what=what)
    assert_unchanged(given, kept, what)


def full_batch_inputs(rng: np.random.Generator, dtype: str):
    """``(X, Y)`` of the high-level API: tall and wide (a large wide one stays samples-major on NumPy),
    row-major, column-major and strided, with one and several target columns."""
    for size, (m, n) in {"tiny": (5, 3), "tall": (1300, 37), "wide": (100, 1000), "square": (64, 64)}.items():
        for layout, X in layouts(rng.normal(size=(n, m)).astype(dtype).T).items():
            for k in (1, 3):
                Y = rng.normal(size=(m, k)).astype(dtype)
                yield f"{size}-{layout}-{k}-targets", (X, Y), {}


def check_full_batch(entry, device, dtype, label, args, keywords, exact):
    """The full batch in tutorial layout has the values (dtype, shape) of the definition's copies;
    the caller's arrays are left as they were."""
    xp = device.xp
    expected = entry.definition(*device.copy(args), xp=xp)
    given = device.copy(args)
    kept = snapshot(given)
    got = entry.function(*given, xp=xp)
    what = f"{entry!r} {device.name} {dtype} {label}"
    assert_same(tuple(got), tuple(expected), exact=True, dtype=dtype, what=what)
    assert_unchanged(given, kept, what)


def check_prepare_fit(entry, device, dtype, label, args, keywords, exact):
    """Set-up before a fit: returns nothing, as the definition; a fit afterwards trains as usual."""
    xp = device.xp
    assert entry.definition(xp=xp) is None
    assert entry.function(xp=xp) is None, f"{entry!r}: returned something"
    assert entry.function(xp=xp) is None, f"{entry!r}: a second call (a second fit) fails"


def small_network(device: Device, dtype: str, m: int, n_features: int = 12):
    """A built network on ``device`` and its batch ``(Xt, Yt)`` in tutorial layout."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(m, n_features)).astype(dtype)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(dtype)
    with xdnn.use_backend(device.name):  # (built there, whichever backend this session tests)
        network = xdnn.Network([n_features, 16, 8, 1], dtype=dtype, seed=2, optimizer="sgd", learning_rate=0.1)
    Xt = device.move(np.ascontiguousarray(X.T))
    Yt = device.move(np.ascontiguousarray(y[None, :]))
    return network, Xt, Yt


def check_split_runner(entry, device, dtype, label, args, keywords, exact, monkeypatch):
    """A runner of a split step, where the executor gives one, has the unsplit step's cost, output
    and gradients (to rounding: sums in another order); where not (too few samples), ``None`` as the
    definition."""
    from xdnn.backends import numpy_threads

    # two threads whatever this machine's cores, and no minimum work a slice: the numbers, not the policy
    monkeypatch.setattr(numpy_threads, "available_threads", lambda: 2)
    monkeypatch.setattr(numpy_threads, "MIN_SLICE_MULTIPLY_ADDS", 0)
    xp = device.xp
    batch_samples, multiply_adds = args
    assert entry.definition(batch_samples, multiply_adds, xp=xp) is None
    runner = entry.function(batch_samples, multiply_adds, xp=xp)
    what = f"{entry!r} {device.name} {dtype} {label}"
    if runner is None:
        assert batch_samples < 2 * numpy_threads.MIN_SLICE_SAMPLES, f"{what}: no runner for a large batch"
        return
    try:
        network, Xt, Yt = small_network(device, dtype, batch_samples)
        bound = network.bind_layers()
        cost, A, grads = network.cost_and_gradients(Xt, Yt, None, bound=bound, l2=False)

        def unpenalised(X_slice, Y_slice):
            return network.cost_and_gradients(X_slice, Y_slice, None, bound=bound, l2=False)

        split = runner.run(unpenalised, Xt, Yt)
        assert split is not None, f"{what}: the runner did not split a batch of {batch_samples} samples"
        split_cost, split_A, split_grads = split
        assert_same(split_A, A, exact=False, dtype=dtype, what=f"{what} A")
        assert float(split_cost) == pytest.approx(float(cost), rel=RTOL[dtype]), what
        assert sorted(split_grads) == sorted(grads), what
        for name, gradient in grads.items():
            assert_same(split_grads[name], gradient, exact=False, dtype=dtype, what=f"{what} {name}")
    finally:
        runner.close()


def check_graph_step_factory(entry, device, dtype, label, args, keywords, exact):
    """Where the definition refuses (sample weights, mini-batches, dropout), the executor refuses too,
    with a reason; a step it accepts trains as the eager step (forward, backward, update) does."""
    xp = device.xp
    m = 64
    refused = {
        "weighted": (lambda: small_network(device, dtype, m)[0], m, True),
        "mini-batches": (lambda: small_network(device, dtype, m)[0], m // 2, False),
    }
    for case, (make, batch, weighted) in refused.items():
        reason, factory = entry.definition(make(), batch, m, weighted, xp=xp)
        assert isinstance(reason, str) and factory is None
        reason, factory = entry.function(make(), batch, m, weighted, xp=xp)
        assert isinstance(reason, str) and reason and factory is None, f"{entry!r} {case}: not refused"
    network, Xt, Yt = small_network(device, dtype, m)
    reason, factory = entry.function(network, m, m, False, xp=xp)
    if factory is None:
        assert isinstance(reason, str) and reason
        return
    eager, _, _ = small_network(device, dtype, m)
    steps = 3
    step = factory(network, Xt, Yt, network.bind_layers())
    bound = eager.bind_layers()
    for _ in range(steps):
        cost, _ = step.run(0.1)
        eager_cost, _, grads = eager.cost_and_gradients(Xt, Yt, None, bound=bound)
        eager.optimizer.update(eager.parameters, grads, 0.1, xp=xp)
        assert float(cost) == pytest.approx(float(eager_cost), rel=RTOL[dtype]), f"{entry!r} cost"
    for name, value in eager.parameters.items():
        assert_same(network.parameters[name], value, exact=False, dtype=dtype, what=f"{entry!r} {name}")


def check_compiled_gradients(entry, device, dtype, label, args, keywords, exact):
    """A compiled step's cost, output and gradients are the eager step's (to a rounding: XLA may fuse
    operations); a network with a layer of the user's own gets none (its Python runs every step), as
    from the definition."""
    xp = device.xp
    network, Xt, Yt = small_network(device, dtype, 48)
    assert entry.definition(network, xp=xp) is None
    compiled = entry.function(network, xp=xp)
    assert compiled is not None, f"{entry!r}: a network of built-in layers was not compiled"
    twin, _, _ = small_network(device, dtype, 48)  # the same architecture: the same program, not a new one
    assert entry.function(twin, xp=xp) is compiled, f"{entry!r}: compiled again for a second network"
    cost, A, grads = compiled(network.parameters, Xt, Yt)
    eager_cost, eager_A, eager_grads = xdnn.backprop.cost_and_gradients(
        network.bind_layers(), network.parameters, None, Xt, Yt, None
    )
    assert float(cost) == pytest.approx(float(eager_cost), rel=RTOL[dtype]), f"{entry!r} cost"
    assert_same(A, eager_A, exact=False, dtype=dtype, what=f"{entry!r} A")
    assert sorted(grads) == sorted(eager_grads)
    for name, value in eager_grads.items():
        assert_same(grads[name], value, exact=False, dtype=dtype, what=f"{entry!r} {name}")

    class OwnDense(xdnn.Dense):
        pass

    with xdnn.use_backend(device.name):
        custom = xdnn.Network([OwnDense(4, "relu"), xdnn.Dense(1, "sigmoid")], dtype=dtype, seed=0)
        custom.build(12)
    assert entry.function(custom, xp=xp) is None, f"{entry!r}: a user's layer was compiled"


def argument_counts(rng: np.random.Generator, dtype: str):
    """``(batch_samples, multiply_adds_per_sample)``: too few samples to split, and enough."""
    yield "small-batch", (300, 256.0), {}
    yield "large-batch", (4096, 256.0), {}


CASES: list[tuple[Any, Case]] = [
    (linear.linear_forward, Case(linear_inputs(backward=False), check_function)),
    (linear.linear_backward, Case(linear_inputs(backward=True), check_function)),
    # NumPy's sigmoid, relu and tanh say "operation for operation": the very numbers
    (activations.sigmoid, Case(activation_inputs(forward=True), check_function, exact_on=("numpy",))),
    (activations.sigmoid_backward, Case(activation_inputs(forward=False), check_function)),
    (activations.relu, Case(activation_inputs(forward=True), check_function, exact_on=("numpy",))),
    (activations.relu_backward, Case(activation_inputs(forward=False), check_function, exact_on=("numpy",))),
    (activations.tanh, Case(activation_inputs(forward=True), check_function, exact_on=("numpy",))),
    (activations.tanh_backward, Case(activation_inputs(forward=False), check_function, exact_on=("numpy",))),
    (activations.leaky_relu, Case(activation_inputs(forward=True), check_function)),
    (activations.leaky_relu_backward, Case(activation_inputs(forward=False), check_function)),
    (activations.elu, Case(activation_inputs(forward=True), check_function)),
    (activations.elu_backward, Case(activation_inputs(forward=False), check_function)),
    *[
        (
            cost,
            Case(cost_inputs(losses.LOSSES[name]), check_function, exact_on=("numpy",)),
        )  # NumPy's binary cross-entropy: "the same numbers"
        for name, cost in (
            ("binary_crossentropy", losses.binary_crossentropy_cost),
            ("categorical_crossentropy", losses.categorical_crossentropy_cost),
            ("mse", losses.squared_error_cost),
            ("poisson", losses.poisson_cost),
        )
    ],
    *[(loss, Case(loss_inputs(loss), check_loss)) for loss in losses.LOSSES.values()],
    # NumPy's gradient descent: W -= lr * dW, the same two operations as W - lr * dW
    *[(rule, Case(rule_inputs(rule), check_rule, exact_on=("numpy",))) for rule in RULE_OPTIMIZERS],
    (training_data.full_batch, Case(full_batch_inputs, check_full_batch)),
    (training_data.prepare_fit, Case(None, check_prepare_fit)),
    (training_data.split_runner, Case(argument_counts, check_split_runner)),
    (training_data.graph_step_factory, Case(None, check_graph_step_factory)),
    (training_data.compiled_gradients, Case(None, check_compiled_gradients)),
]


def case_for(definition: Any) -> Case | None:
    """The table's row of ``definition``, found by identity (as the registry finds executors)."""
    return next((case for known, case in CASES if known is definition), None)


def entry_id(entry: executors.Executor) -> str:
    name = getattr(entry.definition, "__qualname__", None) or f"Loss-{entry.definition.name}"
    return f"{entry.backend}-{name}-{entry.variant}"


ENTRIES = executors.entries()


def device_for(backend: str) -> Device:
    if backend == "cupy":
        if cuda_device_count() == 0:
            pytest.skip("no CUDA device")
        pytest.importorskip("cupy", reason="no CUDA device (CuPy is not installed)")
    elif backend == "jax":
        pytest.importorskip("jax", reason="JAX is not installed")
    elif backend != "numpy":
        pytest.fail(f"executors registered for backend {backend!r}, which this test cannot run: add it to device_for")
    return Device(backend)


def run_case(entry: executors.Executor, device: Device, dtype: str, monkeypatch) -> int:
    """Check ``entry`` on every example of its definition's row; returns how many ran."""
    case = case_for(entry.definition)
    assert case is not None, f"{entry!r} has no example in tests/test_executors.py CASES: add a row for its definition"
    exact = device.name in case.exact_on
    examples = case.inputs(np.random.default_rng(0), dtype) if case.inputs is not None else [("", (), {})]
    count = 0
    for label, args, keywords in examples:
        moved = device.move(args)
        keywords = device.move(keywords) if isinstance(keywords, dict) else keywords
        extra = {"monkeypatch": monkeypatch} if case.check is check_split_runner else {}
        case.check(entry, device, dtype, label, moved, keywords, exact, **extra)
        count += 1
    return count


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("entry", ENTRIES, ids=[entry_id(entry) for entry in ENTRIES])
def test_every_executor_matches_its_definition(entry, dtype, fast_paths, monkeypatch):
    assert case_for(entry.definition) is not None, (
        f"{entry!r} has no example in tests/test_executors.py CASES: add a row for its definition"
    )
    device = device_for(entry.backend)
    assert executors.find(entry.definition, device.xp, entry.variant) is entry.function
    assert run_case(entry, device, dtype, monkeypatch) > 0


def test_the_registry_has_entries_of_both_backends():
    """CuPy's module registers its kernels without CUDA: they are enumerated (and skipped) here too."""
    backends = {entry.backend for entry in ENTRIES}
    assert {"numpy", "cupy"} <= backends
    assert len({(id(entry.definition), entry.backend, entry.variant) for entry in ENTRIES}) == len(ENTRIES)


def definition_as_executor(entry: executors.Executor) -> executors.Executor:
    """An executor of ``entry``'s variant that runs the definition itself (for the table's self-check)."""
    definition, variant = entry.definition, entry.variant
    if isinstance(definition, losses.Loss):

        def function(Z, A, Y):
            return definition.cost_and_gradient(Z, A, Y, xp=_XP["current"])
    elif definition in RULE_OPTIMIZERS:
        slots = RULE_OPTIMIZERS[definition].slots

        def function(parameters, grads, state, *, xp, **settings):
            optimizers.apply_rule(definition, slots, parameters, grads, state, xp=xp, **settings)
    else:

        def function(*args, xp=None, **keywords):
            return definition(*args, xp=xp if xp is not None else _XP["current"], **keywords)

    return executors.Executor(definition, "portable", variant, function)


_XP: dict[str, Any] = {"current": None}


@pytest.mark.parametrize(
    "entry",
    [entry for entry in ENTRIES if entry.backend == "cupy"],
    ids=[entry_id(entry) for entry in ENTRIES if entry.backend == "cupy"],
)
def test_the_tables_examples_run_with_the_definition_as_its_own_executor(entry, monkeypatch):
    """The rows of executors this machine may not run (CuPy's) are exercised here on NumPy, with the
    definition standing in for the executor: the table itself has no mistakes a GPU would meet first."""
    device = Device("numpy")
    _XP["current"] = device.xp
    stand_in = definition_as_executor(entry)
    try:
        case = case_for(entry.definition)
        assert case is not None
        examples = case.inputs(np.random.default_rng(0), "float64") if case.inputs is not None else [("", (), {})]
        for label, args, keywords in examples:
            extra = {"monkeypatch": monkeypatch} if case.check is check_split_runner else {}
            case.check(stand_in, device, "float64", label, device.move(args), keywords, True, **extra)
    finally:
        _XP["current"] = None


# --- selection: a user's own definitions are never replaced ----------------------------------------


def counting(calls: dict, key: str, function: Callable) -> Callable:
    def counted(*args, **keywords):
        calls[key] = calls.get(key, 0) + 1
        return function(*args, **keywords)

    counted.__name__ = function.__name__
    return counted


def my_relu(Z, *, xp):
    """Named "relu" by the user, but a leaky relu of slope 0.1 (so that its results can be told apart)."""
    return xp.where(Z > 0, Z, 0.1 * Z)


def my_relu_backward(dA, A, *, xp):
    return xp.where(A > 0, dA, 0.1 * dA)


def regression_data(n: int = 64, features: int = 4):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, features))
    return X, X[:, 0] - 0.5 * X[:, 1]


def test_a_users_activation_named_relu_is_called_and_its_results_used(backend, fast_paths):
    calls: dict[str, int] = {}
    user_relu = activations.Activation(
        "relu", counting(calls, "forward", my_relu), counting(calls, "backward", my_relu_backward)
    )
    X, y = regression_data()
    network = xdnn.Network(
        [xdnn.Dense(6, activation=user_relu), xdnn.Dense(5, activation=user_relu), xdnn.Dense(1)],
        loss="mse", dtype="float64", seed=0, optimizer="sgd", learning_rate=0.05,
    )  # fmt: skip
    network.fit(X, y, epochs=3, batch_size=None, verbose=0)
    assert calls == {"forward": 6, "backward": 6}, f"{backend.name}: {calls}"
    # the trained network's output is the user's function's, not relu's
    parameters = {name: np.asarray(xdnn.to_numpy(value)) for name, value in network.parameters.items()}
    A = X.T
    for layer in (1, 2):
        A = my_relu(parameters[f"W{layer}"] @ A + parameters[f"b{layer}"], xp=np)
    expected = parameters["W3"] @ A + parameters["b3"]
    got = np.asarray(xdnn.to_numpy(network.predict_proba(X))).T
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=backend.name)


@pytest.mark.parametrize("name", ["mse", "binary_crossentropy"])
def test_a_users_loss_named_as_a_built_in_one_is_called_and_its_results_used(backend, fast_paths, name):
    """The user's cost (the built-in one plus 100) gives the history's losses; the user's output
    gradient (zero) leaves the parameters where they were."""
    built_in = losses.LOSSES[name]
    calls: dict[str, int] = {}

    def my_cost(Z, A, Y, *, xp, weights=None):
        return built_in.cost(Z, A, Y, xp=xp, weights=weights) + 100.0

    def my_gradient(A, Y, *, xp):
        return 0.0 * (A - Y)

    loss = losses.Loss(name, built_in.output_activation, counting(calls, "cost", my_cost),
                       counting(calls, "gradient", my_gradient))  # fmt: skip
    X, y = regression_data()
    if name == "binary_crossentropy":
        y = (y > 0).astype(int)
    network = xdnn.Network([4, 5, 1], loss=loss, dtype="float64", seed=0, optimizer="sgd", learning_rate=0.5)
    before = {key: np.array(xdnn.to_numpy(value), copy=True) for key, value in network.parameters.items()}
    history = network.fit(X, y, epochs=3, batch_size=None, verbose=0)
    assert calls == {"cost": 3, "gradient": 3}, f"{backend.name}: {calls}"
    assert min(history["loss"]) >= 100.0, f"{backend.name}: {history['loss']}"
    for key, value in network.parameters.items():
        np.testing.assert_array_equal(xdnn.to_numpy(value), before[key], err_msg=f"{backend.name} {key}")


def test_a_gradient_descent_subclass_with_its_own_rule_is_applied(backend, fast_paths):
    calls: dict[str, int] = {}

    def halving_rule(W, dW, *, learning_rate, xp):
        return W * 0.5  # not a gradient step at all: its results are told apart

    class Halving(optimizers.GradientDescent):
        rule = staticmethod(counting(calls, "rule", halving_rule))

    X, y = regression_data()
    network = xdnn.Network([4, 5, 1], loss="mse", dtype="float64", seed=0, optimizer=Halving(), learning_rate=0.1)
    before = {key: np.array(xdnn.to_numpy(value), copy=True) for key, value in network.parameters.items()}
    network.fit(X, y, epochs=2, batch_size=None, verbose=0)
    assert calls == {"rule": 2 * len(before)}, f"{backend.name}: {calls}"
    for key, value in network.parameters.items():
        np.testing.assert_array_equal(xdnn.to_numpy(value), before[key] * 0.25, err_msg=f"{backend.name} {key}")


# --- selection on a stand-in backend: a throwaway registry entry, looked up by identity ---------------


class StandIn:
    """A namespace the registry takes for the backend ``"stand-in"`` (NumPy's functions underneath)."""

    __name__ = "stand_in"

    def __getattr__(self, name: str) -> Any:
        return getattr(compat_numpy, name)


@pytest.fixture
def stand_in(monkeypatch):
    """``(namespace, calls)``: executors registered for a stand-in backend, each counting its calls in
    ``calls``; the registry is put back afterwards."""
    import xdnn.backends

    namespace = StandIn()
    real_backend_of = xdnn.backends.backend_of

    def backend_of(xp):
        return "stand-in" if xp is namespace else real_backend_of(xp)

    monkeypatch.setattr(xdnn.backends, "backend_of", backend_of)
    monkeypatch.setattr(executors, "_backend_of", backend_of)  # (the look-up executors.find keeps)
    saved = dict(executors._REGISTRY)
    calls: dict[str, int] = {}

    def register(definition, variant, function, key):
        executors.register(definition, backend="stand-in", variant=variant)(counting(calls, key, function))

    register(activations.relu, executors.FRESH, lambda Z, *, xp=None: activations.relu(Z, xp=namespace), "relu")
    register(
        activations.relu_backward, executors.FRESH,
        lambda dA, A, *, xp=None: activations.relu_backward(dA, A, xp=namespace), "relu_backward",
    )  # fmt: skip
    register(activations.relu, executors.IN_PLACE, lambda Z, *, xp=None: np.maximum(Z, 0.0, out=Z), "relu_in_place")
    register(
        activations.relu_backward, executors.IN_PLACE,
        lambda dA, A, *, xp=None: np.multiply(dA, A > 0, out=dA), "relu_backward_in_place",
    )  # fmt: skip
    mse = losses.LOSSES["mse"]
    register(mse, losses.COST_AND_GRADIENT, lambda Z, A, Y: mse.cost_and_gradient(Z, A, Y, xp=namespace), "mse")

    def sgd_in_place(parameters, grads, state, *, xp=None, learning_rate):
        for name in parameters:
            parameters[name] -= learning_rate * grads["d" + name]

    register(optimizers.gradient_descent_update, optimizers.IN_PLACE, sgd_in_place, "sgd")
    try:
        yield namespace, calls
    finally:
        executors._REGISTRY.clear()
        executors._REGISTRY.update(saved)


def test_a_built_in_definition_gets_the_stand_in_executor_a_users_does_not(stand_in, fast_paths):
    namespace, calls = stand_in
    rng = np.random.default_rng(8)
    Z, dA = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    # activations: the built-in relu's executors, the user's own relu's functions
    forward, backward = activations.ACTIVATIONS["relu"].bind(namespace)
    forward(Z.copy()), backward(dA, Z)
    assert calls == {"relu": 1, "relu_backward": 1}
    user_calls: dict[str, int] = {}
    user_relu = activations.Activation(
        "relu", counting(user_calls, "forward", my_relu), counting(user_calls, "backward", my_relu_backward)
    )
    forward, backward = user_relu.bind(namespace)
    np.testing.assert_array_equal(forward(Z), my_relu(Z, xp=np))
    backward(dA, Z)
    assert user_calls == {"forward": 1, "backward": 1} and calls == {"relu": 1, "relu_backward": 1}
    # a Dense layer that owns its arrays takes the in-place executor of the built-in relu only
    for activation, expected in ((user_relu, {}), ("relu", {"relu_in_place": 1})):
        calls.clear()
        layer = xdnn.Dense(3, activation=activation)
        layer.build(4, 1)
        parameters = {"W1": rng.normal(size=(3, 4)), "b1": np.zeros((3, 1))}
        layer.bind(namespace)(parameters, None, rng.normal(size=(4, 5)), True, None)
        assert {key: value for key, value in calls.items() if key == "relu_in_place"} == expected, activation
    # losses: the built-in mse's fused executor; a user's Loss named "mse" is run as written
    calls.clear()
    mse = losses.LOSSES["mse"]
    Y = rng.normal(size=(3, 5))
    mse.bind(namespace)(Z, Z, Y)
    assert calls == {"mse": 1}
    user_calls.clear()
    user_mse = losses.Loss("mse", "identity", counting(user_calls, "cost", losses.squared_error_cost),
                           counting(user_calls, "gradient", losses.squared_error_gradient))  # fmt: skip
    cost, dZ = user_mse.bind(namespace)(Z, Z, Y)
    assert user_calls == {"cost": 1, "gradient": 1} and calls == {"mse": 1}
    np.testing.assert_array_equal(dZ, (Z - Y) / 3)
    # optimizers: the built-in rule's in-place executor; a subclass's own rule is applied
    calls.clear()
    parameters, grads = {"W": rng.normal(size=(3, 4))}, {"dW": rng.normal(size=(3, 4))}
    optimizers.GradientDescent().update(parameters, grads, 0.1, xp=namespace)
    assert calls == {"sgd": 1}

    class Own(optimizers.GradientDescent):
        rule = staticmethod(counting(user_calls, "rule", optimizers.gradient_descent_update))

    user_calls.clear()
    Own().update(parameters, grads, 0.1, xp=namespace)
    assert user_calls == {"rule": 1} and calls == {"sgd": 1}

    class Subclass(optimizers.GradientDescent):  # the built-in rule, inherited: its executor applies
        pass

    Subclass().update(parameters, grads, 0.1, xp=namespace)
    assert calls == {"sgd": 2}


def test_the_stand_in_entries_are_gone_afterwards():
    assert not [entry for entry in executors._REGISTRY.values() if entry.backend == "stand-in"]


def test_fast_paths_off_finds_no_executor(stand_in, fast_paths):
    namespace, calls = stand_in
    for xp in (namespace, np):
        assert executors.find(activations.relu, xp, executors.IN_PLACE) is not None
    assert executors.resolve(activations.relu, namespace) is not activations.relu
    fast_paths(False)
    assert not xdnn.fast_paths_enabled()
    for xp in (namespace, np):
        for entry in ENTRIES:
            assert executors.find(entry.definition, xp, entry.variant) is None, entry
        assert executors.find(activations.relu, xp, executors.IN_PLACE) is None
        assert executors.resolve(activations.relu, xp) is activations.relu
        assert executors.bind(activations.relu, xp, executors.IN_PLACE) is None
        bound = executors.bind(activations.relu, xp)
        assert isinstance(bound, functools.partial) and bound.func is activations.relu
    forward, _ = activations.ACTIVATIONS["relu"].bind(namespace)
    forward(np.ones((2, 2)))
    assert calls == {}
    fast_paths(True)
    assert executors.find(activations.relu, namespace, executors.IN_PLACE) is not None


def test_other_namespaces_find_no_executor(backend):
    """A namespace no backend module claims (array-api-strict, PyTorch, JAX) runs the definitions."""
    from xdnn.backends import backend_of

    if backend_of(backend.xp) is not None:
        pytest.skip(f"{backend.name} has executors (checked above)")
    for entry in ENTRIES:
        assert executors.find(entry.definition, backend.xp, entry.variant) is None, entry
    assert executors.resolve(linear.linear_forward, backend.xp) is linear.linear_forward


# --- the portable modules never ask which backend they run on -----------------------------------------

PORTABLE_MODULES = (
    "activations", "linear", "losses", "optimizers", "layers", "backprop", "network", "training",
    "training_data", "inputs", "inference", "weights", "regularization", "checkpoint", "functional",
)  # fmt: skip
BACKEND_NAMES = ("numpy", "cupy", "torch", "jax", "array_api_strict")
# A backend's name as a word of an identifier (``is_numpy``, ``_cupy``, ``jax_key``); ``to_numpy``
# (the host copy of any backend's array) names none.
BACKEND_IN_IDENTIFIER = re.compile(r"(?:^|_)(?:numpy|np|cupy|cp|torch|jax|jnp)(?:_|$)")
ALLOWED_IDENTIFIERS = {"to_numpy"}


def docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def backend_mentions(source: str) -> list[str]:
    """Where ``source`` imports a backend library or :mod:`xdnn.backends`, names a backend in an
    identifier or a string (docstrings aside), or compares a ``backend_name``."""
    tree = ast.parse(source)
    docstrings = docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                if root in BACKEND_NAMES or alias.name.startswith("xdnn.backends"):
                    found.append(f"line {line}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [alias.name for alias in node.names]
            if module.split(".")[0] in BACKEND_NAMES or module.startswith("xdnn.backends"):
                found.append(f"line {line}: from {module} import {', '.join(names)}")
            if module == "xdnn" and "backends" in names:
                found.append(f"line {line}: from xdnn import backends")
        elif isinstance(node, (ast.Name, ast.Attribute, ast.FunctionDef, ast.ClassDef, ast.arg, ast.alias)):
            name = {
                ast.Name: lambda n: n.id, ast.Attribute: lambda n: n.attr, ast.arg: lambda n: n.arg,
                ast.alias: lambda n: n.asname or n.name,
            }.get(type(node), lambda n: n.name)(node)  # fmt: skip
            if name not in ALLOWED_IDENTIFIERS and BACKEND_IN_IDENTIFIER.search(name.lower()):
                found.append(f"line {line}: identifier {name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if node.value.strip().lower() in BACKEND_NAMES:
                found.append(f"line {line}: string {node.value!r}")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(operand, ast.Attribute) and operand.attr == "backend_name" for operand in operands):
                found.append(f"line {line}: compares backend_name")
    return found


def module_files(module: str) -> list[pathlib.Path]:
    """``xdnn/<module>.py``, or every file of the package ``xdnn/<module>/``."""
    root = pathlib.Path(xdnn.__file__).parent
    if (root / module).is_dir():
        return sorted((root / module).rglob("*.py"))
    return [root / f"{module}.py"]


@pytest.mark.parametrize("module", PORTABLE_MODULES)
def test_a_portable_module_never_names_a_backend(module):
    files = module_files(module)
    assert files and all(path.is_file() for path in files), f"xdnn/{module}: not found"
    for path in files:
        found = backend_mentions(path.read_text())
        assert found == [], f"{path.relative_to(path.parents[1])} asks which backend it runs on: {found}"


def test_the_backend_check_finds_what_it_looks_for():
    source = '''
"""Docstring: numpy and cupy may be named here."""
import numpy
from xdnn.backends import numpy as fast
from xdnn import backends
def f(x, is_numpy):
    if context.backend_name == "cuda":
        return _cupy_kernel(x)
    return {"torch": 1}
'''
    found = "\n".join(backend_mentions(source))
    for expected in ("import numpy", "from xdnn.backends", "from xdnn import backends", "is_numpy",
                     "compares backend_name", "_cupy_kernel", "'torch'"):  # fmt: skip
        assert expected in found, (expected, found)
    assert "Docstring" not in found
    assert backend_mentions("def g(A):\n    return to_numpy(A)\n") == []


def test_a_definition_replaced_before_the_first_use_of_a_backend_gets_no_executor():
    """A user's wrapper put in place of a definition (``xdnn.linear.linear_backward = profiled``) before
    NumPy is first used is the user's own function: the registry must not hand it NumPy's executor."""
    import subprocess
    import sys

    code = (
        "import numpy as np, xdnn\n"
        "from xdnn import executors, linear\n"
        "original = linear.linear_backward\n"
        "def profiled(*args, **keywords):\n"
        "    return original(*args, **keywords)\n"
        "linear.linear_backward = profiled\n"
        "print(executors.find(profiled, np) is None)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True", "the wrapper was given NumPy's executor of linear_backward"


def test_import_xdnn_leaves_cupy_unloaded():
    """Registering CuPy's kernels needs no CuPy: a CPU-only import never loads it."""
    import subprocess
    import sys

    code = "import sys, xdnn; xdnn.executors.entries(); print('cupy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
