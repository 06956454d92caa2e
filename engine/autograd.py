"""Reverse-mode autodiff: Function nodes, the backward walk over the graph, no_grad."""
import contextlib
import threading
import time

import numpy as np

from . import backend, profiler
from .errors import DTypeError, GraphError, ShapeError


class _GradMode(threading.local):
    """Grad mode is per thread, as in PyTorch: a no_grad block in one thread leaves the others
    recording, and a new thread starts with grad enabled."""

    def __init__(self):
        self.enabled = True
        self.outer = []  # the modes that open no_grad/enable_grad blocks restore, innermost last


_grad_state = _GradMode()


def is_grad_enabled():
    return _grad_state.enabled


@contextlib.contextmanager
def _grad_mode(enabled):
    with (enable_grad() if enabled else no_grad()):
        yield


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: operations inside record no graph (in this thread).

    The mode to restore is kept per thread, not on the instance, so one instance (a decorator)
    may be entered by several threads at once."""

    _enabled = False

    def __enter__(self):
        _grad_state.outer.append(_grad_state.enabled)
        _grad_state.enabled = self._enabled

    def __exit__(self, *exc):
        _grad_state.enabled = _grad_state.outer.pop()
        return False


class enable_grad(no_grad):
    """Context manager and decorator: record the graph again inside a no_grad block."""

    _enabled = True


class Function:
    """One operation in the graph: subclass it with forward and backward on raw arrays.

    forward(*args, **kwargs) gets each Tensor argument as its array (other arguments as they
    are) and returns one array; `self.save(...)` keeps what backward needs in `self.saved`.
    backward(gy) returns one gradient (or None) per positional argument of forward; a gradient
    may have the broadcast shape, the engine sums it back. `self.kernels` is the kernel table
    of the inputs' device, `self.kernel(family, ...)` the variant of a family that runs.
    Call it as `MyFunction.apply(*args, **kwargs)`.
    """

    name = None  # the op's name in errors and profiles; by default the class name in lower case
    backward_cost = 1  # the backward's FLOPs as a multiple of the forward's (2 for GEMM-like ops)
    flops = None  # set by forward where an output element costs more than one operation
    variant = None  # the variant that ran, for ops with several implementations
    saved_versions = ()  # (which tensor, its version counter, the version when saved)

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

    def kernel(self, family, explicit=None, **context):
        """The implementation of `family` (conv2d, matmul, a fused composite) this call runs,
        decided once by the engine's backend module; remembered in self.variant."""
        self.variant, implementation = backend.resolve(self.kernels, family, explicit, **context)
        return implementation

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def free(self):
        """Drop what backward needed; the node stays only to say it was freed."""
        self.saved, self.inputs, self.freed, self.saved_versions = None, (), True, ()

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not tensors:
            raise DTypeError(f"{cls.op_name()}: expected a Tensor argument, got "
                             f"{', '.join(type(a).__name__ for a in args) or 'none'}; "
                             "make one with eg.tensor(...)")
        device = backend.common_device(cls.op_name(), tensors)
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = _grad_state.enabled and any(needs)
        fn = cls(backend.table(device), needs)
        recording = profiler.active()
        started = time.perf_counter() if recording else 0
        out = fn.forward(*(a.data if isinstance(a, Tensor) else a for a in args), **kwargs)
        if recording:
            if fn.flops is None:
                fn.flops = float(np.prod(out.shape))
            recording.record(fn.op_name(), "forward", time.perf_counter() - started, fn.flops,
                             fn.variant)
        # Only a transfer between devices (ToDevice) sets output_device.
        y = Tensor._from_array(out, getattr(fn, "output_device", device), requires_grad=record)
        if record:
            fn.inputs = args
            y._ctx = fn
            if fn.saved:
                fn.saved_versions = _versions_of_saved(fn.saved, args, out, y)
        else:
            fn.saved = ()
        return y

    def input_gradients(self, gy):
        """backward(gy), checked: one gradient per input, each of a shape that sums to it."""
        grads = self.backward(gy)
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        if len(grads) != len(self.inputs):
            raise GraphError(f"{self.op_name()}: backward returned {len(grads)} gradients for "
                             f"{len(self.inputs)} inputs; return one (or None) per input of forward")
        for i, (a, g) in enumerate(zip(self.inputs, grads)):
            shape = getattr(a, "shape", None)
            if g is not None and shape is not None and not _sums_to(tuple(g.shape), shape):
                raise ShapeError(f"{self.op_name()}: backward returned a gradient of shape "
                                 f"{tuple(g.shape)} for input {i} of shape {shape}")
        return grads


def _versions_of_saved(saved, args, out, y):
    """(which tensor, its version counter, the version now) for each input or output whose array
    forward saved for backward."""
    ids = {id(s) for s in saved}
    noted = [(f"input {i} (shape {a.shape})", a._version, a._version.value)
             for i, a in enumerate(args) if hasattr(a, "_version") and id(a.data) in ids]
    if id(out) in ids:
        noted.append((f"its output (shape {y.shape})", y._version, y._version.value))
    return noted


def _check_unchanged(fn):
    for which, version, value in fn.saved_versions:
        if version.value != value:
            raise GraphError(f"backward: {which} of {fn.op_name()} was written in place after "
                             f"{fn.op_name()} saved it for backward (version {version.value}, "
                             f"saved at {value}); write to a copy, or run backward first")


def _sums_to(grad_shape, shape):
    """Whether a gradient of grad_shape is that of `shape`, perhaps broadcast."""
    lead = len(grad_shape) - len(shape)
    return lead >= 0 and all(n == m or n == 1 for n, m in zip(shape, grad_shape[lead:]))


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
    k = backend.table(root.device)
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
        _check_unchanged(fn)
        input_grads = fn.input_gradients(g)
        if recording:
            recording.record(fn.op_name(), "backward", time.perf_counter() - started,
                             (fn.flops or 0) * fn.backward_cost, fn.variant)
        inputs = fn.inputs
        if not retain_graph:
            fn.free()
        for a, ga in zip(inputs, input_grads):
            if ga is None or not (isinstance(a, Tensor) and a.requires_grad):
                continue
            k = backend.table(a.device)
            if tuple(ga.shape) != a.shape:
                ga = k.sum_to_shape(ga, a.shape)
            previous = grads.get(id(a))
            grads[id(a)] = ga if previous is None else k.add(previous, ga)


def _accumulate(leaf, g, stored):
    """Add g to leaf.grad. A gradient array is kept without a copy unless it is a read-only view
    or its memory already went to another leaf (x + y hands both the same array), so that no
    two .grad tensors share memory."""
    from .tensor import Tensor
    k = backend.table(leaf.device)
    g = k.astype(g, leaf.dtype)
    if leaf.grad is not None:
        g = k.add(leaf.grad.data, g)
    elif k.buffer_id(g) in stored or not k.is_writeable(g):
        g = k.copy(g)
    stored.add(k.buffer_id(g))
    leaf.grad = Tensor._from_array(g, leaf.device)
