"""Making tensors and converting them, as torch does: creation functions (their dtypes, devices,
zero-size shapes, random draws and errors), eg.tensor's dtype rules, casts and the conversion
methods (tolist, item, new_*, type, ...), on both devices."""
import numpy as np
import pytest

import engine as eg
from engine import backend

DEVICES = [pytest.param(d, marks=pytest.mark.cuda) if d == "cuda" else d
           for d in backend.DEVICES if backend.is_available(d)]


def same(t, expected, dtype=None):
    """t holds exactly `expected` (a numpy array or nest), in `dtype` (expected's by default)."""
    expected = np.asarray(expected, dtype)
    assert isinstance(t, eg.Tensor) and t.dtype == expected.dtype, (t.dtype, expected.dtype)
    np.testing.assert_array_equal(t.numpy(), expected, strict=True)


# --- filled ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_filled_tensors_their_default_dtypes_and_devices(device):
    cases = [
        (eg.zeros(2, 3, device=device), np.zeros((2, 3), np.float32)),
        (eg.zeros((2, 3), dtype=eg.int32, device=device), np.zeros((2, 3), np.int32)),
        (eg.ones([4], dtype=eg.bool, device=device), np.ones(4, bool)),
        (eg.ones(2, device=device), np.ones(2, np.float32)),
        (eg.ones(3, dtype=eg.uint8, device=device), np.ones(3, np.uint8)),
        (eg.full((2,), 7, device=device), np.full(2, 7, np.int64)),
        (eg.full((2,), True, device=device), np.full(2, True)),
        (eg.full([1, 2], 1.5, device=device), np.full((1, 2), 1.5, np.float32)),
        (eg.full((2,), 3, dtype=eg.float64, device=device), np.full(2, 3.0)),
        (eg.full((), 2.5, device=device), np.float32(2.5)),
        (eg.eye(3, device=device), np.eye(3, dtype=np.float32)),
        (eg.eye(2, 3, dtype=eg.int64, device=device), np.eye(2, 3, dtype=np.int64)),
        (eg.arange(4, device=device), np.arange(4)),
        (eg.arange(1, 8, 3, device=device), np.array([1, 4, 7])),
        (eg.arange(0.0, 1.0, 0.25, device=device), np.array([0, 0.25, 0.5, 0.75], np.float32)),
        (eg.arange(5, 0, -2, dtype=eg.float64, device=device), np.array([5.0, 3.0, 1.0])),
        (eg.arange(3, 3, device=device), np.zeros(0, np.int64)),
        (eg.linspace(-1, 1, 5, device=device), np.array([-1, -0.5, 0, 0.5, 1], np.float32)),
        (eg.linspace(0, 10, 5, dtype=eg.int64, device=device), np.array([0, 2, 5, 7, 10])),
        (eg.linspace(2, 3, 1, device=device), np.array([2], np.float32)),
        (eg.linspace(2, 3, 0, device=device), np.zeros(0, np.float32)),
        (eg.logspace(0, 2, 3, device=device), np.array([1, 10, 100], np.float32)),
        (eg.logspace(0, 3, 4, base=2, dtype=eg.float64, device=device), np.array([1, 2, 4, 8.0])),
    ]
    for t, expected in cases:
        assert t.device == device and not t.requires_grad
        same(t, expected)


@pytest.mark.parametrize("device", DEVICES)
def test_like_functions_keep_shape_dtype_and_device_unless_given(device):
    x = eg.tensor([[1, 2, 3]], dtype=eg.int32, device=device)
    same(eg.zeros_like(x), np.zeros((1, 3), np.int32))
    same(eg.ones_like(x, dtype=eg.float64), np.ones((1, 3)))
    assert eg.empty_like(x).shape == (1, 3) and eg.empty_like(x).dtype == np.int32
    same(eg.full_like(x, 7), np.full((1, 3), 7, np.int32))
    same(eg.full_like(x, 2.5, dtype=eg.float32), np.full((1, 3), 2.5, np.float32))
    moved = eg.zeros_like(x, device="cpu")
    assert moved.device == "cpu" and eg.zeros_like(x).device == device
    f = eg.zeros(2, 2, dtype=eg.float64, device=device)
    for r in (eg.rand_like(f), eg.randn_like(f)):
        assert r.shape == (2, 2) and r.dtype == np.float64 and r.device == device
    with pytest.raises(eg.DTypeError, match="rand: expected a floating-point dtype, got int32"):
        eg.rand_like(x)
    with pytest.raises(eg.DTypeError, match="zeros_like: expected a Tensor, got ndarray"):
        eg.zeros_like(np.zeros(2))


