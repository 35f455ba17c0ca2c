"""xdnn.optimizers: several update steps against NumPy float64 textbook formulas and torch.optim;
state beside the parameters; learning-rate schedules against their formulas.

The references are the deeplearning.ai Course 2 "Optimization methods" updates, written out
here in NumPy float64 (``t`` is the 1-based step, ``lr`` that step's learning rate):

* gradient descent  ``W -= lr dW``
* momentum          ``v = beta v + (1 - beta) dW``;  ``W -= lr v``
* SGD momentum      ``v = mu v - lr dW``;  ``W += v`` (Nesterov: ``W += mu v - lr dW``), Keras'
  and scikit-learn's form, also checked against scikit-learn's own ``SGDOptimizer``
* RMSprop           ``s = rho s + (1 - rho) dW^2``;  ``W -= lr dW / (sqrt(s) + eps)``
* Adam              ``v = b1 v + (1 - b1) dW``; ``s = b2 s + (1 - b2) dW^2``;
  ``W -= lr (v / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)``
"""

from __future__ import annotations

import math

import array_api_compat
import numpy as np
import pytest

import xdnn
from xdnn import executors, optimizers

SHAPES = {"W1": (3, 4), "b1": (3, 1), "W2": (1, 3), "b2": (1, 1)}
STEPS = 6
LEARNING_RATES = [0.1, 0.05, 0.05, 0.02, 0.3, 0.01]  # changes between steps, as a schedule does
OPTIMIZER_NAMES = ["sgd", "momentum", "sgd_momentum", "rmsprop", "adam"]


def draw_problem(seed=0):
    """Initial parameters and one gradient dict per step (NumPy float64)."""
    random_state = np.random.RandomState(seed)
    parameters = {name: random_state.randn(*shape) for name, shape in SHAPES.items()}
    gradients = [
        {"d" + name: random_state.randn(*shape) * 10.0 ** random_state.uniform(-2, 1) for name, shape in SHAPES.items()}
        for _ in range(STEPS)
    ]
    return parameters, gradients


def reference_steps(name, parameters, gradients, learning_rates, **settings):
    """The tutorial's update rules in NumPy float64; returns the parameters after every step."""
    parameters = {key: value.copy() for key, value in parameters.items()}
    v = {key: np.zeros_like(value) for key, value in parameters.items()}
    s = {key: np.zeros_like(value) for key, value in parameters.items()}
    history = []
    for t, (grads, lr) in enumerate(zip(gradients, learning_rates, strict=True), start=1):
        for key in parameters:
            dW = grads["d" + key]
            if name == "sgd":
                parameters[key] = parameters[key] - lr * dW
            elif name == "momentum":
                beta = settings.get("beta", 0.9)
                v[key] = beta * v[key] + (1 - beta) * dW
                parameters[key] = parameters[key] - lr * v[key]
            elif name == "sgd_momentum":
                mu = settings.get("momentum", 0.9)
                v[key] = mu * v[key] - lr * dW
                step = mu * v[key] - lr * dW if settings.get("nesterov", False) else v[key]
                parameters[key] = parameters[key] + step
            elif name == "rmsprop":
                rho, eps = settings.get("rho", 0.9), settings.get("epsilon", 1e-8)
                s[key] = rho * s[key] + (1 - rho) * dW**2
                parameters[key] = parameters[key] - lr * dW / (np.sqrt(s[key]) + eps)
            elif name == "adam":
                beta1, beta2 = settings.get("beta1", 0.9), settings.get("beta2", 0.999)
                eps = settings.get("epsilon", 1e-8)
                v[key] = beta1 * v[key] + (1 - beta1) * dW
                s[key] = beta2 * s[key] + (1 - beta2) * dW**2
                v_corrected = v[key] / (1 - beta1**t)
                s_corrected = s[key] / (1 - beta2**t)
                parameters[key] = parameters[key] - lr * v_corrected / (np.sqrt(s_corrected) + eps)
        history.append({key: value.copy() for key, value in parameters.items()})
    return history


def run_xdnn(optimizer, parameters, gradients, learning_rates, xp, to_device, dtype, **update_options):
    """Apply ``optimizer`` on the backend; returns the parameters (on the host) after every step."""
    on_device = {name: to_device(value.astype(dtype)) for name, value in parameters.items()}
    optimizer.initialize(on_device, xp=xp)
    history = []
    for grads, lr in zip(gradients, learning_rates, strict=True):
        step_grads = {key: to_device(value.astype(dtype)) for key, value in grads.items()}
        optimizer.update(on_device, step_grads, lr, xp=xp, **update_options)
        history.append({name: np.array(xdnn.to_numpy(value), copy=True) for name, value in on_device.items()})
    return history


