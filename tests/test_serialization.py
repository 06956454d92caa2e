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


# --- what save refuses, what load survives, what a kill leaves ------------------------------------
import io  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402


@pytest.mark.parametrize("obj, error, message", [
    ({"a": np.array([{"x": 1}], dtype=object)}, eg.DTypeError, "dtype object"),
    ({"a": np.array([(1, None)], dtype=[("n", "i4"), ("o", "O")])}, eg.DTypeError, "dtype"),
    ({"a": {1, 2}}, eg.DTypeError, "cannot store a set"),
    ({1: "a"}, eg.DTypeError, "keys must be strings"),
    ({"deep": eval("[" * 150 + "]" * 150)}, eg.CheckpointError, "nested more than 100 levels"),
])
def test_save_refuses_what_load_cannot_read_before_writing(tmp_path, obj, error, message):
    with pytest.raises(error, match=message):
        eg.save(obj, tmp_path / "checkpoint.npz")
    assert os.listdir(tmp_path) == []


def test_save_refuses_a_structure_that_contains_itself(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(eg.CheckpointError, match="contains itself"):
        eg.save({"loop": loop}, tmp_path / "checkpoint.npz")
    assert os.listdir(tmp_path) == []


def test_tuples_lists_and_namedtuples_round_trip(tmp_path):
    from collections import namedtuple
    point = namedtuple("Point", "x y")
    state = {"a": (1, [2, (3, {})], ()), "p": point(1, 2), "f": np.asfortranarray(np.eye(3)[:, :2]),
             "deep": eval("[" * 90 + "]" * 90)}
    eg.save(state, tmp_path / "c.npz")
    loaded = eg.load(tmp_path / "c.npz")
    assert loaded["a"] == (1, [2, (3, {})], ()) and loaded["p"] == (1, 2)
    np.testing.assert_array_equal(loaded["f"], state["f"])
    assert loaded["deep"] == state["deep"]


def _npy(array_header, payload):
    """A .npy entry whose header says what we like, whatever the payload holds."""
    text = repr(array_header).encode()
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


def _archive(path, structure, **entries):
    raw = json.dumps(structure).encode() if not isinstance(structure, bytes) else structure
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__structure__.npy", _npy({"descr": "|u1", "fortran_order": False,
                                               "shape": (len(raw),)}, raw))
        for name, data in entries.items():
            z.writestr(name + ".npy", data)


def test_load_turns_every_malformed_file_into_checkpoint_error(tmp_path):
    cases = {}
    np.save(tmp_path / "plain.npy", np.ones(3))
    cases["plain.npy"] = "plain .npy array"
    with zipfile.ZipFile(tmp_path / "foreign.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    cases["foreign.zip"] = "no entry __structure__"
    huge = _npy({"descr": "<f8", "fortran_order": False, "shape": (2 ** 40,)}, bytes(8))
    _archive(tmp_path / "huge.npz", {"array": 0}, a0=huge)
    cases["huge.npz"] = "claims shape \\(1099511627776,\\) of float64 \\(8796093022208 bytes\\)"
    _archive(tmp_path / "deep.npz", ('{"list": [' * 100_000 + "]}" * 100_000).encode())
    cases["deep.npz"] = "nested too deeply|nested more than 100"
    _archive(tmp_path / "deeper.npz", ('{"list": [' * 200 + "]}" * 200).encode())
    cases["deeper.npz"] = "nested more than 100 levels"
    _archive(tmp_path / "missing.npz", {"dict": [["w", {"array": 3}]]})
    cases["missing.npz"] = "no entry a3"
    _archive(tmp_path / "unknown.npz", {"set": [1, 2]})
    cases["unknown.npz"] = "unknown entry 'set'"
    _archive(tmp_path / "extra.npz", {"value": 1, "other": 2})
    cases["extra.npz"] = "unexpected keys"
    _archive(tmp_path / "pairs.npz", {"dict": [["w"]]})
    cases["pairs.npz"] = "not a list of \\[name, entry\\] pairs"
    _archive(tmp_path / "notjson.npz", b"{not json")
    cases["notjson.npz"] = "Expecting property name"
    objects = _npy({"descr": "|O", "fortran_order": False, "shape": (1,)}, bytes(8))
    _archive(tmp_path / "objects.npz", {"array": 0}, a0=objects)
    cases["objects.npz"] = "holds Python objects"
    for name, reason in cases.items():
        started = time.perf_counter()
        with pytest.raises(eg.CheckpointError, match=f"not a readable checkpoint.*({reason})"):
            eg.load(tmp_path / name)
        assert time.perf_counter() - started < 2, name


def test_a_stale_temporary_file_is_taken_over_by_the_next_save(tmp_path):
    path = tmp_path / "checkpoint.npz"
    (tmp_path / ".checkpoint.npz.saving.npz").write_bytes(b"half a checkpoint")
    eg.save({"epoch": 3}, path)
    assert os.listdir(tmp_path) == ["checkpoint.npz"] and eg.load(path)["epoch"] == 3


_SAVER = """
import sys
import numpy as np
import engine as eg
weights = np.random.default_rng(0).random(500_000)  # 4 MB
print("saving", flush=True)
while True:
    eg.save({"weights": weights}, sys.argv[1])
"""


def test_kill_9_during_save_leaves_at_most_one_temporary_file(tmp_path):
    path = tmp_path / "checkpoint.npz"
    rng = np.random.default_rng(0)
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE)
        assert child.stdout.readline() == b"saving\n"
        time.sleep(rng.uniform(0, 0.08))
        child.kill()  # SIGKILL: no clean-up of any kind runs
        child.wait()
        child.stdout.close()
        leftovers = [name for name in os.listdir(tmp_path) if name != "checkpoint.npz"]
        assert leftovers in ([], [".checkpoint.npz.saving.npz"])
        if path.exists():
            np.testing.assert_array_equal(eg.load(path)["weights"],
                                          np.random.default_rng(0).random(500_000))
    eg.save({"epoch": 1}, path)
    assert os.listdir(tmp_path) == ["checkpoint.npz"]