def test_requires_grad_makes_leaves_and_is_refused_for_integers():
    for make in (lambda **kw: eg.zeros(2, **kw), lambda **kw: eg.ones(2, **kw),
                 lambda **kw: eg.full((2,), 1.0, **kw), lambda **kw: eg.eye(2, **kw),
                 lambda **kw: eg.rand(2, **kw), lambda **kw: eg.randn(2, **kw),
                 lambda **kw: eg.linspace(0, 1, 2, **kw), lambda **kw: eg.arange(2.0, **kw),
                 lambda **kw: eg.zeros_like(eg.ones(2), **kw)):
        t = make(requires_grad=True)
        assert t.requires_grad and t.is_leaf
        (t * 3).sum().backward()
        same(t.grad, np.full(t.shape, 3, np.float32))
    for make in (lambda: eg.zeros(2, dtype=eg.int64, requires_grad=True),
                 lambda: eg.arange(3, requires_grad=True),
                 lambda: eg.randint(0, 3, (2,), requires_grad=True),
                 lambda: eg.full((2,), True, requires_grad=True)):
        with pytest.raises(eg.DTypeError, match="only floating-point tensors can require grad"):
            make()


# --- zero-size dimensions -------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_tensors_with_a_zero_size_dimension(device):
    made = [eg.zeros(0, 3, device=device), eg.ones(3, 0, device=device),
            eg.empty(2, 0, device=device), eg.full((0,), 1.0, device=device),
            eg.rand(0, device=device), eg.randn(0, 2, device=device),
            eg.randint(5, (0,), device=device), eg.randperm(0, device=device),
            eg.eye(0, device=device), eg.eye(2, 0, device=device),
            eg.tensor(np.zeros((0, 2)), device=device), eg.tensor([], device=device),
            eg.ones(2, device=device).new_zeros(0, 1)]
    for t in made:
        assert t.numel() == 0 and eg.numel(t) == 0 and t.device == device
        assert t.numpy().shape == t.shape and t.tolist() == np.zeros(t.shape).tolist()
        s = t.sum()
        assert s.shape == () and s.item() == 0
        assert t.to("cpu").shape == t.shape and t.to("cpu").to(device).shape == t.shape
    assert repr(eg.zeros(0, 3)) == "tensor([], size=(0, 3), dtype=float32)"
    assert repr(eg.zeros(0, dtype=eg.int64)) == "tensor([], dtype=int64)"
    if device != "cpu":
        assert repr(eg.zeros(2, 0, device=device)).endswith(f"device='{device}')")


# --- random ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_random_draws_repeat_under_manual_seed_on_every_device(device):
    def draws():
        eg.manual_seed(7)
        return [eg.rand(2, 3, device=device), eg.randn(4, device=device),
                eg.randint(3, 9, (5,), device=device), eg.randperm(6, device=device)]
    first, second = draws(), draws()
    for a, b in zip(first, second):
        assert a.device == device
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    eg.manual_seed(7)
    on_cpu = [eg.rand(2, 3), eg.randn(4), eg.randint(3, 9, (5,)), eg.randperm(6)]
    for a, c in zip(first, on_cpu):  # one generator, whatever the device
        np.testing.assert_array_equal(a.numpy(), c.numpy())
    rand, randn, randint, randperm = first
    assert rand.dtype == np.float32 and ((0 <= rand.numpy()) & (rand.numpy() < 1)).all()
    assert randn.dtype == np.float32
    assert randint.dtype == np.int64 and ((3 <= randint.numpy()) & (randint.numpy() < 9)).all()
    assert randperm.dtype == np.int64 and sorted(randperm.tolist()) == list(range(6))


