"""Adversarial calls of the windowed ops and of the C++ extension: sizes from 0 to 2**64 and odd
arrays (big-endian, float16, ints, bools, objects, strided, read-only, unaligned). Each call must
give the right answer or raise an EngineError: never a crash, a hang or a silently wrong result.

Every batch of calls runs in ONE child process (this file run as a script), which reads the
calls as JSON on stdin and prints one JSON line when a call starts and one when it ends, so a
crash or a hang fails the test and names the call that was running, without killing the test
run. Hypothesis draws the batches; each test starts only a few children to stay fast.
"""
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH_TIMEOUT = 120  # seconds for one child and its whole batch

# --- the child: runs calls, reports outcomes --------------------------------------------------------
# Outcomes: "ok" (checked against kernels/reference.py or by shape), "engine_error" (an
# EngineError, with its class and message), "wrong" (a result that disagrees with the reference,
# or a valid small call refused) and "other_error" (any other exception).

BIG = 2**31 - 1  # the op layer's bound on sizes (engine.ops._checks.MAX_SIZE)


def _make_array(spec):
    """A numpy array from its description: shape, dtype, layout, seed."""
    shape, dtype = tuple(spec["shape"]), np.dtype(spec["dtype"])
    values = np.random.default_rng(spec.get("seed", 0)).standard_normal(shape)
    if dtype.kind == "b":
        a = values > 0
    elif dtype.kind == "O":
        a = values.astype(object)
    else:
        a = values.astype(dtype)
    a = np.asarray(a)  # not an array scalar when the shape is ()
    layout = spec.get("layout", "c")
    if layout == "fortran":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim:
        big = np.zeros(shape[:-1] + (2 * shape[-1],), a.dtype)
        big[..., ::2] = a
        a = big[..., ::2]
    elif layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    elif layout == "unaligned" and dtype.kind != "O" and dtype.itemsize > 1:
        buffer = np.zeros(a.nbytes + 1, np.uint8)
        u = buffer[1:].view(dtype).reshape(shape)
        u[...] = a
        a = u
    return a


def _is_float(spec):
    return np.dtype(spec["dtype"]).kind == "f"


def _clean(spec):
    """Whether any op here must take this array: float32 or float64 in either byte order."""
    d = np.dtype(spec["dtype"])
    return d.kind == "f" and d.itemsize in (4, 8)


def _small_pair(v, low):
    """v as a pair when it is an int or a pair of ints in [low, 8] (so the call is plainly valid)."""
    values = [v, v] if isinstance(v, int) and not isinstance(v, bool) else v
    if (isinstance(values, list) and len(values) == 2
            and all(isinstance(u, int) and not isinstance(u, bool) and low <= u <= 8
                    for u in values)):
        return tuple(values)
    return None


def _window(size, kernel, stride, padding, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _tensor(eg, spec, grad):
    a = _make_array(spec)
    return eg.Tensor._from_array(a, "cpu", requires_grad=bool(grad and _is_float(spec)))


def _compare(result, expected, dtype):
    result, expected = np.asarray(result, np.float64), np.asarray(expected, np.float64)
    if result.shape != expected.shape:
        return f"shape {result.shape}, expected {expected.shape}"
    # a result in float16 (as torch keeps it) is rounded to its 2^-11 relative precision
    tol = {2: 2e-3, 4: 1e-4}.get(np.dtype(dtype).itemsize, 1e-9)
    if not np.allclose(result, expected, rtol=tol, atol=tol):
        return f"values differ by up to {np.max(np.abs(result - expected))}"
    return None


def _plainly_valid(call):
    """Whether a public call is plainly valid in torch's terms: native or big-endian float32/64
    arrays, every dimension but the batch non-zero, small sizes that fit. Such a call must
    succeed; anything else may also succeed, or raise an EngineError."""
    fn, kw = call["fn"], call.get("kwargs", {})
    specs = {k: call[k] for k in ("x", "w", "b") if call.get(k)}
    xs = specs["x"]["shape"]
    if fn == "pad":
        widths = kw["pad"]
        return (isinstance(widths, list) and len(widths) % 2 == 0
                and len(widths) // 2 <= len(xs)
                and all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 8
                        for p in widths))
    if not (all(_clean(s) for s in specs.values()) and len(xs) == 4
            and all(n >= 1 for n in xs[1:])):
        return False
    if fn in ("conv2d", "conv_transpose2d"):
        ws = specs["w"]["shape"]
        stride = _small_pair(kw.get("stride", 1), 1)
        padding = _small_pair(kw.get("padding", 0), 0)
        dilation = _small_pair(kw.get("dilation", 1), 1)
        groups = kw.get("groups", 1)
        if not (len(ws) == 4 and all(n >= 1 for n in ws) and None not in (stride, padding, dilation)
                and isinstance(groups, int) and not isinstance(groups, bool) and 1 <= groups <= 4
                and len({np.dtype(s["dtype"]).itemsize for s in specs.values()}) == 1):
            return False
        if fn == "conv2d":
            return (xs[1] == ws[1] * groups and ws[0] % groups == 0
                    and ("b" not in specs or specs["b"]["shape"] == [ws[0]])
                    and all(_window(n, k, s, p, d) >= 1 for n, k, s, p, d in
                            zip(xs[2:], ws[2:], stride, padding, dilation)))
        op = _small_pair(kw.get("output_padding", 0), 0)
        return (op is not None and xs[1] == ws[0] and ws[0] % groups == 0
                and ("b" not in specs or specs["b"]["shape"] == [ws[1] * groups])
                and all(o < max(s, d) for o, s, d in zip(op, stride, dilation))
                and all((n - 1) * s - 2 * p + d * (k - 1) + o + 1 >= 1 for n, k, s, p, o, d
                        in zip(xs[2:], ws[2:], stride, padding, op, dilation)))
    if fn in ("max_pool2d", "avg_pool2d"):
        kernel = _small_pair(kw.get("kernel_size"), 1)
        stride = kernel if kw.get("stride") is None else _small_pair(kw.get("stride"), 1)
        padding = _small_pair(kw.get("padding", 0), 0)
        return (None not in (kernel, stride, padding)
                and all(2 * p <= k for p, k in zip(padding, kernel))
                and all(_window(n, k, s, p) >= 1 for n, k, s, p in
                        zip(xs[2:], kernel, stride, padding)))
    if fn == "interpolate":
        size, factor = kw.get("size"), kw.get("scale_factor")
        mode = kw.get("mode", "nearest")
        if not (mode in ("nearest", "bilinear") and (size is None) != (factor is None)
                and not (mode == "nearest" and kw.get("align_corners") is not None)):
            # torch refuses align_corners with "nearest", False included
            return False
        if size is not None:
            return _small_pair(size, 1) is not None
        factors = factor if isinstance(factor, list) else [factor, factor]
        return (len(factors) == 2
                and all(isinstance(f, (int, float)) and not isinstance(f, bool)
                        and 0.25 <= f <= 4 for f in factors)
                and all(math.floor(n * f) >= 1 for n, f in zip(xs[2:], factors)))
    return False


