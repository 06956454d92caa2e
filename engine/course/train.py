"""python -m engine train TASK: the course's networks trained end to end on the engine.

Every random draw (initial weights, shuffling, noise, dropout, patches) comes from the seed and
the epoch number, and a checkpoint holds the model, the optimizer and the history after every
epoch, so --resume reaches exactly the result of an uninterrupted run.

Ctrl-C stops training at the end of the current step and saves a checkpoint there: it records
the step within the epoch, the losses of the epoch so far and the engine's random state, and
--resume draws the epoch's batches again in the same order (epoch_rng), skips those already
done, and ends bit for bit where the uninterrupted run ends. A second Ctrl-C stops at once.

Started by mpiexec (mpiexec -n 4 python -m engine train cnn), every process trains the same model
data-parallel (engine.distributed): each draws the same global batches of --batch-size examples
and takes its contiguous part of every one, DistributedDataParallel averages the gradients
(weighted by each part's size, so that the step is the global batch's), and the loss each step
reports is the global batch's. Rank 0 alone shows progress, computes the held-out loss, saves
checkpoints, pictures and --json and evaluates. A checkpoint does not depend on the number of
processes, so any number can resume it. A last batch with fewer examples than processes is left
out of its epoch.

A checkpoint (a dict, see _checkpoint) holds: format, task, seed, batch_size, lr, epochs (the
total the run was started for), data, epoch (the last finished epoch counted from 0, -1 for
none), step (batches done of epoch + 1; 0 at an epoch's end), epoch_losses (their losses),
history (mean loss of each finished epoch), model, optimizer, schedule, engine_rng, curve.
"""
import contextlib
import json
import math
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from .. import backend, nn, optim
from . import data, models
from ..autograd import no_grad
from ..errors import CheckpointError, EngineError
from ..profiler import Profile, profile
from ..random import generator, manual_seed
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
    "srcnn": Defaults(15, 16, 1e-3),
}
TASKS = tuple(DEFAULTS)
MNIST_TASKS = ("linear", "mlp", "cnn", "inpaint")  # the tasks that read --data
CHECKPOINT_FORMAT = "python -m engine train checkpoint"


class UsageError(EngineError, ValueError):
    """Options that cannot work together, or that contradict the checkpoint they resume: the
    command line needs fixing (exit status 2, as for argparse's own errors)."""

    exit_code = 2


class TrainingError(EngineError, RuntimeError):
    """Training that cannot go on, such as a loss that became nan or infinite."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says what was saved and the command that resumes."""


def epoch_rng(seed, epoch):
    """The numpy generator of one epoch: the same draws whether or not the run was resumed."""
    return np.random.default_rng([seed, epoch])


class Run:
    """What a task needs: its model, optimizer, batches per epoch, loss, and final evaluation."""

    def __init__(self, args):
        self.args = args
        self.device = args.device
        self.pictures = {}
        self.test_history = []  # the held-out loss after each epoch, where the task has one

    def tensor(self, array):
        return Tensor(array, device=self.device)

    def forward(self, x):
        """The model's output while training: through DistributedDataParallel when there is one
        (self.model stays the bare network, for evaluation and checkpoints)."""
        return (self.parallel or self.model)(x)

    parallel = None

    def batches(self, epoch):
        raise NotImplementedError

    def loss(self, batch):
        raise NotImplementedError

    def evaluate(self):
        raise NotImplementedError

    def test_loss(self):
        """The training loss on held-out data (the same every epoch), or None."""
        return None

    def _held_out_loss(self, inputs, targets, loss, batch=500):
        """The mean of `loss` over held-out (inputs, targets), in eval mode and batches."""
        self.model.eval()
        total = 0.0
        with no_grad():
            for index in data.batches(len(inputs), batch):
                total += loss(self.model(self.tensor(inputs[index])),
                              self.tensor(targets[index])).item() * len(index)
        self.model.train()
        return total / len(inputs)


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
        return F.cross_entropy(self.forward(self.tensor(images)), self.tensor(labels))

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

    def test_loss(self):
        return self._held_out_loss(self.test_set.images, self.test_set.labels, F.cross_entropy)


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
        return F.mse_loss(self.forward(self.tensor(mask_bottom_half(images))), self.tensor(images))

    def evaluate(self):
        clean = self.test_set.images
        masked = mask_bottom_half(clean)
        with no_grad():
            predicted = self.model(self.tensor(masked)).numpy()
        filled = masked.copy()
        filled[..., 14:, :] = predicted[..., 14:, :]  # keep the known pixels
        self.pictures["inpainting"] = (masked[:8], filled[:8], clean[:8])
        return {"psnr": data.psnr(filled, clean), "input_psnr": data.psnr(masked, clean)}

    def test_loss(self):
        clean = self.test_set.images
        return self._held_out_loss(mask_bottom_half(clean), clean, F.mse_loss)


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
        return F.mse_loss(self.forward(self.tensor(noisy)), self.tensor(clean))

    def test_patches(self):
        """Patches of the held-out images, the same every epoch (for the test loss)."""
        if not hasattr(self, "_test_patches"):
            rng = np.random.default_rng(12345)
            self._test_patches = data.random_patches(list(self.test_images.values()), 64,
                                                     self.patch, rng)
        return self._test_patches

    def test_loss(self):
        clean = self.test_patches()
        noisy = data.add_noise(clean, SIGMA, np.random.default_rng(54321))
        return self._held_out_loss(noisy, clean, F.mse_loss, batch=16)

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


