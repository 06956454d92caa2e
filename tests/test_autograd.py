"""The graph: accumulation, freeing, no_grad, detach, long chains, creation rules."""
import numpy as np
import pytest

import engine as eg


def test_gradient_accumulates_where_a_tensor_is_used_twice():
    x = eg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 1)


def test_leaf_gradients_accumulate_across_backward_calls():
    x = eg.tensor([1.0, -2.0], requires_grad=True)
    (3 * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_accumulating_writes_into_grad_unless_someone_else_holds_it(device):
    if not eg.cuda.is_available() and device == "cuda":
        pytest.skip("cuda device unavailable")
    x = eg.tensor([1.0, -2.0], requires_grad=True, device=device)
    (3 * x).sum().backward()

    def address(a):  # of the memory (holding the array itself would count as holding it)
        return a.data.ptr if hasattr(a.data, "ptr") else a.ctypes.data
    before = address(x.grad.data)
    (3 * x).sum().backward()  # nothing but x holds its .grad: added in place, as torch
    assert address(x.grad.data) == before
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])
    held = x.grad  # the user holds the tensor: a new one, the held one unchanged
    (3 * x).sum().backward()
    assert x.grad is not held and held.numpy().tolist() == [6.0, 6.0]
    values = x.grad.numpy() if device == "cpu" else None  # the cpu array itself
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [12.0, 12.0])
    if values is not None:
        assert values.tolist() == [9.0, 9.0]


def test_second_backward_through_freed_graph_raises():
    x = eg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(eg.GraphError, match="freed"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = eg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy())


