"""Data-parallel training over MPI (mpi4py), the way Horovod and ChainerMN do it.

Start one process per rank with mpiexec; each builds the same model and wraps it:

    import engine.distributed as dist
    rank, world_size = dist.init()
    model = dist.DistributedDataParallel(Net())        # rank 0's parameters on every rank
    sampler = dist.DistributedSampler(len(data))       # each rank its own shard
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in ...:                              # from list(sampler)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(); loss.backward()           # gradients averaged over the ranks
            opt.step()
        if dist.is_main(): eg.save(model.state_dict(), "net.ckpt")

    mpiexec -n 2 python train.py

MPI comes from the optional extra: pip install -e ".[dist]" (mpi4py and the mpich wheel, whose
mpiexec sits beside python). Nothing here imports mpi4py unless the process was started by an MPI
launcher; otherwise the world is one process (rank 0 of 1), every helper is a no-op and
DistributedDataParallel a thin pass-through, so the same script runs alone too.

Tensors on the cuda device are reduced by NCCL (CuPy's cupy.cuda.nccl) on the GPUs themselves when
every rank has a GPU of its own and CuPy has NCCL; otherwise through the host: each collective
copies the array to host memory, runs the MPI operation there and copies the result back (host
staging; the MPI wheel is not CUDA-aware). DistributedDataParallel.backend says which ("nccl",
"mpi", or "mpi (host staging)"). On a machine with several GPUs, init() gives each local rank its
own (CUDA_VISIBLE_DEVICES, unless already set).

Once MPI is started, an uncaught exception on any rank prints "rank N: ..." to stderr
and aborts the whole job (MPI_Abort) instead of leaving the other ranks waiting forever; a
collective that a rank never joins (it hangs, or died without MPI noticing) raises
DistributedError after `timeout` seconds (init(timeout=...), ENGINE_DIST_TIMEOUT, default 1800),
which aborts the job the same way.

Ranks that share a machine share its cores: unless OMP_NUM_THREADS says otherwise, init() gives
each rank its share of the cores for the CPU kernels (eg.set_num_threads).
"""
import contextlib
import functools
import math
import numbers
import os
import sys
import threading
import time
import traceback

import numpy as np

from . import autograd, backend
from .autograd import Function
from .errors import ArgumentError, DistributedError
from .nn.module import Module
from .tensor import Tensor

__all__ = ["init", "is_initialized", "get_rank", "get_world_size", "is_main", "rank_zero_only",
           "barrier", "broadcast", "all_reduce", "DistributedSampler", "DistributedDataParallel",
           "DistributedError"]

# Set by the launchers in every process they start: MPICH/Intel MPI's hydra (PMI_*), Open MPI,
# PMIx-based ones (srun --mpi=pmix)
_LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")
_INSTALL = 'pip install -e ".[dist]" (mpi4py and mpich)'


DEFAULT_TIMEOUT_S = 1800.0  # torch.distributed's default for a collective


class _World:
    def __init__(self, comm, rank, size, timeout):
        self.comm, self.rank, self.size, self.timeout = comm, rank, size, timeout
        self.local_rank, self.local_size = 0, 1  # among the ranks on this machine
        # SyncBatchNorm's collectives run inside forward and backward, between the gradient
        # buckets': a communicator of their own keeps the two sequences apart
        self.layer_comm = comm.Dup() if size > 1 else None
        self.nccl = None  # cupy.cuda.nccl's communicator, False when it cannot be used


_world = None
_world_lock = threading.Lock()


def _launched():
    return any(v in os.environ for v in _LAUNCHER_VARIABLES)


