"""Parameter initialisation, drawn on the host and moved to the backend once.

The Array API standard has no random numbers, so weights are drawn with NumPy's
legacy ``RandomState(seed).randn`` (the generator the tutorials use -- a seed
reproduces their printed values) and then moved to the target namespace/device
in one transfer.  A seed therefore gives identical parameters on every backend.

For layer ``l`` with ``n[l]`` units: ``W[l] = randn(n[l], n[l-1]) * scale`` and
``b[l] = zeros((n[l], 1))``, where ``scale`` is

=============  ===================================  ====================================
name           scale                                 use
=============  ===================================  ====================================
``small``      ``0.01``                              the tutorial's ``randn * 0.01``
``he``         ``sqrt(2 / n[l-1])``                  relu-family hidden layers
``xavier``     ``sqrt(1 / n[l-1])``                  tanh/sigmoid; the tutorial's L-layer app
``glorot``     ``sqrt(2 / (n[l-1] + n[l]))``         Glorot-normal
a number       that number
=============  ===================================  ====================================
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

INITIALIZATIONS = ("small", "he", "xavier", "glorot")


def weight_scale(initialization: str | float, n_previous: int, n_units: int) -> float:
    """Standard deviation of ``W[l]`` entries for the named scheme (see module docstring)."""
    if isinstance(initialization, (int, float)) and not isinstance(initialization, bool):
        return float(initialization)
    if initialization == "small":
        return 0.01
    if initialization == "he":
        return math.sqrt(2.0 / n_previous)
    if initialization == "xavier":
        return math.sqrt(1.0 / n_previous)
    if initialization == "glorot":
        return math.sqrt(2.0 / (n_previous + n_units))
    raise ValueError(f"unknown initialization {initialization!r}; use one of {', '.join(INITIALIZATIONS)} or a number")


def validate_layer_dims(layer_dims: Sequence[int]) -> list[int]:
    """``layer_dims`` as a list of positive ints with at least an input and one layer."""
    try:
        dims = [int(n) for n in layer_dims]
    except (TypeError, ValueError):
        raise ValueError(f"layer_dims must be a sequence of positive integers, got {layer_dims!r}") from None
    if len(dims) < 2 or any(n <= 0 for n in dims) or any(int(n) != n for n in layer_dims):
        raise ValueError(
            f"layer_dims must list at least two positive integers (inputs, ..., outputs), got {list(layer_dims)!r}"
        )
    return dims


def host_random_state(seed: int | None) -> Any:
    """``RandomState(seed)``; ``None`` draws from NumPy's global legacy generator, so a
    notebook's ``np.random.seed(...)`` keeps working."""
    if seed is None:
        return np.random
    return np.random.RandomState(seed)


def draw_host_parameters(
    layer_dims: Sequence[int], *, initialization: str | float = "small", seed: int | None = None
) -> dict[str, np.ndarray]:
    """Float64 host parameters ``{"W1", "b1", ..., "WL", "bL"}`` in the tutorial's draw order."""
    dims = validate_layer_dims(layer_dims)
    random_state = host_random_state(seed)
    parameters: dict[str, np.ndarray] = {}
    for layer in range(1, len(dims)):
        scale = weight_scale(initialization, dims[layer - 1], dims[layer])
        parameters[f"W{layer}"] = random_state.randn(dims[layer], dims[layer - 1]) * scale
        parameters[f"b{layer}"] = np.zeros((dims[layer], 1))
    return parameters


def initialize_parameters(
    layer_dims: Sequence[int],
    *,
    context: Any,
    dtype: Any,
    initialization: str | float = "small",
    seed: int | None = None,
) -> dict[str, Any]:
    """Draw with :func:`draw_host_parameters`, then move every array to ``context`` once as ``dtype``."""
    host = draw_host_parameters(layer_dims, initialization=initialization, seed=seed)
    return {name: context.asarray(value, dtype=dtype) for name, value in host.items()}


class HostDraws:
    """Host-side initial values for layers: ``randn`` from one ``RandomState`` in layer order,
    plus ``zeros``/``ones`` -- so layer code never imports NumPy itself."""

    def __init__(self, seed: int | None) -> None:
        self.random_state = host_random_state(seed)

    def randn(self, rows: int, columns: int) -> np.ndarray:
        return self.random_state.randn(rows, columns)

    @staticmethod
    def zeros(rows: int, columns: int) -> np.ndarray:
        return np.zeros((rows, columns))

    @staticmethod
    def ones(rows: int, columns: int) -> np.ndarray:
        return np.ones((rows, columns))
