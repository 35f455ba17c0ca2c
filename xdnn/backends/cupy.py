"""CuPy executors: fused elementwise kernels for the hot elementwise operations.

With :mod:`xdnn.backends.cuda_graph`, the only module with CuPy-specific code.  Each kernel
computes exactly what the definition it is registered against (:mod:`xdnn.executors`) in
:mod:`xdnn.activations`, :mod:`xdnn.linear`, :mod:`xdnn.losses` or :mod:`xdnn.optimizers`
computes, in one pass over memory instead of several (the portable sigmoid is eight array
operations, its kernel one).  Kernels are defined lazily, on first use with a CuPy array, so
importing this module never needs CUDA; CuPy compiles and caches them.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator

from xdnn import activations, linear, losses, optimizers
from xdnn._namespace import is_sparse
from xdnn.executors import register


@functools.lru_cache(maxsize=None)
def _kernels() -> dict[str, Any]:
    import cupy

    def kernel(inputs: str, outputs: str, body: str, name: str):
        return cupy.ElementwiseKernel(inputs, outputs, body, f"xdnn_{name}")

    return {
        # activations: forward from Z, backward from the saved output A (or Z for gelu); NaN and inf
        # propagate as in the definitions (max(NaN, 0) is NaN, 0 * inf is NaN)
        "sigmoid": kernel(
            "T z", "T a", "T e = exp(-fabs(z)); T r = (T)1 / ((T)1 + e); a = z >= 0 ? r : e * r;", "sigmoid"
        ),
        "sigmoid_backward": kernel("T dA, T a", "T dZ", "dZ = dA * a * ((T)1 - a);", "sigmoid_backward"),
        "tanh_backward": kernel("T dA, T a", "T dZ", "dZ = dA * ((T)1 - a * a);", "tanh_backward"),
        "relu": kernel("T z", "T a", "a = (z > 0 || z != z) ? z : (T)0;", "relu"),
        "relu_backward": kernel("T dA, T s", "T dZ", "dZ = s > 0 ? dA : dA * (T)0;", "relu_backward"),
        "leaky_relu": kernel("T z, T slope", "T a", "a = z > 0 ? z : slope * z;", "leaky_relu"),
        "leaky_relu_backward": kernel(
            "T dA, T s, T slope", "T dZ", "dZ = s > 0 ? dA : slope * dA;", "leaky_relu_backward"
        ),
        "elu": kernel("T z", "T a", "a = z > 0 ? z : expm1(z);", "elu"),
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
        # One slice of the matrix product c = a @ b: element (row, col) of the partial sum over the
        # `split`-th run of `chunk` terms (raw 2-D a and b, indexed through their strides, so
        # transposed views need no copy).  Only inside a CUDA-graph step (see capturable_product).
        "product_slices": kernel(
            "raw T a, raw T b, int64 cells, int64 n_cols, int64 depth, int64 chunk",
            "T c",
            """
            const ptrdiff_t split = i / cells, cell = i - split * cells;
            const ptrdiff_t row = cell / n_cols, col = cell - row * n_cols;
            const ptrdiff_t begin = split * chunk;
            ptrdiff_t end = begin + chunk;
            if (end > depth) end = depth;
            T sum = 0;
            for (ptrdiff_t k = begin; k < end; ++k) {
                const ptrdiff_t at_a[2] = {row, k};
                const ptrdiff_t at_b[2] = {k, col};
                sum += a[at_a] * b[at_b];
            }
            c = sum;
            """,
            "product_slices",
        ),
        # optimizer updates, in place on the parameter and its state.  Each ``1 - beta`` comes in as
        # its own scalar, computed on the host in float64 and rounded once to T, as the portable
        # code's Python float ``1.0 - beta`` is (1 - float32(0.999) in float32 is 1.3e-5 off).
        "sgd": kernel("T g, T lr", "T w", "w -= lr * g;", "sgd"),
        "momentum": kernel(
            "T g, T lr, T beta, T rest", "T w, T v", "v = beta * v + rest * g; w -= lr * v;", "momentum"
        ),
        "rmsprop": kernel(
            "T g, T lr, T rho, T rest, T eps",
            "T w, T s",
            "s = rho * s + rest * (g * g); w -= lr * g / (sqrt(s) + eps);",
            "rmsprop",
        ),
        "adam": kernel(
            "T g, T step, T b1, T r1, T b2, T r2, T c2, T eps",
            "T w, T v, T s",
            "v = b1 * v + r1 * g; s = b2 * s + r2 * (g * g); w -= step * v / (sqrt(s / c2) + eps);",
            "adam",
        ),
    }


# --- matrix products a CUDA graph can record -----------------------------------------------------

# CuPy refuses to call cuBLAS while a stream is capturing a graph (``cublas.setStream`` raises
# "calling cuBLAS API during stream capture is currently unsupported"), so the step that
# :mod:`xdnn.backends.cuda_graph` captures -- and its eager warm-up, which compiles the same kernels --
# multiplies with ``product_slices`` instead.  Everywhere else a product is cuBLAS's ``a @ b``.
_GRAPH_STEP = {"active": False}
# A long sum is split into runs of about this many terms, each run's partial sums computed by its
# own threads and then added up, when the result alone has too few elements to fill the GPU (the
# weight gradient of a layer of 64 units over 8192 samples: 4096 results, sums of 8192 terms).
PRODUCT_CHUNK = 256
PRODUCT_SPLIT_MAX_CELLS = 1 << 16


@contextlib.contextmanager
def graph_step() -> Iterator[None]:
    """Inside: :func:`product` uses the capturable kernel (the step of a CUDA graph)."""
    previous = _GRAPH_STEP["active"]
    _GRAPH_STEP["active"] = True
    try:
        yield
    finally:
        _GRAPH_STEP["active"] = previous


def product(a: Any, b: Any) -> Any:
    """``a @ b`` for 2-D CuPy arrays ``(M, K) x (K, N)``: cuBLAS's, or inside :func:`graph_step` the
    capturable kernel's (the same sums, added in another order)."""
    if not _GRAPH_STEP["active"]:
        return a @ b
    return capturable_product(a, b)


