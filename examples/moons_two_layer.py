"""Two-layer network on the moons (the "2-layer network from scratch" tutorial).

500 points, noise 0.2, one tanh hidden layer of 5 units, sigmoid output, He-scaled
initial weights, learning rate 0.3, 5000 iterations of full-batch gradient descent:
the tutorial's cost falls from about 0.74 to about 0.06.  Plots the cost curve.

    python examples/moons_two_layer.py [--backend numpy] [--quick] [--plots DIR]
"""

import argparse

import xdnn
from xdnn import functional
from xdnn.datasets import moons_host

TUTORIAL_FIRST_COST, TUTORIAL_LAST_COST = 0.7384, 0.0639


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke test)")
    parser.add_argument("--plots", help="folder for the cost-curve and decision-boundary PNGs")
    arguments = parser.parse_args()
    iterations = 300 if arguments.quick else 5000

    with xdnn.use_backend(arguments.backend) as backend:
        print(f"backend: {backend.name} ({backend.device})")
        X_host, y_host = moons_host(500, noise=0.2, seed=0)
        X, Y = xdnn.asarray(X_host.T), xdnn.asarray(y_host.reshape(1, -1))  # tutorial layout
        parameters, costs = functional.L_layer_model(
            X,
            Y,
            [2, 5, 1],
            learning_rate=0.3,
            num_iterations=iterations,
            print_cost=True,
            print_every=1000,
            seed=0,
            initialization="he",
            hidden_activation="tanh",
            record_every=1,
        )
        accuracy = float((xdnn.to_numpy(functional.predict(X, parameters, hidden_activation="tanh")) == y_host).mean())
        print(
            f"first cost {costs[0]:.4f} (tutorial {TUTORIAL_FIRST_COST}), "
            f"last cost {costs[-1]:.4f} (tutorial {TUTORIAL_LAST_COST}), accuracy {accuracy:.1%}"
        )
        if arguments.plots:
            from xdnn.plot import plot_decision_boundary, plot_history

            plot_history(costs, path=f"{arguments.plots}/moons_cost.png", title="moons: cost per iteration")

            def predict(points):
                return functional.predict(xdnn.asarray(points.T), parameters, hidden_activation="tanh")

            plot_decision_boundary(
                predict,
                X_host,
                y_host,
                path=f"{arguments.plots}/moons_decision_boundary.png",
                title="moons, 5 tanh units",
            )
            print(f"wrote {arguments.plots}/moons_cost.png and moons_decision_boundary.png")


if __name__ == "__main__":
    main()
