"""CuPy fast paths: fused elementwise kernels for the hot elementwise operations.

With :mod:`xdnn._cuda_graph`, the only module with CuPy-specific code.  Each kernel
computes exactly what its portable counterpart in :mod:`xdnn.activations`,
:mod:`xdnn.losses` or :mod:`xdnn.optimizers` computes, in one pass over memory instead of
several (the portable sigmoid is eight array operations, its kernel one).  Kernels are
defined lazily, on first use with a CuPy array, so importing xdnn never needs CUDA; CuPy
compiles and caches them.

The switch: ``xdnn.set_fast_paths(False)`` (or ``XDNN_FAST_PATHS=0``) turns them off,
and the tests assert that both paths give the same numbers.
"""

from __future__ import annotations

import functools
import os
from typing import Any

# The switch of every fast path (these kernels and xdnn._numpy_fast), read on each call.
FAST_PATHS = {"enabled": os.environ.get("XDNN_FAST_PATHS", "1").strip() not in ("0", "false", "no", "off")}


def set_fast_paths(enabled: bool) -> None:
    """Turn the CuPy fused kernels on (default) or off (portable Array API code everywhere)."""
    FAST_PATHS["enabled"] = bool(enabled)


def fast_paths_enabled() -> bool:
    """Whether fused kernels are used for CuPy arrays."""
    return FAST_PATHS["enabled"]


@functools.lru_cache(maxsize=None)
def _is_cupy_namespace(xp: Any) -> bool:
    name = getattr(xp, "__name__", "")
    return name == "cupy" or name.endswith(".cupy") or name.startswith("cupy.")


def applies_to(xp: Any) -> bool:
    """True when ``xp`` is CuPy's namespace and fast paths are on."""
    return FAST_PATHS["enabled"] and _is_cupy_namespace(xp)


@functools.lru_cache(maxsize=None)
def _kernels() -> dict[str, Any]:
    import cupy

    def kernel(inputs: str, outputs: str, body: str, name: str):
        return cupy.ElementwiseKernel(inputs, outputs, body, f"xdnn_{name}")

    return {
        # activations: forward from Z, backward from the saved output A (or Z for gelu)
        "sigmoid": kernel(
            "T z", "T a", "T e = exp(-fabs(z)); T r = (T)1 / ((T)1 + e); a = z >= 0 ? r : e * r;", "sigmoid"
        ),
        "sigmoid_backward": kernel("T dA, T a", "T dZ", "dZ = dA * a * ((T)1 - a);", "sigmoid_backward"),
        "tanh_backward": kernel("T dA, T a", "T dZ", "dZ = dA * ((T)1 - a * a);", "tanh_backward"),
        "relu": kernel("T z", "T a", "a = z > 0 ? z : (T)0;", "relu"),
        "relu_backward": kernel("T dA, T s", "T dZ", "dZ = s > 0 ? dA : (T)0;", "relu_backward"),
        "leaky_relu": kernel("T z, T slope", "T a", "a = z > 0 ? z : slope * z;", "leaky_relu"),
        "leaky_relu_backward": kernel(
            "T dA, T s, T slope", "T dZ", "dZ = s > 0 ? dA : slope * dA;", "leaky_relu_backward"
        ),
        "elu": kernel("T z", "T a", "a = z > 0 ? z : expm1(min(z, (T)0));", "elu"),
        "elu_backward": kernel("T dA, T a", "T dZ", "dZ = a > 0 ? dA : dA * (a + (T)1);", "elu_backward"),
        # the output layer's cost terms and gradient dZ in one pass (costs: xdnn.losses)
        "bce_cost_and_gradient": kernel(
            "T z, T a, T y",
            "T term, T dz",
            "term = max(z, (T)0) - z * y + log1p(exp(-fabs(z))); dz = a - y;",
            "bce_cost_and_gradient",
        ),
        "mse_cost_and_gradient": kernel(
            "T a, T y, T k", "T term, T dz", "T d = a - y; term = d * d; dz = d / k;", "mse_cost_and_gradient"
        ),
        # optimizer updates, in place on the parameter and its state
        "sgd": kernel("T g, T lr", "T w", "w -= lr * g;", "sgd"),
        "momentum": kernel(
            "T g, T lr, T beta", "T w, T v", "v = beta * v + ((T)1 - beta) * g; w -= lr * v;", "momentum"
        ),
        "rmsprop": kernel(
            "T g, T lr, T rho, T eps",
            "T w, T s",
            "s = rho * s + ((T)1 - rho) * (g * g); w -= lr * g / (sqrt(s) + eps);",
            "rmsprop",
        ),
        "adam": kernel(
            "T g, T step, T b1, T b2, T c2, T eps",
            "T w, T v, T s",
            "v = b1 * v + ((T)1 - b1) * g; s = b2 * s + ((T)1 - b2) * (g * g); w -= step * v / (sqrt(s / c2) + eps);",
            "adam",
        ),
    }


def _scalar(value: float, like: Any) -> Any:
    return like.dtype.type(value)


