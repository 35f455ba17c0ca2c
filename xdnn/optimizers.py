"""Gradient-based optimizers and learning-rate schedules, for any Array API namespace.

Each update rule is written once, for one parameter, returning new arrays; an optimizer applies
it to a network's parameter dictionary and keeps its state (velocities, squared-gradient
averages) beside it, on the same device.  Backends run the built-in rules in place
(:mod:`xdnn.executors`); immutable arrays (JAX) are simply replaced.  With gradient ``g`` of
parameter ``W`` at step ``t`` (1-based):

* ``GradientDescent``:  ``W -= lr * g``
* ``Momentum``:         ``v = beta v + (1 - beta) g``;  ``W -= lr * v``
* ``SGDMomentum``:      ``v = mu v - lr g``;  ``W += v`` (Nesterov: ``W += mu v - lr g``), the
  momentum of Keras' ``SGD(momentum, nesterov)`` and scikit-learn's ``solver="sgd"``
* ``RMSprop``:          ``s = rho s + (1 - rho) g^2``;  ``W -= lr * g / (sqrt(s) + eps)``
* ``Adam``:             ``v = b1 v + (1 - b1) g``; ``s = b2 s + (1 - b2) g^2``;
  ``W -= lr * (v / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)``

(The averages are the tutorial course's exponentially weighted ones, ``(1 - beta)``
included.)  Schedules map an epoch number (0-based) to a learning rate.
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

from xdnn import _validation, executors

Array = Any


_positive = _validation.check_positive
_fraction = _validation.check_fraction


# --- the update rules: one parameter, one step, new arrays ----------------------------------------


def gradient_descent_update(W: Array, dW: Array, *, learning_rate: float, xp: Any) -> Array:
    """``W - lr * dW``."""
    return W - learning_rate * dW


def momentum_update(
    W: Array, dW: Array, v: Array, *, learning_rate: float, beta: float, xp: Any
) -> tuple[Array, Array]:
    """``v = beta v + (1 - beta) dW``; ``W - lr v``.  Returns ``(W, v)``."""
    v = beta * v + (1.0 - beta) * dW
    return W - learning_rate * v, v


def sgd_momentum_update(
    W: Array, dW: Array, v: Array, *, learning_rate: float, momentum: float, nesterov: bool, xp: Any
) -> tuple[Array, Array]:
    """``v = mu v - lr dW``; ``W + v`` (Nesterov: ``W + mu v - lr dW``).  Returns ``(W, v)``."""
    v = momentum * v - learning_rate * dW
    return (W + (momentum * v - learning_rate * dW) if nesterov else W + v), v


def rmsprop_update(
    W: Array, dW: Array, s: Array, *, learning_rate: float, rho: float, epsilon: float, xp: Any
) -> tuple[Array, Array]:
    """``s = rho s + (1 - rho) dW^2``; ``W - lr dW / (sqrt(s) + eps)``.  Returns ``(W, s)``."""
    s = rho * s + (1.0 - rho) * (dW * dW)
    return W - learning_rate * dW / (xp.sqrt(s) + epsilon), s


def adam_update(
    W: Array,
    dW: Array,
    v: Array,
    s: Array,
    *,
    learning_rate: float,
    beta1: float,
    beta2: float,
    epsilon: float,
    t: int,
    xp: Any,
) -> tuple[Array, Array, Array]:
    """``v = b1 v + (1 - b1) dW``; ``s = b2 s + (1 - b2) dW^2``;
    ``W - (lr / (1 - b1^t)) v / (sqrt(s / (1 - b2^t)) + eps)`` at step ``t`` (from 1).  Returns ``(W, v, s)``."""
    v = beta1 * v + (1.0 - beta1) * dW
    s = beta2 * s + (1.0 - beta2) * (dW * dW)
    step = learning_rate / (1.0 - beta1**t)
    return W - step * v / (xp.sqrt(s / (1.0 - beta2**t)) + epsilon), v, s


# The executor variant of an update rule for a whole step: ``executor(parameters, grads, state, *,
# xp, **settings)`` updates the dictionaries ``parameters`` and ``state`` in place (the arrays in
# them may be overwritten), as ``apply_rule`` does with new arrays.
IN_PLACE = executors.IN_PLACE
# The same, and the gradients' memory may be used as scratch (a network's step reads them no more).
OVER_GRADIENTS = "in_place_over_gradients"


def apply_rule(
    rule: Any, slots: tuple[str, ...], parameters: dict, grads: Mapping, state: dict, *, xp: Any, **settings
):
    """One step of ``rule`` on every parameter: ``parameters[name]`` and its state arrays
    ``state[f"{slot}_{name}"]`` are replaced by the rule's new arrays (gradients ``grads["d" + name]``).

    All or nothing: every parameter's new arrays are computed before any is put in place, so a rule
    that raises for one parameter leaves every parameter and state array as it was."""
    replacements = []
    for name, W in parameters.items():
        keys = [f"{slot}_{name}" for slot in slots]
        result = rule(W, grads["d" + name], *(state[key] for key in keys), xp=xp, **settings)
        replacements.append((name, keys, result))
    for name, keys, result in replacements:
        if not keys:
            parameters[name] = result
            continue
        parameters[name] = result[0]
        for key, value in zip(keys, result[1:], strict=True):
            state[key] = value


class Optimizer:
    """Base class: ``update(parameters, grads, learning_rate, xp=...)`` replaces the arrays of ``parameters``.

    A subclass sets ``rule`` (a function of one parameter, its gradient and its ``slots`` of
    state, returning new arrays, as :func:`adam_update`) and ``settings`` (the rule's scalars), or
    overrides :meth:`update`.  A backend's executor runs a built-in rule in place; a rule of the
    user's own is always run as written.
    """

    name = "optimizer"
    slots: tuple[str, ...] = ()
    rule: Any = None

    def __init__(self) -> None:
        self.state: dict[str, Array] = {}
        self.iterations = 0

    def config(self) -> dict[str, Any]:
        """Hyper-parameters as JSON-serialisable values."""
        return {"name": self.name}

    def settings(self, learning_rate: float) -> dict[str, Any]:
        """The scalars of :attr:`rule` for the step being taken (``self.iterations`` counts it)."""
        return {"learning_rate": learning_rate}

    def _beside(self, parameters: Mapping[str, Array]) -> list[tuple[str, Array]]:
        """``(state name, parameter)`` for each state array beside ``parameters``: ``v_W1``, ``s_b2``, ..."""
        return [(f"{slot}_{name}", value) for name, value in parameters.items() for slot in self.slots]

    def initialize(self, parameters: Mapping[str, Array], *, xp: Any) -> None:
        """Zero state beside each parameter (same shape, dtype and device)."""
        self.state = {key: xp.zeros_like(value) for key, value in self._beside(parameters)}
        self.iterations = 0

    def has_state_for(self, parameters: Mapping[str, Array]) -> bool:
        """Whether :attr:`state` is what :meth:`initialize` makes for ``parameters`` (the same names
        and shapes): not, for an optimizer assigned since, or one used on another network."""
        expected = {key: tuple(value.shape) for key, value in self._beside(parameters)}
        return expected == {key: tuple(value.shape) for key, value in self.state.items()}

    def update(
        self,
        parameters: dict[str, Array],
        grads: Mapping[str, Array],
        learning_rate: float,
        *,
        xp: Any,
        overwrite_grads: bool = False,
    ) -> None:
        """One step of :attr:`rule` on every parameter of ``parameters`` (a dictionary this optimizer
        may update in place, as a network's is).

        ``overwrite_grads=True`` says the caller reads ``grads`` no more (a network's training step):
        an executor may then use the gradients' memory as scratch.
        """
        rule = type(self).rule
        if rule is None:
            raise NotImplementedError(f"{type(self).__name__} sets no update rule and does not override update")
        self.iterations += 1  # (the step being taken counts: Adam's bias correction reads it)
        try:
            # (a Python float: a NumPy float64 rate would promote float32 parameters on the way)
            settings = self.settings(float(learning_rate))
            in_place = self._in_place_executor(rule, xp, overwrite_grads)
            if in_place:
                in_place(parameters, grads, self.state, xp=xp, **settings)
            else:
                apply_rule(rule, self.slots, parameters, grads, self.state, xp=xp, **settings)
        except BaseException:  # nothing was applied (apply_rule is all or nothing): the step does not count
            self.iterations -= 1
            raise

    def __getstate__(self) -> dict[str, Any]:
        """Pickled and copied without the executor looked up for the last steps (it holds a namespace)."""
        state = dict(self.__dict__)
        state.pop("_executor", None)
        return state

    def _in_place_executor(self, rule: Any, xp: Any, overwrite_grads: bool) -> Any:
        """A backend's in-place executor of ``rule`` on ``xp`` (the one that may also use the gradients
        as scratch where ``overwrite_grads``), or ``None``; looked up once for a run of steps."""
        key = (rule, xp, overwrite_grads, executors.fast_paths_enabled())
        cached = self.__dict__.get("_executor")
        if cached is None or cached[0] != key:
            found = overwrite_grads and executors.find(rule, xp, OVER_GRADIENTS)
            cached = (key, found or executors.find(rule, xp, IN_PLACE))
            self._executor = cached
        return cached[1]

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "name")
        return f"{type(self).__name__}({arguments})"


def overwrites_grads(optimizer: Optimizer) -> bool:
    """Whether ``optimizer.update`` takes ``overwrite_grads``: the built-in update, not a subclass's
    override or a function set on the instance, either of which may predate the keyword."""
    return getattr(optimizer.update, "__func__", None) is Optimizer.update


class GradientDescent(Optimizer):
    """Plain (mini-batch) gradient descent: ``W -= lr * g``."""

    name = "sgd"
    rule = staticmethod(gradient_descent_update)


class Momentum(Optimizer):
    """Gradient descent with momentum: ``v = beta v + (1 - beta) g``; ``W -= lr v``."""

    name = "momentum"
    slots = ("v",)
    rule = staticmethod(momentum_update)

    def __init__(self, beta: float = 0.9) -> None:
        super().__init__()
        self.beta = _fraction(beta, "Momentum's beta")

    def config(self):
        return {"name": self.name, "beta": self.beta}

    def settings(self, learning_rate):
        return {"learning_rate": learning_rate, "beta": self.beta}


class SGDMomentum(Optimizer):
    """Gradient descent with classical ("heavy ball") momentum ``mu``, or Nesterov's:

    ``v = mu v - lr g``, then ``W += v``; with ``nesterov=True`` ``W += mu v - lr g`` (the
    gradient taken one step ahead).  This is Keras' ``SGD(momentum, nesterov)`` and scikit-learn's
    ``solver="sgd"`` (``momentum=0.9, nesterovs_momentum=True`` there); for a constant rate it is
    PyTorch's ``SGD(momentum, nesterov)`` too.  The velocity carries the rate, so a rate that changes
    mid-training rescales only the new steps.  :class:`Momentum` is the course's averaged form.
    """

    name = "sgd_momentum"
    slots = ("v",)
    rule = staticmethod(sgd_momentum_update)

    def __init__(self, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__()
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def config(self):
        return {"name": self.name, "momentum": self.momentum, "nesterov": self.nesterov}

    def settings(self, learning_rate):
        return {"learning_rate": learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """``s = rho s + (1 - rho) g^2``; ``W -= lr g / (sqrt(s) + eps)``."""

    name = "rmsprop"
    slots = ("s",)
    rule = staticmethod(rmsprop_update)

    def __init__(self, rho: float = 0.9, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.rho = _fraction(rho, "RMSprop's rho")
        self.epsilon = _positive(epsilon, "RMSprop's epsilon")

    def config(self):
        return {"name": self.name, "rho": self.rho, "epsilon": self.epsilon}

    def settings(self, learning_rate):
        return {"learning_rate": learning_rate, "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam with bias correction (Kingma and Ba, 2015); see the module docstring."""

    name = "adam"
    slots = ("v", "s")
    rule = staticmethod(adam_update)

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.beta1 = _fraction(beta1, "Adam's beta1")  # 1 would divide by 1 - beta1^t = 0
        self.beta2 = _fraction(beta2, "Adam's beta2")
        self.epsilon = _positive(epsilon, "Adam's epsilon")  # 0 would make 0 / 0 of a zero gradient

    def config(self):
        return {"name": self.name, "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}

    def settings(self, learning_rate):
        return {
            "learning_rate": learning_rate,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
            "t": self.iterations,
        }


OPTIMIZERS = {cls.name: cls for cls in (GradientDescent, Momentum, SGDMomentum, RMSprop, Adam)}
_ALIASES = {"gd": "sgd", "gradient_descent": "sgd"}


def get_optimizer(spec: str | Optimizer | Mapping[str, Any]) -> Optimizer:
    """An optimizer from a name (``sgd``, ``momentum``, ``sgd_momentum``, ``rmsprop``, ``adam``), a config
    dict (``{"name": "sgd_momentum", "momentum": 0.9, "nesterov": True}``) or an instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, Mapping):
        settings = dict(spec)
        name = settings.pop("name")
    else:
        name, settings = spec, {}
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid optimizers are: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[key](**settings)


# --- learning-rate schedules --------------------------------------------------------------------


def _positive_count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{what} must be a positive integer (epochs), got {value!r}")
    return int(value)


class Schedule:
    """Maps a 0-based epoch to a learning rate; ``initial`` is the rate at epoch 0."""

    name = "constant"

    def __init__(self, initial: float) -> None:
        self.initial = _positive(initial, "learning rate")

    def __call__(self, epoch: int) -> float:
        return self.initial

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "initial": self.initial}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "name")
        return f"{type(self).__name__}({arguments})"


class ExponentialDecay(Schedule):
    """``lr = initial * rate ** (epoch / steps)``."""

    name = "exponential"

    def __init__(self, initial: float, rate: float = 0.96, steps: int = 1) -> None:
        super().__init__(initial)
        self.rate, self.steps = _positive(rate, "decay rate"), _positive_count(steps, "steps")

    def __call__(self, epoch):
        return self.initial * self.rate ** (epoch / self.steps)

    def config(self):
        return {**super().config(), "rate": self.rate, "steps": self.steps}


class StepDecay(Schedule):
    """``lr = initial * drop ** floor(epoch / every)``."""

    name = "step"

    def __init__(self, initial: float, drop: float = 0.5, every: int = 10) -> None:
        super().__init__(initial)
        self.drop, self.every = _positive(drop, "drop"), _positive_count(every, "every")

    def __call__(self, epoch):
        return self.initial * self.drop ** (epoch // self.every)

    def config(self):
        return {**super().config(), "drop": self.drop, "every": self.every}


class InverseTimeDecay(Schedule):
    """``lr = initial / (1 + rate * floor(epoch / steps)) ** power`` (the course's
    ``1 / (1 + decay * epoch)`` with ``power=1``; scikit-learn's ``learning_rate="invscaling"``,
    ``lr / t ** power_t`` with ``t`` samples seen, is ``rate = n_samples, power = power_t``)."""

    name = "inverse_time"

    def __init__(self, initial: float, rate: float = 1.0, steps: int = 1, power: float = 1.0) -> None:
        super().__init__(initial)
        self.rate, self.steps = _positive(rate, "decay rate"), _positive_count(steps, "steps")
        self.power = _positive(power, "power")

    def __call__(self, epoch):
        return self.initial / (1.0 + self.rate * (epoch // self.steps)) ** self.power

    def config(self):
        return {**super().config(), "rate": self.rate, "steps": self.steps, "power": self.power}


SCHEDULES = {cls.name: cls for cls in (Schedule, ExponentialDecay, StepDecay, InverseTimeDecay)}


def get_schedule(spec: float | Schedule | Mapping[str, Any]) -> Schedule:
    """A schedule from a number (constant), a config dict or an instance."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, Mapping):
        settings = dict(spec)
        name = settings.pop("name")
        if name not in SCHEDULES:
            raise ValueError(f"unknown schedule {name!r}; valid schedules are: {', '.join(SCHEDULES)}")
        return SCHEDULES[name](**settings)
    if isinstance(spec, bool) or not isinstance(spec, numbers.Real):  # NumPy scalars included
        raise TypeError(f"learning_rate must be a number or a Schedule, got {type(spec).__name__}")
    return Schedule(float(spec))
