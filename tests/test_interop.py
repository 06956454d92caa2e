"""numpy and the engine together: from_numpy and as_tensor share memory where they can,
np.asarray(t) gives t's dtype and values, and numpy's ufuncs and operators with arrays or numpy
scalars on either side give Tensors."""
import numpy as np
import pytest

import engine as eg
from engine import backend

DEVICES = [pytest.param(d, marks=pytest.mark.cuda) if d == "cuda" else d
           for d in backend.DEVICES if backend.is_available(d)]


def same(t, expected):
    expected = np.asarray(expected)
    assert isinstance(t, eg.Tensor) and t.dtype == expected.dtype, (type(t), expected.dtype)
    np.testing.assert_array_equal(t.numpy(), expected, strict=True)


# --- from numpy -----------------------------------------------------------------------------------
def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    t = eg.from_numpy(a)
    assert t.dtype == np.int32 and t.shape == (2, 3) and t.device == "cpu"
    a[0, 0] = 40
    assert t[0, 0].item() == 40
    t.numpy()[1, 2] = -5  # a write through the tensor's array
    assert a[1, 2] == -5
    f = np.ones(3)
    w = eg.from_numpy(f)
    w.data += 1  # an in-place write, as an optimizer step does
    np.testing.assert_array_equal(f, [2.0, 2.0, 2.0])
    same(eg.from_numpy(np.array(1.5)), np.float64(1.5))  # 0-d
    same(eg.from_numpy(np.zeros((0, 2), np.uint8)), np.zeros((0, 2), np.uint8))
    strided = np.arange(10.0)[::-2]
    same(eg.from_numpy(strided), strided)


def test_from_numpy_refuses_what_it_cannot_share_and_warns_for_read_only_arrays():
    with pytest.raises(eg.DTypeError, match="from_numpy: expected a numpy ndarray, got list"):
        eg.from_numpy([1, 2])
    with pytest.raises(eg.DTypeError, match="from_numpy: tensors cannot have dtype complex128"):
        eg.from_numpy(np.ones(2, complex))
    with pytest.raises(eg.DTypeError, match="from_numpy: tensors cannot have dtype <U1"):
        eg.from_numpy(np.array(["a"]))
    with pytest.raises(eg.DTypeError, match="from_numpy: the array has dtype >f8, in non-native"):
        eg.from_numpy(np.ones(2, ">f8"))
    a = np.arange(3.0)
    a.flags.writeable = False
    with pytest.warns(UserWarning, match="from_numpy: the array is not writeable"):
        t = eg.from_numpy(a)
    same(t * 2, [0.0, 2.0, 4.0])  # reading works; writing fails as numpy's would
    with pytest.raises(ValueError, match="read-only"):
        t.numpy()[0] = 1


def test_as_tensor_copies_only_where_it_must():
    a = np.arange(3.0)
    t = eg.as_tensor(a)
    a[0] = 7
    assert t.dtype == np.float64 and t[0].item() == 7  # shared
    c = eg.as_tensor(a, dtype=eg.float32)
    a[1] = 8
    same(c, np.array([7, 1, 2], np.float32))  # converted, so copied
    same(eg.as_tensor([1, 2]), np.array([1, 2], np.int64))
    same(eg.as_tensor(2.5), np.float32(2.5))
    same(eg.as_tensor(np.ones(2, ">f4")), np.ones(2, np.float32))  # byte order converted
    with pytest.raises(eg.DTypeError, match="as_tensor: tensors cannot have dtype object"):
        eg.as_tensor(np.array([None]))
    x = eg.tensor([1.0, 2.0], requires_grad=True)
    assert eg.as_tensor(x) is x and eg.as_tensor(x, dtype=eg.float32, device="cpu") is x
    y = eg.as_tensor(x, dtype=eg.float64)
    assert y.dtype == np.float64 and y.requires_grad  # a differentiable conversion, as torch


@pytest.mark.parametrize("device", DEVICES)
def test_as_tensor_on_a_device(device):
    a = np.arange(3, dtype=np.int16)
    t = eg.as_tensor(a, device=device)
    assert t.device == device and t.dtype == np.int16
    assert eg.as_tensor(t, device=device) is t
    same(eg.as_tensor(t, device="cpu"), a)


# --- to numpy -------------------------------------------------------------------------------------
def test_asarray_gives_the_dtype_and_values_and_shares_cpu_memory():
    for t in (eg.tensor([1.5, 2.5]), eg.tensor([[1, 2]]), eg.tensor([True]), eg.zeros(0, 2),
              eg.tensor(3.0, dtype=eg.float64), eg.ones(2, dtype=eg.uint8)):
        a = np.asarray(t)
        assert type(a) is np.ndarray and a.dtype == t.dtype and a.shape == t.shape
        np.testing.assert_array_equal(a, t.numpy())
    t = eg.tensor([1.0, 2.0])
    np.asarray(t)[0] = 5
    assert t[0].item() == 5  # as torch: np.asarray shares a cpu tensor's memory
    copied = np.array(t)
    copied[1] = 9
    assert t[1].item() == 2
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="cannot give an array of dtype float64 without a copy"):
        np.array(t, dtype=np.float64, copy=False)
    assert np.array(t, copy=False) is t.data


