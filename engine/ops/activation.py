"""Activations and the (stable) softmax family."""
from ..autograd import Function
from ._checks import floating, normalize_axis, torch_dims


class ReLU(Function):
    def forward(self, x):
        self.save(x)
        return self.kernels.relu(x)

    def backward(self, gy):
        return (self.kernels.relu_backward(self.saved[0], gy),)


class LeakyReLU(Function):
    def forward(self, x, negative_slope):
        self.save(x, negative_slope)
        return self.kernels.leaky_relu(x, negative_slope)

    def backward(self, gy):
        x, slope = self.saved
        return self.kernels.leaky_relu_backward(x, gy, slope), None


class Sigmoid(Function):
    def forward(self, x):
        y = self.kernels.sigmoid(floating(self.kernels, x))
        self.save(y)
        return y

    def backward(self, gy):
        return (self.kernels.sigmoid_backward(self.saved[0], gy),)


class Tanh(Function):
    def forward(self, x):
        y = self.kernels.tanh(floating(self.kernels, x))
        self.save(y)
        return y

    def backward(self, gy):
        return (self.kernels.tanh_backward(self.saved[0], gy),)


class Softmax(Function):
    name = "softmax"  # also the name of its kernels (a backend may fuse them)

    def forward(self, x, axis):
        self.axis = normalize_axis(self.op_name(), axis, x.ndim)
        y = self.kernel(self.op_name())(x, self.axis)
        self.save(y)
        return y

    def backward(self, gy):
        return (self.kernel(self.op_name() + "_backward")(self.saved[0], gy, self.axis),)


class LogSoftmax(Softmax):
    """log(softmax(x)) without forming softmax(x)."""
    name = "log_softmax"


relu, sigmoid, tanh = ReLU.apply, Sigmoid.apply, Tanh.apply


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU.apply(x, negative_slope)


@torch_dims
def softmax(input, dim):
    return Softmax.apply(input, axis=dim)


@torch_dims
def log_softmax(input, dim):
    return LogSoftmax.apply(input, axis=dim)


__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax"]
METHODS = ("relu", "sigmoid", "tanh", "softmax", "log_softmax")
FUNCTIONAL = ()  # F.<name> beyond __all__
