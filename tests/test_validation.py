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
