"""The docstring text that :class:`MLPClassifier` and :class:`MLPRegressor` share: their parameters and
fitted attributes, written once and filled into each class's ``%(parameters)s`` and ``%(attributes)s``."""

from __future__ import annotations


def shared_docs(cls):
    """Fill ``%(parameters)s`` and ``%(attributes)s`` in an estimator's docstring (one text for both)."""
    cls.__doc__ = cls.__doc__ % {"parameters": PARAMETERS.strip(), "attributes": ATTRIBUTES.strip()}
    return cls


PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Units of each hidden layer (``()`` for none).
    activation : {"relu", "tanh", "logistic", "identity", "leaky_relu", "elu", "gelu"}, default="relu"
        Hidden activation.
    solver : {"adam", "sgd", "momentum", "rmsprop"}, default="adam"
        ``"adam"`` (:class:`xdnn.Adam` with ``beta_1``, ``beta_2``, ``epsilon``), ``"sgd"`` (scikit-learn's:
        :class:`xdnn.SGDMomentum` with ``momentum``, Nesterov's when ``nesterovs_momentum``; plain
        gradient descent for ``momentum=0``), or xdnn's ``"momentum"`` (the course's averaged form,
        ``beta = momentum``) and ``"rmsprop"`` (with ``epsilon``).
    alpha : float, default=1e-4
        L2 penalty ``alpha / (2 m) sum ||W||^2`` per batch of ``m`` samples (scikit-learn's).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The rate's schedule with ``solver="sgd"`` (scikit-learn's): constant; ``learning_rate_init /
        (t + 1) ** power_t`` after ``t`` samples; or constant while the stopping rule sees progress,
        divided by 5 each time it would stop, until it falls below 1e-6.
    learning_rate_init : float, default=1e-3
        The initial (or constant) learning rate.
    power_t : float, default=0.5
        The exponent of ``"invscaling"``.
    max_iter : int, default=200
        Maximum number of epochs (per ``fit``).
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the validation split.
    tol, n_iter_no_change : float, int, default=1e-4, 10
        Without ``early_stopping`` training stops when the training loss has not improved by
        ``tol`` for more than ``n_iter_no_change`` epochs (scikit-learn's rule); with it, when the
        validation loss has not improved by ``tol`` for ``n_iter_no_change`` epochs (Keras').
    verbose : bool, default=False
        Show a progress bar while training.
    warm_start : bool, default=False
        ``fit`` continues the fitted network (same layers, classes and features) with a fresh
        solver, appending to ``loss_curve_``, instead of training a new one.
    momentum, nesterovs_momentum : float, bool, default=0.9, True
        The momentum of ``solver="sgd"`` (and the ``beta`` of ``"momentum"``); Nesterov's or classical.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers when every class
        has two samples and both sides room for every class), stop on its loss and keep the best
        epoch's weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decays and its ``epsilon`` (also RMSprop's).
    max_fun : int, default=15000
        scikit-learn's L-BFGS budget; accepted for compatibility, unused (xdnn has no L-BFGS solver).
    dropout : float, default=0.0
        Inverted-dropout rate after each hidden layer.
    batch_norm : bool, default=False
        Batch normalisation before each hidden activation.
    dtype : {"float32", "float64"} or None, default=None
        Precision of the network's computations.  ``None`` follows ``X``, as
        scikit-learn's MLP does: float32 for float32 ``X``, float64 for anything else
        (float64, integer or boolean data, lists).  Fixed by the first ``fit`` /
        ``partial_fit`` (``network_.dtype_name``).

"""

ATTRIBUTES = """
    n_features_in_ : int
        Number of features seen during ``fit``.
    network_ : xdnn.Network
        The trained network (``network_.save(path)`` writes it to an ``.npz`` file).
    loss_curve_ : list of float
        Training loss (L2 term included) after each epoch.
    loss_ : float
        The last entry of ``loss_curve_``.
    best_loss_ : float or None
        The smallest training loss (``None`` with ``early_stopping``).
    validation_loss_curve_ : list of float or None
        Validation loss after each epoch with ``early_stopping``.
    best_validation_loss_ : float or None
        The best validation loss, whose weights are kept.
    n_iter_ : int
        Number of epochs run (over the ``warm_start`` fits and ``partial_fit`` calls too).
    t_ : int
        Number of training samples the solver has seen (``n_samples`` per epoch).
    validation_scores_ : list of float or None
        With ``early_stopping``: accuracy (classifier) or R^2 (regressor) on the held-out set after each epoch.
    best_validation_score_ : float or None
        The validation score of the epoch whose weights are kept.
    coefs_, intercepts_ : list of arrays
        scikit-learn's view of the weights: ``coefs_[i]`` is ``(n_inputs, n_units)`` (``W{i+1}.T``),
        ``intercepts_[i]`` is ``(n_units,)``; views of the network's parameters (NumPy arrays for
        host data, sharing the weights' memory on the NumPy backend; else arrays of ``X``'s library).
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units (1 for two classes, ``n_classes`` for more, ``n_targets`` for a regressor).
    out_activation_ : {"logistic", "softmax", "identity"}
        The output activation, by scikit-learn's name.

"""
