"""save/load: nested state (dicts, lists, tensors, arrays, numbers, strings) as a portable .npz.

The arrays go into the archive as they are; the structure around them is JSON stored beside
them, so loading needs no pickle. Writes are atomic: a temporary file in the same folder,
flushed and fsynced, then renamed over the target, so a crash never leaves half a checkpoint.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from .errors import CheckpointError
from .tensor import Tensor

_STRUCTURE = "__structure__"


def _encode(obj, arrays):
    if isinstance(obj, Tensor):
        arrays.append(np.asarray(obj.numpy()))
        return {"tensor": len(arrays) - 1, "requires_grad": obj.requires_grad}
    if isinstance(obj, (np.ndarray, np.generic)):
        arrays.append(np.asarray(obj))
        return {"array": len(arrays) - 1}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("save: dictionary keys must be strings")
        return {"dict": [[k, _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {type(obj).__name__: [_encode(v, arrays) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"save: cannot store a {type(obj).__name__}; expected dicts, lists, tensors, "
                    "arrays, numbers or strings")


def _decode(node, archive):
    kind, value = next(iter(node.items()))
    if kind == "tensor":
        return Tensor(archive[f"a{value}"], requires_grad=node.get("requires_grad", False))
    if kind == "array":
        return archive[f"a{value}"]
    if kind == "dict":
        return {k: _decode(v, archive) for k, v in value}
    if kind in ("list", "tuple"):
        items = [_decode(v, archive) for v in value]
        return items if kind == "list" else tuple(items)
    if kind == "value":
        return value
    raise ValueError(f"unknown entry {kind!r}")


def save(obj, path):
    """Write obj to path atomically (see the module's docstring)."""
    arrays = []
    structure = json.dumps(_encode(obj, arrays))
    entries = {f"a{i}": a for i, a in enumerate(arrays)}
    entries[_STRUCTURE] = np.frombuffer(structure.encode(), np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".saving-", suffix=".npz")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 would outlive the rename
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **entries)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def load(path):
    """Read what save wrote; CheckpointError when the file is corrupt, truncated or foreign."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            structure = json.loads(archive[_STRUCTURE].tobytes().decode())
            return _decode(structure, archive)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, EOFError, OSError, UnicodeDecodeError,
            json.JSONDecodeError, StopIteration, AttributeError) as e:
        raise CheckpointError(f"load: {path} is not a readable checkpoint "
                              f"(corrupt, truncated or not written by engine.save): {e}") from None