def test_random_draws_cover_their_range_with_the_right_moments():
    eg.manual_seed(0)
    u = eg.rand(20000, dtype=eg.float64).numpy()
    n = eg.randn(20000).numpy()
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03
    i = eg.randint(-2, 2, size=(2000,)).numpy()
    assert set(i.tolist()) == {-2, -1, 0, 1}
    assert eg.randint(10, size=(3,)).numpy().max() < 10  # randint(high, size=...)
    assert eg.randint(low=1, high=2, size=(3,)).tolist() == [1, 1, 1]
    assert eg.randint(0, 256, (4,), dtype=eg.uint8).dtype == np.uint8
    assert eg.randint(0, 5, (2,), dtype=eg.float32).dtype == np.float32


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda: eg.zeros(2, -1), eg.ShapeError,
     r"zeros: the size must not be negative, got \(2, -1\)"),
    (lambda: eg.ones((-3,)), eg.ShapeError, r"ones: the size must not be negative"),
    (lambda: eg.empty(2.5), eg.DTypeError, r"empty: the size must be ints, got \(2.5,\)"),
    (lambda: eg.rand("3"), eg.DTypeError, r"rand: the size must be ints"),
    (lambda: eg.randn(True), eg.DTypeError, r"randn: the size must be ints"),
    (lambda: eg.full((2, -2), 1.0), eg.ShapeError, r"full: the size must not be negative"),
    (lambda: eg.full((2,), "a"), eg.DTypeError, r"full: fill_value must be a real number"),
    (lambda: eg.full((2,), 1 + 2j), eg.DTypeError, r"full: fill_value must be a real number"),
    (lambda: eg.full((2,), "a", dtype=eg.float32), eg.DTypeError, r"full: fill_value must be"),
    (lambda: eg.zeros(2, dtype=object), eg.DTypeError, r"zeros: tensors cannot have dtype object"),
    (lambda: eg.ones(2, dtype=np.complex64), eg.DTypeError, r"ones: tensors cannot have dtype"),
    (lambda: eg.zeros(2, dtype="nonsense"), eg.DTypeError, r"zeros: 'nonsense' is not a dtype"),
    (lambda: eg.eye(-1), eg.ShapeError, r"eye: the size must not be negative"),
    (lambda: eg.eye(2, 1.5), eg.DTypeError, r"eye: the size must be ints"),
    (lambda: eg.randint(5, 5, (2,)), eg.ArgumentError,
     r"randint: expected low < high, got low=5, high=5"),
    (lambda: eg.randint(3, 1, (2,)), eg.ArgumentError, r"randint: expected low < high"),
    (lambda: eg.randint(0, 1.5, (2,)), eg.DTypeError, r"randint: high must be an int, got 1.5"),
    (lambda: eg.randint(5), eg.ArgumentError, r"randint: expected \(high, size\) or"),
    (lambda: eg.randint(0, 300, (2,), dtype=eg.uint8), eg.ArgumentError,
     r"randint: \[0, 300\) does not fit dtype uint8"),
    (lambda: eg.randint(0, 3, (-1,)), eg.ShapeError, r"randint: the size must not be negative"),
    (lambda: eg.randperm(-2), eg.ShapeError, r"randperm: the size must not be negative"),
    (lambda: eg.randperm(2.0), eg.DTypeError, r"randperm: the size must be ints"),
    (lambda: eg.rand(2, dtype=eg.int64), eg.DTypeError,
     r"rand: expected a floating-point dtype, got int64"),
    (lambda: eg.randn(2, dtype=eg.bool), eg.DTypeError, r"randn: expected a floating-point"),
    (lambda: eg.linspace(0, 1, -1), eg.ArgumentError,
     r"linspace: steps must be non-negative, got -1"),
    (lambda: eg.linspace(0, 1, 2.0), eg.DTypeError, r"linspace: steps must be an int, got 2.0"),
    (lambda: eg.linspace(0, "1", 2), eg.DTypeError, r"linspace: end must be a real number"),
    (lambda: eg.logspace(0, 1, -3), eg.ArgumentError, r"logspace: steps must be non-negative"),
    (lambda: eg.arange(0, 5, 0), eg.ArgumentError, r"arange: step must be nonzero"),
    (lambda: eg.arange(0, 5, -1), eg.ArgumentError,
     r"arange: step -1 goes away from end 5 from start 0"),
    (lambda: eg.arange(0, float("inf")), eg.ArgumentError, r"arange: .* must be finite"),
    (lambda: eg.arange("3"), eg.DTypeError, r"arange: end must be a real number, got '3'"),
    (lambda: eg.zeros(2, device="tpu"), eg.DeviceError, r"unknown device 'tpu'"),
])
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- eg.tensor's dtype rules ----------------------------------------------------------------------
@pytest.mark.parametrize("data, expected", [
    ([True, False], np.array([True, False])),
    ([1, 2], np.array([1, 2], np.int64)),
    (3, np.int64(3)),
    (2.5, np.float32(2.5)),
    ([[1.5, 2]], np.array([[1.5, 2]], np.float32)),
    ([1, 2.5], np.array([1, 2.5], np.float32)),          # mixed: promoted to the default float
    ([True, 2], np.array([1, 2], np.int64)),             # bool and int: int64
    ([], np.zeros(0, np.float32)),
    ((1, 2), np.array([1, 2], np.int64)),
    ([eg.tensor(1.5), eg.tensor([2.5])], np.array([1.5, 2.5], np.float32)),  # one-element tensors
    ([[eg.tensor(1), 2]], np.array([[1, 2]], np.int64)),
    (np.arange(3, dtype=np.int16), np.arange(3, dtype=np.int16)),  # a numpy array keeps its dtype
    (np.float64(2.0), np.float64(2.0)),
    (np.array([1.0, 2.0]), np.array([1.0, 2.0])),
    (eg.tensor([1, 2], dtype=eg.uint8), np.array([1, 2], np.uint8)),
])
def test_tensor_infers_dtypes_as_torch(data, expected):
    same(eg.tensor(data), expected)