def assert_histories_close(actual, expected, rtol, message):
    for step, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        for name in want:
            error = np.linalg.norm(got[name] - want[name]) / np.linalg.norm(want[name])
            assert error < rtol, f"{message}: step {step} {name}: relative error {error:.2e}"


SETTINGS = {
    "sgd": {},
    "momentum": {"beta": 0.8},
    "sgd_momentum": {"momentum": 0.7, "nesterov": True},
    "rmsprop": {"rho": 0.95, "epsilon": 1e-6},
    "adam": {"beta1": 0.85, "beta2": 0.99, "epsilon": 1e-7},
}


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
@pytest.mark.parametrize("custom", [False, True], ids=["defaults", "custom"])
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-13), ("float32", 1e-5)])
def test_updates_match_the_tutorial_formulas(backend, xp, to_device, name, custom, dtype, tolerance):
    parameters, gradients = draw_problem()
    settings = SETTINGS[name] if custom else {}
    optimizer = optimizers.get_optimizer({"name": name, **settings})
    expected = reference_steps(name, parameters, gradients, LEARNING_RATES, **settings)
    actual = run_xdnn(optimizer, parameters, gradients, LEARNING_RATES, xp, to_device, dtype)
    assert optimizer.iterations == STEPS, backend.name
    for step in actual:
        for value in step.values():
            assert value.dtype == np.dtype(dtype), f"{backend.name} {name}: parameters became {value.dtype}"
    assert_histories_close(actual, expected, tolerance, f"{backend.name} {name} {dtype} {settings}")


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_overwriting_the_gradients_changes_no_parameter_bit(backend, xp, to_device, name, dtype):
    """``overwrite_grads=True`` (a network's step) may use the gradients as scratch; the parameters
    come out bit for bit as from the default update, which leaves the gradients as they were."""
    parameters, gradients = draw_problem(seed=3)
    kept = [{key: to_device(value.astype(dtype)) for key, value in grads.items()} for grads in gradients]
    optimizer = optimizers.get_optimizer(name)
    default = run_xdnn(optimizer, parameters, gradients, LEARNING_RATES, xp, to_device, dtype)
    overwriting = run_xdnn(optimizer, parameters, gradients, LEARNING_RATES, xp, to_device, dtype, overwrite_grads=True)
    for step, (got, want) in enumerate(zip(overwriting, default, strict=True), start=1):
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{backend.name} {name} step {step} {key}")
    on_device = {key: to_device(value.astype(dtype)) for key, value in parameters.items()}
    optimizer.initialize(on_device, xp=xp)
    for grads, lr, host in zip(kept, LEARNING_RATES, gradients, strict=True):
        optimizer.update(on_device, grads, lr, xp=xp)
        for key, value in grads.items():
            np.testing.assert_array_equal(xdnn.to_numpy(value), host[key].astype(dtype), err_msg=f"{name} {key}")


def test_an_optimizer_that_overrides_update_is_not_handed_the_keyword():
    class Halving(optimizers.GradientDescent):
        def update(self, parameters, grads, learning_rate, *, xp):  # written before overwrite_grads
            super().update(parameters, grads, learning_rate / 2, xp=xp)

    assert optimizers.overwrites_grads(optimizers.GradientDescent())
    assert optimizers.overwrites_grads(optimizers.Adam())
    assert not optimizers.overwrites_grads(Halving())
    wrapped = optimizers.GradientDescent()
    wrapped.update = lambda parameters, grads, learning_rate, *, xp: None  # set on the instance
    assert not optimizers.overwrites_grads(wrapped)


def test_gradient_descent_leaves_lr_times_g_in_gradients_it_may_overwrite(backend, xp, to_device):
    """Where a backend registers an executor that may use the gradients as scratch (NumPy's), the overwrite
    happens; elsewhere (CuPy's fused kernel needs no scratch, the portable rule makes new arrays) the
    gradient is left alone.  The parameter is ``W - lr g`` either way."""
    random_state = np.random.RandomState(5)
    W, g = random_state.randn(3, 4), random_state.randn(3, 4)
    parameters, grads = {"W": to_device(W.copy())}, {"dW": to_device(g.copy())}
    optimizers.GradientDescent().update(parameters, grads, 0.25, xp=xp, overwrite_grads=True)
    np.testing.assert_array_equal(xdnn.to_numpy(parameters["W"]), W - 0.25 * g, err_msg=backend.name)
    over_gradients = executors.find(optimizers.gradient_descent_update, xp, optimizers.OVER_GRADIENTS)
    left = 0.25 * g if over_gradients is not None else g
    np.testing.assert_array_equal(xdnn.to_numpy(grads["dW"]), left, err_msg=backend.name)


