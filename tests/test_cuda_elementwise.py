"""The cuda elementwise kernels themselves (kernels/cuda/elementwise.py), on device arrays: every
op through each of its kernels (contiguous and strided, with Python scalars in every position),
views read in place, the special values of the float ops as numpy gives them, and what an op
costs: one launch, no host-to-device copy.

In CI it runs in Numba's CUDA simulator (see conftest.py); ENGINE_TEST_GPU=1 runs it on a GPU.
"""
import itertools
import math

import numpy as np
import pytest

import engine as eg
from kernels.cuda.device import counted

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not eg.cuda.is_available(),
                                                  reason="no cuda device (nor simulator)")]

nan, inf = math.nan, math.inf


@pytest.fixture(scope="module")
def k():
    from kernels.cuda import elementwise
    return elementwise


@pytest.fixture(scope="module")
def xp():
    from kernels.cuda.device import xp
    return xp


def host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


# --- what an op costs ----------------------------------------------------------------------------

def test_an_op_is_one_launch_and_no_host_to_device_copy(k, xp):
    x = xp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    row = xp.asarray(np.ones(4, np.float32))
    y, (launches, copies) = counted(lambda: k.add(k.mul(x, 2.0), 1.0))
    assert (launches, copies) == (2, 0) and y.dtype == np.float32
    np.testing.assert_array_equal(host(y), np.arange(12).reshape(3, 4) * 2 + 1)
    zero_d = xp.asarray(np.float32(1))
    for op, expected in ((lambda: k.add(x, row), 1),  # a broadcast
                         (lambda: k.sub(x.T, 1), 1),  # a transposed view
                         (lambda: k.add(x, zero_d), 1),  # a 0-d array
                         (lambda: k.compare("ge", 2, x), 1),
                         (lambda: k.binary_op("floor_divide", x, 3.0), 1),
                         (lambda: k.unary_op("round", x), 1),
                         (lambda: k.where(k.compare("lt", x, 5.0), x, 0.0), 2)):
        assert counted(op)[1] == (expected, 0)
    empty = xp.asarray(np.zeros((0, 4), np.float32))
    y, (launches, copies) = counted(lambda: k.add(empty, row))
    assert y.shape == (0, 4) and (launches, copies) == (0, 0)


# --- every op through every kernel ---------------------------------------------------------------

def _erf(f):
    return np.vectorize(f, otypes=[np.float64])


FLOAT_UNARY = {  # name: numpy's function, in float32 on values in [-3, 3]
    "neg": np.negative, "exp": np.exp, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "tanh": np.tanh, "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x.astype(np.float64))),
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh,
    "acosh": np.arccosh, "atanh": np.arctanh, "log2": np.log2, "log10": np.log10,
    "expm1": np.expm1, "erf": _erf(math.erf), "erfc": _erf(math.erfc), "floor": np.floor,
    "ceil": np.ceil, "round": np.round, "trunc": np.trunc, "logical_not": np.logical_not}
FLOAT_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal, "atan2": np.arctan2, "copysign": np.copysign, "fmod": np.fmod,
    "remainder": np.remainder, "floor_divide": np.floor_divide, "maximum": np.maximum,
    "minimum": np.minimum, "fmax": np.fmax, "fmin": np.fmin, "logical_and": np.logical_and,
    "logical_or": np.logical_or, "logical_xor": np.logical_xor}
INT_UNARY = {"bitwise_not": np.invert}
INT_BINARY = {"bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
              "bitwise_xor": np.bitwise_xor, "fmod": np.fmod, "remainder": np.remainder,
              "floor_divide": np.floor_divide}
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")


def _op(k, name):
    """The backend function of the op `name`, on operands."""
    if name in COMPARISONS:
        return lambda *xs: k.compare(name, *xs)
    if hasattr(k, name) and name not in ("unary_op", "binary_op"):
        return getattr(k, name)
    if name in k._UNARY or name in ("logical_not", "bitwise_not"):
        return lambda x: k.unary_op(name, x)
    return lambda a, b: k.binary_op(name, a, b)


