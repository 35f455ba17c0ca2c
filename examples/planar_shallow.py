"""Shallow network on the planar "flower" (the planar-data tutorial).

One tanh hidden layer of 4 units, sigmoid output, learning rate 1.2, 10 000
iterations of full-batch gradient descent: the tutorial reports about 90%
accuracy.  Then the tutorial's hidden-layer-size sweep (1, 2, 3, 4, 5, 20, 50
units, 5000 iterations each).

    python examples/planar_shallow.py [--backend numpy] [--quick] [--plots DIR]
"""

import argparse

import numpy as np

import xdnn
from xdnn import functional
from xdnn.datasets import load_planar_dataset

# What the tutorial printed, beside which we print our numbers.
TUTORIAL_ACCURACY = 0.90
# As the planar notebook prints its sweep (5000 iterations each); 20 and 50 units depend on rounding.
TUTORIAL_SWEEP = {1: 0.675, 2: 0.6725, 3: 0.9075, 4: 0.905, 5: 0.9125, 20: 0.90, 50: 0.9025}


def train(X, Y, hidden_units, iterations, print_cost=False):
    """The tutorial's nn_model: tanh hidden layer, sigmoid output, randn*0.01 weights from seed 2."""
    parameters, costs = functional.L_layer_model(
        X,
        Y,
        [X.shape[0], hidden_units, 1],
        learning_rate=1.2,
        num_iterations=iterations,
        print_cost=print_cost,
        print_every=1000,
        seed=2,
        initialization="small",
        hidden_activation="tanh",
    )
    predictions = functional.predict(X, parameters, hidden_activation="tanh")
    accuracy = float((xdnn.to_numpy(predictions) == xdnn.to_numpy(Y)).mean())
    return parameters, costs, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke test)")
    parser.add_argument("--plots", help="folder for the decision-boundary PNG")
    arguments = parser.parse_args()
    iterations, sweep_iterations = (300, 200) if arguments.quick else (10_000, 5000)

    with xdnn.use_backend(arguments.backend) as backend:
        print(f"backend: {backend.name} ({backend.device})")
        X, Y = load_planar_dataset()
        X, Y = xdnn.asarray(X), xdnn.asarray(Y)
        parameters, _costs, accuracy = train(X, Y, 4, iterations, print_cost=True)
        print(f"4 hidden units, {iterations} iterations: accuracy {accuracy:.1%}", end=" ")
        print(f"(tutorial: about {TUTORIAL_ACCURACY:.0%})")

        if arguments.plots:
            from xdnn.plot import plot_decision_boundary

            def predict(points):
                return functional.predict(xdnn.asarray(np.asarray(points).T), parameters, hidden_activation="tanh")

            path = f"{arguments.plots}/planar_decision_boundary.png"
            plot_decision_boundary(
                predict, xdnn.to_numpy(X).T, xdnn.to_numpy(Y).ravel(), path=path, title="planar flower, 4 tanh units"
            )
            print(f"wrote {path}")

        print(f"\nhidden-layer size sweep ({sweep_iterations} iterations each)")
        print("units   ours     tutorial")
        for units, reported in TUTORIAL_SWEEP.items():
            _, _, accuracy = train(X, Y, units, sweep_iterations)
            print(f"{units:5d}   {accuracy:6.2%}   {reported:6.2%}")


if __name__ == "__main__":
    main()