def downsample(images, scale):
    """The low-resolution images of super-resolution: antialiased bicubic downsampling (as
    image libraries resize), (N, 1, H, W) to (N, 1, H / scale, W / scale)."""
    with no_grad():
        low = F.interpolate(Tensor(images), scale_factor=1 / scale, mode="bicubic", antialias=True)
    return low.numpy()


class SuperResolution(Run):
    """x2 super-resolution of the gray natural images: an ESPCN trained on random patches and
    their downsampled versions, tested on whole held-out images beside bicubic upsampling."""

    scale, patch, patches_per_epoch = 2, 48, 1600

    def __init__(self, args):
        super().__init__(args)
        self.train_images = list(data.natural_images("train").values())
        self.test_images = data.natural_images("test")
        self.model = models.ESPCN(self.scale).to(self.device)
        self.optimizer = optim.Adam(self.model.parameters(), lr=args.lr)
        self.schedule = optim.CosineAnnealingLR(self.optimizer, args.epochs, eta_min=args.lr / 20)

    steps_per_epoch = Denoising.steps_per_epoch

    def batches(self, epoch):
        rng = epoch_rng(self.args.seed, epoch)
        high = data.random_patches(self.train_images, self.patches_per_epoch, self.patch, rng)
        low = downsample(high, self.scale)
        for index in data.batches(len(high), self.args.batch_size):
            yield low[index], high[index]

    def loss(self, batch):
        low, high = batch
        return F.mse_loss(self.forward(self.tensor(low)), self.tensor(high))

    test_patches = Denoising.test_patches

    def test_loss(self):
        high = self.test_patches()
        return self._held_out_loss(downsample(high, self.scale), high, F.mse_loss, batch=16)

    def evaluate(self):
        self.model.eval()
        results = {"psnr": [], "bicubic_psnr": []}
        shown = []
        for name, clean in self.test_images.items():
            low = downsample(clean[None, None], self.scale)
            with no_grad():
                bicubic = F.interpolate(self.tensor(low), scale_factor=self.scale, mode="bicubic")
                estimate = self.model(self.tensor(low))
            bicubic, estimate = (np.clip(a.numpy()[0, 0], 0, 1) for a in (bicubic, estimate))
            results["psnr"].append(data.psnr(estimate, clean))
            results["bicubic_psnr"].append(data.psnr(bicubic, clean))
            shown.append((name, low[0, 0], bicubic, estimate, clean))
        self.pictures["superresolution"] = shown
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
        output = self.forward(self.tensor(self.code))
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
    if args.task == "srcnn":
        return SuperResolution(args)
    raise ValueError(f"train: unknown task {args.task!r}; tasks: {', '.join(TASKS)}")


def _checkpoint(run, epoch, history, step=0, losses=()):
    """The state after `step` batches of epoch `epoch + 1` (step 0: after epoch `epoch`)."""
    args = run.args
    state = {"format": CHECKPOINT_FORMAT, "task": args.task, "seed": args.seed,
             "batch_size": args.batch_size, "lr": args.lr, "epochs": args.epochs,
             "data": _data_key(args), "epoch": epoch, "step": step,
             "epoch_losses": [float(v) for v in losses], "history": list(history),
             "test_history": list(run.test_history),
             "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
             "engine_rng": generator().bit_generator.state}
    if run.schedule is not None:
        state["schedule"] = run.schedule.state_dict()
    if hasattr(run, "curve"):
        state["curve"] = run.curve
    return state