def _run_public(call, eg, F, ref):
    """One call of a public op; returns (result, the reference's result as a thunk or None when
    the sizes are too large for it, the input's dtype, the input tensors)."""
    fn, kw = call["fn"], dict(call.get("kwargs", {}))
    specs = {k: call[k] for k in ("x", "w", "b") if call.get(k)}
    t = {k: _tensor(eg, s, call.get("backward", False)) for k, s in specs.items()}
    x = t["x"]
    small = math.prod(specs["x"]["shape"]) <= 512
    if fn in ("conv2d", "conv_transpose2d"):
        w, b = t["w"], t.get("b")
        y = getattr(F, fn)(x, w, b, **kw)
        expected = (lambda: getattr(ref, fn)(x.numpy(), w.numpy(),  # noqa: E731
                                             None if b is None else b.numpy(), **kw))
        small = small and math.prod(y.shape) * math.prod(specs["w"]["shape"][1:]) <= 20000
    elif fn in ("max_pool2d", "avg_pool2d", "interpolate"):
        y = getattr(F, fn)(x, **kw)
        expected = lambda: getattr(ref, fn)(x.numpy(), **kw)  # noqa: E731
        small = small and math.prod(y.shape) <= 4000
    elif fn == "pad":
        y = F.pad(x, kw["pad"])
        expected = lambda: ref.pad_mode(x.numpy(), kw["pad"], "constant")  # noqa: E731
        small = small and math.prod(y.shape) <= 4000 and specs["x"]["dtype"] != "O"
    else:
        raise ValueError(f"unknown op {fn}")
    return y, (expected if small else None), np.dtype(specs["x"]["dtype"]), t


def _run_cpp(call, _cpp, ref):
    """One raw call of kernels.cpu._cpp.im2col or col2im."""
    a = _make_array(call["array"])
    args = call["args"]
    if call["fn"] == "im2col":
        cols = _cpp.im2col(a, *args)
        kh, kw, sh, sw, ph, pw, dh, dw = args
        if cols.size * 8 <= 40000:
            want = ref.im2col(a, kh, kw, (sh, sw), (ph, pw), (dh, dw))
            if cols.shape != want.shape or not np.array_equal(cols, want):
                return "im2col disagrees with the reference"
        return None
    x = _cpp.col2im(a, *args)
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw = args
    if x.shape != (n, c, h, w):
        return f"col2im gave shape {x.shape}, expected {(n, c, h, w)}"
    if a.size <= 5000 and x.size <= 5000:  # the adjoint of the reference im2col
        probe = np.random.default_rng(1).standard_normal(x.shape)
        cols = ref.im2col(probe, kh, kw, (sh, sw), (ph, pw), (dh, dw))
        if not np.isclose(np.sum(cols * a.astype(np.float64)), np.sum(probe * x), rtol=1e-4,
                          atol=1e-4):
            return "col2im is not the adjoint of the reference im2col"
    return None