@pytest.mark.parametrize("name", ["sgd", "momentum", "sgd_momentum", "rmsprop", "adam"])
def test_a_numpy_scalar_rate_is_the_python_float_it_holds(name):
    """A schedule's float64 NumPy scalar would promote float32 parameters (``W - lr * g`` is float64
    under NEP 50): the rate is taken as the Python float it holds, so the parameters keep their dtype
    and the update is the one of ``float(rate)``, on the executor's path and the portable one."""
    random_state = np.random.RandomState(6)
    W, g = random_state.randn(50, 40).astype(np.float32), random_state.randn(50, 40).astype(np.float32)
    results = []
    for rate in (np.float64(0.1), 0.1):
        optimizer = optimizers.get_optimizer(name)
        parameters, grads = {"W": W.copy()}, {"dW": g.copy()}
        optimizer.initialize(parameters, xp=np)
        optimizer.update(parameters, grads, rate, xp=np, overwrite_grads=True)
        assert parameters["W"].dtype == np.float32, (name, parameters["W"].dtype)
        assert all(value.dtype == np.float32 for value in optimizer.state.values()), name
        results.append(parameters["W"])
    np.testing.assert_array_equal(results[0], results[1], err_msg=name)
    reference = {"W": W.copy()}
    optimizers.apply_rule(
        optimizers.get_optimizer(name).rule, optimizers.get_optimizer(name).slots, reference, {"dW": g},
        {f"{slot}_W": np.zeros_like(W) for slot in optimizers.get_optimizer(name).slots}, xp=np,
        **{**optimizers.get_optimizer(name).settings(0.1), **({"t": 1} if name == "adam" else {})},
    )  # fmt: skip
    np.testing.assert_allclose(results[0], reference["W"], rtol=1e-6, err_msg=name)


def test_adam_first_step_is_lr_times_sign_of_the_gradient(backend, xp, to_device):
    """Bias correction: at t = 1, v_corrected = g and s_corrected = g^2, so the step is lr * g / (|g| + eps)."""
    W = np.array([[0.5, -1.0, 2.0]])
    grad = np.array([[1e-3, -4.0, 250.0]])
    parameters = {"W": to_device(W.copy())}  # updated in place
    adam = optimizers.Adam()
    adam.initialize(parameters, xp=xp)
    adam.update(parameters, {"dW": to_device(grad)}, 0.01, xp=xp)
    expected = W - 0.01 * grad / (np.abs(grad) + 1e-8)
    np.testing.assert_allclose(xdnn.to_numpy(parameters["W"]), expected, rtol=1e-12, err_msg=backend.name)


def torch_steps(torch_optimizer, parameters, gradients, learning_rates):
    """Run a torch.optim optimizer (CPU, float64) with the given gradients; parameters after every step."""
    import torch

    tensors = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in parameters.items()}
    optimizer = torch_optimizer(list(tensors.values()))
    history = []
    for grads, lr in zip(gradients, learning_rates, strict=True):
        for group in optimizer.param_groups:
            group["lr"] = lr
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(grads["d" + name], dtype=torch.float64)
        optimizer.step()
        history.append({name: tensor.detach().numpy().copy() for name, tensor in tensors.items()})
    return history


