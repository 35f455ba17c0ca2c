"""nox sessions: the test suite once per backend, lint, and the documentation site.

``nox`` with no arguments runs what CI runs: ``lint``, ``docs`` (the site, built
strictly) and ``tests`` on every backend.  The ``cupy`` session needs a CUDA GPU and skips, saying so, elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import nox

nox.options.sessions = ["lint", "docs", "tests", "tests(backend='cupy')"]
nox.options.reuse_existing_virtualenvs = True

BACKENDS = ["numpy", "array_api_strict", "torch", "jax"]  # CPU backends; cupy has a session of its own below

# Sessions run on two pytest workers, each a process of its own (no test sees another's state): the
# single-threaded ones.  NumPy's and PyTorch's own threads already use both cores (two workers made
# the torch session 1.6x slower).
PARALLEL_BACKENDS = ("array_api_strict", "jax")

# What each backend session installs beside `xdnn[test-core]`.
BACKEND_REQUIREMENTS = {
    "numpy": [],
    "array_api_strict": ["array-api-strict>=2.3"],
    "torch": ["torch==2.13.0"],
    "jax": ["jax[cpu]>=0.4.35"],  # CPU here; float64 is switched on by xdnn when the backend resolves
}


def cuda_gpu_present() -> bool:
    """True when `nvidia-smi -L` lists at least one GPU."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return False
    try:
        listing = subprocess.run([executable, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listing.returncode == 0 and "GPU" in listing.stdout


def cupy_extra() -> str:
    """The extra that installs CuPy: `cuda13` when the driver reports CUDA 13, else `cuda12`.

    It is installed together with the session's other extras in one editable requirement
    (`-e .[test-core,cuda12]`): pip refuses xdnn asked for twice, once editable and once not."""
    try:
        output = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        output = ""
    return "cuda13" if "CUDA Version: 13" in output else "cuda12"


@nox.session
@nox.parametrize("backend", BACKENDS)
def tests(session: nox.Session, backend: str) -> None:
    """Run the whole pytest suite on one CPU backend."""
    # (the Dask and ONNX-export tests run in the numpy session only: dask's chunks are NumPy arrays)
    extras = "test-core,dask,onnx" if backend == "numpy" else "test-core"
    session.install(*BACKEND_REQUIREMENTS[backend], "-e", f".[{extras}]")
    run_suite(session, backend)


# Asked once, when nox reads this file: without a GPU the cupy session skips before any virtualenv is
# built ("none" backend), instead of building one to install CuPy for nothing.
GPU_PRESENT = cuda_gpu_present()


@nox.session(name="tests(backend='cupy')", venv_backend=None if GPU_PRESENT else "none")
def tests_cupy(session: nox.Session) -> None:
    """Run the whole pytest suite on CuPy: only where a CUDA GPU is present (it skips, building nothing, elsewhere)."""
    if not GPU_PRESENT:
        session.skip("no CUDA GPU on this machine (nvidia-smi lists none): the cupy tests run only on a GPU host")
    session.install("-e", f".[test-core,{cupy_extra()}]")
    run_suite(session, "cupy")


def run_suite(session: nox.Session, backend: str) -> None:
    """pytest on ``backend`` (two workers for the single-threaded backends), then the doctests once (numpy)."""
    env = {"XDNN_BACKEND": backend}
    arguments = ["--backend", backend]
    if backend in PARALLEL_BACKENDS:
        arguments += ["-n", "2"]
    if backend == "jax":
        # JAX compiles each operation for each new shape on its first use, most of this session's
        # time: the two workers share what they compile through JAX's on-disk cache.
        env.update(
            JAX_COMPILATION_CACHE_DIR=os.path.abspath(session.create_tmp()),
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
        )
    session.run("pytest", *arguments, *session.posargs, env=env)
    if backend == "numpy" and not session.posargs:  # the docstrings' examples, once
        session.run("pytest", "--doctest-modules", "xdnn", "-p", "no:cacheprovider", env={"XDNN_BACKEND": backend})


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: xdnn vs plain NumPy, PyTorch and scikit-learn (`-- --quick`: a smoke run; `-- --dask`: Dask)."""
    session.install("-e", f".[test,dask,{cupy_extra()}]" if GPU_PRESENT else ".[test,dask]")
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the package, tests, examples, benchmarks and this file."""
    session.install("ruff>=0.6")
    folders = [folder for folder in ("xdnn", "tests", "bench", "examples") if os.path.isdir(folder)]
    session.run("ruff", "check", *folders, "noxfile.py")
    session.run("ruff", "format", "--check", *folders, "noxfile.py")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs.yml: the user guide and the API reference from the docstrings)
    with `mkdocs build --strict`: a broken link or a docstring mkdocstrings cannot read fails it."""
    session.install("-e", ".[docs]")
    site = os.path.join(session.create_tmp(), "site")
    session.run("mkdocs", "build", "--strict", "--site-dir", site, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def fuzz(session: nox.Session) -> None:
    """Load corrupted model files (`nox -s fuzz -- 10000`, the default count): each must load or raise
    ModelFileError; prints outcome counts per mutation, the slowest case and the memory growth."""
    session.install("-e", ".")
    session.run("python", "tests/model_file_fuzz.py", *(session.posargs or ["10000"]))
