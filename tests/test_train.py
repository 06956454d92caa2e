"""Data loading and the training command line: metrics, pictures, checkpoints, exact resume."""
import gzip
import json
import os

import numpy as np
import pytest

import engine as eg
from engine.course import data, train
from engine.__main__ import main


def test_mnist_sample_split():
    train_set, test_set = data.mnist()
    assert len(train_set) == 4000 and len(test_set) == 1000
    assert train_set.images.shape == (4000, 1, 28, 28) and train_set.images.dtype == np.float32
    assert 0 <= train_set.images.min() and train_set.images.max() <= 1
    assert set(np.unique(test_set.labels)) == set(range(10))
    again, _ = data.mnist()
    np.testing.assert_array_equal(again.labels, train_set.labels)  # a fixed split


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_from_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    train_set, test_set = data.mnist(str(tmp_path))
    assert len(train_set) == 20 and len(test_set) == 10
    (tmp_path / "bad").write_bytes(b"\x00\x00\x09\x01")
    with pytest.raises(ValueError, match="bad magic number"):
        data._read_idx(str(tmp_path / "bad"))
    with pytest.raises(FileNotFoundError, match="no train-images-idx3-ubyte"):
        data.mnist(str(tmp_path / "bad"))


def test_natural_images_are_gray_and_split_by_image():
    test = data.natural_images("test")
    assert set(test) == {"camera", "astronaut"} and not set(test) & set(data.TRAIN_IMAGES)
    assert all(image.ndim == 2 and 0 <= image.min() and image.max() <= 1 for image in test.values())


def _train(tmp_path, *extra):
    out = tmp_path / "out"
    metrics_path = tmp_path / "metrics.json"
    main(["train", "linear", "--quiet", "--out", str(out), "--json", str(metrics_path), *extra])
    return json.loads(metrics_path.read_text()), out


def test_linear_training_writes_metrics_pictures_and_checkpoint(tmp_path, capsys):
    metrics, out = _train(tmp_path, "--epochs", "2")
    assert 0.7 < metrics["test_accuracy"] <= 1 and metrics["seconds"] > 0
    assert {"loss_curve.png", "templates.png", "checkpoint.npz"} <= set(os.listdir(out))
    assert "linear: test_accuracy" in capsys.readouterr().out
    state = eg.load(out / "checkpoint.npz")
    assert state["epoch"] == 1
    # the held-out loss after each epoch, for the loss curve and the metrics
    tested = state["test_history"]
    assert len(tested) == 2 and tested[-1] == metrics["final_test_loss"]
    assert 0 < metrics["final_test_loss"] < tested[0] * 1.5


class Crash(Exception):
    pass


def test_resume_after_a_crash_reaches_the_uninterrupted_result(tmp_path, monkeypatch):
    straight, out = _train(tmp_path / "a", "--epochs", "4")
    calls, loss = [0], train.Classification.loss

    def crashing(self, batch):  # dies in the middle of the third epoch
        calls[0] += 1
        if calls[0] == 2 * self.steps_per_epoch() + 5:
            raise Crash
        return loss(self, batch)
    monkeypatch.setattr(train.Classification, "loss", crashing)
    with pytest.raises(Crash):
        _train(tmp_path / "b", "--epochs", "4")
    monkeypatch.setattr(train.Classification, "loss", loss)
    checkpoint = tmp_path / "b" / "out" / "checkpoint.npz"
    assert eg.load(checkpoint)["epoch"] == 1  # the last finished epoch (counted from 0)
    resumed, out_b = _train(tmp_path / "b", "--epochs", "4", "--resume", str(checkpoint))
    assert resumed["test_accuracy"] == straight["test_accuracy"]
    assert resumed["final_loss"] == straight["final_loss"]
    a, b = eg.load(out / "checkpoint.npz"), eg.load(out_b / "checkpoint.npz")
    assert a["history"] == b["history"]
    for key in a["model"]:
        np.testing.assert_array_equal(a["model"][key], b["model"][key])


def test_resume_refuses_another_task(tmp_path):
    _, out = _train(tmp_path, "--epochs", "1")
    with pytest.raises(ValueError, match="checkpoint is of task 'linear'"):
        main(["train", "mlp", "--quiet", "--out", str(tmp_path / "m"), "--resume",
              str(out / "checkpoint.npz")])


@pytest.mark.parametrize("task, picture", [("inpaint", "inpainting.png"), ("dncnn", "denoising.png"),
                                           ("unet", "denoising.png"), ("dip", "dip_psnr.png")])
