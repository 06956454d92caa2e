"""Every CUDA kernel compiled for a real GPU, on a machine without one.

    python -m kernels.cuda.compile_check --cc 9.0 [--json FILE]

CI runs the kernels in Numba's simulator, which executes them as Python and accepts code that a
GPU compile rejects. This compiles each kernel, with every argument signature the simulator
tests launched it with (launches.json beside this file), for one compute capability: to PTX
with NVVM, then to SASS with nvJitLink, whose ptxas report gives registers, spills and shared
memory. It fails on a compile error, on a kernel with no recorded signature, and on float64
arithmetic in a kernel whose float arrays are all float32 (up to 64x slower on most GPUs),
except for the kernels still listed in FLOAT64_KNOWN.

Needs numba-cuda with NVVM and nvJitLink (pip install "numba-cuda[cu12]"), and no
NUMBA_ENABLE_CUDASIM. One process per capability: numba-cuda caches compiled device functions
whatever the capability they were compiled for.

The signatures are recorded by the simulator tests themselves:
    ENGINE_RECORD_LAUNCHES=1 python -m pytest   (the whole suite: some cuda cases are unmarked)
rewrites launches.json (see tests/conftest.py); ENGINE_RECORD_LAUNCHES=FILE.json records to
FILE.json instead, which `--launches FILE.json --only NAME` checks: a quick check of the kernels
one change touched, while the full recording is under way elsewhere.
"""
import argparse
import gc
import json
import os
import re
import sys
import types as pytypes

LAUNCHES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launches.json")

# kernels that compute in float64 on float32 arrays (a change that adds one fails the check, as
# does striking off one that still does): libdevice's float32 sin, cos and tan reduce an argument
# of |x| >= 105615 on a slow path with three float64 instructions (only fast-math avoids it)
FLOAT64_KNOWN = {
    f"kernels.cuda.elementwise._kernel.<locals>.kernel:73(kernels.cuda.elementwise._math({f}):264, "
    f"kernels.cuda.elementwise.{load})"
    for f in ("sin", "cos", "tan") for load in ("_load_item:45", "_load_strided:50")}

_F64_OP = re.compile(r"^\s*(?:@%p\d+\s+)?(add|sub|mul|fma|div|rcp|sqrt|neg|abs|min|max|setp|cvt)"
                     r"\S*\.f64\b", re.M)
_PTXAS = re.compile(r"used (\d+) registers.*?(\d+) bytes smem", re.S)
_SPILLS = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")


def kernel_key(fn, depth=0):
    """A name for a kernel that is the same in every process, simulated or not: its function's
    module, qualified name and first line, with the names of the functions its closure holds
    when it was made by a factory (a qualified name with <locals>)."""
    fn = getattr(fn, "py_func", fn)
    key = f"{fn.__module__}.{fn.__qualname__}:{fn.__code__.co_firstlineno}"
    from numba import types
    inner = []
    for cell in fn.__closure__ or () if "<locals>" in fn.__qualname__ and depth < 4 else ():
        value = cell.cell_contents
        if isinstance(getattr(value, "py_func", value), pytypes.FunctionType):
            inner.append(kernel_key(value, depth + 1))
        elif isinstance(value, types.Type):  # a dtype the factory specialized the kernel for
            inner.append(str(value))
    return f"{key}({', '.join(inner)})" if inner else key


def arg_type(value):
    """A launch argument's Numba type as JSON: ["array", dtype, ndim, layout] or [scalar]."""
    from numba import typeof, types
    ty = typeof(value)
    if isinstance(ty, types.Array):
        return ["array", str(ty.dtype), ty.ndim, ty.layout]
    return [str(ty)]


def numba_type(entry):
    from numba import types
    if entry[0] == "array":
        _, dtype, ndim, layout = entry
        return types.Array(getattr(types, dtype), ndim, layout)
    tuple_of = re.fullmatch(r"UniTuple\((\w+) x (\d+)\)", entry[0])  # shapes, strides
    if tuple_of:
        return types.UniTuple(getattr(types, tuple_of[1]), int(tuple_of[2]))
    return getattr(types, entry[0])


def start_recording():
    """Record the signature of every kernel launch in the simulator; returns save(), which
    writes launches.json."""
    from numba.cuda.simulator import kernel as simulator
    launches = {}
    launch = simulator.FakeCUDAKernel.__call__

    def recording(self, *args):
        if not self._device and not simulator._kernel_context:
            launches.setdefault(kernel_key(self.fn), set()).add(
                json.dumps([arg_type(a) for a in args]))
        return launch(self, *args)
    simulator.FakeCUDAKernel.__call__ = recording

    def save(path=LAUNCHES):
        with open(path, "w") as f:
            json.dump({key: sorted(json.loads(s) for s in sigs)
                       for key, sigs in sorted(launches.items())}, f, indent=0)
            f.write("\n")
    return save


def _kernels():
    """Every kernel (not device function) the cuda backend defines, by key."""
    import kernels.cuda  # noqa: F401  (defines them all)
    from numba.cuda.dispatcher import CUDADispatcher
    found = {}
    for obj in gc.get_objects():
        if isinstance(obj, CUDADispatcher) and not obj.targetoptions.get("device"):
            key = kernel_key(obj)
            if key in found and found[key] is not obj:
                raise SystemExit(f"two kernels share the name {key}: give them distinct lines")
            found[key] = obj
    return found


