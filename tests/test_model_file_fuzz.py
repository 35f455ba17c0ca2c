"""``xdnn.load`` is total: thousands of corrupted model files each load or raise ``ModelFileError``.

The cases come from ``tests/model_file_fuzz.py`` (``python tests/model_file_fuzz.py 10000`` runs
more, offline).  Parsing a model file happens on the host, the same on every backend, so the fuzz
runs once: in the numpy session.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import xdnn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import model_file_fuzz as fuzz  # noqa: E402

CI_CASES = 2000
MAX_GROWTH = 256 * 2**20  # bytes: what one load may allocate at its peak, however large the bomb


@pytest.fixture
def numpy_session(backend):
    if backend.name != "numpy":
        pytest.skip("model files are parsed on the host, the same on every backend: the fuzz runs in the numpy session")


@pytest.fixture(scope="module")
def models():
    return fuzz.saved_models()


def test_every_corrupted_model_file_loads_or_is_refused(numpy_session, tmp_path):
    report = fuzz.run(CI_CASES, seed=0, folder=str(tmp_path))
    print(report.table())  # shown with -s, and in the failure report
    assert not report.failures, report.table()
    assert report.cases == CI_CASES
    assert report.slowest < fuzz.SECONDS_PER_CASE, report.table()
    assert report.largest_allocation < MAX_GROWTH, report.table()
    outcomes = {outcome for _, outcome in report.outcomes}
    assert outcomes == {"loaded", "refused"}, report.table()
    assert {kind for kind, _ in report.outcomes} == set(fuzz.MUTATIONS), "a mutation produced no case"


def test_a_case_is_the_same_bytes_whatever_ran_before(numpy_session, models):
    """A failing case is reproduced alone: ``python tests/model_file_fuzz.py --case N``."""
    first = fuzz.make_case(models, 41, seed=3)
    fuzz.make_case(models, 7, seed=3)
    again = fuzz.make_case(models, 41, seed=3)
    assert (again.kind, again.variant, again.contents) == (first.kind, first.variant, first.contents)


@pytest.mark.parametrize("variant", ["array", "architecture", "extra", "lying-size", "architecture-at-limit"])
def test_each_deflate_bomb_is_refused_without_inflating_it(numpy_session, models, tmp_path, variant):
    """Every kind of bomb (1 GiB of zeros from about 1 MB) is refused, taking far less than it declares."""
    import tracemalloc

    random = np.random.default_rng(0)
    while (case := fuzz.deflate_bomb(random, models[1]))[0] != variant:
        pass
    path = tmp_path / "bomb.npz"
    path.write_bytes(case[1])
    assert path.stat().st_size < 2 * 2**20
    tracemalloc.start()
    try:
        with pytest.raises(xdnn.ModelFileError):
            xdnn.load(path, backend="numpy")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_GROWTH / 2, f"{variant}: {peak / 2**20:.0f} MiB"


def test_the_zip_writer_of_the_fuzz_writes_what_zipfile_reads(numpy_session, models, tmp_path):
    """The cases' archives are written field by field; unaltered, they are valid model files."""
    for model in models:
        path = tmp_path / f"{model.name}.npz"
        path.write_bytes(fuzz.zip_bytes(fuzz.entries_of(model)))
        assert fuzz.outcome(str(path), np.random.default_rng(0)) == "loaded", model.name
