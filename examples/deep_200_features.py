"""An n-layer binary classifier on a synthetic data set with 200 features.

The "code a deep neural network" tutorial trains [LINEAR->RELU] x (L-1) ->
LINEAR->SIGMOID on a generated data set of 200 features.  Here: 5000 samples of
200 Gaussian features, labelled by which side of a random curved surface they lie
on (a linear score plus a quadratic term), split 4000 / 1000, and a [200, 20, 7, 5, 1]
network trained by full-batch gradient descent with the step-by-step API.

    python examples/deep_200_features.py [--backend numpy] [--quick]
"""

import argparse

import numpy as np

import xdnn
from xdnn import functional


def make_data(n_samples=5000, n_features=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_features, n_samples))
    direction, bend = rng.normal(size=(2, n_features)) / np.sqrt(n_features)
    score = direction @ X + 0.3 * (bend @ X) ** 2
    Y = (score > np.median(score)).astype(np.float64).reshape(1, -1)
    return X, Y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke test)")
    arguments = parser.parse_args()
    iterations = 200 if arguments.quick else 3000

    with xdnn.use_backend(arguments.backend) as backend:
        print(f"backend: {backend.name} ({backend.device})")
        X, Y = make_data()
        X_train, Y_train = xdnn.asarray(X[:, :4000]), xdnn.asarray(Y[:, :4000])
        X_test, Y_test = xdnn.asarray(X[:, 4000:]), xdnn.asarray(Y[:, 4000:])
        parameters, costs = functional.L_layer_model(
            X_train,
            Y_train,
            [200, 20, 7, 5, 1],
            learning_rate=0.05,
            num_iterations=iterations,
            print_cost=True,
            print_every=500,
            initialization="he",
        )
        print("train:", end=" ")
        functional.predict(X_train, Y_train, parameters)
        print("test: ", end=" ")
        functional.predict(X_test, Y_test, parameters)
        # costs holds every 100th iteration's cost, as in the tutorial; the last one is computed here
        final_cost = float(functional.compute_cost(functional.L_model_forward(X_train, parameters)[0], Y_train))
        print(
            f"cost {costs[0]:.4f} -> {final_cost:.4f} over {iterations} iterations "
            "(the tutorial shows the cost falling steadily; it prints no accuracy for this data set)"
        )


if __name__ == "__main__":
    main()