def _data_key(args):
    folder = getattr(args, "data", None)
    return os.path.abspath(folder) if folder else None


_REQUIRED = {"task": str, "seed": int, "epoch": int, "history": list, "model": dict,
             "optimizer": dict}


def read_checkpoint(path, task):
    """The training checkpoint at `path` for `task`: CheckpointError when the file is not a
    training checkpoint, UsageError when it is one of another task."""
    state = load(path)
    problem = None
    if not isinstance(state, dict):
        problem = f"it holds a {type(state).__name__}"
    else:
        missing = [k for k in _REQUIRED if k not in state]
        wrong = [k for k, kind in _REQUIRED.items()
                 if k in state and (not isinstance(state[k], kind) or isinstance(state[k], bool))]
        if missing:
            problem = f"it has no {', '.join(map(repr, missing))}"
        elif wrong:
            problem = f"its {', '.join(map(repr, wrong))} have the wrong type"
        elif state.get("format", CHECKPOINT_FORMAT) != CHECKPOINT_FORMAT:
            problem = f"its format is {state['format']!r}"
    if problem:
        raise CheckpointError(f"train: {path} is not a training checkpoint of python -m engine "
                              f"train ({problem})")
    if state["task"] != task:
        raise UsageError(f"train: --resume {path}: the checkpoint is of task {state['task']!r}, "
                         f"not {task!r}")
    step, losses = state.setdefault("step", 0), state.setdefault("epoch_losses", [])
    if (type(step) is not int or step < 0 or not isinstance(losses, list)
            or len(losses) != step or state["epoch"] < -1
            or len(state["history"]) != state["epoch"] + 1):
        raise CheckpointError(f"train: {path}: inconsistent training checkpoint (epoch "
                              f"{state['epoch']}, step {step!r}, {len(state['history'])} epochs "
                              "of history)")
    return state


def _option(name, value):
    if name == "data":
        return f"--data {value}" if value else "the bundled MNIST sample"
    return f"--{name.replace('_', '-')} {value}"


def _check_numbers(args):
    """The checks of the command line's argument types, for callers that pass a Namespace."""
    for name, low in (("epochs", 1), ("batch_size", 1), ("seed", 0)):
        value = getattr(args, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise UsageError(f"train: {_option(name, value)}: expected a whole number >= {low}")
    if not (isinstance(args.lr, (int, float)) and math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"train: --lr {args.lr}: expected a finite number > 0")


def resolve(args, state=None):
    """Fill the options left None (the task's defaults, or the checkpoint's when resuming) and
    check them against the checkpoint: UsageError naming every difference. Returns notes for
    the user (a longer run than the checkpoint's, nothing left to train)."""
    defaults = DEFAULTS[args.task]
    notes = []
    if state is None:
        for name in ("epochs", "batch_size", "lr"):
            if getattr(args, name, None) is None:
                setattr(args, name, getattr(defaults, name))
        if getattr(args, "seed", None) is None:
            args.seed = 0
        _check_numbers(args)
        return notes
    saved = {"seed": state["seed"], "batch_size": state.get("batch_size"), "lr": state.get("lr")}
    differ = [name for name, value in saved.items()
              if value is not None and getattr(args, name, None) not in (None, value)]
    if "data" in state and _data_key(args) != state["data"]:
        differ.append("data")
        saved["data"] = state["data"]
    if differ:
        raise UsageError(
            f"train: --resume {args.resume}: the checkpoint was trained with "
            f"{', '.join(_option(n, saved[n]) for n in differ)}; this command asks for "
            f"{', '.join(_option(n, getattr(args, n, None)) for n in differ)}. Resume with the "
            "checkpoint's values (--seed, --batch-size and --lr left out take them), or train "
            "afresh without --resume")
    for name in ("seed", "batch_size", "lr"):
        if getattr(args, name, None) is None:
            fallback = 0 if name == "seed" else getattr(defaults, name)
            setattr(args, name, saved[name] if saved[name] is not None else fallback)
    finished = state["epoch"] + 1
    needed = finished + (1 if state["step"] else 0)
    planned = state.get("epochs")
    if getattr(args, "epochs", None) is None:
        args.epochs = max(planned or defaults.epochs, needed)
    _check_numbers(args)
    if args.epochs < needed:
        done = f"{finished} epochs" + (f" and {state['step']} steps of the next" if state["step"]
                                       else "")
        raise UsageError(f"train: --resume {args.resume}: --epochs {args.epochs} is fewer than "
                         f"the checkpoint has trained ({done}); --epochs counts every epoch, "
                         f"those before the checkpoint included: give at least --epochs {needed}")
    if planned is not None and args.epochs != planned:
        notes.append(f"the checkpoint's run was started for {planned} epochs; training to "
                     f"{args.epochs} in all (a learning-rate schedule now ends at epoch "
                     f"{args.epochs})")
    if args.epochs == finished and not state["step"]:
        notes.append(f"the checkpoint has finished all {args.epochs} epochs: nothing to train, "
                     "evaluating it")
    return notes


def _restore(run, state, path):
    """Load the checkpoint into run: (first epoch, steps of it done, their losses, history)."""
    try:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        if run.schedule is not None:
            run.schedule.load_state_dict(state["schedule"])
        if hasattr(run, "curve"):
            run.curve = list(state["curve"])
        run.test_history = list(state.get("test_history", []))  # older checkpoints have none
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"train: {path}: the checkpoint does not fit the {run.args.task} "
                              f"network and optimizer: {e}") from None
    if state["step"] >= run.steps_per_epoch():
        raise CheckpointError(f"train: {path}: step {state['step']} of an epoch of "
                              f"{run.steps_per_epoch()} steps")
    return state["epoch"] + 1, state["step"], list(state["epoch_losses"]), list(state["history"])


