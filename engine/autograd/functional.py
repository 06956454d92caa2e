"""Derivatives of functions rather than of tensors, as torch.autograd.functional.

Each takes `func` (Tensors in, a Tensor or a tuple of Tensors out) and its inputs (a Tensor or
a tuple of them). The inputs are taken as fresh leaves, so the results do not depend on whether
the caller's tensors require grad, unless create_graph=True: then the results keep their graph
to the caller's tensors and can be differentiated again.

vjp and vhp are one backward pass. jvp and hvp use the double-vjp trick: J v is the derivative,
with respect to u, of the vector-Jacobian product u^T J, which is linear in u; it costs two
backward passes and no forward mode. jacobian and hessian take one backward per output
element (`vectorize` is accepted for torch's signature; the rows are computed one by one).
"""
from ..errors import DTypeError, GraphError, ShapeError
from ..tensor import Tensor
from . import enable_grad, grad


def _as_tuple(x, what):
    single = isinstance(x, Tensor)
    items = (x,) if single else tuple(x)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise DTypeError(f"{what} {i} must be a Tensor, got {type(t).__name__}")
    return items, single


def _leaves(inputs, create_graph):
    """Inputs to differentiate at: the caller's tensors themselves when the graph is to be
    kept (and they require grad), else fresh leaves with the same values."""
    if create_graph:
        return tuple(x if x.requires_grad else x.detach().requires_grad_(x.dtype.kind == "f")
                     for x in inputs)
    return tuple(x.detach().requires_grad_(x.dtype.kind == "f") for x in inputs)


