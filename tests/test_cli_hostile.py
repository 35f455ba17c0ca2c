"""A hostile battery for the command line: corrupt, foreign and inconsistent model files, broken and
extreme data, divergent training and outputs that cannot be written.

Every run ends with exit code 0 or 2, and a failure is one line, ``xdnn COMMAND: error: ...``, that
names the cause -- never a traceback.  The runs are in-process (``cli.main``), a few in a subprocess
for the real exit code and what reaches the shell.  Files are tiny and training is 1 to 3 epochs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tokenize
import zipfile

import numpy as np
import pytest

import xdnn
from xdnn import cli
from xdnn.datasets import moons_host

# the battery runs on the numpy backend whatever the session: once, in the numpy session (nox sets XDNN_BACKEND)
pytestmark = pytest.mark.skipif(
    os.environ.get("XDNN_BACKEND", "numpy") != "numpy",
    reason="the battery runs on the numpy backend: it runs once, in the numpy session",
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = ("train", "--layers", "4", "--epochs", "2", "--quiet")


@pytest.fixture(autouse=True)
def numpy_backend_in_a_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDNN_BACKEND", "numpy")
    monkeypatch.chdir(tmp_path)


def run(capsys, arguments):
    """``cli.main(arguments)`` in-process under the battery's contract: exit code 0 or 2, no traceback,
    no multi-line Python warning, and a failure is exactly one ``xdnn COMMAND: error:`` line."""
    capsys.readouterr()
    code = cli.main([str(argument) for argument in arguments])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code in (0, 2), err
    assert "Traceback" not in err and "Warning:" not in err, err
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith(f"xdnn {arguments[0]}: error: "), err
    return code, out, err


# --- the files: data and model files, good and bad, made once for the module ---------------------


def write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(str(value) for value in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def moons_rows(n=60, scale=1.0):
    X, y = moons_host(n, noise=0.1, seed=5)
    return [[a * scale, b * scale, int(label)] for (a, b), label in zip(X, y, strict=True)]


def rewrite_model(source, destination, change_architecture=None, architecture_text=None, **arrays):
    """A copy of the model file ``source`` with its architecture JSON changed (or replaced by raw text)
    and arrays replaced: a corrupt model that still reads as an .npz archive."""
    with np.load(source) as archive:
        entries = {name: archive[name] for name in archive.files}
    architecture = json.loads(str(entries["architecture"]))
    if change_architecture is not None:
        change_architecture(architecture)
    entries["architecture"] = np.array(architecture_text if architecture_text is not None else json.dumps(architecture))
    entries.update(arrays)
    with open(destination, "wb") as stream:
        np.savez(stream, **entries)


def with_metadata(source, destination, change):
    """Save the model at ``source`` again with its metadata changed as ``change(metadata)`` does."""
    network = xdnn.load(source, backend="numpy")
    metadata = dict(network.metadata)
    change(metadata)
    network.metadata = metadata
    network.save(destination)


def set_layer_units(units):
    def change(architecture):
        architecture["layers"][0]["units"] = units

    return change


def make_data_files(folder):
    rows = moons_rows()
    write_csv(folder / "moons.csv", ["a", "b", "label"], rows)
    (folder / "empty.csv").write_text("")
    (folder / "header_only.csv").write_text("a,b,label\n")
    (folder / "ragged.csv").write_text("a,b,label\n1,2,0\n3,4\n")
    (folder / "words.csv").write_text("a,b,label\n1,2,0\n3,four,1\n")
    write_csv(folder / "one_class.csv", ["a", "b", "label"], [[a, b, 1] for a, b, _ in rows])
    write_csv(folder / "huge.csv", ["a", "b", "label"], [[a, (-1) ** i * 1e308, c] for i, (a, b, c) in enumerate(rows)])
    write_csv(folder / "huge_constant.csv", ["a", "b", "label"], [[a, 1e308, c] for a, b, c in rows])
    write_csv(folder / "beyond_float32.csv", ["a", "b", "label"], [[a, b * 1e39, c] for a, b, c in rows])
    write_csv(folder / "huge_target.csv", ["a", "b", "price"], [[a, b, (a + 3) * 1e39] for a, b, _ in rows])
    (folder / "nan.csv").write_text("a,b,label\n0.5,nan,0\n1.0,2.0,1\n0.1,0.2,0\n")
    (folder / "inf.csv").write_text("a,b,label\n0.5,-inf,0\n1.0,2.0,1\n0.1,0.2,0\n")
    (folder / "nan_target.csv").write_text("a,b,label\n0.5,1,nan\n1.0,2.0,1\n0.1,0.2,0\n")
    (folder / "latin1.csv").write_bytes("a,b,label\n\u00e9t\u00e9,1,0\n".encode("latin-1"))
    (folder / "binary.csv").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "folder.csv").mkdir()
    write_csv(folder / "features_only.csv", ["a", "b"], [row[:2] for row in rows])
    write_csv(folder / "lacks_b.csv", ["a", "c"], [row[:2] for row in rows])
    write_csv(folder / "predict_huge.csv", ["a", "b"], [[a, 1e308] for a, _, _ in rows])
    write_csv(folder / "predict_beyond_float32.csv", ["a", "b"], [[a, -1e39] for a, _, _ in rows])
    write_csv(folder / "unseen_label.csv", ["a", "b", "label"], [[a, b, 7] for a, b, _ in rows])
    write_csv(folder / "scaled_by_100.csv", ["a", "b", "label"], moons_rows(200, scale=100.0))
    np.savez(folder / "three_features.npz", X=np.ones((5, 3)), y=np.zeros(5))
    np.savez(folder / "no_x.npz", y=np.zeros(5))
    np.savez(folder / "empty_x.npz", X=np.zeros((0, 2)), y=np.zeros(0))
    (folder / "corrupt_data.npz").write_bytes(b"PK\x03\x04" + bytes(200))
    (folder / "text_data.npz").write_text("X,y\n1,2\n")
    np.save(folder / "bare.npy", np.ones((4, 2)))
    os.replace(folder / "bare.npy", folder / "bare_array.npz")
    (folder / "folder_data.npz").mkdir()


def make_model_files(folder):
    good = folder / "good.npz"
    assert cli.main(["train", "--data", str(folder / "moons.csv"), *TRAIN[1:], "--out", str(good)]) == 0
    raw = folder / "raw32.npz"
    arguments = ["train", "--data", str(folder / "moons.csv"), *TRAIN[1:], "--no-standardize", "--out", str(raw)]
    assert cli.main(arguments) == 0
    content = good.read_bytes()
    (folder / "truncated.npz").write_bytes(content[: len(content) // 2])
    (folder / "garbage.npz").write_bytes(np.random.default_rng(1).bytes(len(content)))
    (folder / "empty.npz").write_bytes(b"")
    (folder / "folder.npz").mkdir()
    np.savez(folder / "foreign.npz", weights=np.ones(3))
    (folder / "text.npz").write_text("not a model\n")
    with zipfile.ZipFile(folder / "raw_member.npz", "w") as archive:
        archive.writestr("architecture", "{}")
    rewrite_model(good, folder / "deep_json.npz", architecture_text="[" * 100_000 + "]" * 100_000)
    rewrite_model(good, folder / "bad_json.npz", architecture_text="{")
    rewrite_model(good, folder / "list_architecture.npz", architecture_text="[1, 2]")
    rewrite_model(good, folder / "infinite_units.npz", architecture_text=(
        str(np.load(good)["architecture"]).replace('"units": 4', '"units": 1e400')
    ))  # fmt: skip
    rewrite_model(good, folder / "huge_units.npz", set_layer_units(10**15))
    rewrite_model(good, folder / "text_units.npz", set_layer_units("four"))
    rewrite_model(good, folder / "unknown_layer.npz", lambda architecture: architecture["layers"][0].update(kind="?"))
    rewrite_model(good, folder / "no_layers.npz", lambda architecture: architecture.pop("layers"))
    rewrite_model(good, folder / "bad_dtype.npz", lambda architecture: architecture.update(dtype="float8"))
    rewrite_model(good, folder / "nan_weights.npz", **{"parameters/W1": np.full((4, 2), np.nan, np.float32)})
    rewrite_model(good, folder / "wrong_shape.npz", **{"parameters/W1": np.ones((3, 3), np.float32)})
    rewrite_model(good, folder / "object_weights.npz", **{"parameters/b1": np.array(["a", "b", "c", "d"])})
    for name, change in METADATA_EDITS.items():
        with_metadata(good, folder / f"{name}.npz", change)


METADATA_EDITS = {
    "classes_shorter": lambda metadata: metadata.update(classes=["only"]),
    "classes_longer": lambda metadata: metadata.update(classes=[0, 1, 2]),
    "classes_not_a_list": lambda metadata: metadata.update(classes="01"),
    "classes_unhashable": lambda metadata: metadata.update(classes=[[0], [1]]),
    "classes_repeated": lambda metadata: metadata.update(classes=[1, 1]),
    "mean_wrong_length": lambda metadata: metadata.update(feature_mean=[0.0]),
    "mean_not_numbers": lambda metadata: metadata.update(feature_mean=["a", "b"]),
    "mean_huge_integer": lambda metadata: metadata.update(feature_mean=[10**400, 0]),
    "std_zero": lambda metadata: metadata.update(feature_std=[0.0, 1.0]),
    "std_missing": lambda metadata: metadata.pop("feature_std"),
    "names_not_a_list": lambda metadata: metadata.update(feature_names="ab"),
    "names_wrong_length": lambda metadata: metadata.update(feature_names=["a", "b", "c"]),
    "target_not_a_name": lambda metadata: metadata.update(target=5),
    "task_unknown": lambda metadata: metadata.update(task="astrology"),
    "no_metadata": lambda metadata: metadata.clear(),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The folder holding the battery's data and model files."""
    folder = tmp_path_factory.mktemp("hostile")
    previous = os.environ.get("XDNN_BACKEND")
    os.environ["XDNN_BACKEND"] = "numpy"
    try:
        make_data_files(folder)
        make_model_files(folder)
    finally:
        if previous is None:
            del os.environ["XDNN_BACKEND"]
        else:
            os.environ["XDNN_BACKEND"] = previous
    return folder


