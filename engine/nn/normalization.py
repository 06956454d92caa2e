"""Normalization layers, with PyTorch's constructor arguments and initialization (weight ones,
bias zeros; running mean zeros, running variance ones)."""
import numbers

import numpy as np

from .. import backend
from ..arguments import count, number
from ..errors import ShapeError
from ..tensor import Tensor
from ..ops.norm import _affine
from . import functional as F
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "GroupNorm", "RMSNorm",
           "LocalResponseNorm"]


class _NormBase(Module):
    """Per-channel affine parameters and running statistics of the batch and instance norms."""
    input_dims = ()  # the input ranks the layer accepts (torch's _check_input_dim)

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype):
        super().__init__()
        owner = type(self).__name__
        self.num_features = count(owner, "num_features", num_features)
        self.eps = number(owner, "eps value", eps, low_open=True)
        self.momentum = None if momentum is None else number(owner, "momentum value", momentum, high=1.0)
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            # a buffer as in torch (saved in state_dict): momentum=None averages over it
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def _check_input(self, x):
        if x.ndim not in self.input_dims:
            expected = " or ".join(f"{n}D" for n in self.input_dims)
            raise ShapeError(f"{type(self).__name__}: expected {expected} input, got {x.ndim}D "
                             f"input of shape {tuple(x.shape)}")

    def _momentum(self):
        """The running statistics' update factor of this forward, as torch's layers."""
        if self.training and self.track_running_stats:
            tracked = self.num_batches_tracked
            tracked.data = backend.table(tracked.device).add(tracked.data, 1)  # on the device
            if self.momentum is None:
                return 1.0 / int(tracked.item())  # the one case that reads it back
        return 0.0 if self.momentum is None else self.momentum

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=np.float32):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def forward(self, x):
        self._check_input(x)
        momentum = self._momentum()
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or self.running_mean is None, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L)."""
    input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W)."""
    input_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W)."""
    input_dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization whose training statistics are those of the whole global batch, over
    every rank of engine.distributed (torch.nn.SyncBatchNorm): each channel's mean, then its
    variance, all-reduced in the forward (and their gradients in the backward), so that N ranks
    train as one process with the global batch would. Alone, or in evaluation, it is BatchNorm.
    convert_sync_batchnorm(model) swaps a model's batch norms for it."""
    input_dims = (2, 3, 4, 5)

    def forward(self, x):
        from .. import distributed  # on first use: importing engine.nn never touches MPI
        self._check_input(x)
        if not self.training or distributed.get_world_size() == 1:
            return super().forward(x)
        momentum = self._momentum()
        mean, var, count = distributed.batch_statistics(x, (0,) + tuple(range(2, x.ndim)))
        if count < 2:
            raise ShapeError(f"SyncBatchNorm: training needs more than one value per channel "
                             f"over all ranks, got {count}")
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = (x - mean.reshape(shape)) * (var + self.eps).rsqrt().reshape(shape)
        if self.track_running_stats:  # the global statistics, the variance unbiased
            for stat, batch, share in ((self.running_mean, mean, momentum),
                                       (self.running_var, var, momentum * count / (count - 1))):
                stat.data = (stat * (1 - momentum) + batch.detach() * share).data
        return _affine(y, self.weight, self.bias, shape)

    @classmethod
    def convert_sync_batchnorm(cls, module):
        """module with every BatchNorm1d/2d/3d in it replaced by a SyncBatchNorm holding the same
        parameters and buffers (module itself when it is one); as torch's."""
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats)
            for name, value in list(module._parameters.items()) + list(module._buffers.items()):
                object.__getattribute__(sync, "_parameters" if name in module._parameters
                                        else "_buffers")[name] = value
            sync.training = module.training
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child)
        return module


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, dtype=np.float32):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def forward(self, x):
        self._check_input(x)
        unbatched = x.ndim == self.input_dims[0]
        x = x.unsqueeze(0) if unbatched else x
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats, self._momentum(), self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization over (N, C, L) or unbatched (C, L)."""
    input_dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization over (N, C, H, W) or unbatched (C, H, W)."""
    input_dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization over (N, C, D, H, W) or unbatched (C, D, H, W)."""
    input_dims = (4, 5)


def _normalized_shape(owner, shape):
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return tuple(count(owner, "normalized_shape entry", n) for n in shape)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=np.float32):
        super().__init__()
        self.normalized_shape = _normalized_shape("LayerNorm", normalized_shape)
        self.eps = number("LayerNorm", "eps value", eps, low_open=True)
        self.elementwise_affine = elementwise_affine
        affine = elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype)) if affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class RMSNorm(Module):
    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, dtype=np.float32):
        super().__init__()
        self.normalized_shape = _normalized_shape("RMSNorm", normalized_shape)
        self.eps = None if eps is None else number("RMSNorm", "eps value", eps, low_open=True)
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=np.float32):
        super().__init__()
        self.num_groups = count("GroupNorm", "num_groups", num_groups)
        self.num_channels = count("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ShapeError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.eps = number("GroupNorm", "eps value", eps, low_open=True)
        self.affine = affine
        self.weight = Parameter(np.ones(num_channels, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dtype)) if affine else None

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class LocalResponseNorm(Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = count("LocalResponseNorm", "size", size)
        self.alpha = number("LocalResponseNorm", "alpha", alpha, low=-np.inf)
        self.beta = number("LocalResponseNorm", "beta", beta, low=-np.inf)
        self.k = number("LocalResponseNorm", "k", k, low=-np.inf)

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
