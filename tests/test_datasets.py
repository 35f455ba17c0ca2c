"""xdnn.datasets: shapes, labels, seeding and CSV loading, on every backend."""

from __future__ import annotations

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
        ("a,b\n1,x\n", "b", "'x' is not a number"),
        ("a,b\n1,2,3\n", "b", "row 2 has 3 values"),
        ("a,b\n", "b", "no data rows"),
        ("", None, "is empty"),
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