def _sass_report(ptx, cc):
    """ptxas' report of the PTX compiled to SASS by nvJitLink: registers, spills, shared memory."""
    from cuda.bindings import nvjitlink
    handle = nvjitlink.create(2, [f"-arch=sm_{cc[0]}{cc[1]}", "-verbose"])
    try:
        data = ptx.encode()
        nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "kernel")
        try:
            nvjitlink.complete(handle)
        except nvjitlink.nvJitLinkError:
            log = bytearray(nvjitlink.get_error_log_size(handle))
            nvjitlink.get_error_log(handle, log)
            raise RuntimeError(log.decode(errors="replace")) from None
        log = bytearray(nvjitlink.get_info_log_size(handle))
        nvjitlink.get_info_log(handle, log)
        text = log.decode(errors="replace")
    finally:
        nvjitlink.destroy(handle)
    registers = _PTXAS.search(text)
    spills = _SPILLS.search(text)
    return {"registers": int(registers.group(1)) if registers else None,
            "shared_bytes": int(registers.group(2)) if registers else None,
            "spill_bytes": sum(map(int, spills.groups())) if spills else 0}


def _use_capability(cc):
    """Numba-cuda asks the current device for its capability when a kernel calls a device
    function; without a GPU, answer with the target's."""
    import numba.cuda.dispatcher as dispatcher
    dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=cc)


def nvvm_in_use():
    from numba.cuda.cudadrv import nvvm
    version = ".".join(map(str, nvvm.NVVM().get_version()))
    return f"NVVM {version} from {getattr(nvvm.NVVM(), '_libpath', None) or _nvvm_path()}"


def _nvvm_path():
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib
        return load_nvidia_dynamic_lib("nvvm").abs_path
    except Exception:  # noqa: BLE001  (only for the report)
        return "an unknown path"


def check(cc, launches, only=""):
    """Compile every kernel for `cc` (those whose name contains `only`); returns (rows,
    problems, notes): problems fail the check, notes (kernels the tests never launch,
    recordings of kernels that are gone) do not."""
    from numba import cuda
    _use_capability(cc)
    rows, problems, notes = [], [], []
    kernels = {key: k for key, k in _kernels().items() if only in key}
    for key, dispatcher in sorted(kernels.items()):
        code = dispatcher.py_func.__code__
        where = f"{os.path.relpath(code.co_filename)}:{code.co_firstlineno}"
        signatures = launches.get(key)
        if not signatures:
            notes.append(f"{where}: {key} was never launched by the simulator tests")
            continue
        for signature in signatures:
            row = {"kernel": key, "where": where, "signature": signature}
            try:
                ptx, _ = cuda.compile_ptx(dispatcher.py_func, tuple(map(numba_type, signature)),
                                          cc=cc)
                row.update(_sass_report(ptx, cc))
            except Exception as e:  # noqa: BLE001  (every kernel is tried)
                problems.append(f"{where}: {key} {signature} does not compile: "
                                f"{type(e).__name__}: {str(e)[:800]}")
                continue
            row["float64_ops"] = len(_F64_OP.findall(ptx))
            floats = {s[1] for s in signature if s[0] == "array" and s[1].startswith("float")}
            row["float32"] = floats == {"float32"}
            rows.append(row)
            if row["float32"] and row["float64_ops"] and key not in FLOAT64_KNOWN:
                problems.append(f"{where}: {key} computes in float64 on float32 arrays "
                                f"({row['float64_ops']} float64 instructions) for {signature}")
    float32 = [r for r in rows if r["float32"]]
    fixed = (FLOAT64_KNOWN & {r["kernel"] for r in float32}) - {
        r["kernel"] for r in float32 if r["float64_ops"]}
    problems += [f"{k} no longer computes in float64: strike it off FLOAT64_KNOWN" for k in fixed]
    gone = {k for k in FLOAT64_KNOWN if only in k} - set(kernels)  # renamed, moved or removed
    problems += [f"FLOAT64_KNOWN names {k}, which no longer exists: strike it off" for k in gone]
    stale = {key for key in launches if only in key} - set(kernels)
    notes += [f"launches.json names {k}, which no longer exists (rerun the recording)"
              for k in sorted(stale)]
    return rows, problems, notes


def _short(key):
    """linalg._gemm.kernel:108 for kernels.cuda.linalg._gemm.<locals>.kernel:108(...)."""
    return key.split("(")[0].replace("kernels.cuda.", "").replace(".<locals>", "")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kernels.cuda.compile_check",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cc", default="9.0", help="compute capability, e.g. 8.0 or 9.0")
    parser.add_argument("--json", help="write one row per kernel and signature to this file")
    parser.add_argument("--launches", default=LAUNCHES,
                        help="the recorded signatures (default: launches.json beside this file)")
    parser.add_argument("--only", default="", metavar="NAME",
                        help="check only the kernels whose name contains NAME, e.g. cuda.nn.")
    args = parser.parse_args(argv)
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        parser.error("unset NUMBA_ENABLE_CUDASIM: the simulator compiles nothing")
    cc = tuple(int(part) for part in args.cc.split("."))
    print(nvvm_in_use(), flush=True)
    with open(args.launches) as f:
        launches = json.load(f)
    rows, problems, notes = check(cc, launches, args.only)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    worst = sorted(rows, key=lambda r: -(r["registers"] or 0))[:5]
    print(f"sm_{cc[0]}{cc[1]}: {len(rows)} kernel signatures compiled to PTX and SASS; most "
          "registers: " + ", ".join(f"{_short(r['kernel'])} {r['registers']}" for r in worst)
          + f"; spills in {sum(1 for r in rows if r['spill_bytes'])}")
    float64 = sorted({r["kernel"] for r in rows if r["float32"] and r["float64_ops"]})
    print(f"{len(float64)} kernels still compute in float64 on float32 arrays (FLOAT64_KNOWN)")
    for note in notes:
        print("note:", note)
    for problem in problems:
        print("FAIL", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