def test_image_tasks_run_and_report_psnr(tmp_path, monkeypatch, task, picture):
    monkeypatch.setattr(train.Denoising, "patches_per_epoch", 32)
    monkeypatch.setattr(train.DeepImagePriorRun, "iterations_per_epoch", 2)
    monkeypatch.setattr(train, "_bm3d_psnr", lambda noisy, clean: float("nan"))  # slow, tested by hand
    monkeypatch.setattr(data, "TEST_IMAGES", ("camera",))
    out = tmp_path / task
    metrics = train.train(_args(task, out, epochs=1))
    assert np.isfinite(metrics["psnr"]) and np.isfinite(metrics["input_psnr"])
    assert picture in os.listdir(out)


def test_super_resolution_beats_bicubic_upsampling_after_one_short_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(train.SuperResolution, "patches_per_epoch", 320)
    monkeypatch.setattr(data, "TEST_IMAGES", ("camera",))
    out = tmp_path / "srcnn"
    metrics = train.train(_args("srcnn", out, epochs=1))
    # the net starts from bicubic upsampling (it learns the residual) and 20 steps improve on it
    assert metrics["psnr"] > metrics["bicubic_psnr"] > 20
    assert "superresolution.png" in os.listdir(out)


def test_downsampling_for_super_resolution_halves_the_sides_and_keeps_the_mean():
    image = np.random.default_rng(0).uniform(0, 1, (2, 1, 8, 6)).astype(np.float32)
    low = train.downsample(image, 2)
    assert low.shape == (2, 1, 4, 3) and low.dtype == np.float32
    np.testing.assert_allclose(low.mean(), image.mean(), atol=0.05)


def _args(task, out, epochs):
    import argparse
    d = train.DEFAULTS[task]
    return argparse.Namespace(task=task, epochs=epochs, batch_size=d.batch_size, lr=d.lr,
                              device="cpu", seed=0, out=str(out), json=None, resume=None,
                              data=None, quiet=True)


# --- validation, mid-epoch checkpoints and exact resume ------------------------------------------

