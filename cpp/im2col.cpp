// im2col and col2im for NCHW float32/float64 arrays, with stride, padding and dilation.
//
// Column layout: cols[n][c][ki][kj][oy][ox], i.e. for each image a (C*kH*kW, oH*oW) matrix,
// so that conv2d is W (Cout, C*kH*kW) @ cols[n]. Every argument is validated before any memory
// is touched: a bad call raises ValueError or TypeError, never crashes.
#include <algorithm>
#include <cstring>

#include "common.hpp"

using namespace engine_cpp;

namespace {

struct Geometry {
    int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

Geometry make_geometry(const char* op, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh,
                       int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                       int64_t dw) {
    if (n < 1 || c < 1 || h < 1 || w < 1)
        throw py::value_error(std::string(op) + ": image shape (" + std::to_string(n) + ", " +
                              std::to_string(c) + ", " + std::to_string(h) + ", " +
                              std::to_string(w) + ") has a size below 1");
    require_positive(op, "kernel size", kh, kw);
    require_positive(op, "stride", sh, sw);
    require_positive(op, "dilation", dh, dw);
    if (ph < 0 || pw < 0)
        throw py::value_error(std::string(op) + ": padding must be non-negative, got (" +
                              std::to_string(ph) + ", " + std::to_string(pw) + ")");
    const int64_t eh = dh * (kh - 1) + 1, ew = dw * (kw - 1) + 1;
    if (eh > h + 2 * ph || ew > w + 2 * pw)
        throw py::value_error(std::string(op) + ": kernel spans (" + std::to_string(eh) + ", " +
                              std::to_string(ew) + ") with dilation but the padded input is only (" +
                              std::to_string(h + 2 * ph) + ", " + std::to_string(w + 2 * pw) + ")");
    return {n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, (h + 2 * ph - eh) / sh + 1,
            (w + 2 * pw - ew) / sw + 1};
}

// The range [lo, hi) of output columns ox whose input column ox*sw - pw + kj*dw lies in [0, w).
inline void valid_range(int64_t offset, int64_t stride, int64_t size, int64_t count, int64_t& lo,
                        int64_t& hi) {
    // ox*stride + offset >= 0  and  ox*stride + offset < size
    lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    hi = size - offset <= 0 ? 0 : (size - offset + stride - 1) / stride;
    lo = std::min(lo, count);
    hi = std::max(lo, std::min(hi, count));
}

template <typename T>
void im2col_kernel(const T* x, T* cols, const Geometry& g) {
    const int64_t planes = g.n * g.c, plane = g.h * g.w, out = g.oh * g.ow;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
        const T* xp = x + p * plane;
        T* cp = cols + p * g.kh * g.kw * out;
        for (int64_t ki = 0; ki < g.kh; ++ki) {
            for (int64_t kj = 0; kj < g.kw; ++kj, cp += out) {
                int64_t lo, hi;
                valid_range(kj * g.dw - g.pw, g.sw, g.w, g.ow, lo, hi);
                for (int64_t oy = 0; oy < g.oh; ++oy) {
                    T* row = cp + oy * g.ow;
                    const int64_t iy = oy * g.sh - g.ph + ki * g.dh;
                    if (iy < 0 || iy >= g.h) {
                        std::fill(row, row + g.ow, T(0));
                        continue;
                    }
                    std::fill(row, row + lo, T(0));
                    const T* src = xp + iy * g.w + lo * g.sw - g.pw + kj * g.dw;
                    if (g.sw == 1) {
                        std::memcpy(row + lo, src, sizeof(T) * (hi - lo));
                    } else {
                        for (int64_t ox = lo; ox < hi; ++ox) row[ox] = src[(ox - lo) * g.sw];
                    }
                    std::fill(row + hi, row + g.ow, T(0));
                }
            }
        }
    }
}

template <typename T>
void col2im_kernel(const T* cols, T* x, const Geometry& g) {
    const int64_t planes = g.n * g.c, plane = g.h * g.w, out = g.oh * g.ow;
    // Each (n, c) plane gathers only its own columns: no two threads write the same element.
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
        T* xp = x + p * plane;
        const T* cp = cols + p * g.kh * g.kw * out;
        std::fill(xp, xp + plane, T(0));
        for (int64_t ki = 0; ki < g.kh; ++ki) {
            for (int64_t kj = 0; kj < g.kw; ++kj, cp += out) {
                int64_t lo, hi;
                valid_range(kj * g.dw - g.pw, g.sw, g.w, g.ow, lo, hi);
                for (int64_t oy = 0; oy < g.oh; ++oy) {
                    const int64_t iy = oy * g.sh - g.ph + ki * g.dh;
                    if (iy < 0 || iy >= g.h) continue;
                    const T* row = cp + oy * g.ow;
                    T* dst = xp + iy * g.w + lo * g.sw - g.pw + kj * g.dw;
                    for (int64_t ox = lo; ox < hi; ++ox) dst[(ox - lo) * g.sw] += row[ox];
                }
            }
        }
    }
}