@functools.lru_cache(maxsize=None)
def fused_activation(name: str) -> Any:
    """The fused :class:`~xdnn.activations.Activation` for ``name``, or ``None`` (use the portable one)."""
    from xdnn.activations import LEAKY_RELU_SLOPE, Activation

    kernels = _kernels()
    if name == "sigmoid":
        return Activation(
            "sigmoid", lambda Z, *, xp: kernels["sigmoid"](Z), lambda dA, A, *, xp: kernels["sigmoid_backward"](dA, A)
        )
    if name == "tanh":
        return Activation("tanh", lambda Z, *, xp: xp.tanh(Z), lambda dA, A, *, xp: kernels["tanh_backward"](dA, A))
    if name == "relu":
        return Activation(
            "relu", lambda Z, *, xp: kernels["relu"](Z), lambda dA, S, *, xp: kernels["relu_backward"](dA, S)
        )
    if name == "leaky_relu":
        return Activation(
            "leaky_relu",
            lambda Z, *, xp: kernels["leaky_relu"](Z, _scalar(LEAKY_RELU_SLOPE, Z)),
            lambda dA, S, *, xp: kernels["leaky_relu_backward"](dA, S, _scalar(LEAKY_RELU_SLOPE, dA)),
        )
    if name == "elu":
        return Activation(
            "elu", lambda Z, *, xp: kernels["elu"](Z), lambda dA, A, *, xp: kernels["elu_backward"](dA, A)
        )
    return None


def fused_cost_and_gradient(loss_name: str, Z: Any, A: Any, Y: Any) -> tuple[Any, Any] | None:
    """``(cost, dZ)`` from one fused kernel, as :meth:`xdnn.losses.Loss.cost_and_gradient`; ``None`` if none.

    Binary cross-entropy: ``J = (1/m) sum(max(Z, 0) - Z Y + log1p(exp(-|Z|)))``, ``dZ = A - Y``.
    Mean squared error: ``J = 1/(2 m k) sum((A - Y)^2)``, ``dZ = (A - Y) / k``.  Shapes ``(k, m)``.
    """
    kernels = _kernels()
    k, m = A.shape
    if loss_name == "binary_crossentropy":
        terms, dZ = kernels["bce_cost_and_gradient"](Z, A, Y)
        return terms.sum() / m, dZ
    if loss_name == "mse":
        terms, dZ = kernels["mse_cost_and_gradient"](A, Y, _scalar(k, A))
        return terms.sum() / (2.0 * m * k), dZ
    return None


def step_scalars(optimizer: Any, learning_rate: float, t: int) -> dict[str, float] | None:
    """The host values of the scalars of ``optimizer``'s fused update that change from step to
    step (step ``t`` counts from 1), or ``None`` when the optimizer has no fused kernel.

    ``lr`` is the step size: ``learning_rate``, or for Adam ``learning_rate / (1 - beta1^t)``
    (the bias correction of the first moment); Adam also has ``c2 = 1 - beta2^t``.
    """
    kind = optimizer.name
    if kind in ("sgd", "momentum", "rmsprop"):
        return {"lr": learning_rate}
    if kind == "adam":
        return {"lr": learning_rate / (1.0 - optimizer.beta1**t), "c2": 1.0 - optimizer.beta2**t}
    return None


def update(optimizer: Any, name: str, value: Any, grad: Any, learning_rate: float) -> bool:
    """Apply ``optimizer``'s update to one parameter with a fused kernel; False if it has none.

    Called after ``optimizer.iterations`` counted this step (Adam's bias corrections use it).
    """
    scalars = step_scalars(optimizer, learning_rate, optimizer.iterations)
    if scalars is None:
        return False
    update_with(optimizer, name, value, grad, {key: _scalar(v, value) for key, v in scalars.items()})
    return True


def update_with(optimizer: Any, name: str, value: Any, grad: Any, scalars: dict[str, Any]) -> None:
    """The fused update of one parameter with the per-step ``scalars`` of :func:`step_scalars`
    given as NumPy scalars or as 0-d device arrays of ``value``'s dtype (a CUDA graph reads
    those at each launch, see :mod:`xdnn._cuda_graph`)."""
    kernels = _kernels()
    kind = optimizer.name
    if kind == "sgd":
        kernels["sgd"](grad, scalars["lr"], value)
    elif kind == "momentum":
        kernels["momentum"](grad, scalars["lr"], _scalar(optimizer.beta, value), value, optimizer.state[f"v_{name}"])
    elif kind == "rmsprop":
        kernels["rmsprop"](
            grad,
            scalars["lr"],
            _scalar(optimizer.rho, value),
            _scalar(optimizer.epsilon, value),
            value,
            optimizer.state[f"s_{name}"],
        )
    elif kind == "adam":
        kernels["adam"](
            grad,
            scalars["lr"],
            _scalar(optimizer.beta1, value),
            _scalar(optimizer.beta2, value),
            scalars["c2"],
            _scalar(optimizer.epsilon, value),
            value,
            optimizer.state[f"v_{name}"],
            optimizer.state[f"s_{name}"],
        )
    else:
        raise ValueError(f"optimizer {kind!r} has no fused update")
