"""Reverse-mode autodiff: Function nodes, the backward walk over the graph, no_grad."""
import contextlib
import itertools
import sys
import threading

import numpy as np

from .. import backend, profiler
from ..errors import DTypeError, GraphError, ShapeError

Tensor = None  # engine.tensor.Tensor, bound by that module as it loads (it imports this one first)


class _GradMode(threading.local):
    """Grad mode is per thread, as in PyTorch: a no_grad block in one thread leaves the others
    recording, and a new thread starts with grad enabled."""

    def __init__(self):
        self.enabled = True
        self.outer = []  # the modes that open no_grad/enable_grad blocks restore, innermost last


_grad_state = _GradMode()


def is_grad_enabled():
    return _grad_state.enabled


class _BackwardPasses(threading.local):
    """The backward passes running in this thread, innermost last: each is the list of callbacks
    queued for its end. Per thread, so that two threads training at once never run each other's
    callbacks."""

    def __init__(self):
        self.running = []


_passes = _BackwardPasses()


def queue_callback(fn):
    """Run fn() once when the backward pass now running in this thread finishes (after every
    leaf's .grad is accumulated and its hooks ran), in the order queued; as torch's
    Variable._execution_engine.queue_callback. Only from inside a backward pass (a hook, a
    Function's backward); a callback may queue more, which run after it. Callbacks do not run
    when the backward raises."""
    if not _passes.running:
        raise GraphError("queue_callback: no backward pass is running in this thread; call it "
                         "from a hook or a Function's backward during .backward()")
    _passes.running[-1].append(fn)


def _current_pass():
    """A token (compared with `is`) of the innermost backward pass running in this thread, or
    None: lets a hook tell whether it already queued its callback in this pass."""
    return _passes.running[-1] if _passes.running else None


class RemovableHandle:
    """What registering a hook returns: .remove() unregisters it (also usable as `with`)."""

    _ids = itertools.count()

    def __init__(self, hooks, hook):
        self._hooks, self.id = hooks, next(self._ids)
        hooks[self.id] = hook

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _run_post_accumulate_grad_hooks(leaf):
    hooks = leaf.__dict__.get("_post_accumulate_grad_hooks")
    if hooks:
        for hook in list(hooks.values()):  # a hook may remove itself
            hook(leaf)


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
    saved_versions = ()  # (input index or None for the output, its version counter, the version
    #                      when saved, its shape): what backward checks before it runs
    output_device = None  # a transfer between devices (ToDevice) sets the device it moves to

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
        if self.kernels.differentiable:  # recording the backward: the differentiable version
            return self.kernels.family(family, explicit)
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
        # the hot path of every op: one pass over the arguments, nothing formatted unless it fails
        device, needs, arrays = None, [], []
        for a in args:
            if isinstance(a, Tensor):
                if device is None:
                    device = a.device
                elif a.device != device:
                    backend.common_device(cls.op_name(), [t for t in args if isinstance(t, Tensor)])
                needs.append(a.requires_grad)
                arrays.append(a._data)
            else:
                needs.append(False)
                arrays.append(a)
        if device is None:
            raise DTypeError(f"{cls.op_name()}: expected a Tensor argument, got "
                             f"{', '.join(type(a).__name__ for a in args) or 'none'}; "
                             "make one with eg.tensor(...)")
        record = _grad_state.enabled and True in needs
        fn = cls(backend.table(device), tuple(needs))
        watched = profiler.recording()
        if watched:
            began = profiler.start(device)
        out = fn.forward(*arrays, **kwargs)
        if watched:
            if fn.flops is None:
                fn.flops = float(np.prod(out.shape))
            profiler.finish(began, fn.op_name(), "forward", fn.flops, fn.variant, device,
                            [a for a in args if isinstance(a, Tensor)], (out,))
        # Only a transfer between devices (ToDevice) sets output_device.
        y = Tensor._from_array(out, fn.output_device or device, requires_grad=record)
        if record:
            fn.inputs = args
            y._ctx = fn
            if fn.saved:
                fn.saved_versions = _versions_of_saved(fn.saved, args, out, y)
        else:
            fn.saved = ()
        return y

    def graph_gradients(self, output, gy):
        """input_gradients(gy) with the backward recorded as a graph: the kernels are the
        device's differentiable ops, and each saved array is the Tensor it came from (an input
        or the output), or a constant."""
        from ..ops.table import OpTable
        saved, kernels = self.saved, self.kernels
        sources = {id(a.data): a for a in self.inputs if isinstance(a, Tensor)}
        sources[id(output.data)] = output
        self.saved = tuple(sources.get(id(s), Tensor._from_array(s, output.device))
                           if _is_array(s) else s for s in saved)
        self.kernels = OpTable.of(output.device)
        try:
            with enable_grad():
                return self.input_gradients(gy)
        finally:
            self.saved, self.kernels = saved, kernels

    def input_gradients(self, gy):
        """backward(gy), checked: one gradient per input (the walk checks their shapes)."""
        grads = self.backward(gy)
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        if len(grads) != len(self.inputs):
            raise GraphError(f"{self.op_name()}: backward returned {len(grads)} gradients for "
                             f"{len(self.inputs)} inputs; return one (or None) per input of forward")
        return grads


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype") and not hasattr(value, "_ctx")


