"""README.md runs as written, and its test command is the one CI runs.

Every fenced ```python block of README.md runs on its own, in order within the block, in a fresh
``sys.executable`` process whose working directory is an empty temporary folder (each block has
its own imports and data; files it writes, such as ``model.npz``, land there).  A block passes when
the process exits with 0 within its timeout.

Optional extras: the modules a block imports are read from its syntax tree (``import a.b`` and
``from a.b import c`` both count as ``a``).  A block that imports a module of an optional extra
(``OPTIONAL_MODULES``: scikit-learn, SciPy, matplotlib, Dask, ONNX, ...) that is not installed
here is skipped, naming the module and the extra that installs it.  Nothing else is ever skipped:
a block that needs only xdnn and its required dependencies always runs.

The blocks use the default backend (``auto``: NumPy on a machine without CUDA; nox's numpy session sets
``XDNN_BACKEND=numpy``, which the processes inherit), so the file runs once, in the numpy session, as
``test_examples.py`` does.  ``PYTHONPATH`` starts with the checkout, so an uninstalled checkout works too.
Each block is given ``BLOCK_TIMEOUT_S``; the README keeps its epochs small, so that all of them take
well under a minute together.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("XDNN_BACKEND", "numpy") != "numpy",
    reason="README's blocks run on the default (numpy) backend: once, in the numpy session",
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
CI_SCRIPT = os.path.join(ROOT, ".ci", "run")
BLOCK_TIMEOUT_S = 120

# The top-level module -> the extra (or package) that installs it.
OPTIONAL_MODULES = {
    "sklearn": "examples",
    "scipy": "examples (scikit-learn brings SciPy)",
    "matplotlib": "examples",
    "tqdm": "progress",
    "dask": "dask",
    "distributed": "dask",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "cupy": "cuda12 or cuda13",
    "cupyx": "cuda12 or cuda13",
    "torch": "torch (a test backend)",
    "jax": "jax (a test backend)",
    "array_api_strict": "array-api-strict (a test backend)",
}

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def fenced_blocks(language: str) -> list[tuple[int, str]]:
    """``(line number, source)`` of every fenced block of ``language`` in README.md, in order."""
    with open(README, encoding="utf-8") as stream:
        text = stream.read()
    return [
        (text.count("\n", 0, match.start()) + 1, match.group(2))
        for match in FENCE.finditer(text)
        if match.group(1) == language
    ]


def imported_modules(source: str) -> set[str]:
    """The top-level names of the modules ``source`` imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


PYTHON_BLOCKS = fenced_blocks("python")


def test_readme_has_python_blocks():
    assert len(PYTHON_BLOCKS) >= 5, f"README.md has {len(PYTHON_BLOCKS)} python blocks"


@pytest.mark.parametrize("line, source", PYTHON_BLOCKS, ids=[f"line-{line}" for line, _ in PYTHON_BLOCKS])
def test_readme_python_block_runs(line, source, tmp_path):
    for module in sorted(imported_modules(source)):
        if module in OPTIONAL_MODULES and importlib.util.find_spec(module) is None:
            pytest.skip(f"the block at README.md:{line} imports {module}, not installed here (extra: "
                        f"{OPTIONAL_MODULES[module]})")  # fmt: skip
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, "-c", source],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"the python block at README.md:{line} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )


def test_readme_test_command_is_what_ci_runs():
    with open(CI_SCRIPT, encoding="utf-8") as stream:
        commands = [line.strip() for line in stream if line.strip() and not line.lstrip().startswith("#")]
    ci_command = commands[-1]  # after `set -euo pipefail` and the `cd` to the repository root
    readme_commands = [
        line.strip() for _, source in fenced_blocks("bash") for line in source.splitlines() if "-m nox" in line
    ]
    assert readme_commands == [ci_command], (
        f"README's test command {readme_commands} is not the command .ci/run runs ({ci_command!r})"
    )


def test_readme_links_into_the_repository_exist():
    with open(README, encoding="utf-8") as stream:
        text = stream.read()
    targets = {target.split("#")[0] for target in re.findall(r"\]\(([^)#:]+(?:#[^)]*)?)\)", text)}
    missing = sorted(target for target in targets if not os.path.exists(os.path.join(ROOT, target)))
    assert not missing, f"README.md links to files that do not exist: {missing}"
