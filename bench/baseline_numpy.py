"""The baseline: the network written as plain NumPy tutorial code (not part of the package).

This is what a learner writes after the "L-layer network from scratch" tutorial:
parameter and gradient dictionaries, caches, ``np.dot``, ``W = W - lr * dW``.  It
supports the benchmark workloads: any hidden activation of relu/tanh, a sigmoid or
softmax output, full-batch or shuffled mini-batch gradient descent.
"""

import numpy as np


def initialize(layer_dims, dtype, seed=0):
    rng = np.random.RandomState(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = (
            rng.randn(layer_dims[l], layer_dims[l - 1]) * np.sqrt(2.0 / layer_dims[l - 1])
        ).astype(dtype)
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1), dtype=dtype)
    return parameters


def forward(X, parameters, hidden, output):
    L = len(parameters) // 2
    caches = []
    A = X
    for l in range(1, L + 1):
        A_prev = A
        Z = np.dot(parameters["W" + str(l)], A_prev) + parameters["b" + str(l)]
        if l < L:
            A = np.maximum(0, Z) if hidden == "relu" else np.tanh(Z)
        elif output == "sigmoid":
            A = 1 / (1 + np.exp(-Z))
        else:
            e = np.exp(Z - Z.max(axis=0, keepdims=True))
            A = e / e.sum(axis=0, keepdims=True)
        caches.append((A_prev, Z, A))
    return A, caches


def cost(AL, Y, output):
    m = Y.shape[1]
    if output == "sigmoid":
        return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)
    return float(-np.sum(Y * np.log(AL + 1e-12)) / m)


def backward(AL, Y, caches, parameters, hidden):
    grads = {}
    L = len(caches)
    m = Y.shape[1]
    dZ = AL - Y
    dA = None  # gradient flowing into the layer below, set at each layer
    for l in reversed(range(1, L + 1)):
        A_prev, Z, A = caches[l - 1]
        if l < L:
            dZ = dA * (Z > 0) if hidden == "relu" else dA * (1 - A**2)
        grads["dW" + str(l)] = np.dot(dZ, A_prev.T) / m
        grads["db" + str(l)] = np.sum(dZ, axis=1, keepdims=True) / m
        if l > 1:
            dA = np.dot(parameters["W" + str(l)].T, dZ)
    return grads


def update(parameters, grads, learning_rate):
    for key in parameters:
        parameters[key] = parameters[key] - learning_rate * grads["d" + key]
    return parameters


def train(X, Y, parameters, *, epochs, learning_rate, hidden, output, batch_size=None, seed=0):
    """Full-batch (``batch_size=None``) or shuffled mini-batch gradient descent; returns the last cost."""
    m = X.shape[1]
    rng = np.random.default_rng(seed)
    last = None
    for _ in range(epochs):
        if batch_size is None or batch_size >= m:
            batches = [(X, Y)]
        else:
            order = rng.permutation(m)
            batches = [
                (X[:, order[s : s + batch_size]], Y[:, order[s : s + batch_size]]) for s in range(0, m, batch_size)
            ]
        for X_batch, Y_batch in batches:
            AL, caches = forward(X_batch, parameters, hidden, output)
            last = cost(AL, Y_batch, output)
            grads = backward(AL, Y_batch, caches, parameters, hidden)
            parameters = update(parameters, grads, learning_rate)
    return last