def _operands(xp, values, strided, scalars):
    """(device operands of a (5, 7) output, numpy's operands for the same values) from host
    arrays `values` of that shape: contiguous or (strided) the first array operand a transposed
    view and the others broadcast along the rows; a Python scalar where `scalars` says."""
    operands, expected, first = [], [], True
    for v, scalar in zip(values, scalars):
        if scalar:  # numpy's weak scalar: the arrays' dtype, as the kernels cast it
            operands.append(v[0, 0].item())
            expected.append(v[0, 0])
        elif not strided:
            operands.append(xp.asarray(v))
            expected.append(v)
        elif first:
            operands.append(xp.asarray(np.ascontiguousarray(v.T)).T)
            expected.append(v)
        else:
            operands.append(xp.asarray(v[:1]))
            expected.append(v[:1])
        first = first and scalar
    return operands, expected


def _check_every_kernel(k, xp, name, reference, arity, values_of, rtol=2e-6):
    """name's op through each of its kernels (_variants) against numpy's `reference`, on
    operands values_of(rng, position)."""
    rng = np.random.default_rng(sum(map(ord, name)))
    for strided, scalars in itertools.product((False, True),
                                              itertools.product((False, True), repeat=arity)):
        if all(scalars):
            continue
        operands, inputs = _operands(xp, [values_of(rng, j) for j in range(arity)], strided,
                                     scalars)
        out, (launches, copies) = counted(lambda: _op(k, name)(*operands))
        assert (launches, copies) == (1, 0), (name, strided, scalars)
        with np.errstate(all="ignore"):
            expected = np.broadcast_to(reference(*inputs), (5, 7))
        assert out.shape == (5, 7), name
        np.testing.assert_allclose(host(out), expected, rtol=rtol, atol=1e-6,
                                   err_msg=f"{name}, strided {strided}, scalars {scalars}")


def _floats(rng, position=0):
    return rng.uniform(-3, 3, (5, 7)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(FLOAT_UNARY))
def test_every_unary_kernel_in_float32(k, xp, name):
    _check_every_kernel(k, xp, name, FLOAT_UNARY[name], 1, _floats, 1e-5)


@pytest.mark.parametrize("name", sorted(FLOAT_BINARY))
def test_every_binary_kernel_in_float32(k, xp, name):
    _check_every_kernel(k, xp, name, FLOAT_BINARY[name], 2, _floats, 1e-5)


@pytest.mark.parametrize("name", sorted(INT_UNARY) + sorted(INT_BINARY))
def test_every_integer_kernel(k, xp, name):
    reference, arity = (INT_UNARY, 1) if name in INT_UNARY else (INT_BINARY, 2)
    _check_every_kernel(k, xp, name, reference[name], arity,
                        lambda rng, _: rng.integers(-7, 8, (5, 7)).astype(np.int32))


def test_every_bool_kernel(k, xp):
    bools = lambda rng, _: rng.integers(0, 2, (5, 7)).astype(bool)  # noqa: E731
    _check_every_kernel(k, xp, "bitwise_not", np.invert, 1, bools)
    _check_every_kernel(k, xp, "logical_xor", np.logical_xor, 2, bools)


def test_every_where_kernel(k, xp):
    def values_of(rng, position):  # the condition, then the two choices
        return rng.integers(0, 2, (5, 7)).astype(bool) if position == 0 else _floats(rng)
    _check_every_kernel(k, xp, "where", np.where, 3, values_of)


# --- layouts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_views_and_broadcasts_are_read_in_place(k, xp, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    d = xp.asarray(x)
    cases = [  # (device operands, host operands)
        ((d, d[0]), (x, x[0])),
        ((d, d[:, :1]), (x, x[:, :1])),                        # coalesces to two axes
        ((d[:, :, None], d[:, None]), (x[:, :, None], x[:, None])),  # (3, 4, 4, 5)
        ((d.transpose(2, 0, 1), d[0, 0][:, None, None]), (x.transpose(2, 0, 1),
                                                          x[0, 0][:, None, None])),
        ((d[:, ::2, 1:], 2.5), (x[:, ::2, 1:], 2.5)),           # sliced
        ((d[::-1], d), (x[::-1], x)),                           # negative strides
        ((xp.broadcast_to(d[:, :1], (3, 4, 5)), d), (np.broadcast_to(x[:, :1], (3, 4, 5)), x)),
        ((d[1, 2, 3, ...], d), (x[1, 2, 3, ...], x)),           # a 0-d array
        ((d[:1, :1, :1], d[1]), (x[:1, :1, :1], x[1])),
        ((xp.asarray(x[0, 0, :3]), 1.0), (x[0, 0, :3], 1.0)),   # fewer elements than threads
        ((xp.asarray(np.float32(2)), 1.0), (np.float32(2), 1.0))]  # a 0-d output
    for (a, b), (ha, hb) in cases:
        for op, reference in ((k.sub, np.subtract), (k.div, np.divide)):
            out, (launches, copies) = counted(lambda: op(a, b))
            expected = reference(ha, hb)
            assert (launches, copies) == (1, 0) and out.shape == expected.shape
            assert out.dtype == expected.dtype
            np.testing.assert_array_equal(host(out), expected)


