"""What the kernel benchmark times: each op at the shapes of the course networks' layers.

A BenchCase builds its inputs, runs the engine op (optionally in a named variant) and, when
PyTorch is present, the same op in torch; it knows its FLOPs and the minimal bytes it must
move (every input read once, the output written once), which place it on the roofline.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import engine as eg
import engine.nn.functional as F
from engine import backend
from kernels.geometry import window_output_size


@dataclass
class BenchCase:
    op: str
    variant: str
    label: str
    shapes: tuple                  # input shapes (float32 tensors, all requiring grad)
    engine: Callable               # (*tensors) -> Tensor
    torch: Callable = None         # (torch module, *torch tensors) -> torch tensor
    flops: float = 0.0             # forward
    extra: dict = field(default_factory=dict)
    catalog: str = None            # the engine.check.catalog case that checks this op (and variant)
    quick: bool = True             # part of --quick
    backward: bool = True
    # how `flops` counts: "direct" is the textbook computation's count (for a convolution
    # 2 N Cout Hout Wout Cin kh kw, the "effective FLOPs" whatever the algorithm); a fast
    # algorithm's own count, where known, is algorithm_flops
    convention: str = "direct"
    algorithm_flops: float = None

    @property
    def name(self):
        return self.op if self.variant == "-" else f"{self.op}[{self.variant}]"

    def bytes(self, out_shape):
        return 4 * (sum(int(np.prod(s)) for s in self.shapes) + int(np.prod(out_shape)))


def _elementwise(op, fn, torch_fn, n, flops_per_element, quick=True):
    return BenchCase(op, "-", f"{n:,} floats", ((n,),), fn, torch_fn, flops_per_element * n,
                     catalog=op, quick=quick)


def _conv(variant, label, x, w, padding, quick=True):
    n, cout, h, wd = x[0], w[0], x[2] + 2 * padding - w[2] + 1, x[3] + 2 * padding - w[3] + 1
    flops = _direct_flops("conv2d", (x, w), {"padding": padding})
    # Winograd F(2x2, 3x3) multiplies 16 numbers per 2x2 output tile and channel pair, where
    # the direct convolution multiplies 36 (its transforms' additions are not counted)
    tiles = -(-h // 2) * -(-wd // 2)
    algorithm = 2.0 * n * cout * w[1] * 16 * tiles if variant == "winograd" else None
    return BenchCase("conv2d", variant, label, (x, w),
                     lambda a, b: F.conv2d(a, b, padding=padding),
                     lambda t, a, b: t.nn.functional.conv2d(a, b, padding=padding), flops,
                     catalog=f"conv2d[{variant}]", quick=quick, algorithm_flops=algorithm)


def cases():
    out = [
        _elementwise("add", lambda a: a + a, lambda t, a: a + a, 2 ** 22, 1),
        _elementwise("relu", lambda a: a.relu(), lambda t, a: a.relu(), 2 ** 22, 1),
        _elementwise("sigmoid", lambda a: a.sigmoid(), lambda t, a: a.sigmoid(), 2 ** 22, 4),
        _elementwise("exp", lambda a: a.exp(), lambda t, a: a.exp(), 2 ** 22, 1, quick=False),
        # the graph's bookkeeping per op (five tiny ops) and a memory-bound chain of ops
        BenchCase("graph", "-", "tiny:((a*b+b).relu()).sum()", ((16,), (16,)),
                  lambda a, b: ((a * b + b).relu()).sum(), lambda t, a, b: ((a * b + b).relu()).sum(),
                  5 * 16, catalog=None),
        BenchCase("graph", "-", "2^20:(ab+b).tanh()*a.sigmoid()", ((2**20,), (2**20,)),
                  lambda a, b: ((a * b + b).tanh() * a.sigmoid()).mean(),
                  lambda t, a, b: ((a * b + b).tanh() * a.sigmoid()).mean(), 10 * 2**20,
                  catalog=None),
        BenchCase("sum", "-", "4096x1024 over axis 1", ((4096, 1024),), lambda a: a.sum(axis=1),
                  lambda t, a: a.sum(1), 4096 * 1024, catalog="sum"),
        *(BenchCase("matmul", v, "1024^3", ((1024, 1024), (1024, 1024)), lambda a, b: a @ b,
                    lambda t, a, b: a @ b, 2.0 * 1024 ** 3, catalog="matmul")
          for v in backend.all_variants("matmul")),
        BenchCase("linear", "-", "mlp 128x784 -> 256", ((128, 784), (256, 784), (256,)), F.linear,
                  lambda t, a, b, c: t.nn.functional.linear(a, b, c), 2.0 * 128 * 784 * 256,
                  catalog="linear"),
        BenchCase("log_softmax", "-", "1024x1000", ((1024, 1000),), lambda a: F.log_softmax(a, 1),
                  lambda t, a: t.log_softmax(a, 1), 4 * 1024 * 1000, catalog="log_softmax"),
        BenchCase("max_pool2d", "-", "cnn 64x32x28x28 2x2", ((64, 32, 28, 28),),
                  lambda a: F.max_pool2d(a, 2), lambda t, a: t.nn.functional.max_pool2d(a, 2),
                  64 * 32 * 28 * 28, catalog="max_pool2d"),
        BenchCase("avg_pool2d", "-", "8x64x64x64 2x2", ((8, 64, 64, 64),),
                  lambda a: F.avg_pool2d(a, 2), lambda t, a: t.nn.functional.avg_pool2d(a, 2),
                  8 * 64 * 64 * 64, catalog="avg_pool2d", quick=False),
        BenchCase("interpolate", "bilinear", "unet 16x32x24x24 x2", ((16, 32, 24, 24),),
                  lambda a: F.interpolate(a, scale_factor=2, mode="bilinear"),
                  lambda t, a: t.nn.functional.interpolate(a, scale_factor=2, mode="bilinear"),
                  8 * 16 * 32 * 48 * 48, catalog="interpolate"),
        BenchCase("batch_norm", "train", "dncnn 16x32x40x40", ((16, 32, 40, 40), (32,), (32,)),
                  lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True),
                  lambda t, a, w, b: t.nn.functional.batch_norm(a, None, None, w, b, training=True),
                  8 * 16 * 32 * 40 * 40, catalog="batch_norm_train"),
        BenchCase("conv_transpose2d", "-", "unet up 16x32x12x12 k2 s2", ((16, 32, 12, 12), (32, 16, 2, 2)),
                  lambda a, b: F.conv_transpose2d(a, b, stride=2),
                  lambda t, a, b: t.nn.functional.conv_transpose2d(a, b, stride=2),
                  2.0 * 16 * 32 * 12 * 12 * 16 * 4, catalog="conv_transpose2d"),
    ]
    for variant in backend.all_variants("conv2d"):  # each device runs those it has
        out.append(_conv(variant, "mnist-cnn 64x1x28x28 * 32x1x3x3", (64, 1, 28, 28), (32, 1, 3, 3), 1))
        out.append(_conv(variant, "cnn 64x32x14x14 * 64x32x3x3", (64, 32, 14, 14), (64, 32, 3, 3), 1,
                         quick=variant != "direct"))
        if variant != "direct":  # the direct loops take seconds here
            out.append(_conv(variant, "dncnn 8x64x64x64 * 64x64x3x3", (8, 64, 64, 64), (64, 64, 3, 3),
                             1, quick=variant == "auto"))
    # the other layer shapes of the course's networks (python -m benchmarks --no-ops times the
    # networks' whole steps), with the variant auto picks
    for label, x, w in [("dncnn 16x32x40x40 * 32x32x3x3", (16, 32, 40, 40), (32, 32, 3, 3)),
                        ("unet 16x16x48x48 * 16x16x3x3", (16, 16, 48, 48), (16, 16, 3, 3)),
                        ("unet 16x32x24x24 * 32x32x3x3", (16, 32, 24, 24), (32, 32, 3, 3)),
                        ("unet 16x32x12x12 * 64x32x3x3", (16, 32, 12, 12), (64, 32, 3, 3)),
                        ("unet 16x64x12x12 * 64x64x3x3", (16, 64, 12, 12), (64, 64, 3, 3)),
                        ("unet 16x64x24x24 * 32x64x3x3", (16, 64, 24, 24), (32, 64, 3, 3)),
                        ("unet 16x32x48x48 * 16x32x3x3", (16, 32, 48, 48), (16, 32, 3, 3))]:
        out.append(_conv("auto", label, x, w, 1))
    return out


def _direct_flops(op, shapes, kwargs):
    """Multiply-adds x 2 of the direct computation (the "effective FLOPs" convention: a fast
    algorithm such as Winograd does fewer), for the ops that have a count; else 0."""
    if op in ("conv1d", "conv2d", "conv3d") and len(shapes) >= 2:
        x, w = shapes[0], shapes[1]
        spatial = len(x) - 2
        pick = {name: kwargs.get(name, default) for name, default in
                (("stride", 1), ("padding", 0), ("dilation", 1))}
        pick = {k: (tuple(v) if isinstance(v, (list, tuple)) else (v,) * spatial)
                for k, v in pick.items()}
        if isinstance(kwargs.get("padding"), str):
            return 0.0  # "same"/"valid": leave it to the user
        out = [window_output_size(n, k, s, p, d) for n, k, s, p, d in
               zip(x[2:], w[2:], pick["stride"], pick["padding"], pick["dilation"])]
        return float(2.0 * x[0] * w[0] * np.prod(out) * np.prod(w[1:]))
    if op in ("matmul", "mm", "bmm") and len(shapes) == 2 and min(map(len, shapes)) >= 2:
        batch = np.prod(np.broadcast_shapes(shapes[0][:-2], shapes[1][:-2]))
        return float(2.0 * batch * shapes[0][-2] * shapes[0][-1] * shapes[1][-1])
    if op == "linear" and len(shapes) >= 2:
        return float(2.0 * np.prod(shapes[0][:-1]) * shapes[0][-1] * shapes[1][0])
    return 0.0


def _function(namespaces, op):
    for namespace in namespaces:
        fn = getattr(namespace, op, None)
        if callable(fn):
            return fn
    return None


def named(op, shapes, kwargs=None, variant="-", backward=True):
    """A BenchCase for any op the user names, at any shapes: engine.nn.functional.op (else
    engine.op) called with float32 tensors of `shapes` in order and `kwargs`, beside
    torch.nn.functional.op (else torch.op) when PyTorch has it."""
    kwargs = dict(kwargs or {})
    shapes = tuple(tuple(s) for s in shapes)
    fn = _function((F, eg), op)
    if fn is None:
        raise SystemExit(f"unknown op {op!r}: not in engine.nn.functional nor engine")

    def torch_call(t, *tensors):
        torch_fn = _function((t.nn.functional, t), op)
        if torch_fn is None:
            raise SystemExit(f"PyTorch has no {op}")
        return torch_fn(*tensors, **kwargs)
    label = " * ".join("x".join(map(str, s)) for s in shapes) + "".join(
        f" {k}={v}" for k, v in kwargs.items())
    return BenchCase(op, variant, label, shapes, lambda *tensors: fn(*tensors, **kwargs),
                     torch_call, _direct_flops(op, shapes, kwargs), catalog=None,
                     backward=backward)