# --- the battery: (arguments, exit code, fragments of the message) -------------------------------
# "{F}" stands for the folder of the files above; a fragment "!text" must not be in the message.

BAD_MODELS = [
    ("missing.npz", "not found"),
    ("truncated.npz", "truncated.npz"),
    ("garbage.npz", "garbage.npz"),
    ("empty.npz", "empty"),
    ("folder.npz", "directory"),
    ("foreign.npz", "foreign.npz"),
    ("text.npz", "not an .npz"),
    ("raw_member.npz", "raw_member.npz"),
    ("deep_json.npz", "deep_json.npz"),
    ("bad_json.npz", "bad_json.npz"),
    ("list_architecture.npz", "list_architecture.npz"),
    ("infinite_units.npz", "infinite_units.npz"),
    ("huge_units.npz", "huge_units.npz"),
    ("text_units.npz", "text_units.npz"),
    ("unknown_layer.npz", "unknown_layer.npz"),
    ("no_layers.npz", "no_layers.npz"),
    ("bad_dtype.npz", "bad_dtype.npz"),
    ("nan_weights.npz", "nan_weights.npz"),
    ("wrong_shape.npz", "wrong_shape.npz"),
    ("object_weights.npz", "object_weights.npz"),
    ("classes_shorter.npz", "'classes'"),
    ("classes_longer.npz", "'classes'"),
    ("classes_not_a_list.npz", "'classes'"),
    ("classes_unhashable.npz", "'classes'"),
    ("classes_repeated.npz", "'classes'"),
    ("mean_wrong_length.npz", "'feature_mean'"),
    ("mean_not_numbers.npz", "'feature_mean'"),
    ("mean_huge_integer.npz", "'feature_mean'"),
    ("std_zero.npz", "'feature_std'"),
    ("std_missing.npz", "'feature_mean'"),
    ("names_not_a_list.npz", "'feature_names'"),
    ("names_wrong_length.npz", "'feature_names'"),
    ("target_not_a_name.npz", "'target'"),
]

