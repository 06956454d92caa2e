"""python -m engine as a person meets it: one `error: ...` line and a non-zero status for every
mistake (2 for the command line, 1 for files, data, devices), Ctrl-C that saves and says how to
resume, --debug for the traceback. Each case runs the real command in a subprocess, on a tiny
MNIST in IDX files so that a run takes well under a second."""
import gzip
import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import engine as eg

ENV = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}  # a machine as it is


def engine(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=ENV)


def failed(done, status):
    """The one error line of a command that must fail with `status`."""
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def write_idx(path, array, code=0x08, gz=False):
    header = bytes([0, 0, code, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def mnist_folder(folder, train=120, labels=None, test=30, images_per_side=28):
    """IDX files: `train` images (each a digit's stripe on noise) and `labels` labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n, m in (("train", train, train if labels is None else labels), ("t10k", test, test)):
        digits = rng.integers(0, 10, max(n, m))
        images = rng.integers(0, 60, (n, images_per_side, images_per_side))
        images[np.arange(n), 2 * digits[:n] + 3, 5:20] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", digits[:m])
    return folder


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return mnist_folder(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    """A finished 2-epoch run's checkpoint."""
    out = tmp_path_factory.mktemp("trained")
    done = engine("train", "linear", "--quiet", "--data", mnist, "--out", out, "--epochs", 2,
                  "--batch-size", 16)
    assert done.returncode == 0, done.stderr
    return out / "checkpoint.npz"


# --- numbers on the command line --------------------------------------------------------------

@pytest.mark.parametrize("option, value, says", [
    ("--batch-size", "-1", "--batch-size: expected a whole number >= 1, got -1"),
    ("--batch-size", "0", "--batch-size: expected a whole number >= 1, got 0"),
    ("--epochs", "0", "--epochs: expected a whole number >= 1, got 0"),
    ("--epochs", "-3", "--epochs: expected a whole number >= 1, got -3"),
    ("--epochs", "2.5", "--epochs: expected a whole number, got '2.5'"),
    ("--lr", "nan", "--lr: expected a finite number > 0, got 'nan'"),
    ("--lr", "inf", "--lr: expected a finite number > 0, got 'inf'"),
    ("--lr", "-0.1", "--lr: expected a finite number > 0, got '-0.1'"),
    ("--seed", "-1", "--seed: expected a whole number >= 0, got -1"),
])
def test_bad_numbers_are_refused_before_anything_runs(tmp_path, option, value, says):
    out = tmp_path / "out"
    line = failed(engine("train", "linear", "--out", out, f"{option}={value}"), 2)
    assert says in line
    assert not out.exists()  # no checkpoint named, no pictures overwritten


def test_usage_errors_are_one_line(tmp_path):
    assert "invalid choice: 'nope'" in failed(engine("train", "nope"), 2)
    assert "required: command" in failed(engine(), 2)


# --- data --------------------------------------------------------------------------------------

def _damage(folder, how):
    images, labels = folder / "train-images-idx3-ubyte", folder / "train-labels-idx1-ubyte"
    if how == "truncated":
        images.write_bytes(images.read_bytes()[:5000])
    elif how == "truncated gzip":
        raw = gzip.compress(images.read_bytes())
        images.unlink()
        (folder / "train-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    elif how == "int32 labels":
        write_idx(labels, np.zeros(30), code=0x0C)
    elif how == "header only":
        images.write_bytes(bytes([0, 0, 8, 3, 0, 0]))


@pytest.mark.parametrize("make, says", [
    (dict(train=300, labels=150), "holds 300 images but .*train-labels-idx1-ubyte holds 150 labels"),
    (dict(train=0), "train-images-idx3-ubyte holds no images"),
    (dict(images_per_side=32), "images of 32x32 pixels; MNIST's are 28x28"),
    ("truncated", "truncated: header promises shape \\(120, 28, 28\\) \\(94080 values\\) but the "
                  "file holds 4984"),
    ("truncated gzip", "truncated or damaged gzip file"),
    ("int32 labels", "bad magic number 0x00000c01; it holds int32"),
    ("header only", "truncated: the header of 3 dimensions needs 16 bytes"),
])
def test_bad_data_sets_are_refused_in_one_line(tmp_path, make, says):
    import re
    folder = mnist_folder(tmp_path / "data", **(make if isinstance(make, dict) else {}))
    if isinstance(make, str):
        _damage(folder, make)
    line = failed(engine("train", "linear", "--quiet", "--data", folder, "--out", tmp_path / "o"), 1)
    assert re.search(says, line), line


def test_a_missing_data_folder_or_data_for_an_image_task(tmp_path, mnist):
    assert "--data {}: no such folder".format(tmp_path / "nope") in failed(
        engine("train", "linear", "--data", tmp_path / "nope"), 2)
    assert "--data is for the MNIST tasks" in failed(engine("train", "dncnn", "--data", mnist), 2)


# --- devices -----------------------------------------------------------------------------------

def test_an_unknown_device_is_one_line(tmp_path):
    assert "unknown device 'tpu'" in failed(engine("train", "linear", "--device", "tpu",
                                                   "--out", tmp_path), 1)


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="a real GPU stack is here")
def test_cuda_without_a_gpu_is_one_line(tmp_path):
    assert "cuda device unavailable" in failed(engine("train", "linear", "--device", "cuda",
                                                      "--out", tmp_path), 1)


def test_debug_shows_the_traceback(tmp_path):
    done = engine("train", "linear", "--device", "tpu", "--debug")
    assert done.returncode == 1 and "Traceback" in done.stderr and "DeviceError" in done.stderr


# --- resume ------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, says", [
    (("--batch-size", 32), "trained with --batch-size 16; this command asks for --batch-size 32"),
    (("--seed", 5, "--lr", 0.5), "trained with --seed 0, --lr 0.03; this command asks for --seed 5, "
                                 "--lr 0.5"),
    (("--epochs", 1), "--epochs 1 is fewer than the checkpoint has trained \\(2 epochs\\)"),
])
def test_resume_with_other_settings_says_what_differs(tmp_path, mnist, trained, extra, says):
    import re
    line = failed(engine("train", "linear", "--quiet", "--data", mnist, "--out", tmp_path,
                         "--resume", trained, *extra), 2)
    assert re.search(says, line), line


