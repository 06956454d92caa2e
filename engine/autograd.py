"""Reverse-mode autodiff: Function nodes, the backward walk over the graph, no_grad."""
import contextlib
import time

import numpy as np

import kernels

from . import profiler
from .errors import DeviceError, GraphError, ShapeError

_grad_enabled = True


def is_grad_enabled():
    return _grad_enabled


@contextlib.contextmanager
def _grad_mode(enabled):
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, enabled
    try:
        yield
    finally:
        _grad_enabled = previous


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: operations inside record no graph."""

    def __enter__(self):
        self._mode = _grad_mode(False)
        self._mode.__enter__()

    def __exit__(self, *exc):
        return self._mode.__exit__(*exc)


class enable_grad(no_grad):
    """Context manager and decorator: record the graph again inside a no_grad block."""

    def __enter__(self):
        self._mode = _grad_mode(True)
        self._mode.__enter__()


def common_device(op, tensors):
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise DeviceError(f"{op}: tensors on different devices {sorted(devices)}; "
                          "move them to one device with .to(device)")
    return devices.pop() if devices else "cpu"


class Function:
    """One operation in the graph. Subclasses define forward and backward on raw arrays.

    forward(*args, **kwargs) gets each Tensor argument as its array (other arguments as they
    are) and returns one array. backward(gy) returns one gradient (or None) per positional
    argument; a gradient may have the broadcast shape, the engine sums it back.
    `self.kernels` is the kernel table of the inputs' device.
    """

    name = None  # the op's name in errors and profiles; by default the class name in lower case
    backward_cost = 1  # the backward's FLOPs as a multiple of the forward's (2 for GEMM-like ops)
    flops = None  # set by forward where an output element costs more than one operation

    def __init__(self, kernels_table, needs_input_grad):
        self.kernels = kernels_table
        self.needs_input_grad = needs_input_grad
        self.saved = ()
        self.inputs = ()
        self.freed = False

    @classmethod
    def op_name(cls):
        return cls.name or cls.__name__.lower()

    def save(self, *values):
        self.saved = values

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def free(self):
        """Drop what backward needed; the node stays only to say it was freed."""
        self.saved, self.inputs, self.freed = None, (), True

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor
        tensors = [a for a in args if isinstance(a, Tensor)]
        device = common_device(cls.op_name(), tensors)
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = _grad_enabled and any(needs)
        fn = cls(kernels.table(device), needs)
        recording = profiler.active()
        started = time.perf_counter() if recording else 0
        out = fn.forward(*(a.data if isinstance(a, Tensor) else a for a in args), **kwargs)
        if recording:
            if fn.flops is None:
                fn.flops = float(np.prod(out.shape))
            recording.record(fn.op_name(), "forward", time.perf_counter() - started, fn.flops)
        # Only a transfer between devices (ToDevice) sets output_device.
        y = Tensor._from_array(out, getattr(fn, "output_device", device), requires_grad=record)
        if record:
            fn.inputs = args
            y._ctx = fn
        else:
            fn.saved = ()
        return y


def _topological_order(root):
    """Tensors of the graph below root, each after every tensor it was computed from."""
    from .tensor import Tensor
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t._ctx is not None:
            stack.extend((a, False) for a in t._ctx.inputs
                         if isinstance(a, Tensor) and a.requires_grad and id(a) not in seen)
    return order


def backward(root, grad=None, retain_graph=False):
    """Accumulate d root / d leaf into every leaf's .grad that requires grad."""
    from .tensor import Tensor
    if not root.requires_grad:
        raise GraphError("backward: the tensor does not require grad and has no graph")
    k = kernels.table(root.device)
    if grad is None:
        if root.numel() != 1:
            raise ShapeError(f"backward: grad can be omitted only for a tensor of one element, "
                             f"got shape {root.shape}; pass grad= of that shape")
        grad = k.from_host(np.ones(root.shape, root.dtype))
    else:
        grad = k.copy(grad.data) if isinstance(grad, Tensor) else k.from_host(np.array(grad))
        if tuple(grad.shape) != root.shape:
            raise ShapeError(f"backward: grad has shape {tuple(grad.shape)} but the tensor "
                             f"has shape {root.shape}")

    grads = {id(root): grad}
    stored = set()  # buffers already kept as a .grad in this pass
    for t in reversed(_topological_order(root)):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        fn = t._ctx
        if fn is None:
            _accumulate(t, g, stored)
            continue
        if fn.freed:
            raise GraphError(f"backward: the graph through {fn.op_name()} was freed by an earlier "
                             "backward; pass retain_graph=True to the first one to go through it twice")
        recording = profiler.active()
        started = time.perf_counter() if recording else 0
        input_grads = fn.backward(g)
        if recording:
            recording.record(fn.op_name(), "backward", time.perf_counter() - started,
                             (fn.flops or 0) * fn.backward_cost)
        inputs = fn.inputs
        if not retain_graph:
            fn.free()
        for a, ga in zip(inputs, input_grads):
            if ga is None or not (isinstance(a, Tensor) and a.requires_grad):
                continue
            k = kernels.table(a.device)
            if tuple(ga.shape) != a.shape:
                ga = k.sum_to_shape(ga, a.shape)
            previous = grads.get(id(a))
            grads[id(a)] = ga if previous is None else k.add(previous, ga)


def _accumulate(leaf, g, stored):
    """Add g to leaf.grad. A gradient array is kept without a copy unless it is a read-only view
    or its memory already went to another leaf (x + y hands both the same array), so that no
    two .grad tensors share memory."""
    from .tensor import Tensor
    k = kernels.table(leaf.device)
    g = k.astype(g, leaf.dtype)
    if leaf.grad is not None:
        g = k.add(leaf.grad.data, g)
    elif k.buffer_id(g) in stored or not k.is_writeable(g):
        g = k.copy(g)
    stored.add(k.buffer_id(g))
    leaf.grad = Tensor._from_array(g, leaf.device)
