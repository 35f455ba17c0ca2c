"""xdnn.datasets: shapes, labels, seeding and CSV loading, on every backend."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import xdnn
from xdnn import datasets


def test_moons_and_circles_geometry(backend):
    X, y = datasets.moons(400, noise=0.0, seed=1)
    X, y = xdnn.to_numpy(X), xdnn.to_numpy(y)
    assert X.shape == (400, 2) and y.shape == (400,)
    assert np.bincount(y).tolist() == [200, 200]
    outer, inner = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, err_msg=backend.name)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0, err_msg=backend.name)

    X, y = datasets.circles(300, noise=0.0, factor=0.3, seed=2)
    X, y = xdnn.to_numpy(X), xdnn.to_numpy(y)
    radii = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radii[y == 0], 1.0)
    np.testing.assert_allclose(radii[y == 1], 0.3)


def test_generators_are_seeded_and_noisy():
    first, _ = datasets.moons_host(100, seed=7)
    again, _ = datasets.moons_host(100, seed=7)
    other, _ = datasets.moons_host(100, seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_results_live_on_the_active_backend(backend, xp):
    X, y = datasets.planar()
    assert type(X) is type(xp.asarray([1.0]))
    assert tuple(X.shape) == (400, 2) and tuple(y.shape) == (400,)


def test_bundled_scikit_learn_sets():
    pytest.importorskip("sklearn")
    X, y = datasets.digits_host()
    assert X.shape == (1797, 64) and sorted(set(y.tolist())) == list(range(10))
    X, y = datasets.breast_cancer_host()
    assert X.shape == (569, 30) and set(y.tolist()) == {0, 1}


def test_load_csv(tmp_path, backend):
    path = tmp_path / "data.csv"
    path.write_text("a,label,b\n1.5,0,2\n-1,1,3.25\n0,1,4\n")
    X, y = datasets.load_csv(path, target="label")
    np.testing.assert_array_equal(xdnn.to_numpy(X), [[1.5, 2], [-1, 3.25], [0, 4]])
    np.testing.assert_array_equal(xdnn.to_numpy(y), [0, 1, 1])
    X, y = datasets.load_csv(path)  # default target: the last column
    np.testing.assert_array_equal(xdnn.to_numpy(y), [2.0, 3.25, 4.0])


@pytest.mark.parametrize(
    "content, target, message",
    [
        ("a,b\n1,2\n", "c", "no column named 'c'"),
        ("a,b\nx,1\n", "b", "column 'a': 'x' is not a number"),
        ("a,b\n1,x\n2,\n", "b", "row 3, column 'b' is empty"),
        ("a,b\n1,2,3\n", "b", "row 2 has 3 values"),
        ("a,b\n", "b", "no data rows"),
        ("", None, "is empty"),
        ("1,2,0\n3,4,1\n", None, "CSV files need a header row"),
        ("\n0.5, -1e3, nan\n1,2,3\n", "b", r"first row \(0.5,-1e3,nan\) holds numbers"),
    ],
)
def test_load_csv_errors_name_the_problem(tmp_path, content, target, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        datasets.load_csv_host(path, target)


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        datasets.load_csv(tmp_path / "missing.csv")


def test_read_csv_header(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("\n a , b ,label\n1,2,0\n")
    assert datasets.read_csv_header(path) == ["a", "b", "label"]
    path.write_text("1,2,0\n")
    with pytest.raises(ValueError, match="header row"):
        datasets.read_csv_header(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        datasets.read_csv_header(tmp_path / "missing.csv")


def test_a_header_with_some_numeric_names_is_still_a_header(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("2019,2020,label\n1,2,0\n3,4,1\n")
    X, y, names = datasets.load_csv_host(path)
    assert names == ["2019", "2020"] and X.shape == (2, 2) and y.tolist() == [0, 1]


def test_submodules_are_attributes_of_the_package():
    # README writes xdnn.datasets.moons(...); it works after a plain `import xdnn`, in a fresh process.
    code = (
        "import sys, xdnn; "
        "assert xdnn.datasets is sys.modules['xdnn.datasets']; "
        "assert callable(xdnn.datasets.moons); "
        "import importlib.util; "
        "assert importlib.util.find_spec('sklearn') is None or hasattr(xdnn.estimators, 'MLPClassifier'); "
        "print('ok')"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        xdnn.nonexistent  # noqa: B018


def test_load_csv_reads_a_text_target_as_class_labels(tmp_path):
    # a target column with one cell that is not a number holds class labels: every cell is kept as text,
    # including those read as numbers before it (written back as the CSV wrote them)
    path = tmp_path / "labels.csv"
    path.write_text("a,b,kind\n1,2,3\n4,5.5,cat\n6,7,dog\n8,9,cat\n")
    X, y, names = datasets.load_csv_host(path, "kind")
    np.testing.assert_array_equal(X, [[1, 2], [4, 5.5], [6, 7], [8, 9]])
    assert y.dtype.kind == "U" and y.tolist() == ["3", "cat", "dog", "cat"]
    assert names == ["a", "b"]
    with pytest.raises(ValueError, match="column 'kind': 'cat' is not a number"):
        datasets.load_csv_host(path, "a")  # features stay numbers: only the target may hold labels


def test_load_csv_keeps_text_labels_on_the_host(tmp_path, backend):
    path = tmp_path / "labels.csv"
    path.write_text("a,kind\n1,cat\n2,dog\n3,cat\n")
    with xdnn.use_backend(backend.name):
        X, y = datasets.load_csv(path)
    assert isinstance(y, np.ndarray) and y.tolist() == ["cat", "dog", "cat"]
    np.testing.assert_array_equal(xdnn.to_numpy(X), [[1.0], [2.0], [3.0]])
