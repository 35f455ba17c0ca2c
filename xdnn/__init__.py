"""xdnn: deep neural networks from first principles, on any Array API backend.

>>> import xdnn
>>> xdnn.set_backend("numpy")          # or "cupy", "torch", "array_api_strict", "auto"
>>> with xdnn.use_backend("numpy"):
...     xdnn.get_backend()
'numpy'
"""

from xdnn import functional
from xdnn._backend import (
    BACKEND_NAMES,
    BackendError,
    get_backend,
    set_backend,
    use_backend,
)
from xdnn._namespace import BackendMismatchError, asarray, to_numpy

__version__ = "0.1.0"

__all__ = [
    "BACKEND_NAMES",
    "BackendError",
    "BackendMismatchError",
    "asarray",
    "functional",
    "get_backend",
    "set_backend",
    "to_numpy",
    "use_backend",
    "__version__",
]