CASES = [
    *[
        pytest.param(["predict", "--model", f"{{F}}/{model}", "--data", "{F}/moons.csv"], 2, [fragment], id=model)
        for model, fragment in BAD_MODELS
    ],
    pytest.param(["evaluate", "--model", "{F}/classes_shorter.npz", "--data", "{F}/moons.csv"], 2, ["'classes'"]),
    pytest.param(["evaluate", "--model", "{F}/deep_json.npz", "--data", "moons"], 2, ["deep_json.npz"]),
    pytest.param(["predict", "--model", "{F}/task_unknown.npz", "--data", "{F}/moons.csv"], 0, []),
    pytest.param(["predict", "--model", "{F}/no_metadata.npz", "--data", "{F}/features_only.csv"], 0, []),
    # data that cannot be read
    pytest.param([*TRAIN, "--data", "{F}/missing.csv"], 2, ["not found"], id="train-missing-csv"),
    pytest.param([*TRAIN, "--data", "{F}/empty.csv"], 2, ["empty.csv is empty"], id="train-empty-csv"),
    pytest.param([*TRAIN, "--data", "{F}/header_only.csv"], 2, ["no data rows"], id="train-header-only"),
    pytest.param([*TRAIN, "--data", "{F}/ragged.csv"], 2, ["row 3 has 2 values"], id="train-ragged"),
    pytest.param([*TRAIN, "--data", "{F}/words.csv"], 2, ["row 3", "'b'", "'four' is not a number"], id="words"),
    pytest.param([*TRAIN, "--data", "{F}/one_class.csv"], 2, ["single class"], id="train-one-class"),
    pytest.param([*TRAIN, "--data", "{F}/nan.csv"], 2, ["NaN feature values"], id="train-nan"),
    pytest.param([*TRAIN, "--data", "{F}/inf.csv"], 2, ["infinite feature values"], id="train-inf"),
    pytest.param([*TRAIN, "--data", "{F}/nan_target.csv"], 2, ["NaN target values"], id="train-nan-target"),
    pytest.param([*TRAIN, "--data", "{F}/latin1.csv"], 2, ["latin1.csv", "not UTF-8"], id="train-latin1"),
    pytest.param([*TRAIN, "--data", "{F}/binary.csv"], 2, ["binary.csv"], id="train-binary-file"),
    pytest.param([*TRAIN, "--data", "{F}/folder.csv"], 2, ["folder.csv is a folder"], id="train-folder-csv"),
    pytest.param([*TRAIN, "--data", "{F}/no_x.npz"], 2, ["'X'"], id="train-npz-without-X"),
    pytest.param([*TRAIN, "--data", "{F}/empty_x.npz"], 2, ["not empty", "(0, 2)"], id="train-npz-empty"),
    pytest.param([*TRAIN, "--data", "{F}/corrupt_data.npz"], 2, ["cannot read"], id="train-npz-corrupt"),
    pytest.param([*TRAIN, "--data", "{F}/text_data.npz"], 2, ["not an .npz archive"], id="train-npz-text"),
    pytest.param([*TRAIN, "--data", "{F}/bare_array.npz"], 2, ["not an .npz archive"], id="train-npz-bare-npy"),
    pytest.param([*TRAIN, "--data", "{F}/folder_data.npz"], 2, ["not a file"], id="train-npz-folder"),
    pytest.param(["predict", "--model", "{F}/good.npz", "--data", "{F}/nan.csv"], 2, ["NaN", "predicting"]),
    pytest.param(["predict", "--model", "{F}/good.npz", "--data", "{F}/empty.csv"], 2, ["is empty"]),
    pytest.param(["predict", "--model", "{F}/good.npz", "--data", "{F}/lacks_b.csv"], 2, ["lacks the feature"]),
    pytest.param(["predict", "--model", "{F}/good.npz", "--data", "{F}/three_features.npz"], 2, ["expects 2"]),
    pytest.param(["predict", "--model", "{F}/good.npz", "--data", "{F}/binary.csv"], 2, ["binary.csv"]),
    pytest.param(["evaluate", "--model", "{F}/good.npz", "--data", "{F}/unseen_label.csv"], 2, ["label 7"]),
    pytest.param(["evaluate", "--model", "{F}/good.npz", "--data", "{F}/words.csv"], 2, ["not a number"]),
    pytest.param(["evaluate", "--model", "{F}/good.npz", "--data", "{F}/features_only.csv"], 2, ["target"]),
    # values too large: named by column, never called NaN
    pytest.param([*TRAIN, "--data", "{F}/huge.csv"], 2, ["column 'b'", "1e+308", "too large to standardise", "!NaN"]),
    pytest.param([*TRAIN, "--data", "{F}/huge_constant.csv"], 2, ["column 'b'", "too large to standardise", "!NaN"]),
    pytest.param(
        [*TRAIN, "--data", "{F}/beyond_float32.csv", "--no-standardize"],
        2,
        ["column 'b'", "beyond float32's range", "--dtype float64", "!NaN"],
        id="train-1e39-float32",
    ),
    pytest.param([*TRAIN, "--data", "{F}/beyond_float32.csv", "--dtype", "float32"], 0, [], id="train-1e39-scaled"),
    pytest.param([*TRAIN, "--data", "{F}/huge_target.csv"], 2, ["target 'price'", "beyond float32's range"]),
    pytest.param(  # in float64's range, but not the network's: training diverges, and says what to change
        [*TRAIN, "--data", "{F}/huge.csv", "--no-standardize", "--dtype", "float64"],
        2,
        ["training diverged", "drop --no-standardize"],
        id="train-1e308-float64-raw",
    ),
    pytest.param(
        ["predict", "--model", "{F}/good.npz", "--data", "{F}/predict_huge.csv"],
        2,
        ["column 'b'", "1e+308", "!NaN"],
        id="predict-1e308",
    ),
    pytest.param(
        ["predict", "--model", "{F}/raw32.npz", "--data", "{F}/predict_beyond_float32.csv"],
        2,
        ["column 'b'", "beyond float32's range"],
        id="predict-1e39-float32",
    ),
    # training that diverges
    pytest.param(
        [*TRAIN, "--data", "{F}/moons.csv", "--lr", "1e30", "--no-standardize"],
        2,
        ["training diverged at epoch", "nothing was saved", "--lr", "--no-standardize"],
        id="diverge-lr",
    ),
    pytest.param(
        [*TRAIN, "--data", "{F}/scaled_by_100.csv", "--hidden", "exp", "--no-standardize"],
        2,
        ["training diverged at epoch", "--hidden"],
        id="diverge-exp",
    ),
    # outputs that cannot be written
    pytest.param([*TRAIN, "--data", "moons", "--out", "/proc/xdnn-model.npz"], 2, ["--out /proc/xdnn-model.npz"]),
    pytest.param(["predict", "--model", "{F}/good.npz", "--data", "moons", "--out", "/proc/p.csv"], 2, ["--out"]),
    pytest.param(["predict", "--model", "{F}/good.npz", "--data", "moons", "--out", "{F}"], 2, ["is a folder"]),
]
if os.path.exists("/dev/full"):
    CASES += [
        pytest.param(
            ["predict", "--model", "{F}/good.npz", "--data", "{F}/moons.csv", "--out", "/dev/full"],
            2,
            ["cannot write predictions to /dev/full", "no space left on device"],
            id="predict-out-dev-full",
        ),
        pytest.param([*TRAIN, "--data", "moons", "--out", "/dev/full"], 2, ["--out /dev/full"], id="train-dev-full"),
    ]


