"""engine.distributed: data-parallel training over MPI, run as 2 processes with the mpich
wheel's mpiexec (found beside this Python first, then on PATH). Each rank program is a small
script written to tmp_path; every rank saves its results as JSON to OUT.<rank>."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import engine as eg
from benchmarks.distributed import find_mpiexec
from engine import nn

ROOT = Path(__file__).resolve().parents[1]


MPIEXEC = find_mpiexec()
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason='needs mpi4py and mpiexec: pip install -e ".[dist]"')

# Rank programs start with this: the engine from this checkout, results saved per rank.
HEADER = """
import json, sys
import numpy as np
import engine as eg
import engine.distributed as dist
import engine.nn.functional as F
from engine import nn, optim

def save(result, rank=None):
    rank = dist.get_rank() if rank is None else rank
    with open(f"{sys.argv[1]}.{rank}", "w") as f:
        json.dump(result, f)
"""

# Training shared by the 2-rank run and the 1-process reference: 20 steps of SGD with momentum
# on an MLP in float64; with N ranks each takes its 1/N of every global batch of B examples.
TRAIN = """
def train(wrap=True, steps=20, B=8):
    rank, world = dist.init()
    eg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16, dtype=np.float64), nn.Tanh(),
                          nn.Linear(16, 3, dtype=np.float64))
    # a tiny bucket cap: 3 buckets for this model, so several Iallreduce overlap
    net = dist.DistributedDataParallel(model, bucket_cap_mb=0.0005) if wrap else model
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((steps * B, 6)), rng.integers(0, 3, steps * B)
    share = B // world
    losses = []
    for step in range(steps):
        rows = slice(step * B + rank * share, step * B + (rank + 1) * share)
        loss = F.cross_entropy(net(eg.tensor(X[rows])), eg.tensor(Y[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(dist.all_reduce(loss.detach(), "mean").item())
    stats = {k: getattr(net, k, None) for k in ("backend", "last_wait_s", "last_allreduce_s",
                                                "last_bytes", "last_buckets",
                                                "last_overlapped_buckets")}
    return {"losses": losses, "stats": stats,
            "params": {k: v.tolist() for k, v in net.state_dict().items()}}
"""


def run_ranks(tmp_path, body, n=2, timeout=60, prelude=""):
    """Run HEADER + prelude + body under mpiexec -n n; (CompletedProcess, [each rank's JSON or
    None])."""
    script = tmp_path / "rank_program.py"
    script.write_text(HEADER + prelude + textwrap.dedent(body))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(script), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    results = []
    for rank in range(n):
        path = Path(f"{out}.{rank}")
        results.append(json.loads(path.read_text()) if path.exists() else None)
    return proc, results


def run_alone(tmp_path, body, extra_env=None, prelude=""):
    """HEADER + prelude + body as one plain process (no MPI launcher); its JSON."""
    script = tmp_path / "alone.py"
    script.write_text(HEADER + prelude + textwrap.dedent(body))
    out = tmp_path / "alone"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "OMPI_"))}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(extra_env or {}))
    proc = subprocess.run([sys.executable, str(script), str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(Path(f"{out}.0").read_text())


def ok(proc, results):
    assert proc.returncode == 0 and all(r is not None for r in results), \
        f"rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return results


# --- (a) 2 ranks with half batches = 1 process with the whole batch ------------------------------
@needs_mpi
def test_two_ranks_train_like_one_process_with_the_global_batch(tmp_path):
    reference = run_alone(tmp_path, "save(train())", prelude=TRAIN)
    proc, results = run_ranks(tmp_path, "save(train())", prelude=TRAIN)
    r0, r1 = ok(proc, results)
    np.testing.assert_allclose(r0["losses"], reference["losses"], rtol=1e-12, atol=1e-14)
    for name, values in reference["params"].items():
        np.testing.assert_allclose(r0["params"][name], values, rtol=1e-10, atol=1e-13,
                                   err_msg=name)
        assert r0["params"][name] == r1["params"][name], name  # bit-identical across ranks
    stats = r0["stats"]
    assert stats["backend"] == "mpi"
    assert stats["last_buckets"] == stats["last_overlapped_buckets"] == 3  # all started by hooks
    assert stats["last_bytes"] == (6 * 16 + 16 + 16 * 3 + 3 + 4) * 8  # values + one flag each
    assert 0 <= stats["last_wait_s"] <= stats["last_allreduce_s"]


# --- (b) the sampler -----------------------------------------------------------------------------
def shards(length, replicas, epoch=0, **options):
    from engine.distributed import DistributedSampler
    out = []
    for rank in range(replicas):
        sampler = DistributedSampler(length, num_replicas=replicas, rank=rank, **options)
        sampler.set_epoch(epoch)
        out.append(list(sampler))
        assert len(out[-1]) == len(sampler)
    return out


@pytest.mark.parametrize("length,replicas", [(12, 2), (10, 3), (7, 4), (5, 1)])
def test_sampler_covers_every_example_once_padding_to_equal_shards(length, replicas):
    parts = shards(length, replicas, seed=3)
    assert len({len(p) for p in parts}) == 1
    every = sorted(i for p in parts for i in p)
    assert set(every) == set(range(length))
    padding = -length % replicas
    assert len(every) == length + padding  # only the padding repeats examples
    # interleaved, the shards give back the epoch's permutation (padded with its own start)
    order = [parts[r][k] for k in range(len(parts[0])) for r in range(replicas)]
    assert order[length:] == order[:padding]


def test_sampler_epochs_seeds_drop_last_and_no_shuffle():
    assert shards(10, 2, epoch=0, seed=0) == shards(10, 2, epoch=0, seed=0)
    assert shards(10, 2, epoch=0) != shards(10, 2, epoch=1)
    assert shards(10, 2, seed=0) != shards(10, 2, seed=1)
    dropped = shards(10, 3, drop_last=True)
    assert [len(p) for p in dropped] == [3, 3, 3]
    assert len({i for p in dropped for i in p}) == 9
    assert shards(5, 2, shuffle=False) == [[0, 2, 4], [1, 3, 0]]
    from engine.distributed import DistributedSampler
    with pytest.raises(ValueError, match="rank 2"):
        DistributedSampler(10, num_replicas=2, rank=2)
    assert len(DistributedSampler(list(range(7)), num_replicas=2, rank=1)) == 4  # a dataset


@needs_mpi
def test_sampler_across_two_ranks(tmp_path):
    proc, results = run_ranks(tmp_path, """
        sampler = dist.DistributedSampler(11, seed=5)  # rank and world size from MPI
        epochs = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            epochs.append(list(sampler))
        save({"epochs": epochs, "rank": sampler.rank, "replicas": sampler.num_replicas})
    """)
    r0, r1 = ok(proc, results)
    assert (r0["rank"], r1["rank"], r0["replicas"]) == (0, 1, 2)
    for epoch in range(2):
        a, b = r0["epochs"][epoch], r1["epochs"][epoch]
        assert len(a) == len(b) == 6 and set(a) | set(b) == set(range(11))
        interleaved = [i for pair in zip(a, b) for i in pair]
        assert interleaved[11] == interleaved[0]  # the one padded example: the first again
    assert r0["epochs"][0] != r0["epochs"][1]


# --- (c) DDP starts from rank 0's values; the tensor helpers -------------------------------------
@needs_mpi
def test_ddp_broadcasts_rank0_parameters_and_buffers_and_helpers(tmp_path):
    proc, results = run_ranks(tmp_path, """
        rank, world = dist.init()

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)
                self.register_buffer("seen", eg.tensor([float(rank)]))

            def forward(self, x):
                return self.fc(x)

        eg.manual_seed(rank)  # different initial parameters on each rank
        net = Net()
        before = net.fc.weight.numpy().tolist()
        ddp = dist.DistributedDataParallel(net)
        seen_at_start = net.seen.numpy().tolist()
        net.seen.data = net.seen.data + 7 * rank  # rank 1's buffer drifts ...
        ddp(eg.ones(2, 4))  # ... and a training forward takes rank 0's again
        t = eg.tensor([1.0 + rank, 5.0 - rank])
        sums = dist.all_reduce(eg.tensor(t.numpy()))
        means = dist.all_reduce(eg.tensor(t.numpy()), "mean")
        maxes = dist.all_reduce(eg.tensor(t.numpy()), op="max")
        mins = dist.all_reduce(eg.tensor(t.numpy()), op="min")
        ints = dist.all_reduce(eg.tensor(np.array([rank + 1])))
        from_1 = dist.broadcast(eg.tensor([10.0 * rank]), src=1)
        dist.barrier()
        logged = dist.rank_zero_only(lambda: "logged")()

        # a parameter used on rank 0 only, and one used by no rank
        class Partial(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Parameter(np.ones(2))
                self.b = nn.Parameter(np.ones(2))
                self.unused = nn.Parameter(np.ones(2))

            def forward(self, x):
                y = (self.a * x).sum()
                return y + (self.b * x).sum() if rank == 0 else y

        partial = dist.DistributedDataParallel(Partial())
        partial(eg.tensor(np.array([2.0, 4.0]) * (rank + 1))).backward()
        b_grad = partial.module.b.grad.numpy().tolist()
        unused = partial.module.unused.grad is None
        with partial.no_sync():  # accumulates locally only
            partial(eg.tensor(np.array([1.0, 1.0]))).backward()
        local_a = partial.module.a.grad.numpy().tolist()
        save({"before": before, "after": net.fc.weight.numpy().tolist(),
              "seen": seen_at_start, "seen_after_forward": net.seen.numpy().tolist(),
              "state": list(ddp.state_dict()),
              "sums": sums.tolist(), "means": means.tolist(), "maxes": maxes.tolist(),
              "mins": mins.tolist(), "ints": ints.tolist(), "from_1": from_1.tolist(),
              "main": dist.is_main(), "logged": logged,
              "a": local_a, "b": b_grad, "unused": unused})
    """)
    r0, r1 = ok(proc, results)
    assert r0["before"] != r1["before"]
    assert r0["after"] == r1["after"] == r0["before"]
    assert r0["seen"] == r1["seen"] == r0["seen_after_forward"] == r1["seen_after_forward"] \
        == [0.0]
    assert r0["state"] == ["fc.weight", "fc.bias", "seen"]  # the module's own names
    for r in (r0, r1):
        assert r["sums"] == [3.0, 9.0] and r["means"] == [1.5, 4.5]
        assert r["maxes"] == [2.0, 5.0] and r["mins"] == [1.0, 4.0]
        assert r["ints"] == [3] and r["from_1"] == [10.0]
        assert r["b"] == [1.0, 2.0]  # rank 0's gradient [2, 4], rank 1's none (zero): mean
        assert r["unused"]
    assert r0["a"] == [3.0 + 1.0, 6.0 + 1.0]  # mean of [2, 4] and [4, 8], then a local [1, 1]
    assert r0["main"] and not r1["main"]
    assert r0["logged"] == "logged" and r1["logged"] is None


# --- (d) different models are named at start -----------------------------------------------------
@needs_mpi
def test_mismatched_models_are_named_at_start(tmp_path):
    proc, results = run_ranks(tmp_path, """
        rank, world = dist.init()
        model = nn.Sequential(nn.Linear(6, 4 + rank), nn.ReLU())
        try:
            dist.DistributedDataParallel(model)
            save({"error": None})
        except dist.DistributedError as e:
            save({"error": str(e), "runtime": isinstance(e, RuntimeError)})
    """)
    for r in ok(proc, results):
        assert r["runtime"]
        assert "rank 1" in r["error"] and "'0.weight'" in r["error"], r["error"]
        assert "(5, 6)" in r["error"] and "(4, 6)" in r["error"], r["error"]


# --- (e) an exception on one rank ends the whole job ---------------------------------------------
@needs_mpi
def test_an_exception_on_one_rank_aborts_the_job(tmp_path):
    began = time.monotonic()
    proc, _ = run_ranks(tmp_path, """
        rank, world = dist.init()
        if rank == 1:
            raise ValueError("deliberate failure")
        dist.barrier()  # rank 0 would wait here forever
        dist.barrier()
    """, timeout=60)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "rank 1: ValueError: deliberate failure" in output, output
    assert time.monotonic() - began < 60


# --- (f) batch norm: each rank's statistics, or SyncBatchNorm's over the global batch ------------
BN_TRAIN = """
def train_bn(sync=False, halves=False, steps=20, B=8):
    rank, world = dist.init()
    eg.manual_seed(0)
    f64 = dict(dtype=np.float64)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, **f64), nn.BatchNorm2d(3, **f64),
                          nn.Tanh(), nn.Flatten(), nn.Linear(3 * 5 * 5, 4, **f64))
    if sync:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    net = dist.DistributedDataParallel(model)
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    X, Y = 2 + 3 * rng.standard_normal((steps * B, 2, 5, 5)), rng.integers(0, 4, steps * B)
    share = B // world
    losses = []
    for step in range(steps):
        x, y = X[step * B:(step + 1) * B], Y[step * B:(step + 1) * B]
        if halves:  # one process, each half of the batch normalized with its own statistics
            loss = sum(F.cross_entropy(net(eg.tensor(x[h])), eg.tensor(y[h]))
                       for h in (slice(0, B // 2), slice(B // 2, B))) / 2
        else:
            part = slice(rank * share, (rank + 1) * share)
            loss = F.cross_entropy(net(eg.tensor(x[part])), eg.tensor(y[part]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(dist.all_reduce(loss.detach(), "mean").item())
    return {"losses": losses, "kind": type(model[1]).__name__,
            "params": {k: v.tolist() for k, v in model.state_dict().items()}}
"""


def assert_same_training(result, reference, buffers=True):
    np.testing.assert_allclose(result["losses"], reference["losses"], rtol=1e-11)
    for name, values in reference["params"].items():
        if not buffers and ("running" in name or "tracked" in name):
            continue
        np.testing.assert_allclose(result["params"][name], values, rtol=1e-9, atol=1e-12,
                                   err_msg=name)


@needs_mpi
def test_batch_norm_per_rank_and_sync_batch_norm_over_the_global_batch(tmp_path):
    whole = run_alone(tmp_path, "save(train_bn())", prelude=BN_TRAIN)
    halves = run_alone(tmp_path, "save(train_bn(halves=True))", prelude=BN_TRAIN)
    proc, results = run_ranks(tmp_path, "save({'local': train_bn(), 'sync': train_bn(sync=True)})",
                              prelude=BN_TRAIN)
    r0, r1 = ok(proc, results)
    assert r0["sync"]["kind"] == "SyncBatchNorm" and r0["local"]["kind"] == "BatchNorm2d"
    # SyncBatchNorm: 2 ranks train exactly as one process with the global batch, running
    # statistics included
    assert_same_training(r0["sync"], whole)
    assert r0["sync"]["params"] == r1["sync"]["params"]
    # BatchNorm: each rank's half normalized alone, as one process doing the halves apart
    # (the running statistics differ: the reference updates them twice a step)
    assert_same_training(r0["local"], halves, buffers=False)
    assert not np.allclose(r0["local"]["losses"], whole["losses"], rtol=1e-6)


def test_sync_batch_norm_alone_is_batch_norm():
    eg.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm2d(2)))
    reference = list(plain.state_dict())
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(plain)
    assert isinstance(sync[1], nn.SyncBatchNorm) and isinstance(sync[2][0], nn.SyncBatchNorm)
    assert sync is plain and list(sync.state_dict()) == reference
    assert nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3)).num_features == 3
    x = eg.tensor(np.random.default_rng(0).standard_normal((4, 1, 6, 6)).astype(np.float32))
    eg.manual_seed(0)
    twin = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm2d(2)))
    for model in (sync, twin):
        model(x).sum().backward()
    for (name, a), b in zip(sync.named_parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy(), err_msg=name)
    np.testing.assert_array_equal(sync[1].running_var.numpy(), twin[1].running_var.numpy())


# --- (g) python -m engine train under mpiexec ----------------------------------------------------
def train_cli(tmp_path, ranks, name, *options):
    """python -m engine train linear on `ranks` processes into tmp_path/name: (CompletedProcess,
    its --json metrics or None)."""
    out = tmp_path / name
    command = [sys.executable, "-m", "engine", "train", "linear", "--quiet", "--out", str(out),
               "--json", str(out / "metrics.json"), *options]
    if ranks > 1:
        command = [MPIEXEC, "-n", str(ranks)] + command
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_"))}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    metrics = out / "metrics.json"
    return proc, json.loads(metrics.read_text()) if metrics.exists() else None


def model_of(path):
    return eg.load(str(path))["model"]


@needs_mpi
def test_cli_trains_data_parallel_and_any_world_size_resumes(tmp_path):
    # each run trains one epoch, then another run resumes it for the second (the reference: one
    # process both times; the learning-rate schedule is the same in all)
    first, _ = train_cli(tmp_path, 1, "first", "--epochs", "1")
    assert first.returncode == 0, first.stderr
    alone, alone_metrics = train_cli(tmp_path, 1, "alone", "--epochs", "2", "--resume",
                                     str(tmp_path / "first" / "checkpoint.npz"))
    assert alone.returncode == 0, alone.stderr
    # 2 ranks for the first epoch, one process for the second ...
    two, metrics = train_cli(tmp_path, 2, "two", "--epochs", "1")
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("on 2 processes") == 1  # rank 0 alone reports
    assert metrics["world_size"] == 2 and metrics["samples_per_second"] > 0
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == \
        ["checkpoint.npz", "loss_curve.png", "metrics.json", "templates.png"]
    resumed, resumed_metrics = train_cli(tmp_path, 1, "resumed", "--epochs", "2", "--resume",
                                         str(tmp_path / "two" / "checkpoint.npz"))
    assert resumed.returncode == 0, resumed.stderr
    # ... and one process for the first, 2 ranks for the second
    again, again_metrics = train_cli(tmp_path, 2, "again", "--epochs", "2", "--resume",
                                     str(tmp_path / "first" / "checkpoint.npz"))
    assert again.returncode == 0, again.stderr
    reference = model_of(tmp_path / "alone" / "checkpoint.npz")
    for name in ("resumed", "again"):
        model = model_of(tmp_path / name / "checkpoint.npz")
        for key, values in reference.items():  # float32 sums in another order: close, not equal
            np.testing.assert_allclose(model[key], values, rtol=1e-4, atol=1e-5, err_msg=key)
    for m in (resumed_metrics, again_metrics):
        assert abs(m["test_accuracy"] - alone_metrics["test_accuracy"]) <= 0.005
        assert m["final_loss"] == pytest.approx(alone_metrics["final_loss"], rel=1e-4)


@needs_mpi
def test_cli_refuses_what_ranks_cannot_share(tmp_path):
    proc, _ = train_cli(tmp_path, 2, "small", "--batch-size", "1")
    assert proc.returncode == 2
    assert "--batch-size 1 is the global batch" in proc.stderr, proc.stderr
    train = [sys.executable, "-m", "engine", "train", "linear", "--out", str(tmp_path / "o")]
    proc = subprocess.run([MPIEXEC, "-n", "1", *train, "--batch-size", "8", ":", "-n", "1",
                           *train, "--batch-size", "16"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2
    assert "rank 1 has --batch-size 16 where rank 0 has 8" in proc.stderr, proc.stderr


@needs_mpi
def test_ctrl_c_under_mpiexec_stops_every_rank_at_the_same_step(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    job = subprocess.Popen([MPIEXEC, "-n", "2", sys.executable, "-m", "engine", "train", "linear",
                            "--epochs", "200", "--quiet", "--out", str(out)], cwd=tmp_path,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # training has begun once the first epoch's checkpoint is there
    job.send_signal(signal.SIGINT)  # mpiexec passes Ctrl-C on to every rank
    stdout, stderr = job.communicate(timeout=60)
    assert job.returncode == 130, stderr
    assert stderr.count("resume with: mpiexec -n 2 python -m engine train linear") == 1, stderr
    state = eg.load(str(out / "checkpoint.npz"))  # rank 0 saved where every rank stopped
    assert state["step"] > 0 or state["epoch"] >= 0


# --- (h) a rank that dies or hangs stops the job ------------------------------------------------
@needs_mpi
def test_a_rank_killed_mid_epoch_stops_the_job(tmp_path):
    began = time.monotonic()
    proc, _ = run_ranks(tmp_path, prelude=TRAIN, body="""
        import os, signal
        rank, world = dist.init()
        net = dist.DistributedDataParallel(nn.Linear(3, 2))
        for step in range(1000):
            if rank == 1 and step == 5:
                os.kill(os.getpid(), signal.SIGKILL)
            net(eg.ones(2, 3)).sum().backward()
    """)
    assert proc.returncode != 0
    assert "BAD TERMINATION" in proc.stdout + proc.stderr
    assert time.monotonic() - began < 30


@needs_mpi
def test_a_rank_that_hangs_times_the_collective_out(tmp_path):
    began = time.monotonic()
    proc, _ = run_ranks(tmp_path, prelude=TRAIN, body="""
        import time
        rank, world = dist.init(timeout=1)
        net = dist.DistributedDataParallel(nn.Linear(3, 2))
        for step in range(1000):
            if rank == 1 and step == 5:
                time.sleep(60)  # stuck, not dead: MPI cannot tell
            net(eg.ones(2, 3)).sum().backward()
    """)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "rank 0: engine.errors.DistributedError: distributed: rank 0 waited 1 s for the " \
        "gradients' allreduce" in output, output
    assert time.monotonic() - began < 30


def test_timeouts_are_checked():
    from engine import distributed
    with pytest.raises(eg.ArgumentError, match="positive number of seconds"):
        distributed.init(timeout=0)


# --- (i) a world of one, without mpiexec ---------------------------------------------------------
def test_world_of_one_without_mpi(tmp_path):
    result = run_alone(tmp_path, prelude=TRAIN, body="""
        with_ddp, bare = train(wrap=True), train(wrap=False)
        t = eg.tensor([1.0, 2.0])
        dist.all_reduce(t, "mean"); dist.broadcast(t); dist.barrier()
        save({"init": list(dist.init()), "same": with_ddp["params"] == bare["params"]
              and with_ddp["losses"] == bare["losses"], "t": t.tolist(),
              "main": dist.is_main(), "mpi_imported": "mpi4py" in sys.modules,
              "sampler": list(dist.DistributedSampler(3, shuffle=False))})
    """)
    assert result["init"] == [0, 1] and result["main"]
    assert result["same"]
    assert result["t"] == [1.0, 2.0]
    assert result["sampler"] == [0, 1, 2]
    assert not result["mpi_imported"]


def test_under_a_launcher_without_mpi4py_the_error_says_what_to_install(tmp_path):
    result = run_alone(tmp_path, """
        sys.modules["mpi4py"] = None  # as if it were not installed
        try:
            dist.init()
            save({"error": None}, rank=0)
        except eg.EngineError as e:
            save({"error": str(e), "kind": type(e).__name__}, rank=0)
    """, extra_env={"PMI_SIZE": "2", "PMI_RANK": "0"})
    assert result["kind"] == "DistributedError"
    assert 'pip install -e ".[dist]"' in result["error"]


def test_engine_distributed_is_lazy():
    proc = subprocess.run([sys.executable, "-c", "import sys, engine as eg; "
                           "assert 'engine.distributed' not in sys.modules; "
                           "assert eg.distributed.init is not None; "
                           "assert 'mpi4py' not in sys.modules"],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# --- cuda tensors are staged through the host ----------------------------------------------------
@needs_mpi
@pytest.mark.cuda
@pytest.mark.skipif(not eg.cuda.is_available(), reason="cuda device unavailable")
def test_ddp_and_all_reduce_on_cuda_tensors(tmp_path):
    proc, results = run_ranks(tmp_path, """
        rank, world = dist.init()
        eg.manual_seed(rank)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to("cuda")
        ddp = dist.DistributedDataParallel(model)
        x = np.random.default_rng(rank).standard_normal((5, 3)).astype(np.float32)
        ddp(eg.tensor(x).to("cuda")).sum().backward()
        local = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        local.load_state_dict(model.state_dict())
        local(eg.tensor(x)).sum().backward()  # this rank's own gradient, on the cpu
        t = dist.all_reduce(eg.tensor([1.0 + rank]).to("cuda"), "mean")
        save({"grad": model[0].weight.grad.numpy().tolist(), "device": model[0].weight.grad.device,
              "backend": ddp.backend,
              "local": local[0].weight.grad.numpy().tolist(), "t": t.numpy().tolist(),
              "t_device": t.device})
    """)
    r0, r1 = ok(proc, results)
    assert r0["device"] == r1["device"] == r0["t_device"] == "cuda"
    # NCCL needs a GPU per rank; the simulator (and ranks sharing a GPU) go through the host
    expected = "mpi (host staging)" if eg.backend.simulated() else r0["backend"]
    assert r0["backend"] == r1["backend"] == expected
    assert r0["grad"] == r1["grad"]
    mean = (np.array(r0["local"]) + np.array(r1["local"])) / 2
    np.testing.assert_allclose(r0["grad"], mean, rtol=1e-5, atol=1e-6)
    assert r0["t"] == r1["t"] == [1.5]
