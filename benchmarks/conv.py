"""conv2d forward + backward (input and weight gradients) against PyTorch's CPU build.

python -m benchmarks.conv [--variant im2col|direct] [--repeats N]
"""
import argparse
import os

import numpy as np

import engine as eg
import engine.nn.functional as F

from .timing import measure, sgemm_rate, torch_or_none

# (name, input shape, weight shape, padding): layers of the course networks
LAYERS = [
    ("dncnn 8x64x64x64 * 64x64x3x3", (8, 64, 64, 64), (64, 64, 3, 3), 1),
    ("mnist-cnn 64x1x28x28 * 32x1x3x3", (64, 1, 28, 28), (32, 1, 3, 3), 1),
]


def conv_flops(x_shape, w_shape, out_hw):
    """Multiply-adds x 2 of the forward; the two backward products cost the same each."""
    n, cout = x_shape[0], w_shape[0]
    return 2 * n * cout * out_hw[0] * out_hw[1] * w_shape[1] * w_shape[2] * w_shape[3]


def run(variant, repeats):
    """Every layer on the engine first, then (PyTorch imported only now) on PyTorch: loading
    PyTorch's OpenMP and MKL runtimes slows the engine's kernels by up to 30% here."""
    rng = np.random.default_rng(0)
    rows, layers = [], []
    for name, x_shape, w_shape, padding in LAYERS:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32) * 0.1
        b = np.zeros(w_shape[0], np.float32)
        xt, wt, bt = (eg.tensor(a, requires_grad=True) for a in (x, w, b))
        out_shape = F.conv2d(xt, wt, bt, padding=padding).shape
        gy = rng.standard_normal(out_shape, dtype=np.float32)

        def engine_step():
            F.conv2d(xt, wt, bt, padding=padding, variant=variant).backward(gy)
            xt.grad = wt.grad = bt.grad = None

        ours, ours_iqr = measure(engine_step, repeats=repeats)
        flops = 3 * conv_flops(x_shape, w_shape, out_shape[2:])
        rows.append({"layer": name, "engine_ms": ours * 1e3, "engine_iqr_ms": ours_iqr * 1e3,
                     "engine_gflops": flops / ours / 1e9, "flops": flops})
        layers.append((x, w, b, gy, padding))
    torch = torch_or_none()
    if torch is None:
        return rows
    torch.set_num_threads(os.cpu_count())
    for row, (x, w, b, gy, padding) in zip(rows, layers):
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tg = torch.tensor(gy)

        def torch_step():
            torch.nn.functional.conv2d(tx, tw, tb, padding=padding).backward(tg)
            tx.grad = tw.grad = tb.grad = None

        theirs, _ = measure(torch_step, repeats=repeats)
        row.update(torch_ms=theirs * 1e3, torch_gflops=row["flops"] / theirs / 1e9,
                   ratio=row["engine_ms"] / 1e3 / theirs)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv", description=__doc__)
    parser.add_argument("--variant", default="im2col")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"numpy sgemm 2048^3: {sgemm_rate():.0f} GFLOP/s")
    for row in run(args.variant, args.repeats):
        line = (f"{row['layer']:<34} engine[{args.variant}] {row['engine_ms']:7.2f} ms "
                f"(iqr {row['engine_iqr_ms']:.2f}, {row['engine_gflops']:5.0f} GFLOP/s)")
        if "torch_ms" in row:
            line += (f"  torch {row['torch_ms']:7.2f} ms ({row['torch_gflops']:5.0f} GFLOP/s)"
                     f"  ratio {row['ratio']:.2f}")
        print(line)


if __name__ == "__main__":
    main()