def capturable_product(a: Any, b: Any) -> Any:
    """``a @ b`` with ``product_slices`` (no cuBLAS): ``sum_k a[r, k] b[k, c]`` for each ``(r, c)``,
    over ``ceil(K / chunk)`` runs of ``chunk`` terms added up afterwards when ``M N`` is small."""
    import cupy

    (rows, depth), (depth_b, n_cols) = a.shape, b.shape
    if depth != depth_b or a.dtype != b.dtype:
        raise ValueError(f"capturable_product: shapes {a.shape} x {b.shape}, dtypes {a.dtype} and {b.dtype}")
    cells = rows * n_cols
    splits = max(1, -(-depth // PRODUCT_CHUNK)) if cells < PRODUCT_SPLIT_MAX_CELLS else 1
    chunk = max(1, -(-depth // splits))
    partial = cupy.empty((splits, rows, n_cols), dtype=a.dtype)
    _kernels()["product_slices"](a, b, cells, n_cols, depth, chunk, partial)
    return partial[0] if splits == 1 else partial.sum(axis=0)


def _scalar(value: float, like: Any) -> Any:
    return like.dtype.type(value)


def _namespace_of(array: Any) -> Any:
    import array_api_compat

    return array_api_compat.array_namespace(array)


def _xp(xp: Any, array: Any) -> Any:
    """The namespace for a definition run in a kernel's place (executors are called without one)."""
    return xp if xp is not None else _namespace_of(array)


def _one_float_dtype(*arrays: Any) -> bool:
    """Whether the arrays share one floating dtype (a kernel has one type ``T``; the definitions promote)."""
    return len({array.dtype for array in arrays}) == 1 and arrays[0].dtype.kind == "f"


# --- activations ---------------------------------------------------------------------------------


def _kernel_executor(definition: Any, *, slope: bool = False) -> Any:
    """Register the executor of the elementwise ``definition`` (an activation of ``Z``, or a derivative
    of ``(dA, saved)``) that runs the kernel of its name on arrays of one floating dtype -- leaky
    relu's with its slope as a scalar -- and the definition itself on any others."""
    name = definition.__name__

    def executor(*arrays: Any, xp: Any = None) -> Any:
        if not _one_float_dtype(*arrays):
            return definition(*arrays, xp=_xp(xp, arrays[0]))
        extra = (_scalar(activations.LEAKY_RELU_SLOPE, arrays[0]),) if slope else ()
        return _kernels()[name](*arrays, *extra)

    executor.__name__ = executor.__qualname__ = name
    executor.__doc__ = f":func:`xdnn.activations.{name}` in one kernel."
    return register(definition, backend="cupy")(executor)


sigmoid = _kernel_executor(activations.sigmoid)
sigmoid_backward = _kernel_executor(activations.sigmoid_backward)
tanh_backward = _kernel_executor(activations.tanh_backward)
relu = _kernel_executor(activations.relu)
relu_backward = _kernel_executor(activations.relu_backward)
leaky_relu = _kernel_executor(activations.leaky_relu, slope=True)
leaky_relu_backward = _kernel_executor(activations.leaky_relu_backward, slope=True)
elu = _kernel_executor(activations.elu)
elu_backward = _kernel_executor(activations.elu_backward)


# --- the linear part: products a CUDA graph can record -------------------------------------------


@register(linear.linear_forward, backend="cupy")
def linear_forward(A_prev: Any, W: Any, b: Any, *, xp: Any = None) -> Any:
    """:func:`xdnn.linear.linear_forward` with :func:`product` for ``@``; for a ``cupyx.scipy.sparse``
    ``A_prev (n[l-1], m)`` (a batch's CSR rows transposed, :mod:`xdnn.sparse_input`) cuSPARSE's product
    with the sparse operand first, ``Z = (A_prev^T W^T)^T`` (``nnz(A_prev) n[l]`` multiply-adds)."""
    Z = (A_prev.T @ W.T).T if is_sparse(A_prev) else product(W, A_prev)
    return Z if b is None else Z + b


@register(linear.linear_backward, backend="cupy")
def linear_backward(dZ: Any, A_prev: Any, W: Any, *, xp: Any = None, input_gradient: bool = True):
    """:func:`xdnn.linear.linear_backward` with :func:`product` for ``@``; for a ``cupyx.scipy.sparse``
    ``A_prev`` (see :func:`linear_forward`) ``dW = (1/m) (A_prev dZ^T)^T``, cuSPARSE's product."""
    m = A_prev.shape[1]
    dW = (A_prev @ dZ.T).T / m if is_sparse(A_prev) else product(dZ, A_prev.T) / m
    db = dZ.sum(axis=1, keepdims=True) / m
    return (product(W.T, dZ) if input_gradient else None), dW, db


# --- losses: the cost and the output gradient in one pass ----------------------------------------


@register(losses.LOSSES["binary_crossentropy"], backend="cupy", variant=losses.COST_AND_GRADIENT)
def binary_crossentropy_cost_and_gradient(Z: Any, A: Any, Y: Any) -> tuple[Any, Any]:
    """``J = (1/m) sum(max(Z, 0) - Z Y + log1p(exp(-|Z|)))``, ``dZ = A - Y`` in one kernel; shapes ``(k, m)``."""
    if not _one_float_dtype(Z, A, Y):
        return losses.LOSSES["binary_crossentropy"].cost_and_gradient(Z, A, Y, xp=_namespace_of(Z))
    terms, dZ = _kernels()["bce_cost_and_gradient"](Z, A, Y)
    return terms.sum() / A.shape[1], dZ


@register(losses.LOSSES["mse"], backend="cupy", variant=losses.COST_AND_GRADIENT)
def squared_error_cost_and_gradient(Z: Any, A: Any, Y: Any) -> tuple[Any, Any]:
    """``J = 1/(2 m k) sum((A - Y)^2)``, ``dZ = (A - Y) / k`` in one kernel; shapes ``(k, m)``."""
    if not _one_float_dtype(A, Y):
        return losses.LOSSES["mse"].cost_and_gradient(Z, A, Y, xp=_namespace_of(A))
    k, m = A.shape
    terms, dZ = _kernels()["mse_cost_and_gradient"](A, Y, _scalar(k, A))
    return terms.sum() / (2.0 * m * k), dZ


# --- optimizer steps, in place on the parameters and their state ---------------------------------

# The rules with a fused kernel, and the scalar settings each kernel takes after the gradient.
FUSED_RULES = {
    optimizers.gradient_descent_update: "sgd",
    optimizers.momentum_update: "momentum",
    optimizers.rmsprop_update: "rmsprop",
    optimizers.adam_update: "adam",
}


def step_scalars(rule: Any, settings: dict[str, Any]) -> dict[str, float]:
    """The host values of the scalars of ``rule``'s kernel that change from step to step: ``lr``,
    the step size (for Adam ``learning_rate / (1 - beta1^t)``, its first bias correction), and for
    Adam ``c2 = 1 - beta2^t``."""
    if rule is optimizers.adam_update:
        t = settings["t"]
        return {"lr": settings["learning_rate"] / (1.0 - settings["beta1"] ** t), "c2": 1.0 - settings["beta2"] ** t}
    return {"lr": settings["learning_rate"]}


def fused_update(rule: Any, name: str, parameters: dict, grads: Any, state: dict, settings: dict, scalars: dict):
    """One parameter's step of ``rule`` in its kernel, in place; ``scalars`` from :func:`step_scalars`,
    as NumPy scalars or as 0-d device arrays of the parameter's dtype (a CUDA graph reads those at
    each launch).  Each ``1 - beta`` is computed on the host in float64 and rounded once to the
    dtype, as the definition's Python float ``1.0 - beta`` is."""
    value, grad, kernels = parameters[name], grads["d" + name], _kernels()
    kind = FUSED_RULES[rule]
    if kind == "sgd":
        kernels["sgd"](grad, scalars["lr"], value)
    elif kind == "momentum":
        beta = settings["beta"]
        kernels["momentum"](
            grad, scalars["lr"], _scalar(beta, value), _scalar(1.0 - beta, value), value, state[f"v_{name}"]
        )
    elif kind == "rmsprop":
        rho = settings["rho"]
        kernels["rmsprop"](
            grad,
            scalars["lr"],
            _scalar(rho, value),
            _scalar(1.0 - rho, value),
            _scalar(settings["epsilon"], value),
            value,
            state[f"s_{name}"],
        )
    else:
        beta1, beta2 = settings["beta1"], settings["beta2"]
        kernels["adam"](
            grad,
            scalars["lr"],
            _scalar(beta1, value),
            _scalar(1.0 - beta1, value),
            _scalar(beta2, value),
            _scalar(1.0 - beta2, value),
            scalars["c2"],
            _scalar(settings["epsilon"], value),
            value,
            state[f"v_{name}"],
            state[f"s_{name}"],
        )


def _in_place_executor(rule: Any) -> Any:
    def update_in_place(parameters: dict, grads: Any, state: dict, *, xp: Any = None, **settings: Any) -> None:
        host_scalars = step_scalars(rule, settings)
        for name, value in parameters.items():
            scalars = {key: _scalar(number, value) for key, number in host_scalars.items()}
            fused_update(rule, name, parameters, grads, state, settings, scalars)

    update_in_place.__qualname__ = f"{rule.__name__}_in_place"
    update_in_place.__doc__ = f":func:`xdnn.optimizers.{rule.__name__}` of every parameter, one kernel each, in place."
    return update_in_place


for _rule in FUSED_RULES:
    register(_rule, backend="cupy", variant=optimizers.IN_PLACE)(_in_place_executor(_rule))


# the CUDA-graph step registers itself on import (it imports this module)
import xdnn.backends.cuda_graph  # noqa: E402, F401