@pytest.mark.parametrize("arguments, expected_code, fragments", CASES)
def test_hostile_run_ends_in_exit_0_or_one_line_error(files, capsys, arguments, expected_code, fragments):
    arguments = [argument.replace("{F}", str(files)) for argument in arguments]
    if any(argument.startswith("/proc/") for argument in arguments) and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux's /proc, where nothing can be written")
    code, _, err = run(capsys, arguments)
    assert code == expected_code, err
    for fragment in fragments:  # "!text": text must not be in the message
        assert (fragment[1:] not in err) if fragment.startswith("!") else (fragment in err), err


# --- cases that need more than a command line ----------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        RecursionError("maximum recursion depth exceeded"),
        OverflowError("int too large to convert to float"),
        ValueError("could not convert string to float: 'x'"),
        NotImplementedError(),
        tokenize.TokenError("unterminated string", (1, 0)),
        RuntimeError("dictionary changed size during iteration"),
        MemoryError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_any_failure_to_load_a_model_is_one_line(files, capsys, monkeypatch, error):
    """Whatever loading a corrupt file raises besides ModelFileError is reported, not a traceback."""
    from xdnn import serialization

    def failing_load(path, **options):
        raise error

    monkeypatch.setattr(serialization, "load_network", failing_load)
    model = files / "good.npz"
    code, _, err = run(capsys, ["predict", "--model", model, "--data", files / "moons.csv"])
    assert code == 2 and f"cannot load model {model}: {type(error).__name__}" in err