def _run_one(call):
    import engine as eg
    import engine.nn.functional as F
    from engine import nn  # noqa: F401  (for code calls)
    import kernels.reference as ref
    from kernels.cpu import _cpp
    if "code" in call:  # a regression call written out as Python
        space = {"eg": eg, "F": F, "nn": nn, "np": np, "_cpp": _cpp, "ref": ref}
        r = eval(call["code"], space)  # noqa: S307  (the test's own text)
        if call.get("check") and not eval(call["check"], dict(space, r=r)):  # noqa: S307
            return "wrong", f"check {call['check']!r} failed for {r!r}"
        return "ok", ""
    if call["fn"] in ("im2col", "col2im"):
        problem = _run_cpp(call, _cpp, ref)
        return ("wrong", problem) if problem else ("ok", "")
    y, expected, dtype, tensors = _run_public(call, eg, F, ref)
    if not isinstance(y, eg.Tensor):
        return "wrong", f"returned {type(y).__name__}"
    data = y.numpy()
    if expected is not None:
        problem = _compare(data, expected(), dtype)
        if problem:
            return "wrong", problem
    elif data.dtype.kind == "f" and not np.all(np.isfinite(data)):
        return "wrong", "non-finite values from finite input"
    if call.get("backward") and y.requires_grad:
        y.sum().backward()
        for name, t in tensors.items():
            if t.requires_grad and (t.grad is None or t.grad.shape != t.shape):
                return "wrong", f"the gradient of {name} has shape {getattr(t.grad, 'shape', None)}"
    return ("ok", "")


def child_main():
    """Reads a JSON list of calls on stdin; prints {"i", "start"} and {"i", "outcome", ...}."""
    from kernels.errors import EngineError
    calls = json.load(sys.stdin)
    for i, call in enumerate(calls):
        print(json.dumps({"i": i, "start": True}), flush=True)
        try:
            outcome, detail = _run_one(call)
        except EngineError as e:
            outcome, detail = "engine_error", f"{type(e).__name__}: {e}"
            # a plainly valid small call must not be refused
            if call.get("must_work") or ("fn" in call and call["fn"] not in ("im2col", "col2im")
                                         and _plainly_valid(call)):
                outcome = "wrong"
        except Exception as e:  # noqa: BLE001  anything else is what this test looks for
            outcome, detail = "other_error", f"{type(e).__name__}: {e}"
        print(json.dumps({"i": i, "outcome": outcome, "detail": detail[:2000]}), flush=True)


