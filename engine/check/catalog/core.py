"""The catalogue cases of the first ops: arithmetic, the basic reductions and shapes, linear
algebra, the losses and the convolutional family."""
import numpy as np

import kernels.reference as ref

from ... import backend, nn
from ...ops import cat, stack, where
from ...random import manual_seed
from ...tensor import Tensor
from .drawing import (Case, away_from_zero, axes, binary, broadcast_pair, distinct,  # noqa: F401
                      reduction, unary)

F = nn.functional
def _matmul_shapes(d):
    n, k, m, b = (d.integer(1, d.side) for _ in range(4))
    return d.choice([((n, k), (k, m)), ((b, n, k), (k, m)), ((b, n, k), (b, k, m)),
                     ((b, 1, n, k), (d.integer(1, 3), k, m)), ((k,), (k, m)), ((n, k), (k,)),
                     ((k,), (k,)), ((k,), (b, k, m)), ((b, n, k), (k,))])


def _draw_matmul(d):
    sa, sb = _matmul_shapes(d)
    return [d.uniform(sa), d.uniform(sb)], {}


def _draw_linear(d):
    n, i, o = (d.integer(1, d.side) for _ in range(3))
    batch = d.choice([(), (d.integer(1, 3),)])
    return [d.uniform(batch + (n, i)), d.uniform((o, i)), d.uniform((o,))], {}


def _draw_permute(d):
    shape = d.shape(1, 4, max_side=3)
    return [d.uniform(shape)], {"dims": d.permutation(len(shape))}


def _draw_reshape(d):
    shape = d.shape(1, 3)
    size = int(np.prod(shape))
    return [d.uniform(shape)], {"shape": d.choice([(-1,), (size, 1), tuple(reversed(shape)),
                                                   (1, -1, 1)])}


def _draw_flatten(d):
    shape = d.shape(1, 4, max_side=3)
    start = d.integer(0, len(shape) - 1)
    return [d.uniform(shape)], {"start_dim": start, "end_dim": d.integer(start, len(shape) - 1)}


def _draw_getitem(d):
    shape = d.shape(2, 3)
    x = d.uniform(shape)
    kind = d.choice(["slice", "int", "array", "mask"])
    if kind == "slice":
        index = (slice(d.integer(0, shape[0] - 1), None), slice(None, None, d.integer(1, 2)))
    elif kind == "int":
        index = (d.integer(-shape[0], shape[0] - 1),)
    elif kind == "array":  # repeated indices: their gradients must add up
        index = (np.array([d.integer(0, shape[0] - 1) for _ in range(d.integer(1, 5))]),)
    else:
        index = (d.booleans(shape[:2]),)
    return [x], {"index": index}


def _draw_cat(d):
    shape = list(d.shape(1, 3))
    axis = d.integer(0, len(shape) - 1)
    xs = []
    for _ in range(d.integer(1, 3)):
        shape[axis] = d.integer(1, d.side)
        xs.append(d.uniform(tuple(shape)))
    return xs, {"axis": axis}


def _draw_stack(d):
    shape = d.shape(0, 2)
    return [d.uniform(shape) for _ in range(d.integer(1, 3))], {"axis": d.integer(0, len(shape))}


def _draw_where(d):
    sa, sb = broadcast_pair(d)
    sc = d.choice([sa, sb, ()])
    return [d.uniform(sa), d.uniform(sb)], {"condition": d.booleans(sc)}


def _draw_softmax(d):
    shape = d.shape(1, 3)
    return [d.uniform(shape, -3, 3)], {"axis": d.integer(-len(shape), len(shape) - 1)}


def _draw_cross_entropy(d):
    n, c = d.integer(1, d.side), d.integer(2, d.side + 1)
    spatial = d.choice([(), (d.integer(1, 3),)])
    target = np.array([d.integer(0, c - 1) for _ in range(n * int(np.prod(spatial)))])
    return [d.uniform((n, c) + spatial, -3, 3)], {
        "target": target.reshape((n,) + spatial), "reduction": d.choice(["mean", "sum", "none"])}


def _draw_same_pair(lo_t, hi_t):
    def draw(d):
        shape = d.shape(0, 3)
        return [d.uniform(shape, -3, 3), d.uniform(shape, lo_t, hi_t)], {
            "reduction": d.choice(["mean", "sum", "none"])}
    return draw


def _tensor_target(fn):
    """fn with its `target` param made a tensor on the input's device (an integer array)."""


    def call(x, target, **params):
        return fn(x, Tensor(target, device=x.device), **params)
    return call


def _draw_conv_geometry(d):
    """Kernel, stride, padding and dilation pairs and an input size they fit (odd and even)."""
    k, s, p, dil = [(d.integer(lo, hi), d.integer(lo, hi)) for lo, hi in ((1, 3), (1, 2), (0, 2), (1, 2))]
    hw = tuple(max(d.integer(1, d.side + 2), dil[i] * (k[i] - 1) + 1 - 2 * p[i]) for i in range(2))
    return k, s, p, dil, hw


