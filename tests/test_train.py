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
    assert eg.load(out / "checkpoint.npz")["epoch"] == 1


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


def _args(task, out, epochs):
    import argparse
    d = train.DEFAULTS[task]
    return argparse.Namespace(task=task, epochs=epochs, batch_size=d.batch_size, lr=d.lr,
                              device="cpu", seed=0, out=str(out), json=None, resume=None,
                              data=None, quiet=True)
