"""The estimators' constructor parameters: their checks (run by ``fit``, never by ``__init__``, as
scikit-learn requires) and what they turn into -- layer sizes, seed, dtype, solver, learning-rate
schedule and batch size.  ``params`` is the estimator, read only through its parameters."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from xdnn import activations, optimizers
from xdnn._namespace import array_context, floating_dtype_name, is_sparse
from xdnn.dask import is_dask_collection

SOLVERS = ("sgd", "momentum", "rmsprop", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")


def is_real_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_positive_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def hidden_sizes(hidden_layer_sizes: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of ints (an int is one layer)."""
    sizes = hidden_layer_sizes
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(
            f"hidden_layer_sizes must be an int or a sequence of ints, got {hidden_layer_sizes!r}"
        ) from None
    if not all(is_positive_integer(size) for size in sizes):
        raise ValueError(f"hidden_layer_sizes must hold positive integers, got {hidden_layer_sizes!r}")
    return tuple(int(size) for size in sizes)


def check_activation(activation: Any) -> None:
    """A hidden activation by name: scikit-learn's or xdnn's (not the output-only softmax and exp)."""
    name = activation.strip().lower() if isinstance(activation, str) else None
    known = name is not None and name not in ("softmax", "exp")
    if known:
        try:
            activations.get_activation(name)
        except ValueError:
            known = False
    if not known:
        raise ValueError(
            "activation must be one of 'identity', 'logistic', 'tanh', 'relu' (scikit-learn's) or "
            f"'leaky_relu', 'elu', 'gelu' (xdnn's), got {activation!r}"
        )


def check_solver_parameters(params: Any) -> None:
    """``solver``, ``alpha``, ``batch_size``, the learning rate's and the solvers' own parameters."""
    if params.solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {params.solver!r}")
    if not (is_real_number(params.alpha) and params.alpha >= 0):
        raise ValueError(f"alpha must be a non-negative number, got {params.alpha!r}")
    if not (params.batch_size == "auto" or is_positive_integer(params.batch_size)):
        raise ValueError(f"batch_size must be 'auto' or a positive integer, got {params.batch_size!r}")
    if params.learning_rate not in LEARNING_RATES:
        raise ValueError(
            f"learning_rate must be one of {', '.join(map(repr, LEARNING_RATES))}, got {params.learning_rate!r}"
        )
    if not (is_real_number(params.learning_rate_init) and params.learning_rate_init > 0):
        raise ValueError(f"learning_rate_init must be a positive number, got {params.learning_rate_init!r}")
    if not (is_real_number(params.power_t) and params.power_t >= 0):
        raise ValueError(f"power_t must be a non-negative number, got {params.power_t!r}")
    if not (is_real_number(params.momentum) and 0 <= params.momentum <= 1):
        raise ValueError(f"momentum must be a number in [0, 1], got {params.momentum!r}")
    for name in ("beta_1", "beta_2"):
        value = getattr(params, name)
        if not (is_real_number(value) and 0 <= value < 1):
            raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    if not (is_real_number(params.epsilon) and params.epsilon > 0):
        raise ValueError(f"epsilon must be a positive number, got {params.epsilon!r}")


def check_hyperparameters(params: Any) -> None:
    """Validate the constructor parameters shared by both estimators (the first problem found raises)."""
    hidden_sizes(params.hidden_layer_sizes)
    check_activation(params.activation)
    check_solver_parameters(params)
    if not is_positive_integer(params.max_fun):
        raise ValueError(f"max_fun must be a positive integer, got {params.max_fun!r}")
    if not is_positive_integer(params.max_iter):
        raise ValueError(f"max_iter must be a positive integer, got {params.max_iter!r}")
    if not (is_real_number(params.tol) and params.tol >= 0):
        raise ValueError(f"tol must be a non-negative number, got {params.tol!r}")
    if not (is_real_number(params.validation_fraction) and 0 < params.validation_fraction < 1):
        raise ValueError(f"validation_fraction must be in (0, 1), got {params.validation_fraction!r}")
    if not is_positive_integer(params.n_iter_no_change):
        raise ValueError(f"n_iter_no_change must be a positive integer, got {params.n_iter_no_change!r}")
    if not (is_real_number(params.dropout) and 0 <= params.dropout < 1):
        raise ValueError(f"dropout must be a number in [0, 1), got {params.dropout!r}")
    if params.dtype is not None:
        floating_dtype_name(params.dtype)
    check_random_state(params.random_state)


def seed_from(random_state: Any) -> int | None:
    """An integer seed for the network (and the validation split) from ``random_state``."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def training_dtype(dtype: Any, X: Any) -> str:
    """``dtype``, or for ``dtype=None`` scikit-learn's rule: float32 for float32 ``X``, else float64."""
    if dtype is not None:
        return floating_dtype_name(dtype)
    # (a Dask array's dtype is NumPy's, and so is a sparse matrix's, scipy's or cupyx's)
    host = isinstance(X, np.ndarray) or is_dask_collection(X) or is_sparse(X)
    float32 = np.float32 if host else array_context(X).xp.float32
    return "float32" if X.dtype == float32 else "float64"


def optimizer_for(params: Any) -> optimizers.Optimizer:
    """The solver with its settings: scikit-learn's ``"sgd"`` (momentum, Nesterov's by default),
    ``"adam"`` (``beta_1``, ``beta_2``, ``epsilon``), or xdnn's ``"momentum"`` / ``"rmsprop"``."""
    if params.solver == "sgd":
        if params.momentum > 0:
            return optimizers.SGDMomentum(params.momentum, nesterov=bool(params.nesterovs_momentum))
        return optimizers.GradientDescent()
    if params.solver == "momentum":
        return optimizers.Momentum(beta=params.momentum)
    if params.solver == "rmsprop":
        return optimizers.RMSprop(epsilon=params.epsilon)
    return optimizers.Adam(beta1=params.beta_1, beta2=params.beta_2, epsilon=params.epsilon)


def schedule_for(params: Any, n_samples: int, *, samples_seen: int = 0, per_call: bool = False) -> optimizers.Schedule:
    """``learning_rate_init``, or with ``solver="sgd"`` and ``learning_rate="invscaling"``
    scikit-learn's ``learning_rate_init / (t + 1) ** power_t`` after ``t`` samples: for a
    ``partial_fit`` (``per_call``) the rate at ``t = samples_seen``; for a ``fit``, epochs of
    ``n_samples`` counted from the network's first epoch.  ``"adaptive"`` starts constant (see
    :class:`~xdnn.estimators.training.AdaptiveLearningRate`)."""
    if params.solver == "sgd" and params.learning_rate == "invscaling" and params.power_t > 0:
        if per_call:
            return optimizers.Schedule(params.learning_rate_init / (samples_seen + 1) ** params.power_t)
        return optimizers.InverseTimeDecay(params.learning_rate_init, rate=float(n_samples), power=params.power_t)
    return optimizers.Schedule(params.learning_rate_init)


def batch_size_for(batch_size: Any, n_samples: int, *, stacklevel: int) -> int:
    """``batch_size`` clipped to ``n_samples`` (``"auto"``: ``min(200, n_samples)``), warning when clipped;
    ``stacklevel`` points the warning at the user's ``fit`` call."""
    if batch_size == "auto":
        return min(200, n_samples)
    if int(batch_size) > n_samples:  # scikit-learn's warning, word for word
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return min(int(batch_size), n_samples)