def test_tensor_copies_converts_and_refuses():
    a = np.arange(3.0)
    t = eg.tensor(a)
    a[0] = 9
    assert t.tolist() == [0.0, 1.0, 2.0]  # a copy
    same(eg.tensor([1.7, -1.7], dtype=eg.int32), np.array([1, -1], np.int32))
    same(eg.tensor([0, 2], dtype=eg.bool), np.array([False, True]))
    with pytest.raises(eg.DTypeError, match=r"tensor: a list holds a tensor of shape \(2,\); "
                                            "expected numbers or one-element tensors"):
        eg.tensor([eg.ones(2), eg.ones(2)])
    with pytest.raises(eg.DTypeError, match="tensor: cannot convert list .*rectangular"):
        eg.tensor([[1, 2], [3]])
    with pytest.raises(eg.DTypeError, match="tensor: cannot make a tensor of str"):
        eg.tensor("abc")
    with pytest.raises(eg.DTypeError, match="tensor: cannot make a tensor of list"):
        eg.tensor([1 + 2j])
    with pytest.raises(eg.DTypeError, match="each integer within int64"):
        eg.tensor([2**63])
    with pytest.raises(eg.DTypeError, match="tensor: tensors cannot have dtype object"):
        eg.tensor(np.array([None]))
    with pytest.raises(eg.DTypeError, match="tensor: tensors cannot have dtype complex128"):
        eg.tensor([1.0], dtype=complex)


# --- casts and conversions ------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_casts_between_integer_bool_and_float_tensors(device):
    x = eg.tensor([-1.5, 0.0, 2.7], device=device)
    same(x.long(), np.array([-1, 0, 2], np.int64))
    same(x.int(), np.array([-1, 0, 2], np.int32))
    same(x.bool(), np.array([True, False, True]))
    same(x.double(), np.array([-1.5, 0.0, 2.7], np.float32).astype(np.float64))
    same(x.half(), np.array([-1.5, 0.0, 2.7], np.float16))
    same(x.type(eg.uint8), np.array([-1.5, 0.0, 2.7], np.float32).astype(np.uint8))
    i = eg.tensor([0, 3], dtype=eg.uint8, device=device)
    same(i.float(), np.array([0, 3], np.float32))
    same(i.long(), np.array([0, 3], np.int64))
    same(i.bool(), np.array([False, True]))
    assert x.float() is x and i.type(eg.uint8) is i
    assert x.to(eg.float64).dtype == np.float64 and x.to("float64").dtype == np.float64
    with pytest.raises(eg.DTypeError, match="astype: tensors cannot have dtype object"):
        x.type(object)


def test_type_names_and_queries():
    x = eg.zeros(2, 3)
    assert x.type() == "engine.FloatTensor" and x.long().type() == "engine.LongTensor"
    assert eg.zeros(1, dtype=eg.bool).type() == "engine.BoolTensor"
    assert x.dim() == 2 and eg.tensor(1.0).dim() == 0
    assert x.element_size() == 4 and x.double().element_size() == 8
    assert eg.zeros(1, dtype=eg.int16).element_size() == 2 and x.bool().element_size() == 1
    assert x.is_floating_point() and x.half().is_floating_point()
    assert not x.long().is_floating_point() and not x.bool().is_floating_point()
    assert eg.is_tensor(x) and not eg.is_tensor(np.zeros(2)) and not eg.is_tensor(1.0)
    assert eg.numel(x) == 6
    with pytest.raises(eg.DTypeError, match="numel: expected a Tensor, got list"):
        eg.numel([1, 2])
    assert (eg.uint8, eg.int8, eg.int16, eg.int32, eg.int64) == (
        np.uint8, np.int8, np.int16, np.int32, np.int64)
    assert (eg.float16, eg.float32, eg.float64, eg.bool) == (
        np.float16, np.float32, np.float64, np.bool_)