def _mpi():
    """mpi4py's MPI module (importing it starts MPI), or DistributedError saying what to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise DistributedError(f"distributed: this process was started by an MPI launcher but "
                               f"mpi4py cannot be imported ({e}); install it with {_INSTALL}"
                               ) from None
    return MPI


def _default_timeout():
    text = os.environ.get("ENGINE_DIST_TIMEOUT")
    try:
        return DEFAULT_TIMEOUT_S if text is None else _check_timeout(float(text))
    except (ValueError, ArgumentError):
        raise DistributedError(f"distributed: ENGINE_DIST_TIMEOUT={text!r} is not a positive "
                               "number of seconds") from None


def _check_timeout(seconds):
    if not (isinstance(seconds, numbers.Real) and seconds > 0):
        raise ArgumentError(f"distributed: timeout must be a positive number of seconds, got "
                            f"{seconds!r}")
    return float(seconds)


def init(timeout=None):
    """Join the job: (rank, world_size) from MPI's COMM_WORLD when started by mpiexec, else
    (0, 1) without importing MPI. Idempotent; the other helpers call it when needed.

    timeout: seconds a collective may wait for the other ranks before DistributedError ends
    the job (default ENGINE_DIST_TIMEOUT, else 1800); given again later, it replaces the old."""
    global _world
    seconds = _default_timeout() if timeout is None else _check_timeout(timeout)
    with _world_lock:
        if _world is None:
            if _launched():
                comm = _mpi().COMM_WORLD
                _world = _World(comm, comm.Get_rank(), comm.Get_size(), seconds)
                if _world.size > 1:
                    _abort_on_uncaught_exception(_world)
                    _place_on_this_machine(_world)
            else:
                _world = _World(None, 0, 1, seconds)
        elif timeout is not None:
            _world.timeout = seconds
    return _world.rank, _world.size


_NVIDIA_GPUS = "/proc/driver/nvidia/gpus"  # one entry per GPU, readable without starting CUDA


def _gpus_here():
    try:
        return len(os.listdir(_NVIDIA_GPUS))
    except OSError:
        return 0


def _place_on_this_machine(world):
    """The ranks on this machine share it: each gets an equal share of its cores (at least one)
    unless OMP_NUM_THREADS chose the threads, since several ranks with a thread per core each
    would fight; and, where the machine has a GPU for each of them, a GPU of its own (before
    anything starts CUDA), unless CUDA_VISIBLE_DEVICES chose already."""
    local = world.comm.Split_type(_mpi().COMM_TYPE_SHARED)
    world.local_rank, world.local_size = local.Get_rank(), local.Get_size()
    local.Free()
    if "OMP_NUM_THREADS" not in os.environ:
        from kernels.cpu import threads
        threads.set_num_threads(max(1, (os.cpu_count() or 1) // world.local_size))
    gpus = _gpus_here()
    if world.local_size > 1 and gpus >= world.local_size and \
            "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(world.local_rank)


def _nccl(world):
    """The world's NCCL communicator, or None where NCCL cannot reduce cuda arrays: CuPy without
    NCCL, the simulator, or ranks that share a GPU. Decided (and the communicator made) by all
    ranks together, at the first collective on cuda tensors."""
    if world.nccl is None:
        try:
            from cupy.cuda import nccl
            usable = (nccl.available and not backend.simulated()
                      and _gpus_here() >= world.local_size)
        except ImportError:
            usable = False
        if world.comm.allreduce(int(usable), op=_mpi().MIN):  # NCCL on every rank, or nowhere
            unique_id = world.comm.bcast(nccl.get_unique_id() if world.rank == 0 else None)
            world.nccl = nccl.NcclCommunicator(world.size, unique_id, world.rank)
        else:
            world.nccl = False
    return world.nccl or None


class _NcclRequest:
    """An NCCL operation queued on the current CUDA stream, as a request _wait can test."""

    def __init__(self):
        import cupy
        self.event = cupy.cuda.Event(disable_timing=True)
        self.event.record()

    def Test(self):
        return self.event.done


def _nccl_start(world, array, root=None, op="sum"):
    """Queue an in-place NCCL all-reduce (or a broadcast from root) of a contiguous cupy array on
    the current stream; returns its request."""
    import cupy
    from cupy.cuda import nccl
    dtypes = {"float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64,
              "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64}
    if str(array.dtype) not in dtypes:
        raise DistributedError(f"distributed: NCCL reduces {', '.join(dtypes)}, not {array.dtype}")
    stream = cupy.cuda.get_current_stream().ptr
    if root is None:
        ops = {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX,
               "min": nccl.NCCL_MIN}
        world.nccl.allReduce(array.data.ptr, array.data.ptr, array.size, dtypes[str(array.dtype)],
                             ops[op], stream)
    else:
        world.nccl.bcast(array.data.ptr, array.size, dtypes[str(array.dtype)], root, stream)
    return _NcclRequest()


def _get_world():
    if _world is None:
        init()
    return _world


def is_initialized():
    return _world is not None


def get_rank():
    return _get_world().rank


def get_world_size():
    return _get_world().size


def is_main():
    """Whether this is rank 0, the one that prints, logs and saves checkpoints."""
    return get_rank() == 0


def rank_zero_only(fn):
    """Decorator: fn runs on rank 0 only (returning None elsewhere), e.g. a logging function."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs) if is_main() else None
    return wrapper


