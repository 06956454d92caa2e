"""Bad input gets a documented error whose message names the op, what it got and what it wanted."""
import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F


def t(*shape, dtype=np.float32):
    return eg.tensor(np.ones(shape, dtype))


def test_error_classes_subclass_builtins():
    assert issubclass(eg.ShapeError, ValueError) and issubclass(eg.ShapeError, eg.EngineError)
    assert issubclass(eg.DTypeError, TypeError) and issubclass(eg.DeviceError, RuntimeError)


@pytest.mark.parametrize("call, error, message", [
    (lambda: t(3, 4) @ t(5, 6), eg.ShapeError, r"matmul: shapes \(3, 4\) and \(5, 6\) do not align \(4 != 5\)"),
    (lambda: t(2, 3, 4) @ t(3, 4, 2), eg.ShapeError, r"matmul: shapes \(2,\), \(3,\) do not broadcast"),
    (lambda: t(2, 3) + t(4), eg.ShapeError, r"add: shapes \(2, 3\), \(4,\) do not broadcast"),
    (lambda: t(2, 3) < t(4), eg.ShapeError, r"lt: shapes"),
    (lambda: t(2, 3).sum(axis=2), eg.ShapeError, r"sum: axis 2 is out of range for a tensor of 2 dimensions"),
    (lambda: t(2, 3).amax(axis=(0, 0)), eg.ShapeError, r"amax: axis \(0, 0\) repeats"),
    (lambda: t(2, 3).reshape(4, 2), eg.ShapeError, r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
    (lambda: t(2, 3).permute(0, 0), eg.ShapeError, r"permute: dims \(0, 0\) are not a permutation"),
    (lambda: eg.cat([t(2, 3), t(2, 4)], 0), eg.ShapeError, r"cat: got shapes \[\(2, 3\), \(2, 4\)\]; expected equal shapes except along axis 0"),
    (lambda: eg.stack([t(2), t(3)]), eg.ShapeError, r"stack: got shapes"),
    (lambda: eg.where(t(2), t(2), t(2)), eg.DTypeError, r"where: condition must be a bool tensor"),
    (lambda: F.softmax(t(2, 3), 3), eg.ShapeError, r"softmax: axis 3 is out of range"),
    (lambda: F.mse_loss(t(2, 3), t(3, 2)), eg.ShapeError, r"mse_loss: input has shape \(2, 3\) but target has shape \(3, 2\)"),
    (lambda: F.cross_entropy(t(4, 3), eg.tensor([0, 1, 2])), eg.ShapeError, r"cross_entropy: logits of shape \(4, 3\) and target of shape \(3,\)"),
    (lambda: F.cross_entropy(t(2, 3), eg.tensor([0, 3])), eg.ShapeError, r"cross_entropy: target values must lie in \[0, 3\), got values in \[0, 3\]"),
    (lambda: F.cross_entropy(t(2, 3), eg.tensor([0.0, 1.0])), eg.DTypeError, r"cross_entropy: target must hold integer class indices"),
    (lambda: F.cross_entropy(t(2, 3), eg.tensor([0, 1]), reduction="avg"), ValueError, r"reduction must be one of"),
    (lambda: eg.tensor([1, 2]).mean(), eg.DTypeError, r"mean: expected a floating-point tensor, got dtype int64"),
    (lambda: eg.tensor(["a"]), eg.DTypeError, r"tensor: cannot make a tensor of list"),
    (lambda: eg.tensor([1.0]).to("tpu"), eg.DeviceError, r"unknown device 'tpu'"),
])
def test_messages(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.relu([1.0, -2.0]), eg.DTypeError, r"relu: expected a Tensor argument, got list"),
    (lambda: F.dropout(t(2), p=float("nan")), eg.ArgumentError, r"dropout: Invalid dropout probability: nan"),
    (lambda: F.mse_loss(t(2), t(2), reduction="avg"), eg.ArgumentError, r"reduction must be one of"),
    (lambda: eg.where(eg.tensor([True]), [1.0], t(1)), eg.DTypeError, r"where: a and b must be"),
    (lambda: t(3)[eg.tensor([0.5])], eg.DTypeError, r"getitem: index arrays must hold integers"),
    (lambda: bool(t(2)), eg.ShapeError, r"truth value of a tensor of shape \(2,\) is ambiguous"),
    (lambda: eg.nn.init.kaiming_uniform_(t(3)), eg.ShapeError, r"fan in and fan out"),
    (lambda: eg.gradcheck(lambda x: x, [t(2)]), eg.ArgumentError, r"nothing to check"),
])
def test_more_bad_input_is_an_engine_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_pow_has_torchs_gradients_at_zero_and_for_negative_bases():
    def grads(base, exponent):
        a = eg.tensor(np.float64(base), requires_grad=True)
        b = eg.tensor(np.float64(exponent), requires_grad=True)
        (a ** b).backward()
        return a.grad.item(), b.grad.item()

    with np.errstate(all="ignore"):
        assert grads(0.0, 0.0) == (0.0, 0.0)          # torch: 0 and 0
        assert grads(0.0, 2.0) == (0.0, 0.0)
        assert grads(2.0, 0.0) == (0.0, np.log(2.0))
        x = eg.tensor([0.0, 1.5], dtype=np.float64, requires_grad=True)
        (x ** 0).sum().backward()                     # x ** 0 has gradient 0, also at 0
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
        x.grad = None
        (0.0 ** x).sum().backward()                   # a constant zero base: no math domain error
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
        x.grad = None
        ((-2.0) ** x).sum().backward()                # no real logarithm: nan, as in torch
        assert np.isnan(x.grad.numpy()).all()
    assert eg.gradcheck(lambda v: 0.5 ** v, [eg.tensor([0.3, 1.2], dtype=np.float64, requires_grad=True)])


def test_reductions_take_axis_0_and_minus_1_on_a_0d_tensor_as_torch():
    x = eg.tensor(3.0, requires_grad=True)
    for y in (x.sum(axis=0), x.sum(-1), x.mean(0), x.max(0).values, x.amax(0)):
        assert y.shape == () and y.item() == 3.0
    x.sum(0).backward()
    assert x.grad.item() == 1.0
    with pytest.raises(eg.ShapeError, match="axis 1 is out of range for a tensor of 0 dimensions"):
        x.sum(1)


def test_integers_into_float_ops_give_float32_as_torch():
    u = eg.tensor(np.array([20, 200], np.uint8))
    assert u.sigmoid().dtype == np.float32
    u = eg.tensor(np.array([20], np.uint8))
    i = eg.tensor([1, 4])
    for y in (u.sigmoid(), u.exp(), u.tanh(), i.sqrt(), i.log(), i / 2, i / i):
        assert y.dtype == np.float32, y
    assert (i / eg.tensor([1.0, 2.0], dtype=np.float64)).dtype == np.float64