@pytest.mark.cuda
@pytest.mark.skipif(not backend.is_available("cuda"), reason="no cuda device (nor simulator)")
def test_to_takes_device_and_dtype_in_either_order():
    x = eg.tensor([1.0, 2.0], requires_grad=True)
    for y in (x.to("cuda", eg.float64), x.to(eg.float64, "cuda"),
              x.to(device="cuda", dtype=eg.float64), x.to(eg.zeros(1, dtype=eg.float64,
                                                                    device="cuda"))):
        assert y.device == "cuda" and y.dtype == np.float64 and y.requires_grad
    assert eg.zeros(1, device="cuda").type() == "engine.cuda.FloatTensor"
    x.to("cuda", eg.float64).sum().backward()
    same(x.grad, np.ones(2, np.float32))


def test_an_integer_or_bool_cast_is_outside_the_graph():
    x = eg.tensor([0.5, 1.5], requires_grad=True)
    for y in (x.long(), x.int(), x.bool()):
        assert not y.requires_grad and y.is_leaf
    y = x.double()
    assert y.requires_grad
    (y * x.long().double()).sum().backward()  # the integer cast contributes no gradient
    same(x.grad, np.array([0, 1], np.float32))


@pytest.mark.parametrize("device", DEVICES)
def test_tolist_and_item_give_python_numbers(device):
    x = eg.tensor([[1.5, 2.0]], device=device)
    assert x.tolist() == [[1.5, 2.0]] and type(x.tolist()[0][0]) is float
    assert eg.tensor(3, device=device).tolist() == 3
    i = eg.tensor([[7]], device=device)
    assert i.item() == 7 and type(i.item()) is int
    assert type(eg.tensor(True, device=device).item()) is bool
    assert eg.tensor([[True, False]], device=device).tolist() == [[True, False]]
    with pytest.raises(eg.ShapeError, match=r"item: only a tensor of one element .* \(1, 2\)"):
        x.item()


@pytest.mark.parametrize("device", DEVICES)
def test_new_functions_take_this_tensors_dtype_and_device(device):
    x = eg.tensor([1, 2], dtype=eg.int32, device=device)
    for t, expected in [(x.new_zeros(2, 3), np.zeros((2, 3), np.int32)),
                        (x.new_zeros((1,)), np.zeros(1, np.int32)),
                        (x.new_ones(2), np.ones(2, np.int32)),
                        (x.new_full((2,), 5), np.full(2, 5, np.int32)),
                        (x.new_tensor([[3, 4]]), np.array([[3, 4]], np.int32)),
                        (x.new_ones(1, dtype=eg.float64), np.ones(1))]:
        assert t.device == device
        same(t, expected)
    assert x.new_empty(0, 2).shape == (0, 2) and x.new_empty(3).dtype == np.int32
    assert x.new_zeros(1, device="cpu").device == "cpu"
    f = x.new_ones(2, dtype=eg.float32, requires_grad=True)
    assert f.requires_grad and f.is_leaf
    with pytest.raises(eg.DTypeError, match="only floating-point tensors can require grad"):
        x.new_zeros(1, requires_grad=True)


def test_manual_seed_takes_torchs_range_of_ints():
    eg.manual_seed(-1)
    first = eg.rand(3)
    eg.manual_seed(2**64 - 1)  # the same seed, as torch counts it
    same(eg.rand(3), first.numpy())
    eg.manual_seed(np.int64(5))
    with pytest.raises(eg.DTypeError, match="manual_seed: expected an int, got 1.5"):
        eg.manual_seed(1.5)
    with pytest.raises(eg.ArgumentError, match=r"manual_seed: expected a seed in \[-2\*\*63"):
        eg.manual_seed(2**64)


def test_every_creation_function_and_op_is_an_engine_name():
    from engine import creation, ops
    for name in creation.__all__:
        assert getattr(eg, name) is getattr(creation, name)
    for family in ops.FAMILIES:
        for name in family.__all__:
            assert getattr(eg, name) is getattr(family, name), name
