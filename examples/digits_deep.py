"""Deep image classifier: the cat-vs-non-cat tutorial, on scikit-learn's bundled digits.

The tutorials classify 64x64 cat photos (209 training images) with a
[12288, 20, 7, 5, 1] network, learning rate 0.0075, 2500 iterations, and report
about 98.5% train / 80% test accuracy.  The photos cannot be downloaded here, so
the same recipe runs on 8x8 digit images:

1. binary "is it a 0?" with the tutorial's step-by-step L_layer_model, [64, 20, 7, 5, 1];
2. all ten classes with xdnn.Network (softmax output, Adam, mini-batches).

    python examples/digits_deep.py [--backend numpy] [--quick] [--plots DIR]
"""

import argparse

import numpy as np

import xdnn
from xdnn import functional
from xdnn.datasets import digits_host

TUTORIAL_TRAIN, TUTORIAL_TEST = 0.985, 0.80


def split(X, y, seed=0, test_fraction=0.25):
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    return order[n_test:], order[:n_test]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke test)")
    parser.add_argument("--plots", help="folder for history and confusion-matrix PNGs")
    arguments = parser.parse_args()
    iterations, epochs = (100, 3) if arguments.quick else (2500, 60)

    with xdnn.use_backend(arguments.backend) as backend:
        print(f"backend: {backend.name} ({backend.device})")
        X, y = digits_host()
        X = X / 16.0  # pixels 0..16 -> 0..1, as the tutorial scales 0..255 -> 0..1
        train, test = split(X, y)

        print("\n1) is it a 0?  [64, 20, 7, 5, 1], lr 0.0075 (the tutorial's recipe)")
        is_zero = (y == 0).astype(np.float64).reshape(1, -1)
        parameters, _ = functional.L_layer_model(
            xdnn.asarray(X[train].T),
            xdnn.asarray(is_zero[:, train]),
            [64, 20, 7, 5, 1],
            learning_rate=0.0075,
            num_iterations=iterations,
            print_cost=True,
            print_every=500,
        )
        print("train:", end=" ")
        functional.predict(xdnn.asarray(X[train].T), xdnn.asarray(is_zero[:, train]), parameters)
        print("test: ", end=" ")
        functional.predict(xdnn.asarray(X[test].T), xdnn.asarray(is_zero[:, test]), parameters)
        print(f"(tutorial on cats: train {TUTORIAL_TRAIN:.1%}, test {TUTORIAL_TEST:.0%})")

        print("\n2) ten classes with xdnn.Network: [64, 64, 32, 10], softmax, Adam")
        network = xdnn.Network([64, 64, 32, 10], activation="relu", learning_rate=0.003, seed=0)
        history = network.fit(
            X[train], y[train], epochs=epochs, batch_size=32, validation_data=(X[test], y[test]), verbose=0
        )
        result = network.evaluate(X[test], y[test])
        print(f"test accuracy {result['accuracy']:.1%} after {len(history.epoch)} epochs")
        if arguments.plots:
            from xdnn.plot import plot_confusion_matrix, plot_history

            plot_history(history, path=f"{arguments.plots}/digits_history.png", title="digits, 10 classes")
            plot_confusion_matrix(
                y[test],
                network.predict(X[test]),
                path=f"{arguments.plots}/digits_confusion.png",
                title="digits test set",
            )
            print(f"wrote {arguments.plots}/digits_history.png and digits_confusion.png")


if __name__ == "__main__":
    main()
