"""The command line's help, version and the brevity and strictness of its input errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import xdnn
from xdnn import cli
from xdnn._backend import DIST_NAME


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def one_line_error(code, stderr, *fragments):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in stderr, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_bare_xdnn_prints_the_full_help_on_stderr_and_exits_2(capsys):
    assert cli.main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: xdnn") and "--version" in captured.err
    for command in ("train", "predict", "evaluate", "info", "demo"):
        assert command in captured.err


def test_version_names_the_distribution(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    try:
        version = metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        version = xdnn.__version__
    assert capsys.readouterr().out.strip() == f"{DIST_NAME} {version}"
    assert DIST_NAME != "xdnn"  # that name on the package index belongs to another project


@pytest.mark.parametrize(
    "command, fragments",
    [
        (
            "train",
            ("(default: 200)", "(default: 64)", "(default: float32)", "(default: adam)", "(default: auto)"),
        ),
        ("demo", ("(default: 10000)",)),
    ],
)
def test_help_shows_defaults(command, fragments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for fragment in fragments:
        assert fragment in text, text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_install_hints_name_the_distribution():
    from xdnn._backend import INSTALL_HINTS

    assert f'"{DIST_NAME}[cuda12]"' in INSTALL_HINTS["cupy"]
    assert all('"xdnn[' not in hint for hint in INSTALL_HINTS.values())


@pytest.fixture
def wide_model(tmp_path, capsys):
    """A model trained on a CSV of 40 named features."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 40))
    y = (X[:, 0] > 0).astype(int)
    names = [f"feature_{i}" for i in range(40)]
    path = write_csv(tmp_path / "wide.csv", [*names, "label"], np.c_[X, y].tolist())
    assert cli.main(["train", "--data", path, "--layers", "3", "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    return X, names


def test_feature_mismatch_lists_the_difference_once_and_briefly(tmp_path, wide_model, capsys):
    X, names = wide_model
    renamed = [f"column_{i}" for i in range(40)]
    path = write_csv(tmp_path / "renamed.csv", renamed, X.tolist())
    line = one_line_error(
        cli.main(["predict", "--model", "model.npz", "--data", path]),
        capsys.readouterr().err,
        "missing: feature_0, feature_1",
        "and 30 more",
        "unexpected: column_0",
    )
    assert line.count("feature_0") == 1 and len(line) < 500, line
    assert "feature_39" not in line


def test_feature_count_mismatch_is_brief(tmp_path, wide_model, capsys):
    X, names = wide_model
    path = write_csv(tmp_path / "fewer.csv", names[:38] + ["extra"], X[:, :39].tolist())
    line = one_line_error(
        cli.main(["predict", "--model", "model.npz", "--data", path, "--target", "extra"]),
        capsys.readouterr().err,
        "missing: feature_38, feature_39",
    )
    assert len(line) < 400, line


@pytest.mark.parametrize("which", ["X", "y"])
def test_complex_npz_is_refused(tmp_path, which, capsys):
    X = np.ones((10, 2))
    y = np.arange(10) % 2
    arrays = {"X": X + 1j * X, "y": y} if which == "X" else {"X": X, "y": y + 0j}
    np.savez(tmp_path / "complex.npz", **arrays)
    code = cli.main(["train", "--data", str(tmp_path / "complex.npz"), "--epochs", "1", "--quiet"])
    one_line_error(code, capsys.readouterr().err, f"'{which}'", "complex")


@pytest.mark.parametrize("cell", ["1_000", "\u0663", "\uff11", "1\u0660"])
def test_csv_cells_are_ascii_numbers_without_underscores(tmp_path, cell, capsys):
    path = write_csv(tmp_path / "odd.csv", ["a", "label"], [["0.5", "0"], [cell, "1"]])
    code = cli.main(["train", "--data", path, "--epochs", "1", "--quiet"])
    one_line_error(code, capsys.readouterr().err, f"row 3, column 'a': {cell!r} is not a number")


def test_ordinary_csv_numbers_are_read():
    from xdnn.datasets import load_csv_host

    path = write_csv("plain.csv", ["a", "b", "label"], [["1", "-2.5", "0"], ["1e-3", "+3", "1"], [" 4 ", "0", "1"]])
    X, y, names = load_csv_host(path)
    np.testing.assert_array_equal(X, [[1.0, -2.5], [1e-3, 3.0], [4.0, 0.0]])
    assert y.tolist() == [0, 1, 1] and names == ["a", "b"]