def test_odd_sizes_and_many_axes(k, xp):
    rng = np.random.default_rng(1)
    for shape in [(1,), (7,), (1031,), (3, 1, 5, 1, 2), (2, 3, 2, 3, 2, 3)]:
        a = rng.standard_normal(shape)
        b = rng.standard_normal(shape[-1:])
        c = rng.standard_normal(shape[:1] + (1,) * (len(shape) - 1))
        for x, y in ((a, b), (b, a), (a, c), (c, a), (a.T, a.T)):
            np.testing.assert_array_equal(host(k.mul(xp.asarray(x), xp.asarray(y))), x * y)
        np.testing.assert_array_equal(host(k.where(xp.asarray(a > 0), xp.asarray(c), 0.5)),
                                      np.where(a > 0, c, 0.5))


def test_axes_merge_where_every_operand_steps_through_them_as_one(k):
    # (2, 3, 4): a contiguous operand and one broadcast along the middle axis
    assert k._coalesce((2, 3, 4), [(12, 4, 1), (4, 0, 1)]) == ((2, 3, 4), [(12, 4, 1), (4, 0, 1)])
    # along the last two: they merge
    assert k._coalesce((2, 3, 4), [(12, 4, 1), (1, 0, 0)]) == ((2, 12), [(12, 1), (1, 0)])
    assert k._coalesce((1, 5, 1, 2), [(0, 2, 0, 1)]) == ((10,), [(1,)])
    assert k._coalesce((1, 1), [(0, 0), (0, 0)]) == ((1,), [(0,), (0,)])


# --- numpy's types and special values -----------------------------------------------------------

def test_python_scalars_take_the_arrays_dtype(k, xp):
    x32, i32 = xp.asarray(np.ones(3, np.float32)), xp.asarray(np.ones(3, np.int32))
    assert k.add(x32, 2.5).dtype == np.float32 and k.mul(3, x32).dtype == np.float32
    assert k.add(i32, 7).dtype == np.int32 and k.add(i32, 2.5).dtype == np.float64
    assert k.add(x32, np.float64(1)).dtype == np.float64  # a numpy scalar is not weak
    assert k.where(k.compare("gt", x32, 0), 0, x32).dtype == np.float32
    assert k.compare("lt", i32, 1.5).dtype == np.bool_
    np.testing.assert_array_equal(host(k.compare("lt", i32, 1.5)), [True] * 3)
    y = k.where(k.compare("gt", x32, 0), -inf, nan)  # two scalars: numpy's float64
    assert y.dtype == np.float64 and host(y).tolist() == [-inf] * 3


SPECIALS = [0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 3.0, -7.0, 1e30, -1e30, inf, -inf, nan]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["fmod", "remainder", "floor_divide", "copysign"])
def test_binary_float_ops_give_numpys_special_values(k, xp, name, dtype):
    a, b = (np.array(v, dtype) for v in zip(*itertools.product(SPECIALS, repeat=2)))
    with np.errstate(all="ignore"):
        expected = getattr(np, name)(a, b)
    out = host(k.binary_op(name, xp.asarray(a), xp.asarray(b)))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(expected))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rounding_and_sigmoid_give_numpys_special_values(k, xp, dtype):
    x = np.array(SPECIALS + [2.5, 0.49999997, -1.5, 4503599627370497.0, 8388609.0], dtype)
    for name, reference in (("round", np.round), ("floor", np.floor), ("ceil", np.ceil),
                            ("trunc", np.trunc)):
        out = host(k.unary_op(name, xp.asarray(x)))
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, reference(x), err_msg=name)
        np.testing.assert_array_equal(np.signbit(out), np.signbit(reference(x)), err_msg=name)
    with np.errstate(all="ignore"):
        expected = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)
    out = host(k.sigmoid(xp.asarray(x)))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)
