// Max pooling over NCHW planes: the forward keeps each window's arg-max (its flat index in the
// input plane), the backward sends each output gradient to that element. Ties go to the first
// element in row-major window order and NaN wins, as in PyTorch; padding never wins.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common.hpp"

using namespace engine_cpp;

namespace {

py::tuple max_pool2d_forward(const py::array& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                             int64_t ph, int64_t pw) {
    check_array("max_pool2d", "x", x, 4);
    require_positive("max_pool2d", "kernel size", kh, kw);
    require_positive("max_pool2d", "stride", sh, sw);
    const int64_t n = x.shape(0), c = x.shape(1), h = x.shape(2), w = x.shape(3);
    if (n < 1 || c < 1 || h < 1 || w < 1)
        throw py::value_error("max_pool2d: x has shape " + shape_str(x) + " with a size below 1");
    if (ph < 0 || pw < 0 || 2 * ph > kh || 2 * pw > kw)
        throw py::value_error("max_pool2d: padding must lie in [0, kernel / 2]");
    const int64_t oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
    if (h + 2 * ph < kh || w + 2 * pw < kw || oh < 1 || ow < 1)
        throw py::value_error("max_pool2d: the kernel does not fit the padded input");
    py::array y(x.dtype(), std::vector<py::ssize_t>{n, c, oh, ow});
    py::array_t<int64_t> argmax(std::vector<py::ssize_t>{n, c, oh, ow});
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = static_cast<const T*>(x.data());
        T* yp = static_cast<T*>(y.mutable_data());
        int64_t* ap = argmax.mutable_data();
        py::gil_scoped_release release;
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < n * c; ++p) {
            const T* plane = xp + p * h * w;
            for (int64_t oy = 0; oy < oh; ++oy) {
                for (int64_t ox = 0; ox < ow; ++ox) {
                    T best = -std::numeric_limits<T>::infinity();
                    int64_t where = -1;
                    for (int64_t i = 0; i < kh; ++i) {
                        const int64_t iy = oy * sh - ph + i;
                        if (iy < 0 || iy >= h) continue;
                        for (int64_t j = 0; j < kw; ++j) {
                            const int64_t ix = ox * sw - pw + j;
                            if (ix < 0 || ix >= w) continue;
                            const T v = plane[iy * w + ix];
                            if (where < 0 || v > best || std::isnan(v)) {
                                best = v;
                                where = iy * w + ix;
                                if (std::isnan(v)) goto done;
                            }
                        }
                    }
                done:
                    yp[(p * oh + oy) * ow + ox] = best;
                    ap[(p * oh + oy) * ow + ox] = where;
                }
            }
        }
    });
    return py::make_tuple(y, argmax);
}

py::array max_pool2d_backward(const py::array& gy, const py::array_t<int64_t>& argmax, int64_t h,
                              int64_t w) {
    check_array("max_pool2d_backward", "gy", gy, 4);
    if (argmax.ndim() != 4 || !(argmax.flags() & py::array::c_style))
        throw py::value_error("max_pool2d_backward: argmax must be a C-contiguous 4-D int64 array");
    for (py::ssize_t i = 0; i < 4; ++i)
        if (argmax.shape(i) != gy.shape(i))
            throw py::value_error("max_pool2d_backward: argmax has shape " + shape_str(argmax) +
                                  " but gy has " + shape_str(gy));
    if (h < 1 || w < 1) throw py::value_error("max_pool2d_backward: input size must be positive");
    const int64_t n = gy.shape(0), c = gy.shape(1), out = gy.shape(2) * gy.shape(3);
    const int64_t* ap = argmax.data();
    for (int64_t i = 0; i < n * c * out; ++i)  // validate before writing anything
        if (ap[i] < 0 || ap[i] >= h * w)
            throw py::value_error("max_pool2d_backward: argmax holds an index outside the plane");
    py::array gx(gy.dtype(), std::vector<py::ssize_t>{n, c, h, w});
    dispatch_float(gy, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = static_cast<const T*>(gy.data());
        T* xp = static_cast<T*>(gx.mutable_data());
        py::gil_scoped_release release;
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < n * c; ++p) {
            T* plane = xp + p * h * w;
            std::fill(plane, plane + h * w, T(0));
            for (int64_t o = 0; o < out; ++o) plane[ap[p * out + o]] += gp[p * out + o];
        }
    });
    return gx;
}

}  // namespace

void bind_pool(py::module_& m) {
    m.def("max_pool2d_forward", &max_pool2d_forward, py::arg("x"), py::arg("kh"), py::arg("kw"),
          py::arg("sh"), py::arg("sw"), py::arg("ph"), py::arg("pw"),
          "x (N, C, H, W) -> (y, argmax): window maxima and their flat indices in the plane.");
    m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("gy"), py::arg("argmax"),
          py::arg("h"), py::arg("w"), "Each output gradient added at its arg-max.");
}
