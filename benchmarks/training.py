"""The course networks' training steps, in the engine and as the same network in PyTorch.

One step = forward, loss, backward, SGD-with-momentum update, on a fixed batch; both sides
start from the same weights. benchmarks.worker times one side in a process of its own.
"""
import numpy as np

import engine as eg
from engine import nn, optim
from engine.course import models

F = nn.functional

# name: (engine model factory, input shape, kind of target)
NETWORKS = {
    "mlp": (lambda: models.MLP((784, 256, 128, 10)), (128, 784), "classes"),
    "cnn": (models.CNN, (64, 1, 28, 28), "classes"),
    "dncnn": (lambda: models.DnCNN(depth=8, channels=32), (16, 1, 40, 40), "image"),
    "unet": (lambda: models.UNet(base=16, levels=3, residual=True), (16, 1, 48, 48), "image"),
}
# the same networks at sizes Numba's CUDA simulator gets through in seconds (rehearsals)
TINY = {
    "mlp": (lambda: models.MLP((16, 8, 10)), (2, 16), "classes"),
    "cnn": (models.CNN, (1, 1, 28, 28), "classes"),
    "dncnn": (lambda: models.DnCNN(depth=3, channels=4), (1, 1, 8, 8), "image"),
    "unet": (lambda: models.UNet(base=2, levels=2, residual=True), (1, 1, 8, 8), "image"),
}


def engine_step(model, x, target, kind, device="cpu"):
    model.to(device)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xt = eg.tensor(x, device=device)
    tt = eg.tensor(target, device=device)

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


def torch_step(torch, model, x, target, kind, device="cpu"):
    twins = {id(m): t.to(device) for _, m in model.named_modules()
             if (t := _twin(torch, m)) is not None}
    params = [p for t in twins.values() for p in t.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    xt, tt = torch.tensor(x, device=device), torch.tensor(target, device=device)
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


def step(side, name, device="cpu", tiny=False):
    """One training step of network `name` on `side` ("engine" or "torch") on `device` ("cpu"
    or "cuda"), ready to time; both sides start from the same weights and batch. tiny: the
    TINY sizes."""
    factory, shape, kind = (TINY if tiny else NETWORKS)[name]
    eg.manual_seed(0)
    model = factory()
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    target = (rng.integers(0, 10, shape[0]) if kind == "classes"
              else rng.random(shape, dtype=np.float32))
    if side == "engine":
        return engine_step(model, x, target, kind, device)
    import torch
    return torch_step(torch, model, x, target, kind, device)
