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
    (lambda: t(2, 3).max(axis=(0, 0)), eg.ShapeError, r"max: axis \(0, 0\) repeats"),
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
