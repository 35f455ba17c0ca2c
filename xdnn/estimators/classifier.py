"""``MLPClassifier``: labels of any type (or a multilabel indicator matrix) encoded for the network,
probabilities and labels back, accuracy as the score and the early-stopping validation score."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d

from xdnn._namespace import array_context, to_numpy
from xdnn.dask import is_dask_collection
from xdnn.estimators import dask_input
from xdnn.estimators.base import BaseMLP
from xdnn.estimators.data import check_one_backend, shape_of, validate_input
from xdnn.estimators.docs import shared_docs


@shared_docs
class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: softmax output for k > 2 classes, one sigmoid unit for 2,
    one sigmoid unit per label for a multilabel indicator ``y (n_samples, n_labels)`` of 0/1
    (``predict`` then returns such a matrix, ``score`` is the subset accuracy).

    Labels may be of any type (strings, integers, ...); ``predict`` returns them.
    Array API inputs (CuPy, PyTorch, array-api-strict) train and predict on their own
    device; see :mod:`xdnn.estimators`.

    %(parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (a NumPy array, sorted).
    %(attributes)s
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from xdnn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=300, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {**super()._more_tags(), "multilabel": True}

    def _output_activation_for(self, n_outputs: int, multilabel: bool = False) -> str:
        return "sigmoid" if n_outputs == 1 or multilabel else "softmax"

    def _stratify_labels(self, targets):
        return targets if targets.ndim == 1 else None  # scikit-learn does not stratify multilabel targets

    def _validation_score_of(self, X_validation, targets_validation, weights_validation=None):
        """Accuracy (weighted by ``weights_validation``) on the held-out set (``targets_validation``:
        class indices, or a multilabel indicator matrix, on the host); for multilabel data the subset
        accuracy, as ``score``'s."""

        weights = None if weights_validation is None else to_numpy(weights_validation)

        def score(network):
            hits = to_numpy(network.predict(X_validation)) == targets_validation
            return float(np.average(hits.all(axis=1) if hits.ndim == 2 else hits, weights=weights))

        return score

    def _validate_multilabel(self, X, y, on_host, fitted, *, reset, incremental, classes):
        """:meth:`_validate_training_data` for a 2-D ``y``: a multilabel indicator matrix of 0/1,
        one sigmoid output per label; ``classes_`` is ``0..n_labels-1``, as scikit-learn's.  A Dask ``y``
        stays one (its distinct values are computed and checked)."""
        name = type(self).__name__
        if is_dask_collection(y):  # (aligned with X by validate_input)
            values = dask_input.unique_values(y)
            target_type = "multilabel-indicator" if np.isin(values, (0, 1)).all() else "multiclass-multioutput"
        else:
            y = values = to_numpy(y)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {y.shape[0]}]"
                )
            target_type = type_of_target(y, input_name="y")
        if target_type != "multilabel-indicator" or not np.isin(values, (0, 1)).all():
            raise ValueError(
                f"{name} takes a 2-D y only as a multilabel indicator matrix of 0/1 of shape (n_samples, n_labels); "
                f"got {target_type!r} targets of shape {y.shape}"
            )
        n_labels = y.shape[1]
        if not reset and not (self._is_multilabel() and self.classes_.shape[0] == n_labels):
            fitted_on = f"{self.classes_.shape[0]} labels" if self._is_multilabel() else "a 1-D y of class labels"
            raise ValueError(
                f"y is a multilabel matrix of {n_labels} labels, but this {name} was fitted on {fitted_on}"
            )
        if classes is not None and np.unique(to_numpy(classes)).shape[0] != n_labels:
            raise ValueError(f"classes={classes!r} must name the {n_labels} labels (columns) of the multilabel y")
        if reset and incremental and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if reset:
            fitted.update(classes_=np.arange(n_labels), _multilabel=True)
        return X, y.astype(np.int64), n_labels, on_host, fitted

    def _validate_training_data(self, X, y, *, reset, incremental, classes):
        """``(X, encoded labels 0..k-1 as NumPy int64, n_outputs, on_host, fitted)``, changing nothing;
        ``fitted`` includes ``classes_`` when resetting.  A 2-D ``y`` of several columns is a
        multilabel indicator matrix (:meth:`_validate_multilabel`)."""
        shape = shape_of(y)
        if len(shape) == 2 and shape[1] > 1:
            X, y, on_host, fitted = validate_input(self, X, y, reset=reset, multi_output=True)
            return self._validate_multilabel(
                X, y, on_host, fitted, reset=reset, incremental=incremental, classes=classes
            )
        if not reset and self._is_multilabel():
            raise ValueError(
                f"this {type(self).__name__} was fitted on a multilabel matrix of {self.classes_.shape[0]} labels; "
                f"y of shape {shape} is not one"
            )
        X, y, on_host, fitted = validate_input(self, X, y, reset=reset)
        if reset:
            fitted["_multilabel"] = False
        dask_labels = is_dask_collection(y)
        if dask_labels:
            y = dask_input.label_column(y)
        elif not on_host:
            y = check_array(to_numpy(y), ensure_2d=False, dtype=None, input_name="y")
            y = column_or_1d(y, warn=True)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {y.shape[0]}]"
                )
        # what the checks read: y, or a Dask y's distinct values (computed; the same answers)
        labels = dask_input.unique_values(y) if dask_labels else y
        check_classification_targets(labels)
        if classes is not None:
            classes = np.unique(to_numpy(classes))
            if not reset and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on the first call to partial_fit, was: {self.classes_!r}"
                )
        elif reset and incremental:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if not reset and not incremental and not np.array_equal(np.unique(labels), self.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                f"Previously got {self.classes_}, `y` has {np.unique(labels)}"
            )
        if reset:
            classes = classes if classes is not None else np.unique(labels)
            if classes.shape[0] < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, but the data contains only one "
                    f"class: {classes[0]!r}"
                )
            fitted["classes_"] = classes
        else:
            classes = self.classes_
        unseen = ~np.isin(labels, classes)
        if np.any(unseen):
            raise ValueError(f"y holds labels that are not in classes_ = {classes!r}: {np.unique(labels[unseen])!r}")
        if dask_labels:
            encoded = dask_input.encode_labels(y, classes)
        else:
            encoded = np.searchsorted(classes, y).astype(np.int64)
        n_classes = classes.shape[0]
        return X, encoded, (1 if n_classes == 2 else n_classes), on_host, fitted

    def fit(self, X, y, sample_weight=None):
        """Train on ``X (n_samples, n_features)`` and labels ``y (n_samples,)`` (or a multilabel
        indicator matrix), each sample's cost weighted by ``sample_weight``; returns ``self``."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``; ``classes`` (all labels) is required on the first call
        (scikit-learn's argument order: ``sample_weight`` comes before it)."""
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def _probabilities(self, X, method):
        X, on_host = self._check_X_for_inference(X, method)
        network = self.network_
        probabilities = network.predict_proba(X)
        if probabilities.shape[1] == 1 and is_dask_collection(probabilities):
            probabilities = dask_input.two_columns(probabilities)
        elif probabilities.shape[1] == 1:
            probabilities = network.context.xp.concat([1.0 - probabilities, probabilities], axis=1)
        return self._output_dtype_like(probabilities, X, on_host)

    def predict_proba(self, X):
        """Class probabilities of shape ``(n_samples, n_classes)``, columns ordered as ``classes_``."""
        return self._probabilities(X, "predict_proba")

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``, shape ``(n_samples, n_classes)``."""
        probabilities = self._probabilities(X, "predict_log_proba")
        if isinstance(probabilities, np.ndarray) or is_dask_collection(probabilities):  # (Dask: lazily)
            return np.log(probabilities)
        return array_context(probabilities).xp.log(probabilities)

    def predict(self, X):
        """Labels of shape ``(n_samples,)`` from ``classes_`` (on X's backend when the classes are numeric);
        for a multilabel classifier the indicator matrix ``(n_samples, n_labels)`` of 0/1."""
        X, on_host = self._check_X_for_inference(X, "predict")
        network = self.network_
        indices = network.predict(X)
        if is_dask_collection(indices):  # lazily, block by block
            return indices if self._is_multilabel() else dask_input.take_classes(indices, self.classes_)
        if self._is_multilabel():
            return to_numpy(indices) if on_host else indices
        if on_host or self.classes_.dtype.kind not in "biuf":
            return self.classes_[to_numpy(indices)]
        context = network.context
        return context.xp.take(context.asarray(self.classes_), indices, axis=0)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against ``y`` as a Python float (host data or one backend's arrays)."""
        check_one_backend(X, y, sample_weight)
        predicted = to_numpy(self.predict(X))
        return float(accuracy_score(to_numpy(y), predicted, sample_weight=to_numpy(sample_weight)))