# --- the parent: one child per batch --------------------------------------------------------------
def run_batch(calls, timeout=BATCH_TIMEOUT):
    """Runs the calls in one child; returns {i: (outcome, detail)}; fails on a crash or hang."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # Popen so that a hang is killed and still attributed to the call that was running.
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT, env=env)
    try:
        out, err = child.communicate(json.dumps(calls), timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        hung = True
    outcomes, running = {}, None
    for line in out.splitlines():
        record = json.loads(line)
        if record.get("start"):
            running = record["i"]
        else:
            outcomes[record["i"]] = (record["outcome"], record["detail"])
            running = None
    if hung or child.returncode != 0 or len(outcomes) != len(calls):
        what = "hung" if hung else f"exited with {child.returncode}"
        culprit = calls[running] if running is not None else None
        pytest.fail(f"the child {what} while running call {running}: {json.dumps(culprit)}\n"
                    f"stderr: {err[-3000:]}")
    return outcomes


def assert_all_fine(calls, outcomes):
    bad = [(calls[i], outcome, detail) for i, (outcome, detail) in sorted(outcomes.items())
           if outcome not in ("ok", "engine_error")]
    assert not bad, "\n".join(f"{outcome}: {detail}\n  call: {json.dumps(call)}"
                              for call, outcome, detail in bad[:10])


# --- strategies ----------------------------------------------------------------------------------
# Each call is "sane" (a small, well-formed call, in which at most one argument may be replaced by
# a boundary or odd value) or "wild" (every argument drawn from everything): the sane calls check
# results against the reference, the one odd argument checks each check, and the wild calls look
# for combinations nobody thought of.
BOUNDARY = [0, 1, 2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1]
ODD_INTS = [-1, 2**63, 2**64]
ODD_VALUES = [1.5, "2", None, True, [1, 2, 3], []]

# small values most often, then the boundaries, then values that fit no int64
sizes = st.one_of(st.integers(0, 3), st.integers(0, 3), st.sampled_from(BOUNDARY),
                  st.sampled_from(ODD_INTS))
positive = st.one_of(st.integers(1, 3), st.integers(1, 3), st.sampled_from(BOUNDARY),
                     st.sampled_from(ODD_INTS))
odd = st.one_of(st.sampled_from(BOUNDARY), st.sampled_from(ODD_INTS),
                st.sampled_from(ODD_VALUES),
                st.lists(st.one_of(st.integers(0, 2), st.sampled_from(BOUNDARY + ODD_INTS)),
                         min_size=2, max_size=2))
param = st.one_of(sizes, st.lists(sizes, min_size=2, max_size=2), st.sampled_from(ODD_VALUES))
positive_param = st.one_of(positive, st.lists(positive, min_size=2, max_size=2),
                           st.sampled_from(ODD_VALUES))
DTYPES = ["<f4", "<f8", ">f4", ">f8", "<f2", "<i8", "|b1", "O"]
SANE_DTYPES = ["<f4", "<f4", "<f8", ">f4", ">f8"]
LAYOUTS = ["c", "c", "c", "fortran", "strided", "readonly", "unaligned"]


def arrays(shape, dtypes=DTYPES):
    return st.fixed_dictionaries({"shape": shape, "dtype": st.sampled_from(dtypes),
                                  "layout": st.sampled_from(LAYOUTS),
                                  "seed": st.integers(0, 2**16)})


def image_shape(batch=st.integers(0, 2), low=0):
    return st.tuples(batch, st.integers(low, 3), st.integers(low, 5),
                     st.integers(low, 5)).map(list)


any_shape = st.lists(st.integers(0, 3), max_size=5)


def _maybe(strategy, name):
    """Keyword `name` drawn from strategy, or left out."""
    return st.one_of(st.just({}), strategy.map(lambda v: {name: v}))


def _spoil(draw, call, keys):
    """Sometimes replaces one keyword argument (or the batch size) by an odd value."""
    choice = draw(st.integers(0, 2 * len(keys)))
    if choice < len(keys):
        call["kwargs"][keys[choice]] = draw(odd)
    elif choice == len(keys):
        call["x"]["shape"][0] = 0  # an empty batch
    return call


@st.composite
def conv_calls(draw, fn):
    keys = ["stride", "padding", "dilation"] + (["output_padding"] if fn != "conv2d" else [])
    if draw(st.integers(0, 2)):  # sane
        dtype = draw(st.sampled_from(SANE_DTYPES))
        groups = draw(st.sampled_from([1, 1, 2]))
        cin = groups * draw(st.integers(1, 2))
        k = draw(st.integers(1, 3))
        size = draw(st.integers(3, 5))
        x = draw(arrays(st.just([draw(st.integers(1, 2)), cin, size, size]), [dtype]))
        wshape = ([groups * draw(st.integers(1, 2)), cin // groups, k, k] if fn == "conv2d"
                  else [cin, draw(st.integers(1, 2)), k, k])
        w = draw(arrays(st.just(wshape), [dtype]))
        out = wshape[0] if fn == "conv2d" else wshape[1] * groups
        b = draw(st.one_of(st.none(), arrays(st.just([out]), [dtype])))
        kwargs = {"stride": draw(st.integers(1, 2)), "padding": draw(st.integers(0, 1)),
                  "dilation": draw(st.integers(1, 2))}
        if fn != "conv2d":
            kwargs["output_padding"] = draw(st.integers(0, 1))
        if groups > 1:
            kwargs["groups"] = groups
        call = {"fn": fn, "x": x, "w": w, "b": b, "kwargs": kwargs,
                "backward": draw(st.booleans())}
        return _spoil(draw, call, keys)
    x = draw(arrays(st.one_of(image_shape(), any_shape)))
    w = draw(arrays(st.one_of(image_shape(st.integers(0, 3)), any_shape)))
    kwargs = {}
    for name in keys:
        kwargs.update(draw(_maybe(positive_param if name in ("stride", "dilation") else param,
                                  name)))
    kwargs.update(draw(_maybe(st.one_of(st.integers(1, 2), sizes), "groups")))
    b = draw(st.one_of(st.none(), arrays(st.lists(st.integers(0, 3), max_size=2))))
    return {"fn": fn, "x": x, "w": w, "b": b, "kwargs": kwargs, "backward": draw(st.booleans())}


@st.composite
def pool_calls(draw, fn):
    keys = ["kernel_size", "stride", "padding"]
    if draw(st.integers(0, 2)):  # sane
        x = draw(arrays(image_shape(st.integers(1, 2), low=1).map(
            lambda s: s[:2] + [s[2] + 2, s[3] + 2]), SANE_DTYPES))
        k = draw(st.integers(1, 3))
        kwargs = {"kernel_size": k, "padding": draw(st.integers(0, k // 2))}
        kwargs.update(draw(_maybe(st.integers(1, 3), "stride")))
        if fn == "avg_pool2d":
            kwargs.update(draw(_maybe(st.booleans(), "count_include_pad")))
        return _spoil(draw, {"fn": fn, "x": x, "kwargs": kwargs,
                             "backward": draw(st.booleans())}, keys)
    x = draw(arrays(st.one_of(image_shape(), any_shape)))
    kwargs = {"kernel_size": draw(positive_param)}
    kwargs.update(draw(_maybe(positive_param, "stride")))
    kwargs.update(draw(_maybe(param, "padding")))
    return {"fn": fn, "x": x, "kwargs": kwargs, "backward": draw(st.booleans())}


factors = st.one_of(st.sampled_from([0, 0.5, 1, 1.5, 2, 3, 1e-300, 1e300, -1, 2**31, 2**62]),
                    st.floats(allow_nan=True, allow_infinity=True, width=32))


@st.composite
def interpolate_calls(draw):
    if draw(st.integers(0, 2)):  # sane
        x = draw(arrays(image_shape(st.integers(1, 2), low=1), SANE_DTYPES))
        mode = draw(st.sampled_from(["nearest", "bilinear"]))
        kwargs = {"mode": mode}
        if draw(st.booleans()):
            kwargs["size"] = draw(st.one_of(st.integers(1, 6),
                                            st.lists(st.integers(1, 6), min_size=2, max_size=2)))
        else:
            kwargs["scale_factor"] = draw(st.sampled_from([0.5, 1, 1.5, 2, 3, [2, 0.5]]))
        if mode == "bilinear":
            kwargs.update(draw(_maybe(st.booleans(), "align_corners")))
        call = {"fn": "interpolate", "x": x, "kwargs": kwargs, "backward": draw(st.booleans())}
        if draw(st.booleans()):
            key = "size" if "size" in kwargs else "scale_factor"
            kwargs[key] = draw(st.one_of(odd, factors) if key == "scale_factor" else odd)
        return call
    x = draw(arrays(st.one_of(image_shape(), any_shape)))
    kwargs = {}
    choice = draw(st.integers(0, 3))
    if choice in (0, 2):
        kwargs["size"] = draw(st.one_of(positive, st.lists(positive, min_size=2, max_size=2),
                                        odd))
    if choice in (1, 2):
        kwargs["scale_factor"] = draw(st.one_of(factors, st.lists(factors, min_size=1,
                                                                   max_size=3)))
    kwargs["mode"] = draw(st.sampled_from(["nearest", "bilinear", "bilinear", "cubic-ish"]))
    kwargs.update(draw(_maybe(st.sampled_from([True, False, None]), "align_corners")))
    return {"fn": "interpolate", "x": x, "kwargs": kwargs, "backward": draw(st.booleans())}


@st.composite
def pad_calls(draw):
    x = draw(arrays(st.lists(st.integers(0, 3), max_size=4)))
    n = draw(st.integers(0, len(x["shape"])))
    widths = draw(st.lists(st.integers(0, 3), min_size=2 * n, max_size=2 * n))
    if draw(st.booleans()):  # one odd width, or an odd pad altogether
        if widths and draw(st.booleans()):
            widths[draw(st.integers(0, len(widths) - 1))] = draw(odd)
        else:
            widths = draw(st.one_of(st.lists(sizes, max_size=6),
                                    st.sampled_from([3, None, "1", [1.5, 1]])))
    return {"fn": "pad", "x": x, "kwargs": {"pad": widths}, "backward": draw(st.booleans())}


def _odd_int(draw):
    return draw(st.one_of(st.sampled_from(BOUNDARY), st.sampled_from(ODD_INTS)))


@st.composite
def cpp_calls(draw):
    fn = draw(st.sampled_from(["im2col", "col2im"]))
    sane = draw(st.integers(0, 2)) > 0
    n, c, h, w = draw(image_shape(st.integers(1, 2), low=1) if sane else image_shape())
    geometry = ([draw(st.integers(1, 3)) for _ in range(4)] + [draw(st.integers(0, 2))
                                                                for _ in range(2)]
                + [draw(st.integers(1, 2)) for _ in range(2)])
    h, w = h + 4, w + 4  # room for the kernel
    if not sane or draw(st.booleans()):
        geometry[draw(st.integers(0, 7))] = _odd_int(draw)
    kernel, stride, padding, dilation = (geometry[i:i + 2] for i in range(0, 8, 2))
    dtypes = SANE_DTYPES if sane else DTYPES
    if fn == "im2col":
        array = draw(arrays(st.just([n, c, h, w]), dtypes))
        return {"fn": fn, "array": array, "args": geometry}
    # the columns of that geometry where they are small, else any small 3-D array
    oh = ow = 0
    if min(stride) >= 1:
        oh, ow = (_window(s, k, st_, p, d) for s, k, st_, p, d in
                  zip((h, w), kernel, stride, padding, dilation))
    shape = [n, c * kernel[0] * kernel[1], oh * ow]
    if not (all(0 <= v <= 4096 for v in shape) and oh >= 1 and ow >= 1) or not sane:
        shape = draw(st.lists(st.integers(0, 3), min_size=3, max_size=3))
    array = draw(arrays(st.just(shape), dtypes))
    return {"fn": fn, "array": array, "args": [n, c, h, w] + geometry}


# Each example is one batch in one child process (a batch must stay small enough for
# hypothesis to draw); the profile's example count (15 in "ci", 200 in "thorough") applies.
# No shrinking: a failure already names each bad call, and every shrink step is a child process.
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.reuse, Phase.generate])
BATCH = 40


def _fuzz(calls):
    assert_all_fine(calls, run_batch(calls))


@FUZZ
@given(st.lists(st.one_of(conv_calls("conv2d"), conv_calls("conv_transpose2d")),
                min_size=BATCH, max_size=BATCH))
def test_fuzz_conv2d_and_conv_transpose2d(calls):
    _fuzz(calls)


@FUZZ
@given(st.lists(st.one_of(pool_calls("max_pool2d"), pool_calls("avg_pool2d")), min_size=BATCH,
                max_size=BATCH))
def test_fuzz_pooling(calls):
    _fuzz(calls)


@FUZZ
@given(st.lists(st.one_of(interpolate_calls(), pad_calls()), min_size=BATCH, max_size=BATCH))
def test_fuzz_interpolate_and_pad(calls):
    _fuzz(calls)


@FUZZ
@given(st.lists(cpp_calls(), min_size=BATCH, max_size=BATCH))
def test_fuzz_cpp_im2col_and_col2im(calls):
    _fuzz(calls)


# --- plainly valid calls must work (so that the checks above refuse only what is bad) ---------------
def test_small_valid_calls_agree_with_the_reference_in_one_child():
    rng = np.random.default_rng(0)
    calls = []
    for dtype in ("<f4", "<f8", ">f4"):
        x = {"shape": [2, 2, 5, 5], "dtype": dtype, "seed": int(rng.integers(1000))}
        w = {"shape": [2, 2, 3, 3], "dtype": dtype, "seed": 7}
        b = {"shape": [2], "dtype": dtype, "seed": 8}
        calls += [
            {"fn": "conv2d", "x": x, "w": w, "b": b, "kwargs": {"padding": 1}, "backward": True},
            {"fn": "conv2d", "x": x, "w": w, "kwargs": {"stride": 2, "dilation": [1, 2]}},
            {"fn": "conv_transpose2d", "x": x, "w": w, "b": b,
             "kwargs": {"stride": 2, "padding": 1, "output_padding": 1}, "backward": True},
            {"fn": "max_pool2d", "x": x, "kwargs": {"kernel_size": 3, "stride": 2, "padding": 1},
             "backward": True},
            {"fn": "avg_pool2d", "x": x, "kwargs": {"kernel_size": 2, "padding": 1,
                                                    "count_include_pad": False}},
            {"fn": "interpolate", "x": x, "kwargs": {"scale_factor": 1.5, "mode": "bilinear"}},
            {"fn": "pad", "x": x, "kwargs": {"pad": [1, 2, 0, 3]}, "backward": True},
        ]
    for layout in ("fortran", "strided", "readonly", "unaligned"):
        x = {"shape": [1, 2, 4, 4], "dtype": "<f4", "layout": layout, "seed": 3}
        calls += [{"fn": "conv2d", "x": x, "w": {"shape": [1, 2, 2, 2], "dtype": "<f4"}},
                  {"fn": "max_pool2d", "x": x, "kwargs": {"kernel_size": 2}},
                  {"fn": "avg_pool2d", "x": x, "kwargs": {"kernel_size": 3, "stride": 1}},
                  {"fn": "im2col", "array": x, "args": [2, 2, 1, 1, 0, 0, 1, 1]}]
    for call in calls:
        call["must_work"] = call["fn"] != "im2col" or call["array"].get("layout") in (None, "c",
                                                                                     "readonly")
    outcomes = run_batch(calls)
    bad = [(calls[i], o) for i, o in outcomes.items()
           if o[0] != "ok" and not (calls[i]["fn"] == "im2col" and o[0] == "engine_error")]
    assert not bad, bad


# --- the cases found by hand (each one crashed, hung or answered wrongly) ---------------------------
REGRESSIONS = [
    # (code, a check of the result r, or the EngineError classes it may raise instead)
    ("F.avg_pool2d(eg.ones(1,1,1,1), kernel_size=2**32, stride=1, padding=2**31)", None,
     ("ShapeError",)),
    ("nn.AvgPool2d(2**32, stride=1, padding=2**31)(eg.ones(1,1,1,1))", None,
     ("ShapeError", "ArgumentError")),
    ("F.avg_pool2d(eg.ones(1,1,1,1), kernel_size=2**31-1, stride=1, padding=2**30-1)", None,
     ("ShapeError",)),
    ("F.conv2d(eg.ones(1,2,4,4), eg.ones(1,2,3,3), stride=2**63-1, padding=2)", None,
     ("ShapeError",)),
    ("F.conv2d(eg.ones(1,2,4,4), eg.ones(1,2,3,3), stride=2**63-1, padding=0)",
     "r.shape == (1, 1, 1, 1) and r.item() == 18", ("ShapeError",)),
    ("F.conv2d(eg.ones(1,2,4,4), eg.ones(1,2,3,3), stride=2**31-1, padding=0)",
     "r.shape == (1, 1, 1, 1) and r.item() == 18", ()),
    ("eg.tensor(np.ones((1,2,4,4)), requires_grad=True)", "F.conv2d(r, eg.ones(1,2,3,3, dtype=eg.float64), stride=2**31-1, padding=2).sum().backward() is None and r.grad.numpy().sum() == 2", ()),
    ("_cpp.im2col(np.ones((1,2,4,4), np.float32), 3, 3, 2**63-1, 2**63-1, 2, 2)",
     "np.array_equal(r, ref.im2col(np.ones((1,2,4,4), np.float32), 3, 3, 2**63-1, 2))", ()),
    ("_cpp.im2col(np.ones((1,2,4,4), np.float32), 3, 3, 2**63-1, 2**63-1, 0, 0)",
     "r.shape == (1, 18, 1) and np.all(r == 1)", ()),
    ("_cpp.col2im(np.ones((1,18,1), np.float32), 1, 2, 4, 4, 3, 3, 2**63-1, 2**63-1, 2, 2)",
     "r.shape == (1, 2, 4, 4) and r.sum() == 2", ()),
    ("_cpp.im2col(np.ones((1,1,2,2), np.float32), 1, 1, 1, 1, 2**31-1, 2**31-1)", None,
     ("ShapeError",)),
    ("_cpp.im2col(np.ones((1,1,2,2), np.float32), 3, 1, 1, 1, 0, 0, 2**62, 1)", None,
     ("ShapeError",)),
    ("_cpp.im2col(np.ones((1,1,2,2), np.float32), 2, 1, 1, 1, 0, 0, 2**62, 1)", None,
     ("ShapeError",)),
    ("_cpp.im2col(np.ones((1,1,2,2), np.float32), 2**63-1, 1, 1, 1, 2**62, 0)", None,
     ("ShapeError",)),
    ("_cpp.im2col(np.ones((1,1,2,2), np.float32), 2**64, 1)", None, ("ShapeError",)),
    ("_cpp.im2col(np.ones((1,1,2,2), np.float32), 1.5, 1)", None, ("DTypeError",)),
    ("F.max_pool2d(eg.ones(1,1,4,4), kernel_size=2**40, stride=2**40, padding=2**39)", None,
     ("ShapeError",)),
    ("_cpp.max_pool3d_forward(np.ones((1,1,1,4,4)), (1, 2**40, 2**40), (1, 2**40, 2**40), "
     "(0, 2**39, 2**39), (1, 1, 1), (1, 1, 1))",
     "r[0].shape == (1, 1, 1, 1, 1) and r[0].item() == 1", ()),
    ("_cpp.max_pool3d_forward(np.ones((1,1,1,4,4)), (1, 2**62, 2**62), (1, 1, 1), "
     "(0, 2**61, 2**61), (1, 1, 1), (1, 5, 5))",
     "r[0].shape == (1, 1, 1, 5, 5) and np.all(r[0] == 1)", ()),
    ("_cpp.avg_pool3d_forward(np.ones((1,1,1,4,4)), (1, 2**62, 2**62), (1, 1, 1), "
     "(0, 2**61, 2**61), (1, 5, 5))", "r.shape == (1, 1, 1, 5, 5) and np.all(r > 0)", ()),
    ("_cpp.max_pool3d_forward(np.ones((1,1,1,4,4)), (1, 2**63-1, 1), (1, 1, 1), (0, 2**62, 0), "
     "(1, 1, 1), (1, 1, 4))", None, ("ShapeError",)),
    # an output size the windows cannot give (the caller computes it) is refused
    ("_cpp.max_pool3d_forward(np.ones((1,1,1,4,4)), (1, 2, 2), (1, 2, 2), (0, 0, 0), (1, 1, 1), "
     "(1, 2**40, 2**40))", None, ("ShapeError",)),
    ("_cpp.avg_pool3d_forward(np.ones((1,1,1,4,4)), (1, 2, 2), (1, 2, 2), (0, 0, 0), (1, 9, 9))",
     None, ("ShapeError",)),
    # big-endian arrays: converted at the op layer, refused by the extension
    ("F.conv2d(eg.tensor(np.ones((1,4,4,4), '>f4')), eg.tensor(np.ones((1,4,4,4), '>f4')))",
     "r.item() == 64", ("DTypeError",)),
    ("F.conv2d(eg.tensor(np.ones((1,16,4,4), '>f4')), eg.tensor(np.ones((16,16,3,3), '>f4')))",
     "np.all(r.numpy() == 144)", ("DTypeError",)),
    ("F.max_pool2d(eg.tensor(np.arange(16, dtype='>f8').reshape(1,1,4,4) - 8), 2)",
     "np.array_equal(r.numpy(), [[[[-3, -1], [5, 7]]]])", ("DTypeError",)),
    ("F.avg_pool2d(eg.tensor(np.arange(16, dtype='>f4').reshape(1,1,4,4)), 2)",
     "np.array_equal(r.numpy(), [[[[2.5, 4.5], [10.5, 12.5]]]])", ("DTypeError",)),
    ("_cpp.max_pool3d_forward(np.ones((1,1,1,4,4), '>f4'), (1, 2, 2), (1, 2, 2), (0, 0, 0), "
     "(1, 1, 1), (1, 2, 2))", None, ("DTypeError",)),
    ("_cpp.col2im(np.ones((1,1,4), '>f4'), 1, 1, 2, 2, 1, 1)", None, ("DTypeError",)),
    ("_cpp.im2col(np.ones((1,1,2,2), '>f8'), 1, 1)", None, ("DTypeError",)),
    ("_cpp.sgd_update(np.ones(4, '>f4'), np.ones(4, '>f4'), np.ones(4, '>f4'), True, 0.1, 0.0, "
     "0.0, 0.0, False)", None, ("DTypeError",)),
    ("_cpp.adam_update(np.ones(4, '>f8'), np.ones(4, '>f8'), np.zeros(4, '>f8'), "
     "np.zeros(4, '>f8'), 1, 0.1, 0.9, 0.999, 1e-8, 0.0)", None, ("DTypeError",)),
    ("_cpp.im2col(np.frombuffer(bytes(17), np.float32, 4, 1).reshape(1,1,2,2), 1, 1)", None,
     ("ShapeError",)),
    # unclear errors
    ("F.interpolate(eg.ones(1,1,2,2), scale_factor=0)", None, ("ArgumentError", "ShapeError")),
    ("F.interpolate(eg.ones(1,1,2,2), scale_factor=2, mode='cubic-ish')", None,
     ("ArgumentError",)),
    ("F.max_pool2d(eg.ones(0,1,4,4), 2)", "r.shape == (0, 1, 2, 2)", ()),
    ("F.avg_pool2d(eg.ones(0,1,4,4), 2)", "r.shape == (0, 1, 2, 2)", ()),
    ("F.conv2d(eg.ones(0,2,4,4), eg.ones(3,2,3,3), eg.ones(3))", "r.shape == (0, 3, 2, 2)", ()),
    ("F.conv_transpose2d(eg.ones(0,2,4,4), eg.ones(2,3,3,3), stride=2)",
     "r.shape == (0, 3, 9, 9)", ()),
    ("F.interpolate(eg.ones(0,2,4,4), scale_factor=2)", "r.shape == (0, 2, 8, 8)", ()),
    ("F.conv2d(eg.tensor(np.ones((1,1,4,4), np.float16)), eg.tensor(np.ones((1,1,3,3), np.float16)))",
     None, ("DTypeError",)),
    ("F.max_pool2d(eg.ones(1,0,4,4), 2)", None, ("ShapeError",)),
]


def test_regressions_in_one_child():
    calls = [{"code": code, "check": check} for code, check, _ in REGRESSIONS]
    outcomes = run_batch(calls)
    problems = []
    for (code, check, allowed), (outcome, detail) in zip(REGRESSIONS,
                                                         (outcomes[i] for i in range(len(calls)))):
        if outcome == "ok" and check is not None:
            continue
        if outcome == "engine_error" and detail.split(":")[0] in allowed:
            continue
        problems.append(f"{code}\n  -> {outcome}: {detail}")
    assert not problems, "\n".join(problems)


def test_messages_name_the_op_and_what_it_got():
    calls = [
        {"code": "F.conv2d(eg.tensor(np.ones((1,1,4,4), np.float16)), "
                 "eg.tensor(np.ones((1,1,3,3), np.float16)))"},
        {"code": "F.avg_pool2d(eg.ones(1,1,1,1), kernel_size=2**32, stride=1, padding=2**31)"},
        {"code": "F.interpolate(eg.ones(1,1,2,2), scale_factor=2, mode='cubic-ish')"},
        {"code": "F.conv2d(eg.ones(1,2,4,4), eg.ones(1,2,3,3), padding=2**30)"},
        {"code": "_cpp.im2col(np.ones((1,1,2,2), np.float32), 1, 1, 1, 1, 2**31-1, 2**31-1)"},
    ]
    outcomes = run_batch(calls)
    messages = [outcomes[i][1] for i in range(len(calls))]
    assert messages[0].startswith("DTypeError: conv2d:") and "float16" in messages[0]
    assert "float32 or float64" in messages[0]
    assert messages[1].startswith("ShapeError: avg_pool2d: kernel_size") and "4294967296" in messages[1]
    assert messages[2].startswith("ArgumentError: interpolate: mode must be one of") and \
        "nearest" in messages[2] and "cubic-ish" in messages[2]
    assert messages[3].startswith("ShapeError: conv2d:")
    assert messages[4].startswith("ShapeError: im2col:")


# --- Ctrl-C stops a long call ----------------------------------------------------------------------
@pytest.mark.parametrize("call", [  # minutes of work on 2 cores, still seconds on 64
    "F.max_pool2d(eg.ones(1, 1, 1024, 1024), 511, stride=1, padding=255)",
    "F.avg_pool2d(eg.ones(1, 1, 1024, 1024), 511, stride=1, padding=255)",
])
def test_ctrl_c_stops_a_long_pooling(call):
    code = ("import sys, engine as eg, engine.nn.functional as F\n"
            f"{call.replace('1024', '8').replace('511', '3').replace('255', '1')}  # warm up\n"
            "print('started', flush=True)\n"
            f"{call}\n"
            "print('finished', flush=True)\n")
    # SIGINT's default in the child even when this run was started in the background (which
    # leaves SIGINT ignored, inherited by children)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(0.5)  # well inside the call, which takes many seconds
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
        stopped = time.perf_counter() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert "finished" not in out
    assert child.returncode != 0 and "KeyboardInterrupt" in err, err[-2000:]
    assert stopped < 3, f"took {stopped:.1f} s to stop"


if __name__ == "__main__" and "--child" in sys.argv:
    child_main()