def _abort_on_uncaught_exception(world):
    """An exception that ends one rank would leave the others blocked in their next collective:
    print it, each line tagged with the rank, and abort every process of the job."""
    def hook(exc_type, exc, tb):
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write("".join(f"rank {world.rank}: {line}\n" for line in text.splitlines()))
        sys.stderr.flush()
        world.comm.Abort(1)
    sys.excepthook = hook


# --- collectives on tensors ----------------------------------------------------------------------
def _done(requests):
    """Whether every request (MPI's or _NcclRequest) has completed; tests each, as MPI needs
    to progress its non-blocking operations."""
    return all([r.Test() for r in requests])


_SPIN_S = 0.05  # how long a wait polls without sleeping


def _wait(requests, what):
    """Wait for requests, at most the world's timeout: DistributedError past it (an uncaught
    one aborts the job), so that a stuck rank cannot hang us forever. Polls rather than blocks:
    without sleeping for the first 50 ms (MPICH moves a transfer on only inside an MPI call, so
    every pause would delay it), then sleeping a little more each time, up to a millisecond."""
    world = _get_world()
    began = time.monotonic()
    deadline, pause = began + world.timeout, 1e-5
    while not _done(requests):
        now = time.monotonic()
        if now > deadline:
            raise DistributedError(
                f"distributed: rank {world.rank} waited {world.timeout:g} s for {what} and the "
                f"other ranks did not all join: one of them is stuck or gone (the timeout is "
                f"init(timeout=...) or ENGINE_DIST_TIMEOUT)")
        if now - began > _SPIN_S:
            time.sleep(pause)
            pause = min(2 * pause, 1e-3)


def _check_tensor(op, tensor):
    if not isinstance(tensor, Tensor):
        raise ArgumentError(f"{op}: expected a Tensor, got {type(tensor).__name__}")


def _host_buffer(t):
    """t's values as a contiguous, writeable host array: t's own array on the cpu when it is one,
    else a copy (the host staging of cuda tensors)."""
    host = backend.table(t.device).to_host(t.data)
    if not (isinstance(host, np.ndarray) and host.flags.c_contiguous and host.flags.writeable):
        host = np.array(host, order="C")  # a copy; keeps a 0-d array 0-d
    return host


def _device_buffer(t):
    """t's array on its cuda device if it is contiguous, else a contiguous copy (for NCCL)."""
    import cupy
    return t.data if t.data.flags.c_contiguous else cupy.ascontiguousarray(t.data)


def _write_back(t, host):
    """Put host's values (or a device buffer's) into t in place (a write that counts as one for
    autograd's checks)."""
    if host is t.data:
        t._mark_written()
    elif t.device == backend.HOST and t.data.flags.writeable:
        np.copyto(t.data, host)
        t._mark_written()
    else:
        t.data = backend.table(t.device).from_host(host)


_OPS = ("sum", "mean", "max", "min")


