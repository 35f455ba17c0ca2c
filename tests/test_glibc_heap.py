"""glibc's heap kept between NumPy training steps (xdnn.backends.glibc_heap): each check in a fresh process,
as the thresholds are the process's own and set once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from xdnn.backends import glibc_heap

ON_GLIBC = glibc_heap._glibc_mallopt() is not None
needs_glibc = pytest.mark.skipif(not ON_GLIBC, reason="glibc's allocator only (Linux with glibc)")

# A deep, narrow full-batch network: every step allocates and frees eleven (64, 8192) float32
# arrays, which glibc trims and faults back in when left at its start-up thresholds.
STEP_FAULTS = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import xdnn
    X = np.random.default_rng(0).normal(size=(8192, 64)).astype("float32")
    y = (X[:, 0] > 0).astype("int64")
    with xdnn.use_backend("numpy"):
        net = xdnn.Network([64] + [64] * 10 + [1], activation="relu", optimizer="sgd", learning_rate=0.01,
                           dtype="float32", seed=0, metrics=[])
        net.fit(X, y, epochs=2, batch_size=None, verbose=0)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        net.fit(X, y, epochs=10, batch_size=None, verbose=0)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    from xdnn.backends import glibc_heap
    print(json.dumps({"faults_per_step": (after - before) / 10, "kept": glibc_heap.keep_freed_blocks()}))
    """
)


def run_fresh(source: str, **environment: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in glibc_heap.USER_SETTINGS}
    completed = subprocess.run(
        [sys.executable, "-c", source], env={**env, **environment}, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@needs_glibc
def test_a_numpy_fit_reuses_the_freed_heap_in_its_next_steps():
    # Each step's ~23 MB of arrays, 4 KiB pages: about 5,600 page faults a step if none were reused.
    report = run_fresh(STEP_FAULTS)
    assert report["kept"] is True
    assert report["faults_per_step"] < 200, report


@needs_glibc
def test_the_users_allocator_settings_are_left_alone():
    source = (
        "import json; from xdnn.backends import glibc_heap; print(json.dumps({'kept': glibc_heap.keep_freed_blocks()}))"
    )
    assert run_fresh(source) == {"kept": True}
    for name in glibc_heap.USER_SETTINGS:
        value = "glibc.malloc.check=0" if name == "GLIBC_TUNABLES" else "131072"
        assert run_fresh(source, **{name: value}) == {"kept": False}, name


def test_nothing_is_set_off_glibc(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert glibc_heap._glibc_mallopt() is None
    assert glibc_heap.keep_freed_blocks.__wrapped__() is False


def test_a_fit_with_fast_paths_off_leaves_the_heap_alone():
    source = textwrap.dedent(
        """
        import json
        import numpy as np
        import xdnn
        from xdnn.backends import glibc_heap
        xdnn.set_fast_paths(False)
        with xdnn.use_backend("numpy"):
            xdnn.Network([3, 1], seed=0).fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), epochs=1, verbose=0)
        print(json.dumps({"asked": glibc_heap.keep_freed_blocks.cache_info().currsize}))
        """
    )
    assert run_fresh(source) == {"asked": 0}
