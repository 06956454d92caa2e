"""The course's networks, built from engine.nn."""
from .. import nn
from ..ops import cat


class LinearClassifier(nn.Module):
    """f(x) = W x + b on flattened images; each row of W is a class template."""

    def __init__(self, inputs=784, classes=10):
        super().__init__()
        self.linear = nn.Linear(inputs, classes)

    def forward(self, x):
        return self.linear(x.flatten(1))


class MLP(nn.Module):
    """Fully connected layers with ReLU between them, e.g. sizes (784, 256, 128, 10)."""

    def __init__(self, sizes=(784, 256, 10)):
        super().__init__()
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.flatten(1))


class InpaintingMLP(nn.Module):
    """Predicts a whole digit (784 pixels in [0, 1]) from a masked one: 784-512-784."""

    def __init__(self, pixels=784, hidden=512):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(pixels, hidden), nn.ReLU(), nn.Linear(hidden, pixels),
                                    nn.Sigmoid())

    def forward(self, x):
        return self.layers(x.flatten(1)).reshape(*x.shape)


class CNN(nn.Module):
    """A small VGG-style classifier: conv32-pool-conv64-pool-fc128-fc10 for 28x28 digits."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                                        nn.Linear(128, classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class DnCNN(nn.Module):
    """Residual denoiser (Zhang et al. 2017): the layers predict the noise, which is subtracted.
    conv+ReLU, then (depth - 2) x conv (no bias) + batch norm + ReLU, then conv."""

    def __init__(self, depth=8, channels=32, image_channels=1):
        super().__init__()
        layers = [nn.Conv2d(image_channels, channels, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                       nn.BatchNorm2d(channels), nn.ReLU()]
        layers.append(nn.Conv2d(channels, image_channels, 3, padding=1))
        self.noise = nn.Sequential(*layers)

    def forward(self, x):
        return x - self.noise(x)


def _double_conv(a, b):
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.LeakyReLU(0.1),
                         nn.Conv2d(b, b, 3, padding=1), nn.BatchNorm2d(b), nn.LeakyReLU(0.1))


class UNet(nn.Module):
    """Encoder-decoder with skip connections: max pooling down, transposed convolutions up.
    Input sides must be divisible by 2 ** (levels - 1)."""

    def __init__(self, in_channels=1, out_channels=1, base=16, levels=3, residual=False):
        super().__init__()
        widths = [base * 2 ** i for i in range(levels)]
        self.down = nn.Sequential(*[_double_conv(a, b) for a, b in
                                    zip([in_channels] + widths[:-1], widths)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Sequential(*[nn.ConvTranspose2d(b, a, 2, stride=2)
                                  for a, b in zip(widths[:-1], widths[1:])])
        self.merge = nn.Sequential(*[_double_conv(2 * a, a) for a in widths[:-1]])
        self.head = nn.Conv2d(widths[0], out_channels, 1)
        self.residual = residual  # predict the difference to the input (a denoiser)

    def forward(self, x):
        skips, h = [], x
        for i, block in enumerate(self.down):
            h = block(h)
            if i < len(self.down) - 1:
                skips.append(h)
                h = self.pool(h)
        for up, merge, skip in zip(reversed(list(self.up)), reversed(list(self.merge)),
                                   reversed(skips)):
            h = merge(cat([up(h), skip], axis=1))
        out = self.head(h)
        return x - out if self.residual else out


class DeepImagePrior(nn.Module):
    """A U-Net mapping a fixed noise image to the picture (Ulyanov et al. 2018): fitted to one
    noisy image, it reproduces the image before the noise, so stopping early denoises."""

    def __init__(self, code_channels=8, base=16, levels=3):
        super().__init__()
        self.net = UNet(code_channels, 1, base, levels)

    def forward(self, code):
        return self.net(code).sigmoid()


class ESPCN(nn.Module):
    """Super-resolution by a sub-pixel convolution (Shi et al. 2016): features computed at the
    low resolution, the last layer's scale**2 channels rearranged into the upscaled image by
    pixel_shuffle. It learns the detail that bicubic upsampling misses (the residual, from a
    zero last layer: training starts at bicubic upsampling), and reflect padding keeps the
    image borders free of the dark rim zero padding leaves."""

    def __init__(self, scale=2, channels=64):
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            nn.ReflectionPad2d(2), nn.Conv2d(1, channels, 5), nn.Tanh(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels // 2, 3), nn.Tanh(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels // 2, scale ** 2, 3),
            nn.PixelShuffle(scale))
        last = self.body[-2]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, low):
        upsampled = nn.functional.interpolate(low, scale_factor=self.scale, mode="bicubic")
        return upsampled + self.body(low)