def all_reduce(tensor, op="sum"):
    """Reduce tensor over all ranks in place (op "sum", "mean", "max" or "min"), as
    torch.distributed.all_reduce; returns it. Cuda tensors are staged through the host."""
    _check_tensor("all_reduce", tensor)
    if op not in _OPS:
        raise ArgumentError(f"all_reduce: op must be one of {_OPS}, got {op!r}")
    if op == "mean" and tensor.dtype.kind != "f":
        raise ArgumentError(f"all_reduce: op='mean' needs a floating-point tensor, got "
                            f"{tensor.dtype}")
    world = _get_world()
    if world.size == 1:
        return tensor
    if tensor.device != backend.HOST and _nccl(world):
        array = _device_buffer(tensor)
        _wait([_nccl_start(world, array, op=op)], "all_reduce")
        if op == "mean":
            array /= world.size
        _write_back(tensor, array)
        return tensor
    MPI = _mpi()
    host = _host_buffer(tensor)
    mpi_op = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]
    _wait([world.comm.Iallreduce(MPI.IN_PLACE, host, op=mpi_op)], "all_reduce")
    if op == "mean":
        host /= world.size
    _write_back(tensor, host)
    return tensor


def broadcast(tensor, src=0):
    """Overwrite tensor on every rank with rank src's values, in place; returns it."""
    _check_tensor("broadcast", tensor)
    world = _get_world()
    if not 0 <= src < world.size:
        raise ArgumentError(f"broadcast: src must be a rank in [0, {world.size}), got {src}")
    if world.size == 1:
        return tensor
    if tensor.device != backend.HOST and _nccl(world):
        array = _device_buffer(tensor)
        _wait([_nccl_start(world, array, root=src)], "broadcast")
        _write_back(tensor, array)
        return tensor
    host = _host_buffer(tensor)
    _wait([world.comm.Ibcast(host, root=src)], "broadcast")
    if world.rank != src:
        _write_back(tensor, host)
    return tensor


def barrier():
    """Wait until every rank gets here."""
    world = _get_world()
    if world.size > 1:
        _wait([world.comm.Ibarrier()], "barrier")


class _AllReduceSum(Function):
    """The sum over ranks, differentiable (torch.distributed.nn.functional.all_reduce): every
    rank's output depends on every rank's input, so a rank's input gradient is the sum of all
    ranks' output gradients, another all-reduce, in the backward. On layer_comm."""
    name = "all_reduce"

    def forward(self, x):
        return self._reduce(x)

    def backward(self, gy):
        if self.kernels.differentiable:  # recording a double backward: this op again
            return _AllReduceSum.apply(gy)
        return self._reduce(gy)

    def _reduce(self, array):
        MPI, k = _mpi(), self.kernels
        host = np.array(k.to_host(array), order="C")
        _wait([_get_world().layer_comm.Iallreduce(MPI.IN_PLACE, host, op=MPI.SUM)], "all_reduce")
        return k.from_host(host)


def batch_statistics(x, dims):
    """(mean, biased variance, count) of x over dims and over every rank's x, as tensors with
    gradients to x: the statistics SyncBatchNorm normalizes with. Two passes (the mean first,
    then the squared deviations from it), as accurate as one process's. count is an int."""
    local = x.numel() // math.prod(x.shape[d] for d in range(x.ndim) if d not in dims)
    world = _get_world()
    if world.size == 1:
        return x.mean(dims), x.var(dims, correction=0), local
    counts = np.array([local], np.int64)
    _wait([world.layer_comm.Iallreduce(_mpi().IN_PLACE, counts)], "all_reduce")
    count = int(counts[0])
    mean = _AllReduceSum.apply(x.sum(dims)) / count
    shape = [1 if d in dims else n for d, n in enumerate(x.shape)]
    var = _AllReduceSum.apply(((x - mean.reshape(shape)) ** 2).sum(dims)) / count
    return mean, var, count


