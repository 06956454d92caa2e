"""save / load: round trips, atomic writes, and clear errors for damaged files."""
import os

import numpy as np
import pytest

import engine as eg
from engine import nn


def test_nested_state_round_trips(tmp_path):
    model = nn.Linear(3, 2)
    state = {"model": model.state_dict(), "epoch": 4, "history": [0.5, 0.25], "name": "mlp",
             "pair": (1, None), "tensor": eg.tensor([1.0, 2.0], requires_grad=True),
             "counts": np.arange(3)}
    path = tmp_path / "checkpoint.npz"
    eg.save(state, path)
    loaded = eg.load(path)
    assert loaded["epoch"] == 4 and loaded["history"] == [0.5, 0.25] and loaded["name"] == "mlp"
    assert loaded["pair"] == (1, None)
    assert isinstance(loaded["tensor"], eg.Tensor) and loaded["tensor"].requires_grad
    np.testing.assert_array_equal(loaded["counts"], np.arange(3))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded["model"][key], value)
        assert loaded["model"][key].dtype == value.dtype


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "checkpoint.npz"
    eg.save({"epoch": 1}, path)
    with pytest.raises(TypeError, match="cannot store a set"):
        eg.save({"epoch": 2, "bad": {1, 2}}, path)
    assert eg.load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


@pytest.mark.parametrize("damage", [
    lambda raw: raw[: len(raw) // 2],        # truncated
    lambda raw: raw[:100],                  # barely started
    lambda raw: b"not a checkpoint at all",  # foreign
    lambda raw: b"",                        # empty
])
def test_damaged_files_raise_checkpoint_error(tmp_path, damage):
    path = tmp_path / "checkpoint.npz"
    eg.save({"weights": np.ones((64, 64))}, path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(eg.CheckpointError, match="not a readable checkpoint"):
        eg.load(path)


def test_a_plain_npz_without_structure_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.ones(2))
    with pytest.raises(eg.CheckpointError):
        eg.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        eg.load(tmp_path / "nope.npz")
