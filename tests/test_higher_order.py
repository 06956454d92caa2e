"""Gradients of gradients: create_graph, eg.autograd.grad, every catalogue op differentiated
twice on every device, and the functional API against closed forms."""
import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F
from engine import backend
from engine.check.catalog import CASES
from tests.drawer import HypothesisDrawer, for_examples

functional = eg.autograd.functional
DEVICES = [d for d in backend.DEVICES if backend.is_available(d)]


def t(values, requires_grad=True):
    return eg.tensor(np.asarray(values, np.float64), requires_grad=requires_grad)


def test_a_gradient_made_with_create_graph_can_be_differentiated_again():
    x = t([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    np.testing.assert_allclose(first.numpy(), [3.0, 12.0])
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_grad_returns_gradients_without_touching_dot_grad():
    x, y = t([1.0, -2.0]), t([0.5, 3.0])
    z = (x * y).sum() + (x * x).sum()
    gx, gy = eg.autograd.grad(z, [x, y])
    np.testing.assert_allclose(gx.numpy(), [2.5, -1.0])
    np.testing.assert_allclose(gy.numpy(), [1.0, -2.0])
    assert x.grad is None and y.grad is None and not gx.requires_grad
    with pytest.raises(eg.GraphError, match="freed"):
        eg.autograd.grad(z, [x])


def test_grad_of_an_intermediate_weights_and_unused_inputs():
    x, unused = t([1.0, 2.0, 3.0]), t([1.0])
    h = x * 2
    out = (h * h).sum()
    (gh,) = eg.autograd.grad(out, h, retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    (gx,) = eg.autograd.grad([h], [x], grad_outputs=[t([1.0, 0.0, -1.0], False)], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 0.0, -2.0])
    gx, gu = eg.autograd.grad(out, [x, unused], allow_unused=True, retain_graph=True)
    assert gu is None
    with pytest.raises(eg.GraphError, match="input 1 .* was not used"):
        eg.autograd.grad(out, [x, unused])


def test_third_derivatives_through_convolution_pooling_and_tanh():
    rng = np.random.default_rng(0)
    x = eg.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = eg.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)

    def f(x):
        return F.max_pool2d(F.conv2d(x, w, padding=1).tanh(), 2).sum()

    def third(x):
        (g,) = eg.autograd.grad(f(x), x, create_graph=True)
        (h,) = eg.autograd.grad((g * g).sum(), x, create_graph=True)
        return (h * h).sum()

    (analytic,) = eg.autograd.grad(third(x), x)
    d = rng.standard_normal(x.shape)
    eps = 1e-6
    numeric = (third(eg.tensor(x.numpy() + eps * d, requires_grad=True)).item()
               - third(eg.tensor(x.numpy() - eps * d, requires_grad=True)).item()) / (2 * eps)
    assert abs(float((analytic.numpy() * d).sum()) - numeric) <= 1e-4 * max(1.0, abs(numeric))


def test_a_users_function_written_over_tensor_operators_is_differentiable_twice():
    class Cube(eg.Function):
        def forward(self, x):
            self.save(x)
            return x ** 3

        def backward(self, gy):
            (x,) = self.saved
            return (gy * 3 * x * x,)

    x = t([1.0, 2.0])
    (g,) = eg.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = eg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])


def _second_order_matches(case, device, drawer, rng):
    """<d/dx <grad(f, x, v), u>, d> against central differences of the first gradient."""
    arrays, params = case.draw(drawer)
    xs = [eg.tensor(a.astype(np.float64), device=device, requires_grad=True) for a in arrays]
    out = case.fn(*xs, **params)
    v = eg.tensor(rng.standard_normal(out.shape), device=device)
    us = [rng.standard_normal(x.shape) for x in xs]
    ds = [rng.standard_normal(x.shape) for x in xs]

    def directional(values, create_graph):
        leaves = [eg.tensor(a, device=device, requires_grad=True) for a in values]
        grads = eg.autograd.grad(case.fn(*leaves, **params), leaves, v, allow_unused=True,
                                 create_graph=create_graph)
        return leaves, [g for g in grads]

    leaves, grads = directional([x.numpy() for x in xs], True)
    s = None
    for g, u in zip(grads, us):
        if g is not None and g.requires_grad:
            term = (g * eg.tensor(u, device=device)).sum()
            s = term if s is None else s + term
    if s is None:
        return  # a function linear in every input: its second derivative is 0, nothing to check
    hs = eg.autograd.grad(s, leaves, allow_unused=True)
    analytic = sum(float((h.numpy() * d).sum()) for h, d in zip(hs, ds) if h is not None)
    eps = 1e-6

    def value(sign):
        _, g2 = directional([x.numpy() + sign * eps * d for x, d in zip(xs, ds)], False)
        return sum(float((g.numpy() * u).sum()) for g, u in zip(g2, us) if g is not None)
    numeric = (value(1) - value(-1)) / (2 * eps)
    assert abs(analytic - numeric) <= 1e-5 + 1e-3 * abs(numeric), (case.name, analytic, numeric)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_catalogue_op_has_a_right_second_derivative(case, device):
    if not case.runs_on(device):
        pytest.skip(f"{device} has no {case.variant}")
    side = 2 if backend.simulated(device) else 3

    def check(data):
        with np.errstate(all="ignore"):
            _second_order_matches(case, device, HypothesisDrawer(data, side=side),
                                  np.random.default_rng(0))
    for_examples(case, device, check, 3)