# --- sampler -------------------------------------------------------------------------------------
class DistributedSampler:
    """The indices of one rank's shard of a dataset, as torch.utils.data.DistributedSampler.

    dataset is a length or anything with len(). Every epoch, each rank draws the same permutation
    (seeded with seed + epoch, so call set_epoch(epoch) before each one) and takes every
    num_replicas-th index from its rank on. Without drop_last the permutation is padded with its
    own first indices to a multiple of num_replicas, so that every rank gets as many batches
    (a few examples are then seen twice per epoch); with drop_last the tail is dropped instead.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        self.length = int(dataset) if isinstance(dataset, numbers.Integral) else len(dataset)
        self.num_replicas = get_world_size() if num_replicas is None else int(num_replicas)
        self.rank = get_rank() if rank is None else int(rank)
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ArgumentError(f"DistributedSampler: rank {self.rank} is not in "
                                f"[0, {self.num_replicas})")
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        if drop_last and self.length % self.num_replicas:
            self.num_samples = math.ceil((self.length - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(self.length / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use epoch's permutation (call it at the start of every epoch, on every rank)."""
        self.epoch = epoch

    def __iter__(self):
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(self.length)
        else:
            indices = np.arange(self.length)
        # np.resize repeats the permutation from its start to pad it, or cuts its tail
        indices = np.resize(indices, self.total_size)
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples


# --- data-parallel module ------------------------------------------------------------------------
def _signature(module):
    """(kind, name, shape, dtype, device, requires_grad) of every parameter and buffer."""
    return [("parameter", n, p.shape, str(p.dtype), p.device, p.requires_grad)
            for n, p in module.named_parameters()] + \
        [("buffer", n, b.shape, str(b.dtype), b.device, False)
         for n, b in module.named_buffers()]


def _describe(entry):
    kind, name, shape, dtype, device, requires_grad = entry
    return (f"{kind} {name!r} of shape {shape}, {dtype} on {device}"
            f"{'' if requires_grad else ', frozen'}")


def _check_same_model(world, module):
    """DistributedError on every rank, naming the entries and ranks, unless every rank's module
    has the same parameters and buffers (names, shapes, dtypes) as rank 0's."""
    signatures = world.comm.allgather(_signature(module))
    reference = {e[1]: e for e in signatures[0]}
    problems = []
    for rank, signature in enumerate(signatures[1:], start=1):
        own = {e[1]: e for e in signature}
        for name, entry in own.items():
            if name not in reference:
                problems.append(f"rank {rank} has {_describe(entry)} that rank 0 lacks")
            elif entry != reference[name]:
                problems.append(f"rank {rank} has {_describe(entry)} where rank 0 has "
                                f"{_describe(reference[name])}")
        problems += [f"rank {rank} lacks {_describe(entry)} that rank 0 has"
                     for name, entry in reference.items() if name not in own]
        if not problems and list(own) != list(reference):
            problems.append(f"rank {rank} registers its parameters in another order than rank 0")
    if problems:
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more"
                                           if len(problems) > 8 else "")
        raise DistributedError(f"DistributedDataParallel: the model differs across ranks: "
                               f"{shown}. Build the same model on every rank")


class _Bucket:
    """Gradients of a few parameters (one dtype, in reverse registration order) reduced as one
    flat host buffer; after the values, one slot per parameter counts the ranks that had a
    gradient for it in the pass."""

    def __init__(self, params, dtype, on_device):
        self.params, self.dtype, self.on_device = params, dtype, on_device
        self.sizes = [p.numel() for p in params]
        self.offsets = np.cumsum([0] + self.sizes).tolist()
        self.numel = self.offsets[-1]
        if on_device:  # NCCL reduces it where the gradients are
            import cupy
            self.flat = cupy.empty(self.numel + len(params), dtype)
        else:
            self.flat = np.empty(self.numel + len(params), dtype)
        self.request = None