def resume_command(args, checkpoint, world_size=1):
    """The command line that continues this run from `checkpoint`."""
    launcher = ["mpiexec", "-n", str(world_size)] if world_size > 1 else []
    words = launcher + ["python", "-m", "engine", "train", args.task]
    if os.path.normpath(args.out) != os.path.join("out", args.task):
        words += ["--out", args.out]
    for option in ("data", "json"):
        if getattr(args, option, None):
            words += [f"--{option}", getattr(args, option)]
    if args.device != "cpu":
        words += ["--device", args.device]
    words += [flag for flag in ("--quiet", "--profile", "--sync-bn")
              if getattr(args, flag[2:].replace("-", "_"), False)]
    return " ".join(shlex.quote(str(w)) for w in words + ["--resume", checkpoint])


def _check_options(args, world_size=1):
    """What can be refused before any data is read."""
    if world_size > 1 and args.task == "dip":
        raise UsageError(f"train: dip fits one image, which {world_size} processes cannot share; "
                         "run it as one process (without mpiexec)")
    if world_size > 1 and args.batch_size < world_size:
        raise UsageError(f"train: --batch-size {args.batch_size} is the global batch, which "
                         f"{world_size} processes share: give at least --batch-size {world_size}")
    if getattr(args, "data", None) is not None:
        if args.task not in MNIST_TASKS:
            raise UsageError(f"train: --data is for the MNIST tasks ({', '.join(MNIST_TASKS)}); "
                             f"{args.task} trains on scikit-image's pictures")
        if not os.path.isdir(args.data):
            raise UsageError(f"train: --data {args.data}: no such folder")
    for option, folder in (("--out", args.out), ("--json", os.path.dirname(
            os.path.abspath(args.json)) if getattr(args, "json", None) else None)):
        if folder is not None and os.path.exists(folder) and not os.path.isdir(folder):
            raise UsageError(f"train: {option}: {folder} is a file, not a folder")


class _Progress:
    """What has been saved so far, for the message of an interrupted run."""

    def __init__(self, args, checkpoint, world_size=1):
        self.args, self.checkpoint, self.world_size = args, checkpoint, world_size
        self.saved = None  # (path, description) of the last state saved or resumed from

    def interrupted(self, when, just_saved=False):
        if self.saved is None:
            return Interrupted(f"interrupted {when}; nothing was saved")
        path, description = self.saved
        said = f"saved {path}" if just_saved else f"{path} holds {description}"
        return Interrupted(f"interrupted {when}; {said}\n"
                           f"resume with: {resume_command(self.args, path, self.world_size)}")


def _describe(epoch, step, steps, epochs):
    """What a checkpoint after `step` steps of epoch `epoch + 1` (counted from 0) holds."""
    if step:
        return f"epoch {epoch + 2} of {epochs} up to step {step} of {steps}"
    return f"{epoch + 1} of {epochs} epochs"