def test_training_that_diverges_later_saves_the_rolled_back_model(files, capsys, tmp_path):
    out = tmp_path / "late.npz"
    arguments = ["train", "--data", files / "scaled_by_100.csv", "--no-standardize", "--optimizer", "sgd"]
    arguments += ["--lr", "0.5", "--layers", "8", "--batch-size", "16", "--epochs", "20", "--val-split", "0"]
    code, out_text, err = run(capsys, [*arguments, "--quiet", "--out", out])
    assert code == 0 and out.is_file()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("xdnn train: warning: training diverged at epoch "), err
    kept = out_text.split(" for ")[1].split()[0]  # "trained Network(...) for N epochs in ..."
    assert f"the model saved is the one after {kept} epochs" in err, err


def test_a_full_disk_while_saving_the_model_is_one_line(capsys, monkeypatch):
    def full_disk(network, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(xdnn.Network, "save", full_disk)
    code, _, err = run(capsys, [*TRAIN, "--data", "moons", "--out", "m.npz"])
    assert code == 2 and "cannot save the model to m.npz: no space left on device" in err


def test_an_output_folder_removed_during_training_is_one_line(capsys, monkeypatch, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    fit = xdnn.Network.fit

    def fit_then_remove_the_folder(network, *arguments, **options):
        history = fit(network, *arguments, **options)
        shutil.rmtree(folder)
        return history

    monkeypatch.setattr(xdnn.Network, "fit", fit_then_remove_the_folder)
    code, _, err = run(capsys, [*TRAIN, "--data", "moons", "--out", folder / "m.npz"])
    assert code == 2 and "cannot save the model to" in err and ("does not exist" in err or "no such file" in err)


def test_plots_that_cannot_be_written_are_one_line_after_the_model_is_saved(capsys, monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    from xdnn import plot

    def full_disk(*arguments, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(plot, "plot_history", full_disk)
    code, _, err = run(capsys, [*TRAIN, "--data", "moons", "--out", "m.npz", "--plots", "plots"])
    assert code == 2 and "model was saved to m.npz" in err and "no space left on device" in err
    assert (tmp_path / "m.npz").is_file()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes in read-only folders")
def test_a_read_only_folder_is_refused_before_training(capsys, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    try:
        code, _, err = run(capsys, [*TRAIN, "--data", "moons", "--out", folder / "m.npz"])
        assert code == 2 and "cannot write in" in err
        code, _, err = run(capsys, ["predict", "--model", "x.npz", "--data", "moons", "--out", folder / "p.csv"])
        assert code == 2 and "cannot write in" in err
    finally:
        folder.chmod(0o700)


# --- in a subprocess: the real exit code, and what reaches the shell -----------------------------


def run_shell(arguments, stdout=subprocess.PIPE):
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    environment["XDNN_BACKEND"] = "numpy"
    arguments = [str(argument) for argument in arguments]
    return subprocess.run(
        [sys.executable, "-m", "xdnn", *arguments], stdout=stdout, stderr=subprocess.PIPE, text=True,
        env=environment, timeout=300,
    )  # fmt: skip


def test_from_the_shell_a_corrupt_model_and_divergence_are_one_line(files):
    result = run_shell(["predict", "--model", files / "deep_json.npz", "--data", files / "moons.csv"])
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("xdnn predict: error: ") and "Traceback" not in result.stderr
    # with the progress bar on: the bar, then the one error line; no Python warning
    result = run_shell(["train", "--data", files / "moons.csv", "--lr", "1e30", "--no-standardize", "--epochs", "2"])
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].startswith("xdnn train: error: training diverged at epoch")
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_from_the_shell_standard_output_on_a_full_disk_is_one_line(files):
    with open("/dev/full", "w") as full:
        result = run_shell(["predict", "--model", files / "good.npz", "--data", files / "moons.csv"], stdout=full)
    assert result.returncode == 2, result.stderr
    expected = "xdnn predict: error: cannot write predictions to standard output: no space left on device\n"
    assert result.stderr == expected
    with open("/dev/full", "w") as full:
        result = run_shell([*TRAIN, "--data", "moons", "--out", files / "shell.npz"], stdout=full)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "xdnn train: error: cannot write to standard output: no space left on device\n"
