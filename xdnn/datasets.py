"""Small data sets generated in code (no downloads).

``planar`` is the tutorials' two-class "flower": for class ``j`` in {0, 1}, 200
points with ``t = linspace(3.12 j, 3.12 (j + 1), 200) + 0.2 randn(200)``,
``r = 4 sin(4 t) + 0.2 randn(200)`` and point ``(r sin t, r cos t)``, drawn after
the legacy ``np.random.seed(1)`` exactly as the tutorial does (but from a private
``RandomState``, so the global NumPy generator is left alone).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xdnn._namespace import array_context


def planar_host(n_samples: int = 400, *, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The flower as NumPy arrays: ``X (n_samples, 2)`` float64, ``y (n_samples,)`` int 0/1."""
    random_state = np.random.RandomState(seed)
    points_per_class = n_samples // 2
    petals = 4
    X = np.zeros((points_per_class * 2, 2))
    y = np.zeros(points_per_class * 2, dtype=np.int64)
    for label in range(2):
        rows = slice(points_per_class * label, points_per_class * (label + 1))
        t = np.linspace(label * 3.12, (label + 1) * 3.12, points_per_class)
        t = t + random_state.randn(points_per_class) * 0.2
        r = petals * np.sin(4 * t) + random_state.randn(points_per_class) * 0.2
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = label
    return X, y


def load_planar_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's ``load_planar_dataset()``: ``X (2, 400)``, ``Y (1, 400)`` uint8, NumPy."""
    X, y = planar_host()
    return X.T.copy(), y.reshape(1, -1).astype(np.uint8)


def planar(n_samples: int = 400, *, seed: int = 1, dtype: Any = None) -> tuple[Any, Any]:
    """The flower in the high-level layout on the active backend: ``X (n_samples, 2)``, ``y (n_samples,)``."""
    X, y = planar_host(n_samples, seed=seed)
    context = array_context()
    X_backend = context.asarray(X if dtype is None else X.astype(dtype))
    return X_backend, context.asarray(y)