def _idx_folder(folder, train_count=120, test_count=30, labels=None, gz=True):
    """A tiny MNIST in IDX files; `labels` overrides the training label count."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    suffix = ".gz" if gz else ""
    for prefix, n, m in (("train", train_count, labels if labels is not None else train_count),
                         ("t10k", test_count, test_count)):
        images = rng.integers(0, 256, (n, 28, 28))
        digits = rng.integers(0, 10, m)
        for name, array in ((f"{prefix}-images-idx3-ubyte", images),
                            (f"{prefix}-labels-idx1-ubyte", digits)):
            header = bytes([0, 0, 8, array.ndim]) + b"".join(k.to_bytes(4, "big") for k in array.shape)
            raw = header + array.astype(np.uint8).tobytes()
            (folder / (name + suffix)).write_bytes(gzip.compress(raw) if gz else raw)
    return folder


@pytest.mark.parametrize("damage, message", [
    ("labels", "holds 300 images but .* holds 150 labels"),
    ("empty", "holds no images"),
    ("truncated gzip", "truncated or damaged gzip"),
    ("truncated", "truncated: header promises shape \\(300, 28, 28\\)"),
    ("int32", "bad magic number 0x00000c03; it holds int32"),
    ("digits", "label 200 is not a digit"),
])
def test_damaged_idx_sets_are_refused(tmp_path, damage, message):
    folder = _idx_folder(tmp_path, 300, 20, labels=150 if damage == "labels" else None,
                         gz=damage == "truncated gzip")
    suffix = ".gz" if damage == "truncated gzip" else ""
    images = folder / f"train-images-idx3-ubyte{suffix}"
    labels = folder / f"train-labels-idx1-ubyte{suffix}"
    raw = images.read_bytes()
    if damage == "empty":
        images.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28]))
        labels.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 0]))
    elif damage.startswith("truncated"):
        images.write_bytes(raw[: len(raw) // 2])
    elif damage == "int32":
        images.write_bytes(bytes([0, 0, 0x0C]) + raw[3:])
    elif damage == "digits":
        labels.write_bytes(labels.read_bytes()[:-1] + bytes([200]))
    with pytest.raises(data.DataError, match=message):
        data.mnist(str(folder))


def test_an_absurd_idx_header_is_refused_without_allocating(tmp_path):
    path = tmp_path / "huge"
    path.write_bytes(bytes([0, 0, 8, 3]) + (2 ** 31).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
                     + bytes(100))
    with pytest.raises(data.DataError, match="truncated: header promises"):
        data._read_idx(str(path))


def _main_tiny(folder, out, *extra):
    main(["train", "linear", "--quiet", "--data", str(folder), "--out", str(out),
          "--batch-size", "8", *extra])
    return eg.load(out / "checkpoint.npz")


def _sigint_reaches_training():
    """These tests send this process a real SIGINT: only where training would catch it."""
    import signal
    import threading
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        pytest.skip("SIGINT would not reach the training loop in this thread")


def test_ctrl_c_mid_epoch_saves_that_step_and_resume_is_bit_exact(tmp_path, monkeypatch):
    import signal
    _sigint_reaches_training()
    folder = _idx_folder(tmp_path / "idx")  # 120 images: 15 steps of 8 per epoch
    straight = _main_tiny(folder, tmp_path / "a", "--epochs", "3")
    calls, loss = [0], train.Classification.loss

    def interrupting(self, batch):  # a real SIGINT in the middle of epoch 2, step 5
        calls[0] += 1
        if calls[0] == 15 + 5:
            os.kill(os.getpid(), signal.SIGINT)
        return loss(self, batch)
    monkeypatch.setattr(train.Classification, "loss", interrupting)
    with pytest.raises(train.Interrupted) as stopped:
        _main_tiny(folder, tmp_path / "b", "--epochs", "3")
    monkeypatch.setattr(train.Classification, "loss", loss)
    assert calls[0] == 20  # stopped at the end of the step that was running
    checkpoint = tmp_path / "b" / "checkpoint.npz"
    state = eg.load(checkpoint)
    assert (state["epoch"], state["step"], len(state["epoch_losses"])) == (0, 5, 5)
    assert "in epoch 2 of 3 after step 5 of 15" in str(stopped.value)
    assert f"--resume {checkpoint}" in str(stopped.value)
    # no --epochs or --seed: the checkpoint's
    resumed = _main_tiny(folder, tmp_path / "b", "--resume", str(checkpoint))
    assert resumed["history"] == straight["history"] and resumed["epoch"] == 2
    _assert_identical(resumed["model"], straight["model"])
    _assert_identical(resumed["optimizer"], straight["optimizer"])


def _assert_identical(a, b):
    """Equal to the last bit: the same nested keys, the same arrays and numbers."""
    if isinstance(b, dict):
        assert set(a) == set(b)
        for key in b:
            _assert_identical(a[key], b[key])
    else:
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_in_the_first_epoch_leaves_a_checkpoint(tmp_path, monkeypatch):
    import signal
    _sigint_reaches_training()
    folder = _idx_folder(tmp_path / "idx")
    loss = train.Classification.loss

    def interrupting(self, batch):
        os.kill(os.getpid(), signal.SIGINT)
        return loss(self, batch)
    monkeypatch.setattr(train.Classification, "loss", interrupting)
    with pytest.raises(KeyboardInterrupt, match="epoch 1 of 2 after step 1 of 15"):
        _main_tiny(folder, tmp_path / "a", "--epochs", "2")
    state = eg.load(tmp_path / "a" / "checkpoint.npz")
    assert (state["epoch"], state["step"], state["history"]) == (-1, 1, [])


def test_resume_checks_settings_against_the_checkpoint(tmp_path):
    folder = _idx_folder(tmp_path / "idx")
    _main_tiny(folder, tmp_path / "a", "--epochs", "2", "--seed", "3")
    checkpoint = str(tmp_path / "a" / "checkpoint.npz")
    with pytest.raises(train.UsageError, match="trained with --seed 3, --batch-size 8; this command "
                                               "asks for --seed 4, --batch-size 16"):
        main(["train", "linear", "--quiet", "--data", str(folder), "--out", str(tmp_path / "b"),
              "--resume", checkpoint, "--seed", "4", "--batch-size", "16"])
    with pytest.raises(train.UsageError, match="--epochs 1 is fewer than the checkpoint has "
                                               "trained \\(2 epochs\\)"):
        main(["train", "linear", "--quiet", "--data", str(folder), "--out", str(tmp_path / "b"),
              "--resume", checkpoint, "--epochs", "1"])
    with pytest.raises(train.UsageError, match="trained with --data"):
        main(["train", "linear", "--quiet", "--out", str(tmp_path / "b"), "--resume", checkpoint])
    longer = _main_tiny(folder, tmp_path / "c", "--resume", checkpoint, "--epochs", "3")
    assert (longer["epoch"], longer["seed"], longer["epochs"]) == (2, 3, 3)


def test_a_file_that_is_not_a_training_checkpoint_is_refused(tmp_path):
    eg.save({"weights": np.ones(3)}, tmp_path / "state.npz")
    with pytest.raises(eg.CheckpointError, match="not a training checkpoint .*no 'task'"):
        main(["train", "linear", "--quiet", "--out", str(tmp_path / "o"), "--resume",
              str(tmp_path / "state.npz")])


def test_a_diverging_run_stops_with_an_error(tmp_path):
    folder = _idx_folder(tmp_path / "idx")
    with pytest.raises(train.TrainingError, match="the loss became (nan|inf) in epoch 1.*"
                                                  "diverged \\(is --lr 1e\\+38 too large"):
        _main_tiny(folder, tmp_path / "a", "--epochs", "1", "--lr", "1e38")
