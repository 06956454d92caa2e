"""The elementwise family beyond the catalogue: torch's type promotion, numpy operands, pow's
gradients at 0 and for negative bases, the ops without a gradient (bitwise, logical, tests,
floor_divide), integer and bool inputs, zero-size tensors and errors, on every device."""
import math

import numpy as np
import pytest

import engine as eg
from engine import backend
from engine.ops import elementwise as ew

DEVICES = [d for d in backend.DEVICES if backend.is_available(d)]
nan, inf = math.nan, math.inf


def t(values, dtype=None, device="cpu", requires_grad=False):
    return eg.tensor(np.asarray(values, dtype), device=device, requires_grad=requires_grad)


def grads(fn, *xs):
    """The gradients of fn(*xs).sum() with respect to every x."""
    out = fn(*xs)
    return [g.numpy() for g in eg.autograd.grad(out.sum(), list(xs))]


# --- type promotion ----------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, expected", [
    (t([1], np.int64), t([1.0], np.float32), np.float32),   # numpy: float64
    (t([1], np.uint8), t([1.0], np.float16), np.float16),
    (t([1], np.uint8), 2.5, np.float32),                    # a number brings the default float
    (t([1], np.int32), 2.5, np.float32),
    (t([1], np.int32), 7, np.int32),                        # same category: the tensor's dtype
    (t([1.0], np.float32), t(2.0, np.float64), np.float32),  # a 0-d tensor ranks lower
    (t([1], np.int32), t(2.0, np.float64), np.float64),     # ... unless of a higher category
    (t([True]), 3, np.int64),
    (t([True]), t(3, np.int8), np.int8),
    (t([1], np.uint8), t([1], np.int8), np.int16),
    (t(1, np.int16), t(1, np.int32), np.int32),
    (t([1.0], np.float16), t([1.0], np.float64), np.float64),
])
def test_result_type_is_torchs(a, b, expected):
    assert ew.result_type(a, b) == expected
    assert (a + b).dtype == expected
    assert (b * a).dtype == expected


def test_true_division_and_float_functions_of_integers_give_float32():
    i = t([3, 4], np.int64)
    assert (i / t([2, 8], np.int64)).dtype == np.float32
    np.testing.assert_allclose((i / 2).numpy(), [1.5, 2.0])
    for f in (eg.sin, eg.exp, eg.sqrt, eg.log2, eg.erf, eg.rsqrt, eg.exp2, eg.reciprocal):
        assert f(i).dtype == np.float32, f
    assert (t([1], np.uint8) / 2).dtype == np.float32  # never float16
    assert eg.atan2(i, i).dtype == np.float32


def test_comparisons_compare_in_the_promoted_dtype():
    # 16777217 is no float32: as torch, int64 vs float32 compares in float32
    big = t([16777217], np.int64)
    assert (big == t([16777216.0], np.float32)).numpy().tolist() == [True]
    assert eg.lt(t([1, 2]), 1.5).numpy().tolist() == [True, False]