@pytest.mark.cuda
@pytest.mark.skipif(not backend.is_available("cuda"), reason="no cuda device (nor simulator)")
def test_asarray_copies_a_cuda_tensor_and_refuses_copy_false():
    t = eg.tensor([1, 2], device="cuda")
    a = np.asarray(t)
    assert a.dtype == np.int64 and a.tolist() == [1, 2]
    with pytest.raises(ValueError, match="a cuda tensor of dtype int64 cannot give"):
        np.array(t, copy=False)


# --- numpy's ufuncs and operators -----------------------------------------------------------------
def test_numpy_arrays_on_the_left_of_an_operator_give_tensors():
    t = eg.tensor([1.0, 2.0, 4.0])
    a = np.array([2.0, 2.0, 2.0], np.float32)
    same(a + t, np.array([3.0, 4.0, 6.0], np.float32))
    same(a - t, np.array([1.0, 0.0, -2.0], np.float32))
    same(a * t, np.array([2.0, 4.0, 8.0], np.float32))
    same(a / t, np.array([2.0, 1.0, 0.5], np.float32))
    same(a ** t, np.array([2.0, 4.0, 16.0], np.float32))
    same(np.ones(3) + t, np.array([2.0, 3.0, 5.0]))  # a float64 array promotes, as a tensor would
    same(a == t, np.array([False, True, False]))
    same(a < t, np.array([False, False, True]))
    same(a >= t, np.array([True, True, False]))
    same(np.ones((2, 3), np.float32) @ eg.ones(3, 1), np.full((2, 1), 3, np.float32))


def test_numpy_scalars_on_either_side_act_as_python_numbers():
    t = eg.tensor([1.0, 2.0])
    for scalar in (np.float64(2), np.float32(2), np.int64(2)):
        same(scalar * t, np.array([2.0, 4.0], np.float32))  # the tensor's dtype stays
        same(scalar - t, np.array([1.0, 0.0], np.float32))
    same(np.float64(2) + eg.tensor([1, 2]), np.array([3.0, 4.0], np.float32))
    same(np.int32(3) * eg.tensor([1, 2]), np.array([3, 6], np.int64))
    same(np.float64(1.5) > t, np.array([True, False]))


def test_ufuncs_called_on_tensors_run_the_engine_and_keep_the_graph():
    x = eg.tensor([0.5, 2.0], requires_grad=True)
    same(np.exp(x), np.exp(np.array([0.5, 2.0], np.float32)))
    same(np.negative(x), np.array([-0.5, -2.0], np.float32))
    same(np.absolute(-x), np.array([0.5, 2.0], np.float32))
    same(np.subtract(x, 1), np.array([-0.5, 1.0], np.float32))
    y = np.multiply(x, np.log(x)) + np.sqrt(x)
    assert isinstance(y, eg.Tensor) and y.requires_grad
    y.sum().backward()
    xs = np.array([0.5, 2.0], np.float32)
    np.testing.assert_allclose(x.grad.numpy(), np.log(xs) + 1 + 0.5 / np.sqrt(xs), rtol=1e-6)


def test_ufuncs_the_engine_lacks_or_cannot_take_raise_numpys_type_error():
    t = eg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="__array_ufunc__"):
        np.add.reduce(t)
    with pytest.raises(TypeError, match="__array_ufunc__"):
        np.add(t, t, out=np.zeros(2))
    with pytest.raises(TypeError, match="__array_ufunc__"):
        np.frexp(t)  # no torch name
    with pytest.raises(TypeError, match="__array_ufunc__"):
        np.add(t, np.datetime64("2020-01-01"))


def test_ufuncs_mapped_to_engine_names_that_exist_by_the_end():
    """These need the elementwise family's names (eg.sin, eg.maximum, eg.floor_divide, ...)."""
    x = eg.tensor([0.25, 1.5])
    y = eg.tensor([1.0, 1.0])
    ref = np.array([0.25, 1.5], np.float32)
    for ufunc in (np.sin, np.cos, np.tanh, np.floor, np.square, np.log1p):
        same(ufunc(x), ufunc(ref))
    same(np.maximum(x, y), np.maximum(ref, np.float32(1)))
    same(np.minimum(np.ones(2, np.float32), x), np.minimum(ref, np.float32(1)))
    same(np.floor_divide(np.float32(3), x), np.floor_divide(np.float32(3), ref))
    same(np.ones(2, np.float32) // x, np.floor_divide(np.float32(1), ref))
    same(np.isnan(x), np.array([False, False]))


@pytest.mark.cuda
@pytest.mark.skipif(not backend.is_available("cuda"), reason="no cuda device (nor simulator)")
def test_numpy_operands_with_a_cuda_tensor():
    t = eg.tensor([1.0, 2.0], device="cuda")
    same(np.float64(2) * t, np.array([2.0, 4.0], np.float32))
    assert (np.float32(1) + t).device == "cuda"
    with pytest.raises(eg.DeviceError, match="different devices"):
        np.ones(2, np.float32) + t  # no silent transfer, as torch
