"""The main job: the tutorial's shallow network on the planar flower.

One tanh hidden layer of 4 units and a sigmoid output, trained by full-batch
gradient descent (learning rate 1.2, 10 000 iterations) with the tutorial's
initialisation (``randn * 0.01`` from seed 2).  Prints the cost every 1000
iterations, the training accuracy (the tutorial reports about 90%) and the
backend and device that did the work.
"""

from __future__ import annotations

import time

from xdnn import functional
from xdnn._backend import active_backend
from xdnn._namespace import to_numpy
from xdnn.datasets import load_planar_dataset


def run_demo(
    *, num_iterations: int = 10_000, learning_rate: float = 1.2, hidden_units: int = 4, print_every: int = 1000
) -> float:
    """Train and report; returns the training accuracy in ``[0, 1]``."""
    backend = active_backend()
    print(f"xdnn demo: planar flower, 1 tanh hidden layer of {hidden_units} units, sigmoid output")
    print(f"backend: {backend.name} (device: {backend.device})")
    X, Y = load_planar_dataset()
    X_backend = backend.xp.asarray(X, device=backend.device)
    Y_backend = backend.xp.asarray(Y, device=backend.device)
    start = time.perf_counter()
    parameters, _costs = functional.L_layer_model(
        X_backend,
        Y_backend,
        [X.shape[0], hidden_units, 1],
        learning_rate=learning_rate,
        num_iterations=num_iterations,
        print_cost=True,
        print_every=print_every,
        print_last=False,  # the planar notebook prints at 0, 1000, ..., 9000 only
        seed=2,
        initialization="small",
        hidden_activation="tanh",
    )
    seconds = time.perf_counter() - start
    predictions = functional.predict(X_backend, parameters, hidden_activation="tanh")
    accuracy = float((to_numpy(predictions) == Y).mean())
    print(f"training accuracy: {accuracy * 100:.1f}% (the tutorial reports about 90%)")
    print(f"trained in {seconds:.2f} s on {backend.name} ({backend.device})")
    return accuracy