def test_a_float32_tensor_and_a_float64_tensor_give_float64_and_gradients_in_their_dtypes():
    a, b = t([1.0, 2.0], np.float32, requires_grad=True), t([3.0, 4.0], requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


# --- numpy operands ----------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_numpy_operands_give_tensors_on_the_tensors_device(device):
    x = t([1.0, 2.0, 3.0], np.float32, device)
    out = x + np.ones(3)
    assert isinstance(out, eg.Tensor) and out.device == device
    assert out.dtype == np.float64  # a numpy array is a dimensioned tensor of its dtype
    np.testing.assert_allclose(out.numpy(), [2.0, 3.0, 4.0])
    out = np.float64(2) * x  # a numpy scalar is a number
    assert isinstance(out, eg.Tensor) and out.dtype == np.float32 and out.device == device
    np.testing.assert_allclose(out.numpy(), [2.0, 4.0, 6.0])
    assert eg.maximum(x, np.array([2.0, 2.0, 2.0], np.float32)).numpy().tolist() == [2, 2, 3]
    assert (x - np.int64(1)).dtype == np.float32


# --- pow ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_pow_gradients_at_zero_and_for_negative_bases_are_torchs(device):
    def tt(values):
        return t(values, device=device, requires_grad=True)
    with np.errstate(all="ignore"):
        # a number base 0: the exponent gradient is 0 where exponent >= 0, else y * log(0)
        x = tt([0.5, 2.0, 0.0, -0.3])
        np.testing.assert_array_equal((0.0 ** x).numpy(), [0.0, 0.0, 1.0, inf])
        np.testing.assert_array_equal(grads(lambda x: 0.0 ** x, x)[0], [0.0, 0.0, 0.0, -inf])
        # a negative number base: no real logarithm, so nan (no math domain error)
        x = tt([2.0, 0.5])
        np.testing.assert_array_equal(grads(lambda x: (-2.0) ** x, x)[0], [nan, nan])
        # x ** 0 has gradient 0 everywhere, 0 included, for a number or a tensor exponent
        x = tt([0.0, 3.0])
        np.testing.assert_array_equal(grads(lambda x: x ** 0, x)[0], [0.0, 0.0])
        # 0 ** 0 with both tensors: 1, and gradients 0 and 0
        a, b = tt([0.0]), tt([0.0])
        assert (a ** b).numpy().tolist() == [1.0]
        assert [g.tolist() for g in grads(lambda a, b: a ** b, a, b)] == [[0.0], [0.0]]
        # 0 ** -0.3: inf; base gradient -0.3 * 0 ** -1.3 = -inf, exponent one inf * log(0)
        a, b = tt([0.0]), tt([-0.3])
        assert [g.tolist() for g in grads(lambda a, b: a ** b, a, b)] == [[-inf], [-inf]]
        # a negative tensor base: its exponent gradient is nan, its base gradient real
        a, b = tt([-2.0]), tt([2.0])
        ga, gb = grads(lambda a, b: a ** b, a, b)
        assert ga.tolist() == [-4.0] and np.isnan(gb).all()


@pytest.mark.parametrize("device", DEVICES)
def test_pow_second_derivatives(device):
    x = t([0.0, 1.5], device=device, requires_grad=True)
    (g,) = eg.autograd.grad((x ** 2).sum(), x, create_graph=True)
    (h,) = eg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [2.0, 2.0])
    (g,) = eg.autograd.grad((x ** 0).sum(), x, create_graph=True)
    assert not g.requires_grad or eg.autograd.grad(g.sum(), x)[0].numpy().tolist() == [0, 0]
    a = t([0.7, 1.3], device=device, requires_grad=True)
    b = t([-1.2, 2.1], device=device, requires_grad=True)
    assert eg.gradgradcheck(lambda a, b: a ** b, [a, b])
    assert eg.gradgradcheck(lambda b: 3.0 ** b, [b])


def test_integer_pow_stays_integer_and_a_float_exponent_promotes():
    assert (t([2, 3]) ** 2).dtype == np.int64
    assert (t([2, 3]) ** 2).numpy().tolist() == [4, 9]
    assert (t([4, 9]) ** 0.5).dtype == np.float32


