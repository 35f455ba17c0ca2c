"""Gradient-based optimizers and learning-rate schedules, for any Array API namespace.

Each optimizer updates a parameter dictionary **in place** (``W -= ...``) and keeps
its state (velocities, squared-gradient averages) as arrays on the same device as
the parameters.  With gradient ``g`` of parameter ``W`` at step ``t`` (1-based):

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

from xdnn import _cupy_kernels, _numpy_fast, _validation

Array = Any


_positive = _validation.check_positive
_fraction = _validation.check_fraction


class Optimizer:
    """Base class: ``update(parameters, grads, learning_rate, xp=...)`` mutates ``parameters``."""

    name = "optimizer"
    slots: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.state: dict[str, Array] = {}
        self.iterations = 0

    def config(self) -> dict[str, Any]:
        """Hyper-parameters as JSON-serialisable values."""
        return {"name": self.name}

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
        """One step on every parameter, in place; CuPy arrays use a fused kernel per parameter.

        ``overwrite_grads=True`` says the caller reads ``grads`` no more (a network's training step):
        an optimizer may then use the gradients' memory as scratch (:class:`GradientDescent` does).
        """
        self.iterations += 1
        fused = _cupy_kernels.applies_to(xp)
        for name, value in parameters.items():
            grad = grads["d" + name]
            if fused and _cupy_kernels.update(self, name, value, grad, learning_rate):
                continue
            self._update_one(name, value, grad, learning_rate, xp)

    def _update_one(self, name: str, value: Array, grad: Array, learning_rate: float, xp: Any) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "name")
        return f"{type(self).__name__}({arguments})"


class GradientDescent(Optimizer):
    """Plain (mini-batch) gradient descent: ``W -= lr * g``."""

    name = "sgd"

    def _update_one(self, name, value, grad, learning_rate, xp):
        value -= learning_rate * grad

    def update(self, parameters, grads, learning_rate, *, xp, overwrite_grads=False):
        """``W -= lr * g`` for every parameter, in place (the step of a tutorial network is short:
        one loop here, not a method call per parameter).  With ``overwrite_grads`` the product
        ``lr * g`` is written over ``g`` (``g *= lr; W -= g``): the same two operations, no temporary
        the size of ``W`` -- about 4% of the cat classifier's step, whose ``dW1`` is 20 x 12288."""
        if _cupy_kernels.applies_to(xp) or type(self)._update_one is not GradientDescent._update_one:
            super().update(parameters, grads, learning_rate, xp=xp)  # fused kernels, or a subclass's rule
            return
        self.iterations += 1
        # (a NumPy scalar rate would round lr * g to a float32 gradient's dtype before the subtraction)
        overwrite_grads = overwrite_grads and type(learning_rate) in (float, int)
        # (on NumPy the rate as a 0-d array of the gradient's dtype, what NumPy converts it to anyway)
        constant_rate = _numpy_fast.constant if overwrite_grads and _numpy_fast.ops_for(xp) else None
        for name, value in parameters.items():
            grad = grads["d" + name]
            if overwrite_grads:
                grad *= learning_rate if constant_rate is None else constant_rate(learning_rate, grad.dtype)
                value -= grad
            else:
                value -= learning_rate * grad


def overwrites_grads(optimizer: Optimizer) -> bool:
    """Whether ``optimizer.update`` takes ``overwrite_grads``: a built-in update, not a subclass's
    override or a function set on the instance, either of which may predate the keyword."""
    return getattr(optimizer.update, "__func__", None) in (Optimizer.update, GradientDescent.update)


class Momentum(Optimizer):
    """Gradient descent with momentum: ``v = beta v + (1 - beta) g``; ``W -= lr v``."""

    name = "momentum"
    slots = ("v",)

    def __init__(self, beta: float = 0.9) -> None:
        super().__init__()
        self.beta = _fraction(beta, "Momentum's beta")

    def config(self):
        return {"name": self.name, "beta": self.beta}

    def _update_one(self, name, value, grad, learning_rate, xp):
        velocity = self.state[f"v_{name}"]
        velocity *= self.beta
        velocity += (1.0 - self.beta) * grad
        value -= learning_rate * velocity


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

    def __init__(self, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__()
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def config(self):
        return {"name": self.name, "momentum": self.momentum, "nesterov": self.nesterov}

    def _update_one(self, name, value, grad, learning_rate, xp):
        velocity = self.state[f"v_{name}"]
        velocity *= self.momentum
        velocity -= learning_rate * grad
        if self.nesterov:
            value += self.momentum * velocity - learning_rate * grad
        else:
            value += velocity


class RMSprop(Optimizer):
    """``s = rho s + (1 - rho) g^2``; ``W -= lr g / (sqrt(s) + eps)``."""

    name = "rmsprop"
    slots = ("s",)

    def __init__(self, rho: float = 0.9, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.rho = _fraction(rho, "RMSprop's rho")
        self.epsilon = _positive(epsilon, "RMSprop's epsilon")

    def config(self):
        return {"name": self.name, "rho": self.rho, "epsilon": self.epsilon}

    def _update_one(self, name, value, grad, learning_rate, xp):
        squares = self.state[f"s_{name}"]
        squares *= self.rho
        squares += (1.0 - self.rho) * (grad * grad)
        value -= learning_rate * grad / (xp.sqrt(squares) + self.epsilon)


class Adam(Optimizer):
    """Adam with bias correction (Kingma and Ba, 2015); see the module docstring."""

    name = "adam"
    slots = ("v", "s")

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.beta1 = _fraction(beta1, "Adam's beta1")  # 1 would divide by 1 - beta1^t = 0
        self.beta2 = _fraction(beta2, "Adam's beta2")
        self.epsilon = _positive(epsilon, "Adam's epsilon")  # 0 would make 0 / 0 of a zero gradient

    def config(self):
        return {"name": self.name, "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}

    def _update_one(self, name, value, grad, learning_rate, xp):
        first = self.state[f"v_{name}"]
        second = self.state[f"s_{name}"]
        first *= self.beta1
        first += (1.0 - self.beta1) * grad
        second *= self.beta2
        second += (1.0 - self.beta2) * (grad * grad)
        first_correction = 1.0 - self.beta1**self.iterations
        second_correction = 1.0 - self.beta2**self.iterations
        step = learning_rate / first_correction
        value -= step * first / (xp.sqrt(second / second_correction) + self.epsilon)


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
