"""python -m engine train TASK: the course's networks trained end to end on the engine.

Every random draw (initial weights, shuffling, noise, dropout, patches) comes from the seed and
the epoch number, and a checkpoint holds the model, the optimizer and the history after every
epoch, so --resume reaches exactly the result of an uninterrupted run.
"""
import contextlib
import json
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from . import data, models
from ..autograd import no_grad
from ..profiler import Profile, profile
from ..random import manual_seed
from ..serialization import load, save
from ..tensor import Tensor

F = nn.functional
SIGMA = 25 / 255  # the denoising tasks' noise level


@dataclass
class Defaults:
    epochs: int
    batch_size: int
    lr: float


# Chosen so that each run finishes in a few minutes on 2 cores (see the README for results).
DEFAULTS = {
    "linear": Defaults(20, 64, 0.03),
    "mlp": Defaults(20, 64, 0.1),
    "cnn": Defaults(10, 64, 0.1),
    "inpaint": Defaults(15, 64, 3e-3),
    "dncnn": Defaults(10, 16, 2e-3),
    "unet": Defaults(10, 16, 2e-3),
    "dip": Defaults(10, 1, 0.01),
}
TASKS = tuple(DEFAULTS)


def epoch_rng(seed, epoch):
    """The numpy generator of one epoch: the same draws whether or not the run was resumed."""
    return np.random.default_rng([seed, epoch])


class Run:
    """What a task needs: its model, optimizer, batches per epoch, loss, and final evaluation."""

    def __init__(self, args):
        self.args = args
        self.device = args.device
        self.pictures = {}

    def tensor(self, array):
        return Tensor(array, device=self.device)

    def batches(self, epoch):
        raise NotImplementedError

    def loss(self, batch):
        raise NotImplementedError

    def evaluate(self):
        raise NotImplementedError


class Classification(Run):
    def __init__(self, args, model):
        super().__init__(args)
        self.train_set, self.test_set = data.mnist(args.data)
        self.model = model.to(self.device)
        self.optimizer = optim.SGD(self.model.parameters(), lr=args.lr, momentum=0.9)
        self.schedule = optim.CosineAnnealingLR(self.optimizer, args.epochs)

    def batches(self, epoch):
        rng = epoch_rng(self.args.seed, epoch)
        for index in data.batches(len(self.train_set), self.args.batch_size, rng):
            yield self.train_set.images[index], self.train_set.labels[index]

    def steps_per_epoch(self):
        return math.ceil(len(self.train_set) / self.args.batch_size)

    def loss(self, batch):
        images, labels = batch
        return F.cross_entropy(self.model(self.tensor(images)), self.tensor(labels))

    def evaluate(self):
        self.model.eval()
        correct = 0
        with no_grad():
            for index in data.batches(len(self.test_set), 500):
                logits = self.model(self.tensor(self.test_set.images[index]))
                correct += int((logits.argmax(axis=1).numpy() == self.test_set.labels[index]).sum())
        if isinstance(self.model, models.LinearClassifier):
            side = self.test_set.images.shape[-1]
            self.pictures["templates"] = self.model.linear.weight.numpy().reshape(-1, side, side)
        return {"test_accuracy": correct / len(self.test_set)}


def mask_bottom_half(images):
    masked = images.copy()
    masked[..., 14:, :] = 0
    return masked


class Inpainting(Run):
    """MLP inpainting of digits whose bottom half is masked, trained with MSE on every pixel."""

    def __init__(self, args):
        super().__init__(args)
        self.train_set, self.test_set = data.mnist(args.data)
        self.model = models.InpaintingMLP().to(self.device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=args.lr)
        self.schedule = None

    batches = Classification.batches
    steps_per_epoch = Classification.steps_per_epoch

    def loss(self, batch):
        images, _ = batch
        return F.mse_loss(self.model(self.tensor(mask_bottom_half(images))), self.tensor(images))

    def evaluate(self):
        clean = self.test_set.images
        masked = mask_bottom_half(clean)
        with no_grad():
            predicted = self.model(self.tensor(masked)).numpy()
        filled = masked.copy()
        filled[..., 14:, :] = predicted[..., 14:, :]  # keep the known pixels
        self.pictures["inpainting"] = (masked[:8], filled[:8], clean[:8])
        return {"psnr": data.psnr(filled, clean), "input_psnr": data.psnr(masked, clean)}