# --- rounding, division, remainders --------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_rounding_keeps_the_dtype_and_halves_to_even(device):
    x = t([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1.7, -1.2], np.float32, device)
    assert eg.round(x).numpy().tolist() == [-2, -2, -0, 0, 2, 2, 2, -1]
    assert eg.floor(x).numpy().tolist() == [-3, -2, -1, 0, 1, 2, 1, -2]
    assert eg.ceil(x).numpy().tolist() == [-2, -1, -0, 1, 2, 3, 2, -1]
    assert eg.trunc(x).numpy().tolist() == [-2, -1, -0, 0, 1, 2, 1, -1]
    assert np.signbit(eg.ceil(t([-0.5], device=device)).numpy()).all()  # -0.0, as torch
    np.testing.assert_allclose(eg.frac(x).numpy(), np.asarray(x.numpy()) - np.trunc(x.numpy()))
    assert eg.round(x).dtype == np.float32
    np.testing.assert_allclose(eg.round(t([1.234, 15.5], device=device), decimals=1).numpy(),
                               [1.2, 15.5])
    np.testing.assert_allclose(eg.round(t([1234.0, 1250.0], device=device), decimals=-2).numpy(),
                               [1200.0, 1200.0])
    i = t([-3, 4], np.int32, device)
    for f in (eg.floor, eg.ceil, eg.round, eg.trunc):
        assert f(i).dtype == np.int32 and f(i).numpy().tolist() == [-3, 4]
    assert eg.sign(t([-2.0, 0.0, 3.0], device=device)).numpy().tolist() == [-1, 0, 1]
    assert eg.sign(t([True, False], device=device)).numpy().tolist() == [True, False]


def test_stepped_ops_have_zero_gradients():
    x = t([0.3, -1.7], requires_grad=True)
    for f in (eg.floor, eg.ceil, eg.round, eg.trunc, eg.sign):
        assert grads(f, x)[0].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("device", DEVICES)
