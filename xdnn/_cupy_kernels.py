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

import contextlib
import functools
import os
from typing import Any, Iterator

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
# :mod:`xdnn._cuda_graph` captures -- and its eager warm-up, which compiles the same kernels --
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
        beta = optimizer.beta
        kernels["momentum"](
            grad, scalars["lr"], _scalar(beta, value), _scalar(1.0 - beta, value), value, optimizer.state[f"v_{name}"]
        )
    elif kind == "rmsprop":
        kernels["rmsprop"](
            grad,
            scalars["lr"],
            _scalar(optimizer.rho, value),
            _scalar(1.0 - optimizer.rho, value),
            _scalar(optimizer.epsilon, value),
            value,
            optimizer.state[f"s_{name}"],
        )
    elif kind == "adam":
        kernels["adam"](
            grad,
            scalars["lr"],
            _scalar(optimizer.beta1, value),
            _scalar(1.0 - optimizer.beta1, value),
            _scalar(optimizer.beta2, value),
            _scalar(1.0 - optimizer.beta2, value),
            scalars["c2"],
            _scalar(optimizer.epsilon, value),
            value,
            optimizer.state[f"v_{name}"],
            optimizer.state[f"s_{name}"],
        )
    else:
        raise ValueError(f"optimizer {kind!r} has no fused update")