TORCH_EQUIVALENTS = {
    # (xdnn optimizer, torch.optim factory taking (params) -> optimizer, learning-rate factor)
    "sgd": (lambda: optimizers.GradientDescent(), lambda torch: lambda p: torch.optim.SGD(p, lr=1.0), 1.0),
    "rmsprop": (
        lambda: optimizers.RMSprop(rho=0.9, epsilon=1e-8),
        lambda torch: lambda p: torch.optim.RMSprop(p, lr=1.0, alpha=0.9, eps=1e-8),
        1.0,
    ),
    "adam": (
        lambda: optimizers.Adam(beta1=0.9, beta2=0.999, epsilon=1e-8),
        lambda torch: lambda p: torch.optim.Adam(p, lr=1.0, betas=(0.9, 0.999), eps=1e-8),
        1.0,
    ),
    # xdnn documents the course's momentum, v = beta v + (1 - beta) g; W -= lr v.  torch.optim.SGD
    # keeps buf = beta buf + g (buf = g at the first step, no dampening); since v = (1 - beta) buf,
    # xdnn at rate lr is torch at rate lr * (1 - beta).
    "momentum": (
        lambda: optimizers.Momentum(beta=0.9),
        lambda torch: lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.9),
        1.0 - 0.9,
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_EQUIVALENTS))
def test_updates_match_torch_optim(backend, xp, to_device, name):
    torch = pytest.importorskip("torch", reason="torch.optim is the reference here")
    parameters, gradients = draw_problem(seed=1)
    make_xdnn, make_torch, factor = TORCH_EQUIVALENTS[name]
    expected = torch_steps(make_torch(torch), parameters, gradients, [lr * factor for lr in LEARNING_RATES])
    actual = run_xdnn(make_xdnn(), parameters, gradients, LEARNING_RATES, xp, to_device, "float64")
    assert_histories_close(actual, expected, 1e-12, f"{backend.name} {name} vs torch.optim")


@pytest.mark.parametrize("nesterov", [False, True], ids=["classical", "nesterov"])
def test_sgd_momentum_matches_torch_at_a_constant_rate(backend, xp, to_device, nesterov):
    """torch keeps buf = mu buf + g and steps lr * buf (Nesterov: lr (g + mu buf)); at a constant
    rate that is v = -lr buf, the same steps."""
    torch = pytest.importorskip("torch", reason="torch.optim is the reference here")
    parameters, gradients = draw_problem(seed=2)
    rates = [0.05] * STEPS
    expected = torch_steps(
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=nesterov), parameters, gradients, rates
    )
    optimizer = optimizers.SGDMomentum(momentum=0.8, nesterov=nesterov)
    actual = run_xdnn(optimizer, parameters, gradients, rates, xp, to_device, "float64")
    assert_histories_close(actual, expected, 1e-12, f"{backend.name} sgd_momentum nesterov={nesterov} vs torch.optim")


@pytest.mark.parametrize("nesterov", [False, True], ids=["classical", "nesterov"])
def test_sgd_momentum_matches_scikit_learns_sgd_solver(backend, xp, to_device, nesterov):
    """scikit-learn's SGDOptimizer (its MLP's solver="sgd") with a rate that changes between steps."""
    stochastic_optimizers = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
    parameters, gradients = draw_problem(seed=3)
    names = list(SHAPES)
    values = [parameters[name].copy() for name in names]
    reference = stochastic_optimizers.SGDOptimizer(values, LEARNING_RATES[0], momentum=0.7, nesterov=nesterov)
    expected = []
    for grads, lr in zip(gradients, LEARNING_RATES, strict=True):
        reference.learning_rate = lr
        reference.update_params(values, [grads["d" + name] for name in names])
        expected.append({name: value.copy() for name, value in zip(names, values, strict=True)})
    optimizer = optimizers.get_optimizer({"name": "sgd_momentum", "momentum": 0.7, "nesterov": nesterov})
    actual = run_xdnn(optimizer, parameters, gradients, LEARNING_RATES, xp, to_device, "float64")
    assert_histories_close(actual, expected, 1e-12, f"{backend.name} sgd_momentum vs scikit-learn")


def test_sgd_momentum_refuses_a_momentum_outside_0_1():
    for bad in (-0.1, 1.5, float("nan"), True, "0.9"):
        with pytest.raises(ValueError, match="momentum must be a number in"):
            optimizers.SGDMomentum(momentum=bad)