def _versions_of_saved(saved, args, out, y):
    """(input index or None for the output, its version counter, the version now, its shape)
    for each input or output whose array forward saved for backward."""
    ids = {id(s) for s in saved}
    noted = [(i, a._version, a._version.value, a.shape)
             for i, a in enumerate(args) if isinstance(a, Tensor) and id(a._data) in ids]
    if id(out) in ids:
        noted.append((None, y._version, y._version.value, y.shape))
    return noted


def _check_unchanged(fn):
    for i, version, value, shape in fn.saved_versions:
        if version.value != value:
            which = f"input {i}" if i is not None else "its output"
            raise GraphError(f"backward: {which} (shape {shape}) of {fn.op_name()} was written in "
                             f"place after {fn.op_name()} saved it for backward (version "
                             f"{version.value}, saved at {value}); write to a copy, or run "
                             "backward first")


def _sums_to(grad_shape, shape):
    """Whether a gradient of grad_shape is that of `shape`, perhaps broadcast."""
    lead = len(grad_shape) - len(shape)
    return lead >= 0 and all(n == m or n == 1 for n, m in zip(shape, grad_shape[lead:]))


def _dependencies(roots):
    """How many uses by ops below roots each tensor that requires grad has: its gradient is
    complete once that many ops have sent theirs. GraphError where an op's graph was freed by
    an earlier backward."""
    deps, stack, root_ids = {}, list(roots), {id(r) for r in roots}
    while stack:
        fn = stack.pop()._ctx
        if fn is None:
            continue
        if fn.freed:
            raise GraphError(f"backward: the graph through {fn.op_name()} was freed by an "
                             "earlier backward; pass retain_graph=True to the first one to go "
                             "through it twice")
        for a in fn.inputs:
            if isinstance(a, Tensor) and a.requires_grad:
                n = deps.get(id(a), 0)
                deps[id(a)] = n + 1
                if n == 0 and id(a) not in root_ids:
                    stack.append(a)
    return deps


def _in_dependency_order(roots, deps):
    """The tensors below roots, each once every op that used it has come (a topological order).
    Each op's last input comes first, so that the leaves of the last layers (their weights) come
    right after their ops, not after the whole graph: gradient hooks (DistributedDataParallel's
    allreduce) then fire while the backward still runs. `deps` is used up."""
    ready = list({id(r): r for r in reversed(roots) if id(r) not in deps}.values())
    while ready:
        t = ready.pop()
        inputs = t._ctx.inputs if t._ctx is not None else ()  # before the walk frees them
        yield t
        for a in inputs:
            if isinstance(a, Tensor) and a.requires_grad:
                deps[id(a)] -= 1
                if not deps[id(a)]:
                    ready.append(a)