def test_remainder_takes_the_divisors_sign_fmod_the_dividends_floor_divide_rounds_down(device):
    a, b = [5, -5, 5, -5, 7], [3, 3, -3, -3, 7]
    for dtype in (np.int64, np.float32):
        x, y = t(a, dtype, device), t(b, dtype, device)
        assert (x % y).numpy().tolist() == [2, 1, -1, -2, 0]
        assert eg.fmod(x, y).numpy().tolist() == [2, -2, 2, -2, 0]
        assert (x // y).numpy().tolist() == [1, -2, -2, 1, 1]
        assert eg.div(x, y, rounding_mode="trunc").numpy().tolist() == [1, -1, -1, 1, 1]
        assert eg.div(x, y, rounding_mode="floor").numpy().tolist() == [1, -2, -2, 1, 1]
        assert (x // y).dtype == dtype and (x % 2).dtype == dtype
    assert (t([7.5], device=device) % -2).numpy().tolist() == [-0.5]
    assert (t([7], device=device) // 2.0).dtype == np.float32


def test_rounded_division_has_zero_gradients_and_modes_are_checked():
    x = t([3.5, -2.0], requires_grad=True)
    assert grads(lambda x: eg.div(x, 2.0, rounding_mode="floor"), x)[0].tolist() == [0.0, 0.0]
    with pytest.raises(eg.ArgumentError, match="rounding_mode"):
        eg.div(x, 2.0, rounding_mode="round")


# --- extrema, clamp, nan -------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_maximum_propagates_nan_and_fmax_ignores_it(device):
    a, b = t([1.0, nan, nan, 4.0], device=device), t([nan, 2.0, nan, 3.0], device=device)
    np.testing.assert_array_equal(eg.maximum(a, b).numpy(), [nan, nan, nan, 4.0])
    np.testing.assert_array_equal(eg.minimum(a, b).numpy(), [nan, nan, nan, 3.0])
    np.testing.assert_array_equal(eg.fmax(a, b).numpy(), [1.0, 2.0, nan, 4.0])
    np.testing.assert_array_equal(eg.fmin(a, b).numpy(), [1.0, 2.0, nan, 3.0])
    assert eg.maximum(t([1, 5], device=device), t([3, 2], device=device)).numpy().tolist() == [3, 5]


def test_extrema_gradients_split_ties_as_torch():
    a, b = t([1.0, 2.0, 3.0], requires_grad=True), t([1.0, 5.0, 0.0], requires_grad=True)
    assert [g.tolist() for g in grads(eg.maximum, a, b)] == [[0.5, 0, 1], [0.5, 1, 0]]
    assert [g.tolist() for g in grads(eg.minimum, a, b)] == [[0.5, 1, 0], [0.5, 0, 1]]
    assert [g.tolist() for g in grads(eg.fmax, a, b)] == [[1, 0, 1], [0, 1, 0]]  # ties: a
    b = t([nan, 5.0, 0.0], requires_grad=True)
    assert [g.tolist() for g in grads(eg.fmax, a, b)] == [[1, 0, 1], [0, 1, 0]]


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_passes_the_gradient_at_its_bounds_and_takes_torchs_dtype(device):
    x = t([-1.0, -0.5, 0.0, 0.5, 1.0], device=device, requires_grad=True)
    assert eg.clamp(x, -0.5, 0.5).numpy().tolist() == [-0.5, -0.5, 0.0, 0.5, 0.5]
    assert grads(lambda x: x.clamp(-0.5, 0.5), x)[0].tolist() == [0, 1, 1, 1, 0]  # inclusive
    assert grads(lambda x: x.clip(max=0.0), x)[0].tolist() == [1, 1, 1, 0, 0]
    assert eg.clamp(x, 0.6, 0.2).numpy().tolist() == [0.2] * 5  # min > max gives max
    lo = t([0.0] * 5, device=device, requires_grad=True)
    hi = t([0.5, 0.5, 0.5, 0.5, -1.0], device=device, requires_grad=True)
    assert [g.tolist() for g in grads(eg.clamp, x, lo, hi)] == \
        [[0, 0, 1, 1, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 1]]
    assert eg.clamp(t([1, 5], device=device), 0, 3).dtype == np.int64
    assert eg.clamp(t([1, 5], device=device), 0.5).dtype == np.float32
    with pytest.raises(eg.ArgumentError, match="clamp"):
        eg.clamp(x)


# --- tests, bitwise and logical ops --------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_value_tests_and_isclose(device):
    x = t([1.0, nan, inf, -inf], device=device)
    assert eg.isnan(x).numpy().tolist() == [False, True, False, False]
    assert eg.isinf(x).numpy().tolist() == [False, False, True, True]
    assert eg.isfinite(x).numpy().tolist() == [True, False, False, False]
    i = t([1, 2], device=device)
    assert eg.isfinite(i).numpy().tolist() == [True, True] and not eg.isnan(i).numpy().any()
    a = t([1.0, 1.0, nan, inf, 1e-9], device=device)
    b = t([1.0 + 1e-6, 1.1, nan, inf, 0.0], device=device)
    assert eg.isclose(a, b).numpy().tolist() == [True, False, False, True, True]
    assert eg.isclose(a, b, equal_nan=True).numpy().tolist() == [True, False, True, True, True]
    assert eg.isclose(a, b, rtol=0.2).numpy().tolist()[1]
    assert eg.allclose(a[:1], b[:1]) is True and eg.allclose(a, b) is False


@pytest.mark.parametrize("device", DEVICES)
def test_bitwise_and_logical_ops(device):
    a, b = t([12, 10, -1], np.int32, device), t([10, 6, 3], np.int32, device)
    assert (a & b).numpy().tolist() == [8, 2, 3]
    assert (a | b).numpy().tolist() == [14, 14, -1]
    assert (a ^ b).numpy().tolist() == [6, 12, -4]
    assert (~a).numpy().tolist() == [-13, -11, 0] and (a & b).dtype == np.int32
    p, q = t([True, True, False], device=device), t([True, False, False], device=device)
    assert (p & q).numpy().tolist() == [True, False, False] and (p & q).dtype == np.bool_
    assert (~p).numpy().tolist() == [False, False, True]
    assert (p ^ q).numpy().tolist() == [False, True, False]
    assert (p | 1).dtype == np.int64
    x = t([0.0, 2.0, -1.0], device=device)
    assert eg.logical_and(x, a).numpy().tolist() == [False, True, True]
    assert eg.logical_or(x, 0).numpy().tolist() == [False, True, True]
    assert eg.logical_xor(x, p).numpy().tolist() == [True, False, True]
    assert eg.logical_not(x).numpy().tolist() == [True, False, False]


def test_bad_operands_are_refused_by_name():
    x = t([1.0, 2.0])
    with pytest.raises(eg.DTypeError, match="bitwise_and.*float"):
        x & x
    with pytest.raises(eg.DTypeError, match="bitwise_not"):
        ~x
    with pytest.raises(eg.DTypeError, match="neg: .*bool"):
        -t([True])
    with pytest.raises(eg.DTypeError, match="sub: .*bool"):
        t([True]) - t([False])
    with pytest.raises(eg.DTypeError, match="remainder.*bool"):
        eg.remainder(t([True]), t([True]))
    with pytest.raises(eg.ShapeError, match="atan2"):
        eg.atan2(t([1.0, 2.0]), t([1.0, 2.0, 3.0]))
    with pytest.raises(eg.DTypeError, match="sin"):
        eg.sin([1.0])


# --- every op on zero-size tensors and through the Tensor methods --------------------------------

UNARY = ["neg", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "abs",
         "reciprocal", "square", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
         "asinh", "acosh", "atanh", "erf", "erfc", "sign", "floor", "ceil", "round", "trunc",
         "frac", "isnan", "isinf", "isfinite", "logical_not"]
BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "atan2",
          "copysign", "maximum", "minimum", "fmax", "fmin", "logaddexp", "eq", "lt", "isclose",
          "logical_and", "logical_xor"]


@pytest.mark.parametrize("device", DEVICES)
def test_zero_size_tensors_go_through_every_op(device):
    x = t(np.zeros((0, 3)), np.float32, device)
    for name in UNARY:
        out = getattr(x, name)()
        assert out.shape == (0, 3), name
    for name in BINARY:
        assert getattr(eg, name)(x, t(np.ones(3), np.float32, device)).shape == (0, 3), name
    assert eg.lerp(x, x, 0.5).shape == (0, 3) and eg.clamp(x, 0, 1).shape == (0, 3)
    i = t(np.zeros((2, 0)), np.int64, device)
    assert (i & i).shape == (2, 0) and (~i).shape == (2, 0) and (i // 2).shape == (2, 0)


def test_functions_and_methods_carry_torchs_names_and_aliases():
    x = t([0.25, 0.5], requires_grad=True)
    np.testing.assert_allclose(x.asin().numpy(), eg.arcsin(x).numpy())
    np.testing.assert_allclose(eg.multiply(x, 2).numpy(), (x * 2).numpy())
    np.testing.assert_allclose(eg.subtract(x, 1, alpha=2).numpy(), (x - 2).numpy())
    np.testing.assert_allclose(eg.add(x, x, alpha=3).numpy(), (x * 4).numpy())
    np.testing.assert_allclose(eg.true_divide(x, 2).numpy(), eg.divide(x, 2).numpy())
    np.testing.assert_allclose(x.lerp(t([1.0, 1.0]), 0.5).numpy(), [0.625, 0.75])
    np.testing.assert_allclose(eg.logaddexp(t([inf, -inf, 1000.0]), t([inf, -inf, 1000.0])).numpy(),
                               [inf, -inf, 1000.0 + math.log(2)])
    assert eg.negative(x).numpy().tolist() == [-0.25, -0.5]


def test_out_of_domain_inputs_give_nan_and_inf_on_every_device_as_on_a_gpu():
    # the simulator runs Python's math, which raises there: it must answer as CUDA does
    values = np.array([0.0, -1.0, 1.0, 2.0], np.float32)
    for name in ("log", "log2", "log10", "log1p", "sqrt", "asin", "acos", "acosh", "atanh"):
        results = {}
        for device in ("cpu", "cuda"):
            with np.errstate(all="ignore"):
                results[device] = getattr(eg, name)(eg.tensor(values - (name == "log1p"),
                                                              device=device)).numpy()
        np.testing.assert_array_equal(results["cuda"], results["cpu"], err_msg=name)