def test_momentum_is_not_torch_convention_at_the_same_rate(backend, xp, to_device):
    """The conventions really differ: the first momentum step is lr (1 - beta) g, not torch's lr g."""
    W, grad = np.array([[1.0, 2.0]]), np.array([[0.5, -3.0]])
    parameters = {"W": to_device(W.copy())}  # updated in place
    momentum = optimizers.Momentum(beta=0.9)
    momentum.initialize(parameters, xp=xp)
    momentum.update(parameters, {"dW": to_device(grad)}, 0.1, xp=xp)
    np.testing.assert_allclose(xdnn.to_numpy(parameters["W"]), W - 0.1 * 0.1 * grad, rtol=1e-14, err_msg=backend.name)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_state_lives_beside_the_parameters(backend, xp, to_device, name, dtype):
    parameters, gradients = draw_problem()
    on_device = {key: to_device(value.astype(dtype)) for key, value in parameters.items()}
    optimizer = optimizers.get_optimizer(name)
    optimizer.initialize(on_device, xp=xp)
    expected_slots = {"sgd": (), "momentum": ("v",), "sgd_momentum": ("v",), "rmsprop": ("s",), "adam": ("v", "s")}[
        name
    ]
    assert set(optimizer.state) == {f"{slot}_{key}" for key in parameters for slot in expected_slots}, backend.name
    for step in range(2):
        optimizer.update(on_device, {k: to_device(v.astype(dtype)) for k, v in gradients[step].items()}, 0.1, xp=xp)
        for state_name, state in optimizer.state.items():
            parameter = on_device[state_name.split("_", 1)[1]]
            where = f"{backend.name} {name} {state_name} after {step + 1} steps"
            assert array_api_compat.array_namespace(state) is array_api_compat.array_namespace(parameter), where
            assert array_api_compat.device(state) == backend.device, where
            assert state.dtype == parameter.dtype == getattr(xp, dtype), where
            assert tuple(state.shape) == tuple(parameter.shape), where
    for key, value in on_device.items():  # updated in place: still the backend's arrays of the same dtype
        assert array_api_compat.device(value) == backend.device, f"{backend.name} {key}"
        assert value.dtype == getattr(xp, dtype), f"{backend.name} {key}"


def test_initialize_resets_state_and_step_count(backend, xp, to_device):
    parameters, gradients = draw_problem()
    on_device = {key: to_device(value) for key, value in parameters.items()}
    adam = optimizers.Adam()
    adam.initialize(on_device, xp=xp)
    adam.update(on_device, {k: to_device(v) for k, v in gradients[0].items()}, 0.1, xp=xp)
    adam.initialize(on_device, xp=xp)
    assert adam.iterations == 0, backend.name
    for state_name, state in adam.state.items():
        assert not np.any(xdnn.to_numpy(state)), f"{backend.name} {state_name}"


def test_get_optimizer_names_configs_and_errors():
    assert isinstance(optimizers.get_optimizer("SGD"), optimizers.GradientDescent)
    assert isinstance(optimizers.get_optimizer("gradient_descent"), optimizers.GradientDescent)
    adam = optimizers.get_optimizer({"name": "adam", "beta1": 0.5})
    assert isinstance(adam, optimizers.Adam) and adam.beta1 == 0.5 and adam.beta2 == 0.999
    same = optimizers.Momentum(beta=0.7)
    assert optimizers.get_optimizer(same) is same
    rebuilt = optimizers.get_optimizer(optimizers.RMSprop(rho=0.8, epsilon=1e-6).config())
    assert (rebuilt.rho, rebuilt.epsilon) == (0.8, 1e-6)
    assert repr(optimizers.Adam()) == "Adam(beta1=0.9, beta2=0.999, epsilon=1e-08)"
    with pytest.raises(ValueError, match="valid optimizers are: sgd, momentum, sgd_momentum, rmsprop, adam"):
        optimizers.get_optimizer("adagrad")


# --- learning-rate schedules ---------------------------------------------------------------------

EPOCHS = range(0, 40)


@pytest.mark.parametrize("rate, steps", [(0.95, 1), (0.5, 4)])
def test_exponential_decay_formula(rate, steps):
    schedule = xdnn.ExponentialDecay(0.2, rate=rate, steps=steps)
    for epoch in EPOCHS:
        assert math.isclose(schedule(epoch), 0.2 * rate ** (epoch / steps), rel_tol=1e-14), epoch


@pytest.mark.parametrize("drop, every", [(0.5, 10), (0.1, 3)])
def test_step_decay_formula(drop, every):
    schedule = xdnn.StepDecay(0.2, drop=drop, every=every)
    for epoch in EPOCHS:
        assert math.isclose(schedule(epoch), 0.2 * drop ** math.floor(epoch / every), rel_tol=1e-14), epoch


@pytest.mark.parametrize("rate, steps", [(1.0, 1), (0.3, 5)])
def test_inverse_time_decay_is_the_course_schedule(rate, steps):
    """The course's ``schedule_lr_decay``: ``lr0 / (1 + decay_rate * floor(epoch / time_interval))``."""
    schedule = xdnn.InverseTimeDecay(0.5, rate=rate, steps=steps)
    for epoch in EPOCHS:
        assert math.isclose(schedule(epoch), 0.5 / (1 + rate * math.floor(epoch / steps)), rel_tol=1e-14), epoch
    assert xdnn.InverseTimeDecay(0.5, rate=1.0)(0) == 0.5  # the course's 1 / (1 + decay * epoch)
    assert math.isclose(xdnn.InverseTimeDecay(0.5, rate=1.0)(3), 0.125)