def _seed(root, grad, create_graph):
    """The gradient that starts the walk at root: ones for a one-element root, else `grad`; an
    array, or a Tensor when the walk records its own graph."""
    k = backend.table(root.device)
    if grad is None:
        if root.numel() != 1:
            raise ShapeError(f"backward: grad can be omitted only for a tensor of one element, "
                             f"got shape {root.shape}; pass grad= of that shape")
        grad = k.full(root.shape, 1, root.dtype)
    elif isinstance(grad, Tensor):
        if create_graph:
            return grad
        grad = k.copy(grad.data)
    else:  # the caller's array, seen read-only: never written, copied only into a .grad
        grad = np.asarray(grad).view()
        grad.flags.writeable = False
        grad = k.from_host(grad)
    if tuple(grad.shape) != root.shape:
        raise ShapeError(f"backward: grad has shape {tuple(grad.shape)} but the tensor "
                         f"has shape {root.shape}")
    return Tensor._from_array(grad, root.device) if create_graph else grad


def _walk(roots, seeds, retain_graph, create_graph, targets=None):
    """Send the seeds back through the graph below roots. Without targets, every leaf that
    requires grad accumulates its gradient in .grad; with targets (tensors), their gradients
    are returned by id and no .grad changes. With create_graph the gradients are Tensors and
    each backward runs on differentiable ops, so the gradients have a graph of their own.
    Callbacks queued during the walk (queue_callback) run at its end, in order."""
    callbacks = []
    _passes.running.append(callbacks)
    try:
        found = _walk_graph(roots, seeds, retain_graph, create_graph, targets)
        i = 0
        while i < len(callbacks):  # a callback may queue another
            callbacks[i]()
            i += 1
    finally:
        _passes.running.pop()
    return found


def _walk_graph(roots, seeds, retain_graph, create_graph, targets):
    deps = _dependencies(roots)
    wanted = None
    if targets is not None:  # only the part of the graph that leads to a target
        target_ids = {id(t) for t in targets}
        wanted = set(target_ids)
        for t in reversed(list(_in_dependency_order(roots, dict(deps)))):
            if id(t) not in wanted and t._ctx is not None and any(
                    id(a) in wanted for a in t._ctx.inputs if isinstance(a, Tensor)):
                wanted.add(id(t))
    grads, found, stored = {}, {}, set()  # stored: buffers already kept as a .grad in this pass
    for root, seed in zip(roots, seeds):
        grads[id(root)] = seed if id(root) not in grads else _add(root, grads[id(root)], seed)
    watched = profiler.recording()
    for t in _in_dependency_order(roots, deps):
        g = grads.pop(id(t), None)
        if g is None or (wanted is not None and id(t) not in wanted):
            continue
        if targets is not None and id(t) in target_ids:
            found[id(t)] = g
        fn = t._ctx
        if fn is None:
            if targets is None:
                _accumulate(t, g, stored, create_graph)
                _run_post_accumulate_grad_hooks(t)  # t.grad is final for this pass
            continue
        if watched:
            began = profiler.start(t.device)
        if fn.saved_versions:
            _check_unchanged(fn)
        input_grads = fn.graph_gradients(t, g) if create_graph else fn.input_gradients(g)
        if watched:
            profiler.finish(began, fn.op_name(), "backward", (fn.flops or 0) * fn.backward_cost,
                            fn.variant, t.device, [a for a in fn.inputs if isinstance(a, Tensor)],
                            input_grads, g)
        inputs = fn.inputs
        if not retain_graph:
            fn.free()
        for i, (a, ga) in enumerate(zip(inputs, input_grads)):
            if ga is None or not (isinstance(a, Tensor) and a.requires_grad):
                continue
            if ga.shape != a.shape:
                if not _sums_to(tuple(ga.shape), a.shape):
                    raise ShapeError(f"{fn.op_name()}: backward returned a gradient of shape "
                                     f"{tuple(ga.shape)} for input {i} of shape {a.shape}")
                ga = _kernels(a.device, create_graph).sum_to_shape(ga, a.shape)
            previous = grads.get(id(a))
            grads[id(a)] = ga if previous is None else _add(a, previous, ga)
    return found


