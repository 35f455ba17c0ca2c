"""scikit-learn estimators on top of :class:`xdnn.Network`: ``MLPClassifier`` and ``MLPRegressor``.

They follow scikit-learn's API and parameter names (``hidden_layer_sizes``, ``alpha``,
``learning_rate_init``, ``max_iter``, ...), so they drop into ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``.  scikit-learn is an optional extra: this
package is the only part of xdnn that imports it, on first use of
``xdnn.MLPClassifier`` / ``xdnn.MLPRegressor``.

Where it runs (the convention of scikit-learn's ``array_api_dispatch``)
-----------------------------------------------------------------------
* ``X`` given as a CuPy, PyTorch or array-api-strict array: the network trains on
  that library and device, and ``predict`` / ``predict_proba`` return arrays of it.
  ``y`` (and ``classes``, ``sample_weight``) may be host data (NumPy arrays, lists),
  moved to ``X``'s device, or arrays of that same library and device; arrays of two
  different libraries or devices in one call raise
  :class:`~xdnn.BackendMismatchError`, as :class:`xdnn.Network` does -- except inside
  ``sklearn.config_context(array_api_dispatch=True)``, where scikit-learn's rule
  "everything follows ``X``" moves them to ``X``'s library and device.  (A classifier
  with non-numeric classes, e.g. strings, predicts a NumPy array: such labels cannot
  live on a device.)
* ``X`` given as NumPy arrays, lists or data frames: scikit-learn's own validation
  is used, the network trains on the active xdnn backend (:func:`xdnn.set_backend`)
  and the results are NumPy arrays.

The network computes in ``dtype``.  With the default ``dtype=None`` it follows ``X``
as scikit-learn's ``MLPClassifier`` does: float32 ``X`` trains in float32, anything
else (float64, integers, booleans, lists) in float64; ``dtype="float32"`` or
``"float64"`` forces the precision.  The first ``fit`` / ``partial_fit`` fixes it for
the fitted model.  Results come back in the floating dtype of ``X`` (float64 for
integer data), as scikit-learn's estimators do.  ``classes_`` is always a NumPy array.

Every input is checked before anything changes: a ``fit`` or ``partial_fit`` that
raises leaves the estimator exactly as it was (fitted attributes, weights and
predictions).  Inside
``sklearn.config_context(array_api_dispatch=True)``, ``predict`` refuses input from a
namespace or device other than the one ``fit`` saw, as scikit-learn's estimators do;
outside it, host data is moved to the network's backend.

Pickling works (scikit-learn needs it for ``clone``-free copies and parallel jobs);
to keep a model in a file use ``estimator.network_.save(path)`` (xdnn's ``.npz``
format, no pickle).

The package's modules, in the order ``fit`` uses them: ``hyperparameters`` (parameter checks,
solver, schedule), ``data`` (input validation, sample weights, the early-stopping split),
``model`` (the network, scikit-learn's initialisation and ``coefs_`` / ``intercepts_``),
``training`` (stopping rules, one call's training run), ``base`` (``BaseMLP``, the shared
estimator), ``classifier`` and ``regressor``; ``docs`` holds the docstring text they share, and
``dask_input`` the checks of dask arrays and data frames (``fit``, ``partial_fit`` and ``predict``
take them without a distributed client by streaming the chunks, see :mod:`xdnn.dask`; predictions
come back as lazy dask arrays; ``early_stopping=True`` refuses them).
"""

from xdnn.estimators.classifier import MLPClassifier
from xdnn.estimators.regressor import MLPRegressor

# Pickles name a class by its __module__: keep the public path, xdnn.estimators.MLPClassifier, as
# before the package was split, so pickles load across xdnn versions either way.
MLPClassifier.__module__ = MLPRegressor.__module__ = __name__

__all__ = ["MLPClassifier", "MLPRegressor"]