def test_schedules_match_torch_lr_schedulers():
    torch = pytest.importorskip("torch", reason="torch.optim.lr_scheduler is the reference here")

    def torch_rates(make_scheduler, epochs=25):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
        scheduler = make_scheduler(optimizer)
        rates = []
        for _ in range(epochs):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return rates

    exponential = torch_rates(lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9))
    step = torch_rates(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.3))
    np.testing.assert_allclose([xdnn.ExponentialDecay(0.2, rate=0.9)(e) for e in range(25)], exponential, rtol=1e-12)
    np.testing.assert_allclose([xdnn.StepDecay(0.2, drop=0.3, every=7)(e) for e in range(25)], step, rtol=1e-12)


def test_get_schedule_and_errors():
    constant = optimizers.get_schedule(0.01)
    assert [constant(epoch) for epoch in (0, 5, 500)] == [0.01, 0.01, 0.01]
    rebuilt = optimizers.get_schedule(xdnn.StepDecay(0.1, drop=0.25, every=2).config())
    assert isinstance(rebuilt, xdnn.StepDecay) and rebuilt(5) == 0.1 * 0.25**2
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive finite"):
            optimizers.get_schedule(bad)
    for number in (np.float32(0.25), np.float64(0.25), np.int64(2)):  # e.g. from a NumPy parameter grid
        assert optimizers.get_schedule(number)(3) == float(number)
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        optimizers.get_schedule("0.1")
    with pytest.raises(TypeError):
        optimizers.get_schedule(True)
    for make in (
        lambda: xdnn.ExponentialDecay(0.1, rate=0.0),
        lambda: xdnn.ExponentialDecay(0.1, steps=0),
        lambda: xdnn.StepDecay(0.1, drop=-0.5),
        lambda: xdnn.StepDecay(0.1, every=0),
        lambda: xdnn.StepDecay(0.1, every=2.5),
        lambda: xdnn.InverseTimeDecay(0.1, rate=-1.0),
        lambda: xdnn.InverseTimeDecay(0.1, steps=-3),
    ):
        with pytest.raises(ValueError, match="must be a positive"):  # not a ZeroDivisionError mid-fit
            make()
    with pytest.raises(ValueError, match="unknown schedule"):
        optimizers.get_schedule({"name": "cosine", "initial": 0.1})


def test_inverse_time_decay_with_a_power_is_scikit_learns_invscaling():
    """scikit-learn's invscaling rate after t samples is lr / (t + 1) ** power_t; t = n_samples * epoch."""
    schedule = xdnn.InverseTimeDecay(0.01, rate=150.0, power=0.5)
    for epoch in range(5):
        assert math.isclose(schedule(epoch), 0.01 / (150 * epoch + 1) ** 0.5, rel_tol=1e-15), epoch
    assert xdnn.InverseTimeDecay(0.5, rate=1.0).config()["power"] == 1.0  # the course's schedule by default
    for bad in (0.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="power"):
            xdnn.InverseTimeDecay(0.1, power=bad)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: xdnn.Adam(beta1=1.0), r"Adam's beta1 must be a number in \[0, 1\)"),  # 1 - beta1^t = 0
        (lambda: xdnn.Adam(beta2=1.0), r"Adam's beta2 must be a number in \[0, 1\)"),
        (lambda: xdnn.Adam(epsilon=0.0), "Adam's epsilon must be a positive"),
        (lambda: xdnn.optimizers.Momentum(beta=-1), r"Momentum's beta must be a number in \[0, 1\)"),
        (lambda: xdnn.optimizers.RMSprop(rho=1.5), r"RMSprop's rho must be a number in \[0, 1\)"),
        (lambda: xdnn.optimizers.RMSprop(epsilon=-1e-8), "RMSprop's epsilon must be a positive"),
        (lambda: xdnn.EarlyStopping(patience=-1), "patience must be an integer >= 0"),
        (lambda: xdnn.EarlyStopping(min_delta=float("nan")), "min_delta must be a finite number"),
    ],
)
def test_hyper_parameters_that_cannot_train_are_refused_when_set(make, message):
    """Adam(beta1=1) divided by zero inside fit, after counting the step; beta2=1 diverged silently;
    a zero epsilon makes 0 / 0 of a zero gradient: each is refused where it is written."""
    with pytest.raises(ValueError, match=message):
        make()