class Denoising(Run):
    """A denoiser trained on random noisy patches of the training images, tested on whole
    held-out images beside the TV and BM3D denoisers."""

    patch, patches_per_epoch = 40, 1600

    def __init__(self, args, model):
        super().__init__(args)
        self.train_images = list(data.natural_images("train").values())
        self.test_images = data.natural_images("test")
        self.model = model.to(self.device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=args.lr)
        self.schedule = optim.CosineAnnealingLR(self.optimizer, args.epochs, eta_min=args.lr / 20)

    def steps_per_epoch(self):
        return math.ceil(self.patches_per_epoch / self.args.batch_size)

    def batches(self, epoch):
        rng = epoch_rng(self.args.seed, epoch)
        clean = data.random_patches(self.train_images, self.patches_per_epoch, self.patch, rng)
        noisy = data.add_noise(clean, SIGMA, rng)
        for index in data.batches(len(clean), self.args.batch_size):
            yield noisy[index], clean[index]

    def loss(self, batch):
        noisy, clean = batch
        return F.mse_loss(self.model(self.tensor(noisy)), self.tensor(clean))

    def evaluate(self):
        from skimage.restoration import denoise_tv_chambolle
        self.model.eval()
        rng = np.random.default_rng(12345)  # the same noisy test images for every run
        results = {"psnr": [], "input_psnr": [], "baseline_psnr": [], "bm3d_psnr": []}
        shown = []
        for name, clean in self.test_images.items():
            noisy = data.add_noise(clean, SIGMA, rng)
            with no_grad():
                denoised = np.clip(self.model(self.tensor(noisy[None, None])).numpy()[0, 0], 0, 1)
            results["psnr"].append(data.psnr(denoised, clean))
            results["input_psnr"].append(data.psnr(noisy, clean))
            results["baseline_psnr"].append(max(
                data.psnr(denoise_tv_chambolle(noisy, weight=w), clean) for w in (0.05, 0.08, 0.1, 0.15)))
            results["bm3d_psnr"].append(_bm3d_psnr(noisy, clean))
            shown.append((name, noisy, denoised, clean))
        self.pictures["denoising"] = shown
        metrics = {key: float(np.mean(values)) for key, values in results.items()}
        metrics["per_image"] = {name: {key: values[i] for key, values in results.items()}
                                for i, name in enumerate(self.test_images)}
        return metrics


def _bm3d_psnr(noisy, clean):
    try:
        import bm3d
    except ImportError:
        return float("nan")
    return data.psnr(np.clip(bm3d.bm3d(noisy, sigma_psd=SIGMA), 0, 1), clean)


class DeepImagePriorRun(Run):
    """One noisy 128x128 camera image; a U-Net from fixed noise fitted to it for a fixed number
    of iterations (--epochs x 10), a stopping point chosen without the clean image."""

    iterations_per_epoch = 10

    def __init__(self, args):
        super().__init__(args)
        import skimage.transform
        self.clean = skimage.transform.resize(data.natural_image("camera"), (128, 128),
                                              anti_aliasing=True).astype(np.float32)
        self.noisy = data.add_noise(self.clean, SIGMA, np.random.default_rng(args.seed))
        self.model = models.DeepImagePrior().to(self.device)
        self.code = np.random.default_rng([args.seed, 1]).uniform(0, 0.1, (1, 8, 128, 128)).astype(np.float32)
        self.optimizer = optim.Adam(self.model.parameters(), lr=args.lr)
        self.schedule = None
        self.curve = []  # PSNR against the clean image, for the picture only

    def steps_per_epoch(self):
        return self.iterations_per_epoch

    def batches(self, epoch):
        for _ in range(self.iterations_per_epoch):
            yield None

    def loss(self, batch):
        output = self.model(self.tensor(self.code))
        self.curve.append(data.psnr(np.clip(output.numpy()[0, 0], 0, 1), self.clean))
        return F.mse_loss(output, self.tensor(self.noisy[None, None]))

    def evaluate(self):
        with no_grad():
            output = np.clip(self.model(self.tensor(self.code)).numpy()[0, 0], 0, 1)
        self.pictures["denoising"] = [("camera", self.noisy, output, self.clean)]
        self.pictures["dip_curve"] = self.curve
        return {"psnr": data.psnr(output, self.clean), "input_psnr": data.psnr(self.noisy, self.clean),
                "iterations": self.args.epochs * self.iterations_per_epoch}


def build(args):
    """The Run of args.task, its weights drawn from args.seed."""
    manual_seed(args.seed)
    if args.task == "linear":
        return Classification(args, models.LinearClassifier())
    if args.task == "mlp":
        return Classification(args, models.MLP((784, 256, 128, 10)))
    if args.task == "cnn":
        return Classification(args, models.CNN())
    if args.task == "inpaint":
        return Inpainting(args)
    if args.task == "dncnn":
        return Denoising(args, models.DnCNN(depth=8, channels=32))
    if args.task == "unet":
        return Denoising(args, models.UNet(base=16, levels=3, residual=True))
    if args.task == "dip":
        return DeepImagePriorRun(args)
    raise ValueError(f"train: unknown task {args.task!r}; tasks: {', '.join(TASKS)}")