# --- the functional API against closed forms ---------------------------------------------------
def test_quadratic_form_hessian_hvp_vhp_and_gradient():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 4))
    A, x, v = t(a, False), t(rng.standard_normal(4)), t(rng.standard_normal(4), False)

    def f(x):
        return x @ (A @ x)

    symmetric = a + a.T
    np.testing.assert_allclose(functional.hessian(f, x).numpy(), symmetric, atol=1e-12)
    value, hv = functional.hvp(f, x, v)
    np.testing.assert_allclose(hv.numpy(), symmetric @ v.numpy(), atol=1e-12)
    assert value.item() == pytest.approx(float(x.numpy() @ a @ x.numpy()))
    np.testing.assert_allclose(functional.vhp(f, x, v)[1].numpy(), v.numpy() @ symmetric, atol=1e-12)
    np.testing.assert_allclose(functional.vjp(f, x)[1].numpy(), symmetric @ x.numpy(), atol=1e-12)
    assert x.grad is None


def test_softmax_cross_entropy_hessian_is_diag_p_minus_p_p_transposed():
    rng = np.random.default_rng(2)
    z = t(rng.standard_normal(5))
    target = eg.tensor([3])

    def loss(z):
        return F.cross_entropy(z.reshape(1, 5), target)

    p = np.exp(z.numpy() - z.numpy().max())
    p /= p.sum()
    np.testing.assert_allclose(functional.hessian(loss, z).numpy(), np.diag(p) - np.outer(p, p),
                               atol=1e-12)


def test_jvp_vjp_and_jacobian_of_a_linear_map_and_of_two_inputs():
    rng = np.random.default_rng(3)
    m = rng.standard_normal((3, 4))
    M, x, u, w = (t(m, False), t(rng.standard_normal(4)), t(rng.standard_normal(4), False),
                  t(rng.standard_normal(3), False))
    np.testing.assert_allclose(functional.jvp(lambda x: M @ x, x, u)[1].numpy(), m @ u.numpy())
    np.testing.assert_allclose(functional.vjp(lambda x: M @ x, x, w)[1].numpy(), w.numpy() @ m)
    np.testing.assert_allclose(functional.jacobian(lambda x: M @ x, x).numpy(), m)
    y = t(rng.standard_normal(4))
    jx, jy = functional.jacobian(lambda a, b: a * b, (x, y))
    np.testing.assert_allclose(jx.numpy(), np.diag(y.numpy()))
    np.testing.assert_allclose(jy.numpy(), np.diag(x.numpy()))
    (hxx, hxy), (hyx, hyy) = functional.hessian(lambda a, b: (a * a * b).sum(), (x, y))
    np.testing.assert_allclose(hxy.numpy(), np.diag(2 * x.numpy()))
    np.testing.assert_allclose(hyy.numpy(), np.zeros((4, 4)))


def test_functional_results_keep_their_graph_only_with_create_graph():
    x, v = t([0.3, -0.7]), t([1.0, 2.0], False)

    def f(x):
        return (x.sin() if hasattr(x, "sin") else x.tanh()).sum()

    _, hv = functional.hvp(f, x, v)
    assert not hv.requires_grad
    _, hv = functional.hvp(f, x, v, create_graph=True)
    assert hv.requires_grad
    (third,) = eg.autograd.grad(hv.sum(), x)
    assert np.all(np.isfinite(third.numpy()))
    with pytest.raises(eg.GraphError, match="does not depend on input 0"):
        functional.vjp(lambda a: a.detach() * 2, x, v, strict=True)
