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
from xdnn.backends import load_all as _load_backends
from xdnn.backends.numpy_threads import get_num_threads, set_num_threads
from xdnn.callbacks import Callback, EarlyStopping, History
from xdnn.executors import fast_paths_enabled, set_fast_paths
from xdnn.gradient_check import gradient_check
from xdnn.layers import Activation, BatchNorm, Dense, Dropout
from xdnn.network import Network
from xdnn.optimizers import (
    Adam,
    ExponentialDecay,
    GradientDescent,
    InverseTimeDecay,
    Momentum,
    RMSprop,
    SGDMomentum,
    StepDecay,
)
from xdnn.serialization import ModelFileError
from xdnn.serialization import load_network as load
from xdnn.training import DivergenceWarning
from xdnn.usage import NetworkBusyError

# Every backend's executors registered now, against the definitions as they are at import (a later
# replacement of a module function by the user is then never swapped for an executor); none of the
# backend modules needs its library to import.
_load_backends()

_LAZY_SUBMODULES = ("datasets", "estimators", "plot")


def __getattr__(name):
    # The scikit-learn estimators import scikit-learn, and xdnn.plot matplotlib, both optional
    # extras: load them (and the other submodules written `xdnn.datasets` etc.) on first use.
    if name in ("MLPClassifier", "MLPRegressor"):
        from xdnn import estimators

        return getattr(estimators, name)
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"xdnn.{name}")
    raise AttributeError(f"module 'xdnn' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Adam",
    "BatchNorm",
    "Callback",
    "Dense",
    "DivergenceWarning",
    "Dropout",
    "EarlyStopping",
    "ExponentialDecay",
    "GradientDescent",
    "History",
    "InverseTimeDecay",
    "MLPClassifier",
    "MLPRegressor",
    "ModelFileError",
    "NetworkBusyError",
    "Momentum",
    "SGDMomentum",
    "Network",
    "RMSprop",
    "StepDecay",
    "fast_paths_enabled",
    "get_num_threads",
    "gradient_check",
    "set_fast_paths",
    "set_num_threads",
    "load",
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