def _kernels(device, create_graph):
    """The array kernels of a device, or (recording the backward) its differentiable ops."""
    if create_graph:
        from ..ops.table import OpTable
        return OpTable.of(device)
    return backend.table(device)


def _add(t, a, b):
    if isinstance(a, Tensor):
        with enable_grad():
            return a + b
    return backend.table(t.device).add(a, b)


def zero_grads(tensors, set_to_none=True):
    """Drop each tensor's .grad (set_to_none, torch's default) or fill it with zeros in place:
    what Module.zero_grad and Optimizer.zero_grad do to their parameters."""
    for t in tensors:
        if t.grad is None:
            continue
        if set_to_none:
            t.grad = None
        else:
            t.grad.data = backend.table(t.grad.device).zeros(t.grad.shape, t.grad.dtype)


def backward(root, grad=None, retain_graph=None, create_graph=False):
    """Accumulate d root / d leaf into every leaf's .grad that requires grad; with create_graph
    the .grad tensors have a graph of their own and can be differentiated again."""
    if not root.requires_grad:
        raise GraphError("backward: the tensor does not require grad and has no graph")
    retain_graph = create_graph if retain_graph is None else retain_graph
    _walk([root], [_seed(root, grad, create_graph)], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of outputs (summed, each weighted by its grad_output) with respect to each
    of inputs, as a tuple of Tensors, as torch.autograd.grad; no .grad is changed. With
    create_graph the gradients can be differentiated again (to any order). An input the
    outputs do not depend on gives None with allow_unused=True, else GraphError."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ShapeError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(list(outputs) + inputs):
        if not isinstance(t, Tensor):
            raise DTypeError(f"grad: outputs and inputs must be Tensors, got {type(t).__name__}")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise GraphError(f"grad: input {i} (shape {x.shape}) does not require grad")
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    retain_graph = create_graph if retain_graph is None else retain_graph
    found = _walk([o for o, _ in pairs], [_seed(o, g, create_graph) for o, g in pairs],
                  retain_graph, create_graph, targets=inputs) if pairs else {}
    result = []
    for i, x in enumerate(inputs):
        g = found.get(id(x))
        if g is None and not allow_unused:
            raise GraphError(f"grad: input {i} (shape {x.shape}) was not used to compute the "
                             "outputs; pass allow_unused=True to get None for it")
        if g is not None and not isinstance(g, Tensor):
            k = backend.table(x.device)
            g = Tensor._from_array(k.copy(k.astype(g, x.dtype)), x.device)
        result.append(g)
    return tuple(result)


def _held_by_leaf_alone(grad):
    """Whether nothing but its leaf refers to the .grad Tensor and its array, so that adding into
    them changes nothing anyone else can see (torch's test too). The counts are those of the
    leaf's attribute (or the Tensor's), this function's argument and getrefcount's own."""
    return sys.getrefcount(grad) <= 3 and sys.getrefcount(grad.data) <= 2


def _accumulate(leaf, g, stored, create_graph=False):
    """Add g to leaf.grad. A gradient array is kept without a copy unless it is a read-only view
    or its memory already went to another leaf (x + y hands both the same array), so that no
    two .grad tensors share memory. Recording the backward, .grad is the graph's Tensor."""
    if create_graph:
        with enable_grad():
            g = g.astype(leaf.dtype)
            leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    k = backend.table(leaf.device)
    g = k.astype(g, leaf.dtype)
    if leaf.grad is not None:
        if _held_by_leaf_alone(leaf.grad) and k.is_writeable(leaf.grad.data):
            k.accumulate(leaf.grad.data, g)  # in place, as torch: no new array a backward
            leaf.grad._mark_written()
            return
        g = k.add(leaf.grad.data, g)
    elif k.buffer_id(g) in stored or not k.is_writeable(g):
        g = k.copy(g)
    stored.add(k.buffer_id(g))
    leaf.grad = Tensor._from_array(g, leaf.device)
