"""The references of the normalization family: each statistic by math.fsum over the values it
covers, one group of values at a time."""
import math

import numpy as np


def _normalize_rows(rows, eps):
    """Each row (x - mean) / sqrt(biased var + eps)."""
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        mean = math.fsum(row) / row.size
        var = math.fsum((row - mean) ** 2) / row.size
        out[i] = (row - mean) / math.sqrt(var + eps)
    return out


def _per_channel(y, weight, bias):
    for ch in range(y.shape[1]):
        y[:, ch] = y[:, ch] * (1.0 if weight is None else weight[ch]) + (0.0 if bias is None else bias[ch])
    return y


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, np.float64)
    inner = int(np.prod(normalized_shape, dtype=np.int64))
    y = _normalize_rows(x.reshape(-1, inner), eps).reshape(x.shape)
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def rms_norm(x, normalized_shape, weight=None, eps=1e-6):
    x = np.asarray(x, np.float64)
    rows = x.reshape(-1, int(np.prod(normalized_shape, dtype=np.int64)))
    y = np.stack([row / math.sqrt(math.fsum(row * row) / row.size + eps) for row in rows])
    y = y.reshape(x.shape)
    return y if weight is None else y * weight


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, np.float64)
    y = _normalize_rows(x.reshape(x.shape[0] * num_groups, -1), eps).reshape(x.shape)
    return _per_channel(y, weight, bias)


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, eps=1e-5):
    """Each (sample, channel) normalized by its own statistics, or by the running ones."""
    x = np.asarray(x, np.float64)
    n, c = x.shape[:2]
    if use_input_stats:
        y = _normalize_rows(x.reshape(n * c, -1), eps).reshape(x.shape)
    else:
        y = np.empty_like(x)
        for ch in range(c):
            y[:, ch] = (x[:, ch] - running_mean[ch]) / math.sqrt(running_var[ch] + eps)
    return _per_channel(y, weight, bias)


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """x[:, c] / (k + alpha / size * sum of x[:, c']**2 for c' in [c - size//2, c + (size-1)//2])**beta."""
    x = np.asarray(x, np.float64)
    y = np.empty_like(x)
    channels = x.shape[1]
    for c in range(channels):
        window = range(max(0, c - size // 2), min(channels, c + (size - 1) // 2 + 1))
        square_sum = sum(x[:, j] ** 2 for j in window)
        y[:, c] = x[:, c] / (k + alpha / size * square_sum) ** beta
    return y