def _checkpoint(run, epoch, history):
    state = {"task": run.args.task, "seed": run.args.seed, "epoch": epoch, "history": history,
             "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict()}
    if run.schedule is not None:
        state["schedule"] = run.schedule.state_dict()
    if hasattr(run, "curve"):
        state["curve"] = run.curve
    return state


def _restore(run, state):
    if state["task"] != run.args.task or state["seed"] != run.args.seed:
        raise ValueError(f"train: the checkpoint is of task {state['task']!r} with seed "
                         f"{state['seed']}, not {run.args.task!r} with seed {run.args.seed}")
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if run.schedule is not None:
        run.schedule.load_state_dict(state["schedule"])
    if hasattr(run, "curve"):
        run.curve = list(state["curve"])
    return int(state["epoch"]) + 1, list(state["history"])


def train(args):
    """Train args.task; returns the metrics (also written to --json and summarized)."""
    from tqdm import tqdm
    started = time.perf_counter()
    run = build(args)
    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "checkpoint.npz")
    first_epoch, history = 0, []
    if args.resume:
        first_epoch, history = _restore(run, load(args.resume))
    steps = run.steps_per_epoch()
    recorder = profile() if getattr(args, "profile", False) else contextlib.nullcontext()
    with recorder:
        history = _epochs(run, args, first_epoch, history, steps, checkpoint, tqdm)
    metrics = run.evaluate()
    metrics.update(task=args.task, epochs=args.epochs, seconds=time.perf_counter() - started,
                   final_loss=history[-1] if history else None)
    _pictures(run, history, args.out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metrics, f, indent=2)
    if isinstance(recorder, Profile):
        print(recorder.table(limit=20))
    print(summary(metrics, checkpoint))
    return metrics


def _epochs(run, args, first_epoch, history, steps, checkpoint, tqdm):
    """The training loop: one checkpoint after every epoch; returns the loss history."""
    bar = tqdm(total=args.epochs * steps, initial=first_epoch * steps, desc=args.task,
               unit="step", disable=args.quiet, mininterval=0.5)
    for epoch in range(first_epoch, args.epochs):
        manual_seed(args.seed * 100_003 + epoch)  # dropout and any other engine draws
        run.model.train()
        losses = []
        for batch in run.batches(epoch):
            loss = run.loss(batch)
            run.optimizer.zero_grad()
            loss.backward()
            run.optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.4f}")
            bar.update()
        history.append(float(np.mean(losses)))
        if run.schedule is not None:
            run.schedule.step()
        save(_checkpoint(run, epoch, history), checkpoint)
    bar.close()
    return history


def summary(metrics, checkpoint):
    shown = ", ".join(f"{k} {metrics[k]:.4f}" if k == "test_accuracy" else f"{k} {metrics[k]:.2f} dB"
                      for k in ("test_accuracy", "psnr", "input_psnr", "baseline_psnr", "bm3d_psnr")
                      if k in metrics)
    return (f"{metrics['task']}: {shown} after {metrics['epochs']} epochs in "
            f"{metrics['seconds']:.1f} s; checkpoint {checkpoint}")


def _pictures(run, history, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def saved(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(history) + 1), history, marker="o")
    ax.set(xlabel="epoch", ylabel="training loss", title=f"{run.args.task}: loss", yscale="log")
    saved(fig, "loss_curve.png")
    if "templates" in run.pictures:  # the rows of W as images, as in the course notes
        templates = run.pictures["templates"]
        limit = np.abs(templates).max()  # one symmetric scale: white is 0, red +, blue -
        fig, axes = plt.subplots(1, 10, figsize=(12, 1.7))
        for digit, (ax, template) in enumerate(zip(axes, templates)):
            ax.imshow(template, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(digit))
            ax.axis("off")
        saved(fig, "templates.png")
    if "inpainting" in run.pictures:
        rows = run.pictures["inpainting"]
        fig, axes = plt.subplots(3, 8, figsize=(10, 4))
        for r, (title, images) in enumerate(zip(("masked", "inpainted", "clean"), rows)):
            for c, image in enumerate(images):
                axes[r, c].imshow(image[0], cmap="gray", vmin=0, vmax=1)
                axes[r, c].axis("off")
            axes[r, 0].set_title(title, loc="left")
        saved(fig, "inpainting.png")
    if "denoising" in run.pictures:
        shown = run.pictures["denoising"]
        fig, axes = plt.subplots(len(shown), 3, figsize=(10, 3.5 * len(shown)), squeeze=False)
        for r, (name, noisy, denoised, clean) in enumerate(shown):
            for c, (title, image) in enumerate((("noisy", noisy), ("denoised", denoised),
                                                ("clean", clean))):
                label = title if title == "clean" else f"{title} {data.psnr(image, clean):.2f} dB"
                axes[r, c].imshow(image, cmap="gray", vmin=0, vmax=1)
                axes[r, c].set_title(f"{name}: {label}")
                axes[r, c].axis("off")
        saved(fig, "denoising.png")
    if "dip_curve" in run.pictures:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(run.pictures["dip_curve"])
        ax.axvline(len(run.pictures["dip_curve"]) - 1, color="k", linestyle=":", label="stop")
        ax.set(xlabel="iteration", ylabel="PSNR to the clean image (dB)", title="Deep Image Prior")
        ax.legend()
        saved(fig, "dip_psnr.png")
