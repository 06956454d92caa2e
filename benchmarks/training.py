"""Training-step time of the course networks, engine beside the same network in PyTorch.

python -m benchmarks.training [--network mlp cnn dncnn unet] [--repeats N]

One step = forward, loss, backward, optimizer update, on a fixed batch. Both sides start from
the same weights, so the losses they print agree as well.
"""
import argparse
import os

import numpy as np

import engine as eg
from engine import nn, optim
from engine.course import models

from .timing import measure, torch_or_none

F = nn.functional

# name: (engine model factory, input shape, kind of target)
NETWORKS = {
    "mlp": (lambda: models.MLP((784, 256, 128, 10)), (128, 784), "classes"),
    "cnn": (models.CNN, (64, 1, 28, 28), "classes"),
    "dncnn": (lambda: models.DnCNN(depth=8, channels=32), (16, 1, 40, 40), "image"),
    "unet": (lambda: models.UNet(base=16, levels=3, residual=True), (16, 1, 48, 48), "image"),
}


def engine_step(model, x, target, kind):
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xt = eg.tensor(x)
    tt = eg.tensor(target)

    def step():
        out = model(xt)
        loss = F.cross_entropy(out, tt) if kind == "classes" else F.mse_loss(out, tt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def _twin(torch, m):
    """The torch layer matching a parametrized engine layer, with the same weights, or None."""
    tnn = torch.nn
    if isinstance(m, nn.Linear):
        t = tnn.Linear(m.in_features, m.out_features)
    elif isinstance(m, nn.Conv2d):
        t = tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                       bias=m.bias is not None)
    elif isinstance(m, nn.ConvTranspose2d):
        t = tnn.ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size, m.stride)
    elif isinstance(m, nn.BatchNorm2d):
        t = tnn.BatchNorm2d(m.num_features)
    else:
        return None
    with torch.no_grad():
        for name, p in m.named_parameters():
            getattr(t, name).copy_(torch.tensor(p.numpy()))
    return t


def torch_step(torch, model, x, target, kind):
    twins = {id(m): t for _, m in model.named_modules() if (t := _twin(torch, m)) is not None}
    params = [p for t in twins.values() for p in t.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    xt, tt = torch.tensor(x), torch.tensor(target)
    forward = _torch_forward(torch, model, twins)

    def step():
        out = forward(xt)
        tf = torch.nn.functional
        loss = tf.cross_entropy(out, tt) if kind == "classes" else tf.mse_loss(out, tt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def _torch_forward(torch, model, twins):
    """The engine model's forward with every parametrized layer replaced by its torch twin."""
    tf = torch.nn.functional

    def run(m, x):
        if id(m) in twins:
            return twins[id(m)](x)
        if isinstance(m, nn.Sequential):
            for child in m:
                x = run(child, x)
            return x
        simple = {nn.ReLU: tf.relu, nn.Sigmoid: torch.sigmoid, nn.Tanh: torch.tanh,
                  nn.Flatten: lambda t: t.flatten(1)}
        if type(m) in simple:
            return simple[type(m)](x)
        if isinstance(m, nn.LeakyReLU):
            return tf.leaky_relu(x, m.negative_slope)
        if isinstance(m, nn.MaxPool2d):
            return tf.max_pool2d(x, m.kernel_size, m.stride, m.padding)
        if isinstance(m, models.MLP):
            return run(m.layers, x.flatten(1))
        if isinstance(m, models.CNN):
            return run(m.classifier, run(m.features, x))
        if isinstance(m, models.DnCNN):
            return x - run(m.noise, x)
        if isinstance(m, models.UNet):
            skips, h = [], x
            for i, block in enumerate(m.down):
                h = run(block, h)
                if i < len(m.down) - 1:
                    skips.append(h)
                    h = tf.max_pool2d(h, 2)
            for up, merge, skip in zip(reversed(list(m.up)), reversed(list(m.merge)),
                                       reversed(skips)):
                h = run(merge, torch.cat([run(up, h), skip], 1))
            out = run(m.head, h)
            return x - out if m.residual else out
        raise TypeError(f"no torch twin for {type(m).__name__}")
    return lambda x: run(model, x)


def run(names, repeats):
    """Every network on the engine first, then (imported only now) in PyTorch, from the same
    weights: PyTorch's runtimes slow the engine by up to 30% once loaded."""
    rows, built = [], []
    for name in names:
        factory, shape, kind = NETWORKS[name]
        eg.manual_seed(0)
        model = factory()
        rng = np.random.default_rng(0)
        x = rng.random(shape, dtype=np.float32)
        target = rng.integers(0, 10, shape[0]) if kind == "classes" else \
            rng.random(shape, dtype=np.float32)
        eg.manual_seed(0)
        twin_source = factory()  # untouched weights for the torch twin
        ours, ours_iqr = measure(engine_step(model, x, target, kind), repeats=repeats)
        rows.append({"network": name, "batch": shape, "engine_ms": ours * 1e3,
                     "engine_iqr_ms": ours_iqr * 1e3})
        built.append((twin_source, x, target, kind))
    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(os.cpu_count())
        for row, (model, x, target, kind) in zip(rows, built):
            theirs, _ = measure(torch_step(torch, model, x, target, kind), repeats=repeats)
            row.update(torch_ms=theirs * 1e3, ratio=row["engine_ms"] / 1e3 / theirs)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training", description=__doc__)
    parser.add_argument("--network", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    for row in run(args.network, args.repeats):
        line = (f"{row['network']:<6} batch {str(row['batch']):<18} engine {row['engine_ms']:8.2f} ms "
                f"(iqr {row['engine_iqr_ms']:.2f})")
        if "torch_ms" in row:
            line += f"  torch {row['torch_ms']:8.2f} ms  ratio {row['ratio']:.2f}"
        print(line)


if __name__ == "__main__":
    main()