def test_resume_of_another_task_or_another_data_set(tmp_path, mnist, trained):
    assert "the checkpoint is of task 'linear', not 'mlp'" in failed(
        engine("train", "mlp", "--data", mnist, "--out", tmp_path, "--resume", trained), 2)
    assert "trained with --data" in failed(
        engine("train", "linear", "--out", tmp_path, "--resume", trained), 2)


def test_resume_of_files_that_are_not_training_checkpoints(tmp_path, mnist):
    eg.save({"model": {}}, tmp_path / "state.npz")
    np.save(tmp_path / "plain.npy", np.ones(3))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 but nothing more")
    for name, says in (("state.npz", "not a training checkpoint of python -m engine train (it has "
                                     "no 'task'"),
                       ("plain.npy", "it is a plain .npy array"),
                       ("junk.npz", "not a readable checkpoint"),
                       ("absent.npz", "No such file or directory")):
        line = failed(engine("train", "linear", "--data", mnist, "--out", tmp_path / "o",
                             "--resume", tmp_path / name), 1)
        assert says in line, line


def test_resume_with_more_epochs_trains_on_and_says_so(tmp_path, mnist, trained):
    done = engine("train", "linear", "--quiet", "--data", mnist, "--out", tmp_path,
                  "--resume", trained, "--epochs", 3)
    assert done.returncode == 0, done.stderr
    assert "started for 2 epochs; training to 3 in all" in done.stderr
    state = eg.load(tmp_path / "checkpoint.npz")
    assert (state["epoch"], state["batch_size"], len(state["history"])) == (2, 16, 3)


# --- Ctrl-C ------------------------------------------------------------------------------------

def _wait_for_new(path, previous, child):
    while True:
        try:
            stat = os.stat(path)
            if (stat.st_ino, stat.st_mtime_ns) != previous:
                return (stat.st_ino, stat.st_mtime_ns), time.perf_counter()
        except FileNotFoundError:
            pass
        assert child.poll() is None, child.communicate()
        time.sleep(0.002)


def test_ctrl_c_mid_epoch_saves_and_the_printed_command_resumes_bit_for_bit(tmp_path):
    folder = mnist_folder(tmp_path / "data", train=1500)  # 750 steps of 2 per epoch
    run = ("train", "linear", "--quiet", "--data", folder, "--epochs", 4, "--batch-size", 2)
    straight = engine(*run, "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "stopped"
    # a run started in the background has SIGINT ignored, which children inherit: give this
    # one the default, as a terminal would
    child = subprocess.Popen([sys.executable, "-m", "engine", *map(str, run), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    checkpoint = out / "checkpoint.npz"
    first, t0 = _wait_for_new(checkpoint, None, child)   # epoch 1 saved
    _, t1 = _wait_for_new(checkpoint, first, child)      # epoch 2 saved: an epoch's time is known
    time.sleep(0.3 * (t1 - t0))
    child.send_signal(signal.SIGINT)                     # about a third into epoch 3
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr
    state = eg.load(checkpoint)
    assert state["epoch"] == 1 and 0 < state["step"] < 750, (state["epoch"], state["step"])
    assert f"in epoch 3 of 4 after step {state['step']} of 750" in stderr
    command = [line for line in stderr.splitlines() if line.startswith("resume with: ")]
    assert len(command) == 1, stderr
    words = shlex.split(command[0][len("resume with: "):])
    assert words[:3] == ["python", "-m", "engine"] and words[-2:] == ["--resume", str(checkpoint)]
    resumed = subprocess.run([sys.executable, *words[1:]], capture_output=True, text=True, env=ENV,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    a, b = eg.load(tmp_path / "straight" / "checkpoint.npz"), eg.load(checkpoint)
    assert a["history"] == b["history"]
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"]) == (3, 0)
    for part in ("model", "optimizer"):
        _identical(a[part], b[part])


def _identical(a, b):
    if isinstance(a, dict):
        assert set(a) == set(b)
        for key in a:
            _identical(a[key], b[key])
    else:
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)