def _few(d):
    """A batch or per-group channel count: up to 2 at the default side, 1 on small draws."""
    return d.integer(1, max(1, d.side // 2))


def _draw_conv2d(d):
    (kh, kw), stride, padding, dilation, (h, w) = _draw_conv_geometry(d)
    groups = d.integer(1, 2)
    n, cin, cout = _few(d), groups * _few(d), groups * _few(d)
    return [d.uniform((n, cin, h, w)), d.uniform((cout, cin // groups, kh, kw)), d.uniform((cout,))], {
        "stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _draw_conv_transpose2d(d):
    (kh, kw), stride, padding, dilation, (h, w) = _draw_conv_geometry(d)
    output_padding = tuple(d.integer(0, max(s, dl) - 1) for s, dl in zip(stride, dilation))
    # the output must not be empty: (h - 1) * s - 2 p + d (k - 1) + op + 1 >= 1
    padding = tuple(min(p, ((n - 1) * s + dl * (k - 1) + op) // 2) for p, n, s, dl, k, op in
                    zip(padding, (h, w), stride, dilation, (kh, kw), output_padding))
    groups = d.integer(1, 2)
    n, cin, cout = _few(d), groups * _few(d), groups * _few(d)
    return [d.uniform((n, cin, h, w)), d.uniform((cin, cout // groups, kh, kw)), d.uniform((cout,))], {
        "stride": stride, "padding": padding, "output_padding": output_padding,
        "dilation": dilation, "groups": groups}


def _draw_batch_norm(d):
    shape = d.choice([(d.integer(2, d.side), d.integer(1, d.side - 1 or 1)),  # (N, C, *)
                      tuple(d.integer(1, d.side - 1 or 1) for _ in range(d.integer(3, 4))),
                      tuple(d.integer(1, 2) for _ in range(5))])
    if int(np.prod(shape)) // shape[1] < 2:
        shape = (2,) + shape[1:]
    c = shape[1]
    return [d.uniform(shape), d.uniform((c,), 0.5, 2), d.uniform((c,))], {}


def _draw_batch_norm_eval(d):
    inputs, _ = _draw_batch_norm(d)
    c = inputs[0].shape[1]
    return inputs, {"running_mean": d.uniform((c,)), "running_var": d.uniform((c,), 0.2, 2)}


def _draw_pad(d):
    shape = d.shape(1, 4, max_side=3)
    return [d.uniform(shape)], {"widths": tuple(d.integer(0, 2) for _ in range(2 * d.integer(1, len(shape))))}


def _draw_dropout(d):
    return [d.uniform(d.shape(1, 3))], {"p": d.choice([0.2, 0.5]), "seed": d.integer(0, 1000)}


def _draw_conv2d_3x3(d):
    """The geometry Winograd F(2x2, 3x3) takes: 3x3, stride 1, dilation 1, groups 1."""
    padding = (d.integer(0, 2), d.integer(0, 2))
    hw = tuple(d.integer(max(1, 3 - 2 * p), d.side + 3) for p in padding)
    n, cin, cout = _few(d), d.integer(1, d.side - 1 or 1), d.integer(1, d.side - 1 or 1)
    return [d.uniform((n, cin) + hw), d.uniform((cout, cin, 3, 3)), d.uniform((cout,))], {
        "padding": padding}


def _draw_conv2d_stride_1(d):
    """The geometry the shifted variant takes: stride 1, dilation 1, groups 1."""
    kernel = (d.integer(1, 3), d.integer(1, 3))
    padding = (d.integer(0, 2), d.integer(0, 2))
    hw = tuple(d.integer(max(1, k - 2 * p), d.side + 3) for k, p in zip(kernel, padding))
    n, cin, cout = _few(d), d.integer(1, d.side - 1 or 1), d.integer(1, d.side - 1 or 1)
    return [d.uniform((n, cin) + hw), d.uniform((cout, cin) + kernel), d.uniform((cout,))], {
        "padding": padding}


# variants that take only some geometries, with a draw of those
_CONV2D_DRAWS = {"winograd": _draw_conv2d_3x3, "shifted": _draw_conv2d_stride_1}


def _conv2d_variant(variant):
    return Case(f"conv2d[{variant}]", lambda x, w, b, **p: F.conv2d(x, w, b, variant=variant, **p),
                ref.conv2d, _CONV2D_DRAWS.get(variant, _draw_conv2d), variant=("conv2d", variant))


def _seeded_dropout(x, p, seed):
    manual_seed(seed)
    return F.dropout(x, p, training=True)


def _eval_batch_norm(x, w, b, running_mean, running_var):

    stats = [Tensor(a, dtype=x.dtype, device=x.device) for a in (running_mean, running_var)]
    return F.batch_norm(x, *stats, w, b, training=False)


CASES = [
    binary("add", lambda a, b: a + b, ref.add),
    binary("sub", lambda a, b: a - b, ref.sub),
    binary("mul", lambda a, b: a * b, ref.mul),
    binary("div", lambda a, b: a / b, ref.div, b_lo=0.5, b_kink_free=True),
    binary("pow", lambda a, b: a ** b, ref.pow, a_lo=0.5, a_hi=2.0),
    unary("pow_scalar", lambda x: x ** 3, lambda x: ref.pow(x, 3)),
    unary("rpow_scalar", lambda x: 2.0 ** x, lambda x: ref.pow(2.0, x)),
    unary("rsub_scalar", lambda x: 1.5 - x, lambda x: ref.sub(1.5, x)),
    unary("rdiv_scalar", lambda x: 1.5 / x, lambda x: ref.div(1.5, x), kink_free=True),
    unary("neg", lambda x: -x, ref.neg),
    unary("exp", lambda x: x.exp(), ref.exp),
    unary("log", lambda x: x.log(), ref.log, lo=0.2, hi=3.0),
    unary("sqrt", lambda x: x.sqrt(), ref.sqrt, lo=0.2, hi=3.0),
    unary("abs", lambda x: x.abs(), ref.abs, kink_free=True),
    unary("relu", lambda x: x.relu(), ref.relu, kink_free=True),
    unary("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda x: ref.leaky_relu(x, 0.1),
           kink_free=True),
    unary("sigmoid", lambda x: x.sigmoid(), ref.sigmoid, lo=-6.0, hi=6.0),
    unary("tanh", lambda x: x.tanh(), ref.tanh),
    Case("matmul", lambda a, b: a @ b, ref.matmul, _draw_matmul),
    Case("linear", F.linear, lambda x, w, b: ref.add(ref.matmul(x, w.T), b), _draw_linear),
    Case("linear_no_bias", F.linear, lambda x, w: ref.matmul(x, w.T),
         lambda d: (_draw_linear(d)[0][:2], {})),
    Case("permute", lambda x, dims: x.permute(*dims), lambda x, dims: ref.permute(x, dims),
         _draw_permute),
    Case("transpose_T", lambda x: x.T, lambda x: ref.permute(x, tuple(reversed(range(x.ndim)))),
         lambda d: ([d.uniform(d.shape(1, 3))], {})),
    Case("reshape", lambda x, shape: x.reshape(*shape),
         lambda x, shape: np.reshape(x, shape), _draw_reshape),
    Case("flatten", lambda x, **p: x.flatten(**p),
         lambda x, start_dim, end_dim: x.reshape(x.shape[:start_dim] + (-1,) + x.shape[end_dim + 1:]),
         _draw_flatten),
    Case("getitem", lambda x, index: x[index], lambda x, index: x[index], _draw_getitem),
    Case("cat", lambda *xs, axis: cat(xs, axis), lambda *xs, axis: ref.cat(xs, axis), _draw_cat),
    Case("stack", lambda *xs, axis: stack(xs, axis), lambda *xs, axis: ref.stack(xs, axis),
         _draw_stack),
    Case("where", lambda a, b, condition: where(condition, a, b),
         lambda a, b, condition: ref.where(condition, a, b), _draw_where),
    Case("softmax", lambda x, axis: F.softmax(x, axis), ref.softmax, _draw_softmax),
    Case("log_softmax", lambda x, axis: F.log_softmax(x, axis), ref.log_softmax, _draw_softmax),
    Case("mse_loss", F.mse_loss, ref.mse_loss, _draw_same_pair(-3, 3)),
    Case("cross_entropy", _tensor_target(F.cross_entropy), ref.cross_entropy, _draw_cross_entropy),
    Case("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
         ref.binary_cross_entropy_with_logits, _draw_same_pair(0, 1)),
    *(_conv2d_variant(name) for name in backend.all_variants("conv2d")),
    Case("conv_transpose2d", F.conv_transpose2d, ref.conv_transpose2d, _draw_conv_transpose2d),
    Case("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
         lambda x, w, b: ref.batch_norm(x, None, None, w, b, training=True), _draw_batch_norm,
         float32_tol=1e-4),
    Case("batch_norm_eval", _eval_batch_norm,
         lambda x, w, b, running_mean, running_var: ref.batch_norm(x, running_mean, running_var, w, b),
         _draw_batch_norm_eval, float32_tol=1e-4),
    Case("pad", lambda x, widths: F.pad(x, widths), ref.pad, _draw_pad),
    Case("dropout", _seeded_dropout, ref.dropout, _draw_dropout),
]
