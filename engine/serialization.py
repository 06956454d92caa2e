"""save/load: nested state (dicts, lists, tensors, arrays, numbers, strings) as a portable .npz.

The arrays go into the archive as they are; the structure around them is JSON stored beside
them, so loading needs no pickle.

save refuses, before it writes anything, what load could not read back: object arrays, types
other than the ones above, structures nested deeper than MAX_DEPTH (or containing themselves).

Writes are atomic: the archive is written to the target's one temporary file, `.NAME.saving.npz`
in the same folder, flushed and fsynced, then renamed over the target, so a crash never leaves
half a checkpoint. The temporary file's name is the same for every save to a target, so a save
killed outright (kill -9, power loss) leaves at most one temporary file behind, which the next
save to that target takes over. An advisory lock on it keeps two concurrent saves to the same
target from writing into each other.

load trusts nothing in the file: it checks every entry's .npy header (dtype, shape, the bytes
it claims against the bytes the entry holds) before it allocates anything, bounds the
structure's depth, and turns whatever is malformed into a CheckpointError.
"""
import ast
import errno
import json
import math
import os
import zipfile

import numpy as np

from .errors import CheckpointError, DTypeError
from .tensor import Tensor

try:
    import fcntl
except ImportError:  # not POSIX: no lock, the deterministic name still bounds the leftovers
    fcntl = None

_STRUCTURE = "__structure__"
MAX_DEPTH = 100            # nesting levels of dicts, lists and tuples that save writes and load reads
_MAX_HEADER = 1 << 20      # bytes of one .npy header
_NPY_MAGIC = b"\x93NUMPY"


# --- save ---------------------------------------------------------------------------------------

