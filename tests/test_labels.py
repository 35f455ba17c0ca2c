"""Class labels and feature names a Network keeps (xdnn.labels): text labels train as the class indices
they stand for (compared with a fit on those indices), come back from predict, survive save/load and
the command line; data-frame column names are kept and checked; bad labels change nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import xdnn
from xdnn import labels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECIES = np.array(["setosa", "versicolor", "virginica"])


def iris():
    from sklearn.datasets import load_iris

    data = load_iris()
    order = np.random.default_rng(0).permutation(150)
    return data.data[order], data.target[order]


def fitted_pair(backend, sizes, y_indices, y_labels, **fit):
    """Two float64 networks of one seed: one fitted on class indices, one on the labels they stand for."""
    X, _ = iris()
    options = dict(epochs=3, batch_size=16, verbose=0, **fit)
    by_index = xdnn.Network(sizes, seed=3, dtype="float64")
    by_index.fit(X, y_indices, **options)
    by_label = xdnn.Network(sizes, seed=3, dtype="float64")
    by_label.fit(X, y_labels, **options)
    return X, by_index, by_label


def assert_same_parameters(a, b, backend):
    for name in a.parameters:
        np.testing.assert_array_equal(
            xdnn.to_numpy(a.parameters[name]), xdnn.to_numpy(b.parameters[name]), err_msg=f"{name} on {backend.name}"
        )


def test_text_labels_train_as_their_sorted_indices(backend):
    _, targets = iris()
    X, by_index, by_label = fitted_pair(backend, [4, 8, 3], targets, SPECIES[targets])
    assert_same_parameters(by_index, by_label, backend)
    assert by_label.classes_.tolist() == SPECIES.tolist() and by_index.classes_ is None
    predicted = by_label.predict(X)
    assert isinstance(predicted, np.ndarray) and predicted.dtype.kind == "U"
    np.testing.assert_array_equal(predicted, SPECIES[xdnn.to_numpy(by_index.predict(X))])
    assert by_label.evaluate(X, SPECIES[targets]) == by_index.evaluate(X, targets)


def test_two_text_classes_use_one_sigmoid_unit_with_validation_data(backend):
    _, targets = iris()
    binary = (targets == 0).astype(np.int64)
    names = np.where(binary == 1, "yes", "no")  # sorted: "no" is class 0, "yes" class 1
    X, by_index, by_label = fitted_pair(backend, [4, 5, 1], binary, names, validation_data=None)
    assert_same_parameters(by_index, by_label, backend)
    np.testing.assert_array_equal(by_label.predict(X), np.array(["no", "yes"])[xdnn.to_numpy(by_index.predict(X))])
    X_val = X[:20]
    by_label.fit(X, names, epochs=1, verbose=0, validation_data=(X_val, names[:20].tolist()))
    by_index.fit(X, binary, epochs=1, verbose=0, validation_data=(X_val, binary[:20]))
    assert by_label.history["val_loss"] == by_index.history["val_loss"]


def test_labels_and_feature_names_survive_save_and_load(backend, tmp_path):
    pandas = pytest.importorskip("pandas")
    X, targets = iris()
    frame = pandas.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    network = xdnn.Network([4, 6, 3], seed=1)
    network.fit(frame, pandas.Series(pandas.Categorical(SPECIES[targets])), epochs=2, verbose=0)
    assert network.feature_names_in_.tolist() == ["sl", "sw", "pl", "pw"]
    path = tmp_path / "labels.npz"
    network.save(path)
    loaded = xdnn.load(path)
    assert loaded.classes_.tolist() == SPECIES.tolist()
    assert loaded.feature_names_in_.tolist() == ["sl", "sw", "pl", "pw"]
    np.testing.assert_array_equal(loaded.predict(frame), network.predict(frame))
    with pytest.raises(ValueError, match="the same names in another order"):
        loaded.predict(frame[["sw", "sl", "pl", "pw"]])
    with pytest.raises(ValueError, match=r"missing \['pw'\]; unexpected \['width'\]"):
        loaded.predict(frame.rename(columns={"pw": "width"}))
    np.testing.assert_array_equal(loaded.predict(X), network.predict(X))  # plain arrays: taken by position


@pytest.mark.parametrize(
    "sizes, loss, y, message",
    [
        ([4, 5, 3], None, SPECIES[[0, 1, 0, 1] * 5], "holds 2 classes .* but a softmax output of 3 units"),
        ([4, 5, 1], None, SPECIES[[0, 1, 2, 1] * 5], "holds 3 classes .* but one sigmoid unit"),
        ([4, 5, 1], "mse", SPECIES[[0, 1, 2, 1] * 5], "loss 'mse'.* is not a classifier"),
        ([4, 5, 2], None, np.array(["a", 1, "b", 2] * 5, dtype=object), "mixes label types"),
        ([4, 5, 2], None, np.array(["a", None, "b", "a"] * 5, dtype=object), r"missing label \(None\) at row 1"),
        ([4, 5, 2], None, np.array([["a", "b"]] * 20), "one label per sample"),
    ],
)
def test_bad_labels_are_refused_before_anything_changes(backend, sizes, loss, y, message):
    X = np.random.default_rng(0).normal(size=(20, 4))
    network = xdnn.Network(sizes, loss=loss, seed=0)
    before = {name: xdnn.to_numpy(value).copy() for name, value in network.parameters.items()}
    with pytest.raises(ValueError, match=message):
        network.fit(X, y, epochs=1, verbose=0)
    assert network.classes_ is None and network.epochs_trained == 0
    for name, value in network.parameters.items():
        np.testing.assert_array_equal(xdnn.to_numpy(value), before[name])


def test_a_network_of_labels_refuses_unknown_labels_and_bare_indices(backend):
    X, targets = iris()
    network = xdnn.Network([4, 5, 3], seed=0)
    network.fit(X, SPECIES[targets], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"not trained on: \['daisy'\]; its classes are \['setosa'"):
        network.evaluate(X[:3], ["setosa", "daisy", "setosa"])
    with pytest.raises(ValueError, match=r"not trained on: \[0, 1, 2\]"):
        network.fit(X, targets, epochs=1, verbose=0)
    network.fit(X[:10], SPECIES[targets[:10]], epochs=1, verbose=0)  # a subset of the classes is fine
    assert network.classes_.tolist() == SPECIES.tolist()


def test_model_files_with_forged_classes_are_refused(tmp_path):
    network = xdnn.Network([4, 5, 3], seed=0)
    network.build(4)
    with pytest.raises(ValueError, match="distinct and sorted"):
        labels.labels_from_file(["b", "a", "c"], network)
    with pytest.raises(ValueError, match="exactly 3"):
        labels.labels_from_file(["a", "b"], network)
    with pytest.raises(ValueError, match="one kind"):
        labels.labels_from_file(["a", 1, "c"], network)
    network.classes_ = np.array([object(), object(), object()], dtype=object)
    with pytest.raises(ValueError, match="cannot be stored"):
        network.save(tmp_path / "objects.npz")
    assert not os.path.exists(tmp_path / "objects.npz")


def test_dask_labels_stream_as_in_memory_ones():
    if os.environ.get("XDNN_BACKEND", "numpy") != "numpy":
        pytest.skip("the Dask tests run in the numpy session")
    da = pytest.importorskip("dask.array")
    X, targets = iris()
    y = SPECIES[targets]
    in_memory = xdnn.Network([4, 6, 3], seed=2, dtype="float64")
    in_memory.fit(X, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    streamed = xdnn.Network([4, 6, 3], seed=2, dtype="float64")
    streamed.fit(da.from_array(X, chunks=40), da.from_array(y, chunks=40), epochs=2, batch_size=16, verbose=0,
                 shuffle=False)  # fmt: skip
    for name in in_memory.parameters:
        np.testing.assert_allclose(streamed.parameters[name], in_memory.parameters[name], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(streamed.predict(da.from_array(X, chunks=50)).compute(), in_memory.predict(X))
    with pytest.raises(ValueError, match="not trained on"):
        streamed.evaluate(da.from_array(X[:4], chunks=2), da.from_array(np.array(["x"] * 4), chunks=2))
    pandas = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_pandas(pandas.DataFrame(X, columns=["sl", "sw", "pl", "pw"]), npartitions=3)
    named = xdnn.Network([4, 6, 3], seed=2)
    named.fit(frame, dd.from_pandas(pandas.Series(y), npartitions=3), epochs=1, verbose=0)
    assert named.feature_names_in_.tolist() == ["sl", "sw", "pl", "pw"] and named.classes_.tolist() == SPECIES.tolist()
    with pytest.raises(ValueError, match="the same names in another order"):
        named.predict(frame[["sw", "sl", "pl", "pw"]])


def test_cli_trains_and_predicts_iris_with_text_labels(tmp_path):
    if os.environ.get("XDNN_BACKEND", "numpy") != "numpy":
        pytest.skip("the command line runs with the numpy backend: once, in the numpy session")
    X, targets = iris()
    table = tmp_path / "iris.csv"
    rows = [",".join([*map(str, row), species]) for row, species in zip(X, SPECIES[targets], strict=True)]
    table.write_text("\n".join(["sl,sw,pl,pw,species", *rows]) + "\n")
    environment = dict(os.environ, PYTHONPATH=ROOT, XDNN_BACKEND="numpy")

    def run(*arguments):
        done = subprocess.run([sys.executable, "-m", "xdnn", *arguments], capture_output=True, text=True,
                              cwd=tmp_path, env=environment, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("train", "--data", "iris.csv", "--target", "species", "--epochs", "60", "--out", "iris.npz")
    predicted = run("predict", "--model", "iris.npz", "--data", "iris.csv").split()
    assert predicted[0] == "prediction" and set(predicted[1:]) <= set(SPECIES)
    assert np.mean(np.array(predicted[1:]) == SPECIES[targets]) > 0.8
    accuracy = float(run("evaluate", "--model", "iris.npz", "--data", "iris.csv").split("accuracy:")[1])
    assert accuracy == pytest.approx(np.mean(np.array(predicted[1:]) == SPECIES[targets]), abs=5e-5)  # 4 places


def test_lists_object_numbers_and_pandas_missing_values(backend):
    X, targets = iris()
    network = xdnn.Network([4, 5, 3], seed=0)
    network.fit(X, SPECIES[targets].tolist(), epochs=1, verbose=0)  # a plain list of strings
    assert network.classes_.tolist() == SPECIES.tolist()
    by_objects = xdnn.Network([4, 5, 3], seed=0, dtype="float64")
    by_objects.fit(X, targets.astype(object), epochs=1, verbose=0)  # an object array of numbers: numbers
    by_numbers = xdnn.Network([4, 5, 3], seed=0, dtype="float64")
    by_numbers.fit(X, targets, epochs=1, verbose=0)
    assert by_objects.classes_ is None
    assert_same_parameters(by_objects, by_numbers, backend)
    pandas = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"missing label \(<NA>\) at row 1"):
        xdnn.Network([4, 5, 3]).fit(X[:3], pandas.Series(["a", None, "b"], dtype="string"), epochs=1, verbose=0)


def test_a_fit_that_trains_nothing_keeps_the_names_it_had(backend):
    pandas = pytest.importorskip("pandas")
    X, targets = iris()
    frame = pandas.DataFrame(X, columns=["sl", "sw", "pl", "pw"])

    class Refuses(xdnn.callbacks.Callback):
        def on_train_begin(self, logs=None):
            raise RuntimeError("not now")

    network = xdnn.Network([4, 5, 3], seed=0)
    with pytest.raises(RuntimeError, match="not now"):
        network.fit(frame, SPECIES[targets], epochs=1, verbose=0, callbacks=[Refuses()])
    assert network.classes_ is None and network.feature_names_in_ is None
    network.fit(X, targets, epochs=1, verbose=0)  # numbers are still taken: no classes were kept
    with pytest.raises(ValueError, match="X_val's columns differ"):  # checked against X's, at the first fit
        xdnn.Network([4, 5, 3]).fit(frame, targets, epochs=1, verbose=0,
                                    validation_data=(frame.rename(columns={"sl": "x"}), targets))  # fmt: skip


def test_labels_need_a_network_fitted_on_labels_to_evaluate_and_check_gradients(backend):
    X, targets = iris()
    untrained = xdnn.Network([4, 5, 3], seed=0)
    with pytest.raises(ValueError, match="has no classes_"):
        untrained.evaluate(X, SPECIES[targets])
    network = xdnn.Network([4, 5, 3], seed=0, dtype="float64")
    network.fit(X, SPECIES[targets], epochs=1, verbose=0)
    by_labels = network.gradient_check(X[:20], SPECIES[targets[:20]])
    assert by_labels < 1e-6


def test_a_csv_target_of_labels_keeps_each_cell_as_written(tmp_path):
    # cells read as numbers before the first text are read again as their own text: "1.0" stays "1.0"
    path = tmp_path / "grades.csv"
    path.write_text("x1,x2,grade\n0.1,0.2,1.0\n0.3,0.1,2.0\n0.5,0.9,unknown\n0.2,0.4,1.0\n0.8,0.1,2.0\n")
    _, y, _ = xdnn.datasets.load_csv_host(path)
    assert y.tolist() == ["1.0", "2.0", "unknown", "1.0", "2.0"]
    path.write_text("x1,grade\n0.1,1\n0.3,NA\n0.5,2\n")
    with pytest.raises(ValueError, match="row 3, column 'grade' is 'NA', a missing-value marker"):
        xdnn.datasets.load_csv_host(path)


def test_the_cli_matches_labels_as_a_csv_writes_them():
    from xdnn.cli.errors import InputError
    from xdnn.cli.model_inputs import _class_indices

    assert _class_indices(np.array([0, 1, 2, 1]), ["0", "1", "2", "x"]).tolist() == [0, 1, 2, 1]
    assert _class_indices(np.array(["1", "x", "2.0"]), [1.0, 2.0, "x"][:2] + ["x"]).tolist() == [0, 2, 1]
    with pytest.raises(InputError, match=r"labels 'x', 'y' were not seen in training \(classes: \[0, 1, 2\]\)"):
        _class_indices(np.array(["1", "x", "y", "x"]), [0, 1, 2])