class _Ranks:
    """This process's part in the run: rank 0 of 1 without mpiexec, else one of the data-parallel
    ranks (see the module's docstring). The decisions every rank must take alike (the step's
    loss, whether to stop) go through `agree`."""

    def __init__(self):
        from .. import distributed  # imports mpi4py only when mpiexec started the process
        self.distributed = distributed
        self.rank, self.size = distributed.init()
        self.main = self.rank == 0
        self.stopping = False  # a stop all ranks agreed on (several ranks only)

    def check_same_options(self, args):
        """UsageError on every rank, naming the ranks and options, unless every rank resolved the
        same options as rank 0 (mpiexec can start different command lines: -n 1 A : -n 1 B)."""
        if self.size == 1:
            return
        names = ("task", "epochs", "batch_size", "lr", "seed", "device", "sync_bn", "resume")
        mine = {n: getattr(args, n, None) for n in names}
        every = self.distributed._get_world().comm.allgather(mine)
        differ = [f"rank {r} has --{n.replace('_', '-')} {o[n]} where rank 0 has {every[0][n]}"
                  for r, o in enumerate(every[1:], start=1) for n in names if o[n] != every[0][n]]
        if differ:
            raise UsageError(f"train: the processes were started with different options: "
                             f"{'; '.join(differ)}; start every rank with the same command line")

    def wrap(self, run, sync_bn=False):
        """Give run its DistributedDataParallel (several ranks only)."""
        if self.size == 1:
            return
        if sync_bn:  # the same Parameter objects: the optimizer built on them still holds them
            run.model = nn.SyncBatchNorm.convert_sync_batchnorm(run.model)
        run.parallel = self.distributed.DistributedDataParallel(run.model)

    def shard(self, batch):
        """(this rank's contiguous part of the global batch, the factor that makes its mean loss
        its share of the global batch's mean); (None, 0) for a batch smaller than the ranks."""
        if self.size == 1 or batch is None:
            return batch, 1.0
        n = len(batch[0])
        if n < self.size:
            return None, 0.0
        low, high = n * self.rank // self.size, n * (self.rank + 1) // self.size
        return tuple(a[low:high] for a in batch), (high - low) * self.size / n

    def agree(self, value, stop):
        """The global batch's loss from this rank's scaled `value`; with several ranks, the same
        all-reduce also settles `stopping` (whether any rank was asked to stop)."""
        if self.size == 1:
            return value
        both = self.distributed.all_reduce(Tensor(np.array([value / self.size,
                                                            float(stop.requested)])))
        value, flag = both.numpy().tolist()
        self.stopping = flag > 0
        return value

    def should_stop(self, stop):
        return stop.requested if self.size == 1 else self.stopping

    def save(self, state, path):
        if self.main:
            save(state, path)