def _zeros_like(x):
    from .. import zeros
    return zeros(*x.shape, dtype=x.dtype, device=x.device)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, what):
    """grad with unused inputs as zeros (or GraphError when strict)."""
    used = [o for o in outputs if o.requires_grad]
    gos = [g for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not used:
        found = (None,) * len(inputs)
    else:
        found = grad(used, inputs, gos, retain_graph=True, create_graph=create_graph,
                     allow_unused=True)
    result = []
    for i, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if strict:
                raise GraphError(f"{what}: the output does not depend on input {i}")
            g = _zeros_like(x)
        result.append(g if create_graph else g.detach())
    return tuple(result)


def _check_like(vs, like, what):
    for i, (v, t) in enumerate(zip(vs, like)):
        if v.shape != t.shape:
            raise ShapeError(f"{what}: v {i} has shape {v.shape} but it must match {t.shape}")


def _call(func, inputs):
    with enable_grad():
        out = func(*inputs)
    return _as_tuple(out, "output")


def _finish(outputs, single, create_graph):
    outputs = tuple(o if create_graph else o.detach() for o in outputs)
    return outputs[0] if single else outputs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product, one backward pass. v may be omitted
    for a one-element output."""
    inputs, single_in = _as_tuple(inputs, "input")
    leaves = _leaves(inputs, create_graph)
    outputs, single_out = _call(func, leaves)
    if v is None:
        if any(o.numel() != 1 for o in outputs):
            raise ShapeError("vjp: v can be omitted only when every output has one element")
        vs = tuple(None for _ in outputs)
    else:
        vs, _ = _as_tuple(v, "v")
        _check_like(vs, outputs, "vjp")
    result = _grads(outputs, leaves, vs, create_graph, strict, "vjp")
    return _finish(outputs, single_out, create_graph), result[0] if single_in else result


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product by the double-vjp trick. v may be
    omitted for a one-element input."""
    inputs, single_in = _as_tuple(inputs, "input")
    if v is None:
        if any(x.numel() != 1 for x in inputs):
            raise ShapeError("jvp: v can be omitted only when every input has one element")
        from .. import ones
        vs = tuple(ones(*x.shape, dtype=x.dtype, device=x.device) for x in inputs)
    else:
        vs, _ = _as_tuple(v, "v")
        _check_like(vs, inputs, "jvp")
    leaves = _leaves(inputs, True)
    outputs, single_out = _call(func, leaves)
    # u^T J for a variable u: linear in u, so its derivative along v is J v
    us = tuple(_zeros_like(o).requires_grad_() for o in outputs)
    vjps = _grads(outputs, leaves, us, True, strict, "jvp")
    pairs = [(g, w) for g, w in zip(vjps, vs) if g.requires_grad]
    if pairs:
        found = grad([g for g, _ in pairs], us, [w for _, w in pairs], retain_graph=True,
                     create_graph=create_graph, allow_unused=True)
    else:
        found = (None,) * len(us)
    result = tuple((g if create_graph else g.detach()) if g is not None else _zeros_like(o)
                   for g, o in zip(found, outputs))
    return _finish(outputs, single_out, create_graph), result[0] if single_out else result


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """d func / d inputs: for each output and input a Tensor of shape output.shape +
    input.shape (nested as torch: a Tensor, a tuple over inputs, or a tuple over outputs of
    those), one backward per output element."""
    from .. import stack
    inputs, single_in = _as_tuple(inputs, "input")
    leaves = _leaves(inputs, create_graph)
    outputs, single_out = _call(func, leaves)
    per_output = []
    for o in outputs:
        rows = [[] for _ in leaves]
        flat = o.reshape(-1)
        for j in range(o.numel()):
            for i, g in enumerate(_grads([flat[j]], leaves, [None], create_graph, strict,
                                         "jacobian")):
                rows[i].append(g)
        blocks = []
        for i, x in enumerate(leaves):
            if rows[i]:
                block = stack(rows[i], 0).reshape(*(o.shape + x.shape))
            else:
                from .. import zeros
                block = zeros(*(o.shape + x.shape), dtype=x.dtype, device=x.device)
            blocks.append(block if create_graph else block.detach())
        per_output.append(blocks[0] if single_in else tuple(blocks))
    return per_output[0] if single_out else tuple(per_output)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The second derivatives of a function with one output element: shape input.shape +
    input.shape (a tuple of tuples for several inputs), the Jacobian of its gradient."""
    inputs, single_in = _as_tuple(inputs, "input")

    def gradient(*xs):
        outputs, _ = _call(func, xs)
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise ShapeError("hessian: func must return a single Tensor with one element, "
                             f"got shapes {[o.shape for o in outputs]}")
        return _grads(outputs, xs, [None], True, strict, "hessian")

    result = jacobian(gradient, inputs if not single_in else inputs[0],
                      create_graph=create_graph, strict=strict)
    return result[0] if single_in else result


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a function with one output element: two backward passes."""
    inputs, single_in = _as_tuple(inputs, "input")
    vs = _vectors(v, inputs, "vhp")
    leaves = _leaves(inputs, True)
    outputs, _ = _scalar_output(func, leaves, "vhp")
    gradients = _grads(outputs, leaves, [None], True, strict, "vhp")
    pairs = [(g, w) for g, w in zip(gradients, vs) if g.requires_grad]
    result = _grads([g for g, _ in pairs], leaves, [w for _, w in pairs], create_graph, strict,
                    "vhp") if pairs else tuple(_zeros_like(x) for x in leaves)
    return _finish(outputs, True, create_graph), result[0] if single_in else result


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a function with one output element, by the double-vjp trick on
    its gradient (equal to vhp wherever the second derivatives are continuous)."""
    inputs, single_in = _as_tuple(inputs, "input")
    vs = _vectors(v, inputs, "hvp")
    leaves = _leaves(inputs, True)
    outputs, _ = _scalar_output(func, leaves, "hvp")
    gradients = _grads(outputs, leaves, [None], True, strict, "hvp")
    us = tuple(_zeros_like(g).requires_grad_() for g in gradients)
    inner = _grads([g for g in gradients if g.requires_grad], leaves,
                   [u for g, u in zip(gradients, us) if g.requires_grad], True, strict, "hvp")
    pairs = [(g, w) for g, w in zip(inner, vs) if g.requires_grad]
    found = grad([g for g, _ in pairs], us, [w for _, w in pairs], retain_graph=True,
                 create_graph=create_graph, allow_unused=True) if pairs else (None,) * len(us)
    result = tuple((g if create_graph else g.detach()) if g is not None else _zeros_like(x)
                   for g, x in zip(found, leaves))
    return _finish(outputs, True, create_graph), result[0] if single_in else result


def _vectors(v, inputs, what):
    if v is None:
        if any(x.numel() != 1 for x in inputs):
            raise ShapeError(f"{what}: v can be omitted only when every input has one element")
        from .. import ones
        return tuple(ones(*x.shape, dtype=x.dtype, device=x.device) for x in inputs)
    vs, _ = _as_tuple(v, "v")
    _check_like(vs, inputs, what)
    return vs


def _scalar_output(func, leaves, what):
    outputs, single = _call(func, leaves)
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise ShapeError(f"{what}: func must return a single Tensor with one element, got "
                         f"shapes {[o.shape for o in outputs]}")
    return outputs, single