def _encode(obj, arrays, where, depth):
    if depth > MAX_DEPTH:
        raise CheckpointError(f"save: {where} is nested more than {MAX_DEPTH} levels deep (or "
                              "contains itself); load would refuse it")
    if isinstance(obj, Tensor):
        arrays.append(_storable(np.asarray(obj.numpy()), where))
        return {"tensor": len(arrays) - 1, "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, (np.ndarray, np.generic)):
        arrays.append(_storable(np.asarray(obj), where))
        return {"array": len(arrays) - 1}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise DTypeError(f"save: dictionary keys must be strings; {where} has the key "
                                 f"{k!r} ({type(k).__name__})")
        return {"dict": [[k, _encode(v, arrays, _inside(where, repr(k), depth), depth + 1)]
                         for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"  # a namedtuple comes back a tuple
        return {kind: [_encode(v, arrays, _inside(where, i, depth), depth + 1)
                       for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise DTypeError(f"save: cannot store a {type(obj).__name__} (at {where}); expected dicts, "
                     "lists, tensors, arrays, numbers or strings")


def _inside(where, key, depth):
    """Where an entry is, for messages: the object['model'][3], shortened when deep."""
    if depth < 6:
        return f"{where}[{key}]"
    return where if where.endswith("[...]") else where + "[...]"


def _storable(array, where):
    if array.dtype.hasobject:
        raise DTypeError(f"save: cannot store an array of dtype {array.dtype} (at {where}): "
                         "object arrays need pickle, which load does not run")
    return array


def _temporary(path):
    folder, name = os.path.split(os.path.abspath(path))
    return folder, os.path.join(folder, f".{name}.saving.npz")


def _open_locked(temporary):
    """The target's temporary file, created or taken over from a save that died, held by us."""
    while True:
        handle = os.open(temporary, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
        if fcntl is None:
            return handle
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)  # waits while another save of this target runs
            except OSError as e:
                if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
                return handle  # a file system without locks: as without fcntl
            try:
                ours = os.path.samestat(os.fstat(handle), os.stat(temporary))
            except FileNotFoundError:
                ours = False
        except BaseException:
            os.close(handle)
            raise
        if ours:
            return handle
        os.close(handle)  # the other save renamed or removed the file we waited on: again


def save(obj, path):
    """Write obj to path atomically (see the module's docstring)."""
    path = os.fspath(path)
    arrays = []
    structure = json.dumps(_encode(obj, arrays, "the object", 0))
    entries = {f"a{i}": a for i, a in enumerate(arrays)}
    entries[_STRUCTURE] = np.frombuffer(structure.encode(), np.uint8)
    folder, temporary = _temporary(path)
    handle = _open_locked(temporary)
    try:
        os.ftruncate(handle, 0)
        with os.fdopen(handle, "wb", closefd=False) as f:
            np.savez(f, **entries)
            f.flush()
            os.fsync(f.fileno())
        if fcntl is None:  # elsewhere an open file cannot be renamed
            os.close(handle)
            handle = None
        os.replace(temporary, path)  # still under the lock: no other save writes into it
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    finally:
        if handle is not None:
            os.close(handle)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


# --- load ---------------------------------------------------------------------------------------

class _Malformed(Exception):
    """Why a file is not a readable checkpoint (becomes the CheckpointError's reason)."""


def _header(f, info):
    """(shape, fortran_order, dtype, header bytes) of one .npy entry, checked against its size."""
    magic = f.read(8)
    if len(magic) < 8 or magic[:6] != _NPY_MAGIC:
        raise _Malformed(f"entry {info.filename} is not a .npy array")
    major = magic[6]
    if major not in (1, 2, 3):
        raise _Malformed(f"entry {info.filename} has .npy format version {major}")
    size_bytes = 2 if major == 1 else 4
    length = int.from_bytes(f.read(size_bytes), "little")
    start = 8 + size_bytes
    if length > _MAX_HEADER or start + length > info.file_size:
        raise _Malformed(f"entry {info.filename} claims a {length}-byte header in "
                         f"{info.file_size} bytes")
    text = f.read(length).decode("latin1" if major < 3 else "utf8")
    try:
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise _Malformed(f"entry {info.filename} has an unreadable header") from None
    if (not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}
            or not isinstance(header["fortran_order"], bool)
            or not isinstance(header["shape"], tuple)
            or not all(type(n) is int and n >= 0 for n in header["shape"])):
        raise _Malformed(f"entry {info.filename} has a malformed header {text.strip()[:200]!r}")
    try:
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except Exception:
        raise _Malformed(f"entry {info.filename} has an unknown dtype {header['descr']!r}") from None
    if dtype.hasobject:
        raise _Malformed(f"entry {info.filename} holds Python objects (dtype {dtype}), "
                         "which only pickle could read")
    count = math.prod(header["shape"])
    claimed = count * dtype.itemsize
    if start + length + claimed != info.file_size:
        raise _Malformed(f"entry {info.filename}: its header claims shape {header['shape']} of "
                         f"{dtype} ({claimed} bytes) but the entry holds "
                         f"{info.file_size - start - length} bytes")
    return header["shape"], header["fortran_order"], dtype, start + length


class _Archive:
    """The entries of one archive, each checked before it is read."""

    def __init__(self, path):
        self.size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
        if head[:4] != b"PK\x03\x04":
            if head[:6] == _NPY_MAGIC:
                raise _Malformed("it is a plain .npy array, not an archive written by eg.save "
                                 "(numpy.load reads it)")
            raise _Malformed("empty file" if not head else "not a zip archive")
        self.zip = zipfile.ZipFile(path)
        self.entries = {info.filename: info for info in self.zip.infolist()}

    def close(self):
        self.zip.close()

    def read(self, name):
        info = self.entries.get(name + ".npy")
        if info is None:
            raise _Malformed(f"no entry {name}" + (" (an .npz not written by eg.save)"
                                                   if name == _STRUCTURE else ""))
        if (info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size
                or info.header_offset + info.compress_size > self.size):
            raise _Malformed(f"entry {info.filename} is compressed or claims {info.file_size} "
                             f"bytes of a {self.size}-byte file")
        with self.zip.open(info) as f:
            _header(f, info)  # nothing is allocated before the header and the size agree
            f.seek(0)
            array = np.lib.format.read_array(f, allow_pickle=False, max_header_size=_MAX_HEADER)
            if f.read(1):  # also makes zipfile check the entry's CRC
                raise _Malformed(f"entry {info.filename} holds more than its array")
        return array


_FINISH = object()  # on _decode's stack: build the container whose items are now all read


def _decode(root, archive):
    """The object that the JSON structure `root` describes, built without recursion."""
    result = [None]
    stack = [(root, result, 0, 0)]  # (node, container to fill, its index, depth)
    while stack:
        node, into, at, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Malformed(f"the structure is nested more than {MAX_DEPTH} levels deep")
        if not isinstance(node, dict) or not node:
            raise _Malformed(f"a structure entry is {type(node).__name__} {str(node)[:80]!r}, "
                             "not a one-key object")
        kind = next(iter(node))
        value = node[kind]
        allowed = {"tensor": {"tensor", "requires_grad"}}.get(kind, {kind})
        if not set(node) <= allowed:
            raise _Malformed(f"unexpected keys {sorted(set(node) - allowed)} in a {kind!r} entry")
        if kind in ("tensor", "array"):
            if type(value) is not int or value < 0:
                raise _Malformed(f"a {kind} entry refers to {value!r}, not an array number")
            array = archive.read(f"a{value}")
            if kind == "tensor":
                requires_grad = node.get("requires_grad", False)
                if not isinstance(requires_grad, bool):
                    raise _Malformed(f"requires_grad is {requires_grad!r}")
                array = Tensor(array, requires_grad=requires_grad)
            into[at] = array
        elif kind == "value":
            if not (value is None or isinstance(value, (bool, int, float, str))):
                raise _Malformed(f"a value entry holds a {type(value).__name__}")
            into[at] = value
        elif kind in ("list", "tuple"):
            if not isinstance(value, list):
                raise _Malformed(f"a {kind} entry holds a {type(value).__name__}")
            items = [None] * len(value)
            if kind == "list":
                into[at] = items
            else:  # a tuple is built once its items are: a marker entry finishes it
                stack.append((_FINISH, into, at, ("tuple", items)))
            stack.extend((v, items, i, depth + 1) for i, v in enumerate(value))
        elif kind == "dict":
            if not isinstance(value, list) or not all(
                    isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in value):
                raise _Malformed("a dict entry is not a list of [name, entry] pairs")
            values = [None] * len(value)
            stack.append((_FINISH, into, at, ("dict", [k for k, _ in value], values)))
            stack.extend((v, values, i, depth + 1) for i, (_, v) in enumerate(value))
        else:
            raise _Malformed(f"unknown entry {kind!r}")
        while stack and stack[-1][0] is _FINISH:  # finished containers, innermost first
            _, into_, at_, marker = stack.pop()
            if marker[0] == "tuple":
                into_[at_] = tuple(marker[1])
            else:
                into_[at_] = dict(zip(marker[1], marker[2]))
    return result[0]


def load(path):
    """Read what save wrote; CheckpointError when the file is corrupt, truncated or foreign."""
    try:
        archive = _Archive(path)
        try:
            raw = archive.read(_STRUCTURE)
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise _Malformed(f"the structure entry is {raw.dtype} {raw.shape}, not bytes")
            try:
                structure = json.loads(raw.tobytes().decode())
            except RecursionError:
                raise _Malformed("the structure is nested too deeply to read") from None
            return _decode(structure, archive)
        finally:
            archive.close()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (_Malformed, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError, EOFError,
            OSError, UnicodeDecodeError, TypeError, IndexError, OverflowError, MemoryError,
            RecursionError, NotImplementedError) as e:
        raise CheckpointError(f"load: {os.fspath(path)} is not a readable checkpoint "
                              f"(corrupt, truncated or not written by engine.save): {e}") from None