class _StopOnInterrupt:
    """While training: the first Ctrl-C asks to stop after the current step (so the loop saves
    a consistent checkpoint, never half an optimizer step), a second one stops at once. Only in
    the main thread, and only where Ctrl-C would raise KeyboardInterrupt anyway."""

    def __init__(self, quiet=False):
        self.requested, self.quiet = False, quiet
        self.previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.quiet:
            return
        try:  # no buffered stream here: the main thread may be inside a write to stderr
            os.write(2, b"\nstopping after this step to save a checkpoint "
                        b"(Ctrl-C again stops at once)\n")
        except OSError:
            pass

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def train(args):
    """Train args.task; returns the metrics (also written to --json and summarized).

    Options left None take the task's defaults, or the checkpoint's when resuming. Refuses
    (UsageError, CheckpointError, DeviceError, data.DataError) before training what cannot work;
    Ctrl-C saves a checkpoint at the current step and raises Interrupted."""
    from tqdm import tqdm
    started = time.perf_counter()
    backend.table(args.device)  # an unknown or unusable device says so before any data is read
    ranks = _Ranks()
    state = read_checkpoint(args.resume, args.task) if getattr(args, "resume", None) else None
    for note in resolve(args, state):
        if ranks.main:
            print(f"note: {note}", file=sys.stderr)
    _check_options(args, ranks.size)
    ranks.check_same_options(args)
    checkpoint = os.path.join(args.out, "checkpoint.npz")
    progress = _Progress(args, checkpoint, ranks.size)
    phase = "before training started"
    try:
        os.makedirs(args.out, exist_ok=True)  # before the data: a folder that cannot be made says so
        if getattr(args, "json", None):
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        run = build(args)
        ranks.wrap(run, getattr(args, "sync_bn", False))
        start, history = (0, 0, []), []
        if state is not None:
            *start, history = _restore(run, state, args.resume)
            progress.saved = (args.resume, _describe(state["epoch"], state["step"],
                                                     run.steps_per_epoch(), args.epochs))
        steps = run.steps_per_epoch()
        recorder = profile() if getattr(args, "profile", False) else contextlib.nullcontext()
        phase = "again before the checkpoint of the current step was written"
        began = time.perf_counter()
        with recorder:
            history = _epochs(run, args, start, history, steps, checkpoint, tqdm, progress,
                              state.get("engine_rng") if state else None, ranks)
        training_s = time.perf_counter() - began
        if progress.saved is None or progress.saved[0] != checkpoint:
            # nothing was left to train: --out gets the resumed state, so the summary is true
            ranks.save(_checkpoint(run, len(history) - 1, history), checkpoint)
            progress.saved = (checkpoint, _describe(len(history) - 1, 0, steps, args.epochs))
        if not ranks.main:  # rank 0 evaluates and reports the run
            return {"task": args.task, "rank": ranks.rank, "world_size": ranks.size}
        phase = "after training, while evaluating"
        metrics = run.evaluate()
        metrics.update(task=args.task, epochs=args.epochs, seconds=time.perf_counter() - started,
                       final_loss=history[-1] if history else None, world_size=ranks.size,
                       samples_per_second=run.samples / training_s if run.samples else None)
        if run.test_history:
            metrics["final_test_loss"] = run.test_history[-1]
        _pictures(run, history, args.out)
        if getattr(args, "json", None):
            with open(args.json, "w") as f:
                json.dump(metrics, f, indent=2)
    except KeyboardInterrupt as e:
        if not ranks.main:  # rank 0 says what was saved; the others leave quietly
            raise SystemExit(130) from None
        raise e if isinstance(e, Interrupted) else progress.interrupted(phase) from None
    if isinstance(recorder, Profile):
        print(recorder.table(limit=20))
        trace = recorder.export_chrome_trace(os.path.join(args.out, "trace.json"))
        print(f"Chrome trace of every op: {trace} (open it in ui.perfetto.dev)")
    print(summary(metrics, checkpoint))
    return metrics


def _epochs(run, args, start, history, steps, checkpoint, tqdm, progress=None, engine_rng=None,
            ranks=None):
    """The training loop: a checkpoint after every epoch, and at the current step on Ctrl-C;
    returns the loss history. `start` is (first epoch, steps of it already done, their losses).
    Counts the examples trained on in run.samples."""
    first_epoch, skip, partial = start
    ranks = ranks or _Ranks()
    progress = progress or _Progress(args, checkpoint, ranks.size)
    run.samples = 0
    bar = tqdm(total=args.epochs * steps, initial=first_epoch * steps + skip, desc=args.task,
               unit="step", disable=getattr(args, "quiet", False) or not ranks.main,
               mininterval=0.5)
    try:
        with _StopOnInterrupt(quiet=not ranks.main) as stop:
            for epoch in range(first_epoch, args.epochs):
                manual_seed(args.seed * 100_003 + epoch)  # dropout and any other engine draws
                resumed = epoch == first_epoch and skip > 0
                if resumed and engine_rng is not None:
                    generator().bit_generator.state = engine_rng  # as it was at that step
                run.model.train()
                losses = list(partial) if resumed else []
                for step, batch in enumerate(run.batches(epoch)):
                    if resumed and step < skip:
                        continue  # done before the checkpoint: the same batches, in the same order
                    if ranks.should_stop(stop):
                        bar.close()
                        ranks.save(_checkpoint(run, epoch - 1, history, step, losses), checkpoint)
                        progress.saved = (checkpoint, _describe(epoch - 1, step, steps, args.epochs))
                        raise progress.interrupted(f"in epoch {epoch + 1} of {args.epochs} after "
                                                   f"step {step} of {steps}", just_saved=True)
                    part, share = ranks.shard(batch)
                    if share == 0:
                        continue  # fewer examples than ranks: left out on every rank
                    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                        loss = run.loss(part)  # a diverging run is reported below, not warned of
                        if share != 1:
                            loss = loss * share
                        run.optimizer.zero_grad()
                        loss.backward()
                        run.optimizer.step()
                    value = ranks.agree(loss.item(), stop)
                    run.samples += 1 if batch is None else len(batch[0])
                    if not math.isfinite(value):
                        saved = (f"{progress.saved[0]} holds {progress.saved[1]}" if progress.saved
                                 else "no checkpoint was written")
                        raise TrainingError(
                            f"train: the loss became {value} in epoch {epoch + 1}, step {step + 1}: "
                            f"training diverged (is --lr {args.lr} too large?); {saved}")
                    losses.append(value)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.4f}")
                    bar.update()
                history.append(float(np.mean(losses)))
                test = run.test_loss() if ranks.main else None
                if test is not None:
                    run.test_history.append(test)
                if run.schedule is not None:
                    run.schedule.step()
                ranks.save(_checkpoint(run, epoch, history), checkpoint)
                progress.saved = (checkpoint, _describe(epoch, 0, steps, args.epochs))
                if ranks.should_stop(stop):
                    bar.close()
                    raise progress.interrupted(f"at the end of epoch {epoch + 1} of {args.epochs}",
                                               just_saved=True)
    finally:
        bar.close()
    return history