def test_backward_on_non_scalar_needs_grad():
    x = eg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(eg.ShapeError, match=r"shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0], np.float32))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])


def test_backward_without_graph_raises():
    with pytest.raises(eg.GraphError):
        eg.tensor(1.0).backward()


def test_chain_of_ten_thousand_ops_backpropagates_without_recursion():
    x = eg.tensor(1.0, dtype=eg.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert np.isclose(x.grad.item(), 1.0001 ** 10_000)


def test_long_retained_graph_can_be_dropped():
    x = eg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    y.backward(retain_graph=True)
    del y  # freeing a deep graph must not overflow the stack


def test_no_grad_records_nothing_and_detach_cuts_the_graph():
    x = eg.tensor([1.0], requires_grad=True)
    with eg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    z = x.detach() * 2
    assert not z.requires_grad
    assert eg.is_grad_enabled()


def test_no_grad_as_decorator():
    @eg.no_grad()
    def f(t):
        return t * 2
    assert not f(eg.tensor([1.0], requires_grad=True)).requires_grad


def test_gradient_of_a_broadcast_input_has_its_shape():
    a = eg.tensor(np.ones((3, 1)), requires_grad=True)
    b = eg.tensor(np.ones(4), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.numpy(), 4)
    np.testing.assert_allclose(b.grad.numpy(), 3)


def test_grad_keeps_the_leaf_dtype():
    x = eg.tensor([1.0, 2.0], requires_grad=True)
    (x * np.float64(2.0)).sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("data, dtype", [
    (1.0, np.float32), ([1.0, 2.0], np.float32), ([1, 2], np.int64), (True, np.bool_),
    (np.zeros(2, np.float64), np.float64), (np.zeros(2, np.int32), np.int32),
])
def test_tensor_dtype_follows_torch(data, dtype):
    assert eg.tensor(data).dtype == dtype


def test_python_scalars_do_not_upcast():
    x = eg.tensor([1.0, 2.0])
    assert (x * 2.5).dtype == np.float32
    assert (2 ** x).dtype == np.float32
    assert (x / 3).dtype == np.float32
    assert (eg.tensor(np.ones(2)) + eg.tensor([1.0])).dtype == np.float64


def test_creation_helpers():
    eg.manual_seed(0)
    a = eg.randn(2, 3)
    eg.manual_seed(0)
    assert np.array_equal(a.numpy(), eg.randn(2, 3).numpy())
    assert a.dtype == np.float32 and a.shape == (2, 3)
    assert eg.zeros((2, 2)).numpy().sum() == 0 and eg.ones(3).numpy().sum() == 3
    assert eg.arange(4).dtype == np.int64 and eg.arange(0.0, 1.0, 0.5).dtype == np.float32


def test_comparisons_return_bool_without_grad():
    x = eg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    assert (x == 2.0).numpy().tolist() == [False, True, False]


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(eg.DTypeError, match="floating-point"):
        eg.tensor([1, 2], requires_grad=True)


def test_item_numpy_repr_and_properties():
    x = eg.tensor([[1.0, 2.0]], requires_grad=True)
    assert x.shape == (1, 2) and x.ndim == 2 and x.device == "cpu"
    assert (x.sum()).item() == 3.0
    assert "requires_grad=True" in repr(x) and "grad_fn=sum" in repr(x.sum())
    with pytest.raises(eg.ShapeError):
        x.item()


def test_cuda_without_backend_raises_device_error():
    if eg.cuda.is_available():
        pytest.skip("a cuda device is available")
    with pytest.raises(eg.DeviceError, match="cuda"):
        eg.tensor([1.0]).to("cuda")


def test_cast_is_differentiable():
    x = eg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_no_two_leaf_gradients_share_memory():
    x = eg.tensor(np.ones(6), requires_grad=True)
    y = eg.tensor(np.ones((2, 3)), requires_grad=True)
    w = eg.tensor(np.ones(6), requires_grad=True)
    (x + y.reshape(6) + w).sum().backward()
    grads = [x.grad.numpy(), y.grad.numpy(), w.grad.numpy()]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.shares_memory(grads[i], grads[j])
    x.grad.numpy()[:] = 5  # a user's in-place change stays in that one gradient
    assert y.grad.numpy().max() == 1 and w.grad.numpy().max() == 1


def test_a_supplied_grad_is_copied():
    x = eg.tensor(np.ones(3), requires_grad=True)
    seed = np.ones(3)
    x.reshape(3).backward(seed)
    seed[:] = 7
    assert x.grad.numpy().max() == 1


class Cube(eg.Function):
    """The README's custom function: forward and backward on raw arrays."""

    def forward(self, x):
        self.save(x)
        return x ** 3

    def backward(self, gy):
        (x,) = self.saved
        return (gy * 3 * x * x,)


def test_a_users_function_joins_the_graph_and_passes_gradcheck():
    x = eg.tensor(np.linspace(-1.5, 1.5, 6).reshape(2, 3), requires_grad=True)
    y = (Cube.apply(x) * 2).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy() ** 2)
    assert eg.gradcheck(lambda t: Cube.apply(t), [x])
    with eg.profile() as p:
        Cube.apply(x).sum().backward()
    assert "cube" in {r["op"] for r in p.rows()}


def test_a_backward_with_the_wrong_number_or_shape_of_gradients_is_named():
    class TooMany(eg.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 2, gy

    class WrongShape(eg.Function):
        def forward(self, x, scale):
            return x * scale

        def backward(self, gy):
            return gy[:1], None

    x = eg.tensor(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(eg.GraphError, match="toomany: backward returned 2 gradients for 1 inputs"):
        TooMany.apply(x).sum().backward()
    with pytest.raises(eg.ShapeError, match=r"wrongshape: backward returned a gradient of shape "
                                            r"\(1, 2\) for input 0 of shape \(3, 2\)"):
        WrongShape.apply(x, 2.0).sum().backward()


def test_writing_a_saved_tensor_in_place_makes_backward_refuse():
    x = eg.tensor([1., 2.], requires_grad=True)
    w = eg.tensor([3., 4.], requires_grad=True)
    y = (w * x).sum()
    w.data += 1
    with pytest.raises(eg.GraphError, match=r"input 0 \(shape \(2,\)\) of mul was written in place"):
        y.backward()
    # a write to a tensor that the graph did not save is fine, as in torch
    b = eg.tensor([1., 1.], requires_grad=True)
    z = (x + b).sum()
    b.data = b.data * 2
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1., 1.])


def test_an_output_saved_for_backward_and_an_optimizer_step_count_as_writes():
    x = eg.tensor([0.5, -1.0], requires_grad=True)
    y = x.sigmoid()             # sigmoid saves its output
    y.data *= 2
    with pytest.raises(eg.GraphError, match="its output .* of sigmoid"):
        y.sum().backward()
    w = eg.nn.Parameter(eg.tensor([1.0, 2.0]))
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    eg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(eg.GraphError, match="of mul was written in place"):
        loss.backward()
    assert w._version.value == 1 and w.detach()._version is w._version