py::array im2col(const py::array& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                 int64_t pw, int64_t dh, int64_t dw, const py::object& out) {
    check_array("im2col", "x", x, 4);
    const Geometry g = make_geometry("im2col", x.shape(0), x.shape(1), x.shape(2), x.shape(3), kh,
                                     kw, sh, sw, ph, pw, dh, dw);
    py::array cols = output("im2col", out, x.dtype(), {g.n, g.c * g.kh * g.kw, g.oh * g.ow});
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        const T* src = static_cast<const T*>(x.data());
        T* dst = static_cast<T*>(cols.mutable_data());
        py::gil_scoped_release release;
        im2col_kernel(src, dst, g);
    });
    return cols;
}

py::array col2im(const py::array& cols, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh,
                 int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                 int64_t dw, const py::object& out) {
    check_array("col2im", "cols", cols, 3);
    const Geometry g = make_geometry("col2im", n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw);
    if (cols.shape(0) != g.n || cols.shape(1) != g.c * g.kh * g.kw || cols.shape(2) != g.oh * g.ow)
        throw py::value_error("col2im: cols has shape " + shape_str(cols) + " but the geometry needs (" +
                              std::to_string(g.n) + ", " + std::to_string(g.c * g.kh * g.kw) + ", " +
                              std::to_string(g.oh * g.ow) + ")");
    py::array x = output("col2im", out, cols.dtype(), {g.n, g.c, g.h, g.w});
    dispatch_float(cols, [&](auto zero) {
        using T = decltype(zero);
        const T* src = static_cast<const T*>(cols.data());
        T* dst = static_cast<T*>(x.mutable_data());
        py::gil_scoped_release release;
        col2im_kernel(src, dst, g);
    });
    return x;
}

}  // namespace

void bind_im2col(py::module_& m) {
    m.def("im2col", &im2col, py::arg("x"), py::arg("kh"), py::arg("kw"), py::arg("sh") = 1,
          py::arg("sw") = 1, py::arg("ph") = 0, py::arg("pw") = 0, py::arg("dh") = 1,
          py::arg("dw") = 1, py::arg("out") = py::none(),
          "x (N, C, H, W) -> cols (N, C*kh*kw, oH*oW); writes into `out` when given.");
    m.def("col2im", &col2im, py::arg("cols"), py::arg("n"), py::arg("c"), py::arg("h"),
          py::arg("w"), py::arg("kh"), py::arg("kw"), py::arg("sh") = 1, py::arg("sw") = 1,
          py::arg("ph") = 0, py::arg("pw") = 0, py::arg("dh") = 1, py::arg("dw") = 1,
          py::arg("out") = py::none(),
          "cols (N, C*kh*kw, oH*oW) -> x (N, C, H, W), summing overlapping windows.");
}