def summary(metrics, checkpoint):
    shown = ", ".join(f"{k} {metrics[k]:.4f}" if k == "test_accuracy" else f"{k} {metrics[k]:.2f} dB"
                      for k in ("test_accuracy", "psnr", "input_psnr", "baseline_psnr", "bm3d_psnr",
                                "bicubic_psnr")
                      if k in metrics)
    world = metrics.get("world_size", 1)
    processes = f" on {world} processes" if world > 1 else ""
    rate = (f" ({metrics['samples_per_second']:.0f} samples/s)"
            if metrics.get("samples_per_second") else "")
    return (f"{metrics['task']}: {shown} after {metrics['epochs']} epochs in "
            f"{metrics['seconds']:.1f} s{processes}{rate}; checkpoint {checkpoint}")


def _pictures(run, history, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def saved(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.2))
    # Deep Image Prior's "epochs" are blocks of iterations on its one image: say iterations
    per_point = getattr(run, "iterations_per_epoch", 1)
    xs = [per_point * (e + 1) for e in range(len(history))]
    ax.plot(xs, history, marker="o", label="training (mean over the epoch)")
    tested = run.test_history[-len(history):] if history else []
    if len(tested) == len(history) and tested:
        ax.plot(xs, tested, marker="s", label="held-out (after the epoch)")
        ax.legend(fontsize=8)
    if len(xs) <= 10:  # a tick at each point (one point alone would get fractional ticks)
        ax.set_xticks(xs)
        ax.set_xlim(xs[0] - per_point / 2, xs[-1] + per_point / 2)
    else:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(xlabel="iteration" if per_point > 1 else "epoch",
           ylabel="loss",
           title=f"{run.args.task}: loss", yscale="log")
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
                axes[r, c].set_title(f"{name}: {label}", fontsize=9)  # three fit side by side
                axes[r, c].axis("off")
        saved(fig, "denoising.png")
    if "superresolution" in run.pictures:  # a 96 x 96 crop of each, at the original's scale
        shown = run.pictures["superresolution"]
        fig, axes = plt.subplots(len(shown), 4, figsize=(12, 3.4 * len(shown)), squeeze=False)
        for r, (name, low, bicubic, estimate, clean) in enumerate(shown):
            y, x = clean.shape[0] // 3, clean.shape[1] // 3
            crop = (slice(y, y + 96), slice(x, x + 96))
            nearest = np.kron(low, np.ones((2, 2)))  # the pixels as they are, made bigger
            for c, (title, image) in enumerate((("low resolution", nearest), ("bicubic", bicubic),
                                                ("ESPCN", estimate), ("original", clean))):
                label = title if c in (0, 3) else f"{title} {data.psnr(image, clean):.2f} dB"
                axes[r, c].imshow(image[crop], cmap="gray", vmin=0, vmax=1)
                axes[r, c].set_title(f"{name}: {label}")
                axes[r, c].axis("off")
        saved(fig, "superresolution.png")
    if "dip_curve" in run.pictures:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(run.pictures["dip_curve"])
        ax.axvline(len(run.pictures["dip_curve"]) - 1, color="k", linestyle=":", label="stop")
        ax.set(xlabel="iteration", ylabel="PSNR to the clean image (dB)", title="Deep Image Prior")
        ax.legend()
        saved(fig, "dip_psnr.png")
