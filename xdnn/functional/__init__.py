"""The tutorial's step-by-step L-layer network, on any Array API backend.

Port a "deep neural network from scratch" notebook by changing its import::

    from xdnn.functional import (initialize_parameters_deep, L_model_forward,
                                 compute_cost, L_model_backward, update_parameters)

The planar-data notebook's one-hidden-layer (tanh) API is here too: :func:`layer_sizes`,
:func:`forward_propagation`, :func:`backward_propagation`, :func:`nn_model` and the
``predict(parameters, X)`` call form; so is the application notebook's :func:`two_layer_model`.
Two other write-ups of the same tanh network are spelled their way: GeeksforGeeks'
:func:`forward_prop` and :func:`back_propagate`, and the "2-layer network from scratch" moons
tutorial's :func:`forwardPropagation`, :func:`backPropagation` and :func:`fit`.

Names, argument order and data layout are the tutorial's: ``X`` is
``(n_features, m)``, ``Y`` is ``(1, m)``, ``W[l]`` is ``(n[l], n[l-1])``, ``b[l]`` is
``(n[l], 1)``; ``linear_cache = (A_prev, W, b)``, ``activation_cache = Z`` and
``cache = (linear_cache, activation_cache)``; parameter and gradient dictionaries
use the keys ``W1, b1, ...`` and ``dA0, dW1, db1, ...``.

Every function resolves the array namespace once from its inputs: arrays of a
backend (CuPy, PyTorch, array-api-strict) keep the computation there; lists and
NumPy arrays are moved once to the active backend (:func:`xdnn.set_backend`).
The math itself lives in :mod:`xdnn.activations`, :mod:`xdnn.linear`, :mod:`xdnn.losses` and
:mod:`xdnn.optimizers`, and the loops over layers in :mod:`xdnn.backprop`, all shared with
:class:`xdnn.Network`: the functions here only give them the tutorial's names, arguments and caches.
"""

from xdnn.functional.deep import (
    L_layer_model,
    L_model_backward,
    L_model_forward,
    compute_cost,
    initialize_parameters,
    initialize_parameters_deep,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
    predict,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
    two_layer_model,
    update_parameters,
)
from xdnn.functional.planar import (
    back_propagate,
    backPropagation,
    backward_propagation,
    fit,
    forward_prop,
    forward_propagation,
    forwardPropagation,
    layer_sizes,
    nn_model,
)

__all__ = [
    "sigmoid",
    "relu",
    "tanh",
    "sigmoid_backward",
    "relu_backward",
    "tanh_backward",
    "initialize_parameters",
    "initialize_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
    "L_layer_model",
    "two_layer_model",
    "predict",
    "layer_sizes",
    "forward_propagation",
    "backward_propagation",
    "nn_model",
    "forward_prop",
    "back_propagate",
    "forwardPropagation",
    "backPropagation",
    "fit",
]