class DistributedDataParallel(Module):
    """Wraps a module so that backward averages its gradients over all ranks, as
    torch.nn.parallel.DistributedDataParallel.

    At start, every rank checks that its module has the same parameters and buffers as rank 0's
    (DistributedError naming the ones that differ, and where) and takes rank 0's values.

    Gradients are reduced while backward is still running: the parameters are grouped into
    buckets of about bucket_cap_mb megabytes in reverse order of registration (roughly the order
    backward produces their gradients); when every parameter of a bucket has its gradient for the
    pass (a post-accumulate-grad hook), the bucket's gradients are copied into one flat buffer
    and a non-blocking MPI Iallreduce starts on it. Buckets start strictly in order, so every
    rank issues the same collectives in the same order. At the end of the backward (a callback
    queued with engine.autograd.queue_callback) the buckets not yet started are started, all
    are waited for, and each parameter's .grad becomes the average over the ranks, before the
    optimizer step can run. `backend` says how: "mpi" (host arrays), "nccl" (cuda gradients
    reduced on the GPUs) or "mpi (host staging)" (cuda gradients through host memory).

    A parameter that got no gradient in a pass on some rank (its .grad is None after zero_grad)
    counts as zero there: its bucket is started at the end of the backward, so no rank ever waits
    for a bucket that cannot fill, and every rank gets the same average; one that got a gradient
    on no rank keeps .grad None. Every rank must run a backward that reaches at least one
    parameter per step (else the others wait for it). Cuda gradients
    are staged through host memory. Inside `with ddp.no_sync():` gradients only accumulate
    locally (gradient accumulation); the next backward outside it averages the sum.

    With broadcast_buffers (torch's default), each forward in training mode first copies rank 0's
    buffers (batch norm's running statistics) to every rank, so checkpoints from rank 0 hold what
    every rank uses.

    For benchmarks, after each backward: last_allreduce_s (from the first bucket's start to the
    end of the final wait), last_wait_s (the time backward spent at its end starting the
    remaining buckets and waiting: communication not hidden behind backward), last_copy_s (the
    copies into and out of the flat buffers), last_bytes (bytes reduced), last_buckets, and
    last_overlapped_buckets (those started by a hook while backward was still running).

    state_dict() and load_state_dict() are the wrapped module's (.module), so a checkpoint loads
    into the bare model. Not for create_graph=True backwards (the averaged .grad has no graph).
    """

    def __init__(self, module, bucket_cap_mb=4, broadcast_buffers=True):
        super().__init__()
        if not isinstance(module, Module):
            raise ArgumentError(f"DistributedDataParallel: expected a Module, got "
                                f"{type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ArgumentError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                                f"{bucket_cap_mb!r}")
        self.module = module
        self.rank, self.world_size = init()
        self.bucket_cap_mb, self.broadcast_buffers = bucket_cap_mb, broadcast_buffers
        self.require_backward_grad_sync = True
        self.last_allreduce_s = self.last_wait_s = self.last_copy_s = 0.0
        self.last_bytes = self.last_buckets = self.last_overlapped_buckets = 0
        self.buckets, self._handles, self._pass = [], [], None
        self.backend = None
        if self.world_size == 1:
            return
        world = _get_world()
        _check_same_model(world, module)
        on_cuda = any(p.device != backend.HOST for p in module.parameters())
        self.backend = "mpi" if not on_cuda else "nccl" if _nccl(world) else "mpi (host staging)"
        for t in list(module.parameters()) + list(module.buffers()):
            broadcast(t, 0)
        self._build_buckets()

    @staticmethod
    def bucket_groups(module, bucket_cap_mb=4):
        """The parameters (requiring grad) of each gradient bucket, in the order the buckets
        start: reverse registration order, one dtype a bucket, a new bucket when the next
        parameter would pass the cap (a parameter above it gets one alone)."""
        open_buckets = {}  # dtype -> (the parameters of its bucket being filled, their bytes)
        closed = []
        for name, p in reversed([(n, p) for n, p in module.named_parameters()
                                 if p.requires_grad]):
            if p.dtype not in (np.float32, np.float64):
                raise DistributedError(f"DistributedDataParallel: parameter {name!r} has dtype "
                                       f"{p.dtype}; gradients are reduced in float32 or float64")
            group, size = open_buckets.get(p.dtype, ([], 0))
            nbytes = p.numel() * p.dtype.itemsize
            if group and size + nbytes > bucket_cap_mb * 2**20:
                closed.append(group)
                group, size = [], 0
            open_buckets[p.dtype] = (group + [p], size + nbytes)
        return closed + [g for g, _ in open_buckets.values()]

    def _build_buckets(self):
        self.buckets = [_Bucket(group, group[0].dtype, self.backend == "nccl")
                        for group in self.bucket_groups(self.module, self.bucket_cap_mb)]
        self._bucket_of = {id(p): i for i, b in enumerate(self.buckets) for p in b.params}
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad)
                         for p in self.module.parameters() if p.requires_grad]

    @contextlib.contextmanager
    def no_sync(self):
        """Backwards inside only accumulate .grad locally; the first one after averages."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *args, **kwargs):
        if (self.world_size > 1 and self.broadcast_buffers and self.training
                and autograd.is_grad_enabled()):
            for b in self.module.buffers():
                broadcast(b, 0)
        return self.module(*args, **kwargs)

    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, state, strict=True):
        self.module.load_state_dict(state, strict)
        return self

    # --- the reduction, driven by autograd ------------------------------------------------------
    def _on_grad(self, p):
        """Post-accumulate hook of every parameter: p.grad is final for this pass."""
        if not self.require_backward_grad_sync:
            return
        token = autograd._current_pass()
        if token is not self._pass:  # the first gradient of a new backward pass
            self._pass, self._next, self._first_start = token, 0, None
            self._waiting = [len(b.params) for b in self.buckets]
            self.last_copy_s = 0.0
            autograd.queue_callback(self._finish)
        self._waiting[self._bucket_of[id(p)]] -= 1
        while self._next < len(self.buckets) and self._waiting[self._next] == 0:
            self._start(self.buckets[self._next])
            self._next += 1
        # MPICH advances non-blocking collectives only inside MPI calls: test them now and then
        started = [b.request for b in self.buckets[:self._next]]
        if started:
            _done(started)

    def _start(self, bucket):
        began = time.perf_counter()
        if self._first_start is None:
            self._first_start = began
        flags = bucket.flat[bucket.numel:]
        for i, (p, start, n) in enumerate(zip(bucket.params, bucket.offsets, bucket.sizes)):
            if p.grad is None:  # no gradient here in this pass: zero, and not counted
                bucket.flat[start:start + n] = 0
                flags[i] = 0
            else:
                grad = p.grad.data if bucket.on_device else \
                    backend.table(p.grad.device).to_host(p.grad.data)
                bucket.flat[start:start + n] = grad.reshape(-1)
                flags[i] = 1
        self.last_copy_s += time.perf_counter() - began
        world = _get_world()
        if bucket.on_device:
            bucket.request = _nccl_start(world, bucket.flat)
        else:
            MPI = _mpi()
            bucket.request = world.comm.Iallreduce(MPI.IN_PLACE, bucket.flat, op=MPI.SUM)

    def _finish(self):
        """At the end of the backward: start what is left, wait for every bucket, and give each
        parameter the averaged gradient."""
        began = time.perf_counter()
        self.last_overlapped_buckets = self._next
        for bucket in self.buckets[self._next:]:
            self._start(bucket)
        self._next = len(self.buckets)
        _wait([b.request for b in self.buckets], "the gradients' allreduce")
        done = time.perf_counter()
        for bucket in self.buckets:
            table = backend.table(bucket.params[0].device)
            flags = table.to_host(bucket.flat[bucket.numel:])  # a few numbers
            for i, (p, start, n) in enumerate(zip(bucket.params, bucket.offsets, bucket.sizes)):
                if flags[i] == 0:  # no rank had a gradient for p
                    continue
                total = bucket.flat[start:start + n].reshape(p.shape)
                grad = p.grad.data if p.grad is not None else None
                if (isinstance(grad, np.ndarray) and grad.flags.c_contiguous
                        and grad.flags.writeable and grad.dtype == total.dtype):
                    # into the local gradient's own array: a new one every step would be
                    # unmapped and faulted in again by the allocator
                    np.divide(total, self.world_size, out=grad)
                    p.grad._mark_written()
                    continue
                mean = total / self.world_size
                p.grad = Tensor._from_array(mean if bucket.on_device else table.from_host(mean),
                                            p.device)
            bucket.request = None
        self.last_copy_s += time.perf_counter() - done
        self.last_wait_s = done - began
        self.last_allreduce_s = done - self._first_start
        self.last_bytes = sum(b.flat.nbytes for b in self.buckets)
        self.last_buckets = len(self.buckets)
        self._pass = None  # drop the pass's callback list
