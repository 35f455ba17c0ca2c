"""xdnn._validation: the input checks every public call makes before anything changes."""

from __future__ import annotations

import numpy as np
import pytest

from xdnn import _validation


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("bad", "word"), [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
def test_check_finite_names_what_it_found(backend, xp, to_device, dtype, bad, word):
    values = np.ones((5, 3), dtype=dtype)
    values[3, 1] = bad
    with pytest.raises(ValueError, match=f"X contains {word} values"):
        _validation.check_finite(to_device(values), "X", xp=xp)


def test_check_finite_accepts_finite_values_whose_sum_overflows(backend, xp, to_device):
    big = np.full((4, 2), np.finfo(np.float32).max, dtype=np.float32)  # the sum is inf, every entry finite
    _validation.check_finite(to_device(big), "X", xp=xp)
    _validation.check_finite(to_device(np.array([[1, 2]], dtype=np.int64)), "X", xp=xp)  # integers: nothing to do


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_finite_data_that_overflows_the_network_dtype_is_named_as_too_large(backend, to_device):
    """float64 data beyond float32's range would turn into inf in the cast: the error says so, not
    "inf values", and comes before any cast (no overflow warning of NumPy's first)."""
    import xdnn

    X = np.ones((6, 2))
    X[2, 1] = 1e300
    y = np.array([0, 1, 0, 1, 0, 1])
    net = xdnn.Network([2, 3, 1], dtype="float32", seed=0)
    before = {name: xdnn.to_numpy(value).copy() for name, value in net.parameters.items()}
    with pytest.raises(ValueError, match=r"X has values too large for float32 .*3\.403e\+38"):
        net.fit(to_device(X), to_device(y), epochs=1, verbose=0)
    X[2, 1] = np.inf  # the data's own inf is still called inf
    with pytest.raises(ValueError, match="X contains inf values"):
        net.fit(to_device(X), to_device(y), epochs=1, verbose=0)
    regressor = xdnn.Network([2, 3, 1], loss="mse", dtype="float32", seed=0)
    with pytest.raises(ValueError, match="y has values too large for float32"):
        regressor.fit(to_device(np.ones((6, 2))), to_device(np.full(6, 1e39)), epochs=1, verbose=0)
    assert net.epochs_trained == 0 and regressor.epochs_trained == 0
    for name, value in before.items():
        np.testing.assert_array_equal(xdnn.to_numpy(net.parameters[name]), value)
