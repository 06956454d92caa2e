// im2col and col2im for NCHW float32/float64 arrays, with stride, padding and dilation.
//
// Column layout: cols[n][c][ki][kj][oy][ox], i.e. for each image a (C*kH*kW, oH*oW) matrix,
// so that conv2d is W (Cout, C*kH*kW) @ cols[n]. Every argument is validated, with
// overflow-safe arithmetic, before any memory is touched: a bad call raises ShapeError or
// DTypeError (kernels.errors), never crashes or returns garbage; long calls stop on Ctrl-C.
#include <algorithm>
#include <cstring>

#include "common.hpp"

using namespace engine_cpp;

namespace {

struct Geometry {
    int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
    int64_t rows, out;  // c*kh*kw and oh*ow: the column matrix of one image
};

std::string image_str(int64_t n, int64_t c, int64_t h, int64_t w) {
    return "(" + str(n) + ", " + str(c) + ", " + str(h) + ", " + str(w) + ")";
}

Geometry make_geometry(const char* op, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh,
                       int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                       int64_t dw) {
    if (n < 1 || c < 1 || h < 1 || w < 1)
        shape_error(std::string(op) + ": image shape " + image_str(n, c, h, w) +
                    " has a size below 1");
    require_positive(op, "kernel size", kh, kw);
    require_positive(op, "stride", sh, sw);
    require_positive(op, "dilation", dh, dw);
    if (ph < 0 || pw < 0)
        shape_error(std::string(op) + ": padding must be non-negative, got " + pair_str(ph, pw));
    const int64_t hp = extent(op, "the padded height", h, 2, ph);
    const int64_t wp = extent(op, "the padded width", w, 2, pw);
    int64_t eh = 0, ew = 0;
    if (__builtin_mul_overflow(dh, kh - 1, &eh) || __builtin_add_overflow(eh, 1, &eh) ||
        __builtin_mul_overflow(dw, kw - 1, &ew) || __builtin_add_overflow(ew, 1, &ew))
        shape_error(std::string(op) + ": kernel spans more than 2**63 - 1 elements (kernel " +
                    pair_str(kh, kw) + ", dilation " + pair_str(dh, dw) + ")");
    if (eh > hp || ew > wp)
        shape_error(std::string(op) + ": kernel spans " + pair_str(eh, ew) +
                    " with dilation but the padded input is only " + pair_str(hp, wp));
    Geometry g{n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, (hp - eh) / sh + 1,
               (wp - ew) / sw + 1, 0, 0};
    const std::string cols = "the column buffer " + image_str(n, c, h, w) + " -> (" + str(n) +
                             ", C*kh*kw, oH*oW)";
    g.rows = count_mul(op, cols, count_mul(op, cols, c, kh), kw);
    g.out = count_mul(op, cols, g.oh, g.ow);
    count_mul(op, cols, count_mul(op, cols, n, g.rows), g.out);
    const char* image = "the image";
    count_mul(op, image, count_mul(op, image, count_mul(op, image, n, c), h), w);
    return g;
}

// The range [lo, hi) of output columns ox whose input column ox*stride + offset lies in
// [0, size), clipped to [0, count); overflow-free for any stride.
inline void valid_range(int64_t offset, int64_t stride, int64_t size, int64_t count, int64_t& lo,
                        int64_t& hi) {
    lo = offset >= 0 ? 0 : ceil_div(-offset, stride);
    hi = size - offset <= 0 ? 0 : ceil_div(size - offset, stride);
    lo = std::min(lo, count);
    hi = std::max(lo, std::min(hi, count));
}

// Row (ki, kj) of plane p's column matrix.
template <typename T>
void im2col_row(const T* x, T* cols, const Geometry& g, int64_t p, int64_t ki, int64_t kj) {
    const T* xp = x + p * g.h * g.w;
    T* cp = cols + (p * g.kh * g.kw + ki * g.kw + kj) * g.out;
    int64_t lo, hi;
    valid_range(kj * g.dw - g.pw, g.sw, g.w, g.ow, lo, hi);
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        T* row = cp + oy * g.ow;
        const int64_t iy = oy * g.sh - g.ph + ki * g.dh;
        if (iy < 0 || iy >= g.h || lo == hi) {
            std::fill(row, row + g.ow, T(0));
            continue;
        }
        std::fill(row, row + lo, T(0));
        const T* src = xp + iy * g.w + (lo * g.sw - g.pw + kj * g.dw);
        if (g.sw == 1) {
            std::memcpy(row + lo, src, sizeof(T) * (hi - lo));
        } else {
            for (int64_t ox = lo; ox < hi; ++ox) row[ox] = src[(ox - lo) * g.sw];
        }
        std::fill(row + hi, row + g.ow, T(0));
    }
}

// Adds row (ki, kj) of plane p's column matrix into the plane of x it was copied from.
template <typename T>
void col2im_row(const T* cols, T* x, const Geometry& g, int64_t p, int64_t ki, int64_t kj) {
    T* xp = x + p * g.h * g.w;
    const T* cp = cols + (p * g.kh * g.kw + ki * g.kw + kj) * g.out;
    int64_t lo, hi;
    valid_range(kj * g.dw - g.pw, g.sw, g.w, g.ow, lo, hi);
    if (lo == hi) return;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t iy = oy * g.sh - g.ph + ki * g.dh;
        if (iy < 0 || iy >= g.h) continue;
        const T* row = cp + oy * g.ow;
        T* dst = xp + iy * g.w + (lo * g.sw - g.pw + kj * g.dw);
        for (int64_t ox = lo; ox < hi; ++ox) dst[(ox - lo) * g.sw] += row[ox];
    }
}

template <typename T>
void im2col_kernel(const T* x, T* cols, const Geometry& g) {
    // One item per row of the column matrices: they are written independently.
    const int64_t per_plane = g.kh * g.kw;
    parallel_for(g.n * g.c * per_plane, g.out, [&](int64_t i) {
        const int64_t p = i / per_plane, k = i % per_plane;
        im2col_row(x, cols, g, p, k / g.kw, k % g.kw);
    });
}

template <typename T>
void col2im_kernel(const T* cols, T* x, const Geometry& g) {
    const int64_t planes = g.n * g.c, plane = g.h * g.w, per_plane = g.kh * g.kw * g.out;
    // Each (n, c) plane gathers only its own columns: no two threads write the same element.
    if (per_plane <= kChunkWork) {
        parallel_for(planes, per_plane + plane, [&](int64_t p) {
            std::fill(x + p * plane, x + (p + 1) * plane, T(0));
            for (int64_t ki = 0; ki < g.kh; ++ki)
                for (int64_t kj = 0; kj < g.kw; ++kj) col2im_row(cols, x, g, p, ki, kj);
        });
        return;
    }
    // Large planes: one kernel row at a time over all planes, so that Ctrl-C is seen between.
    parallel_for(planes, plane, [&](int64_t p) {
        std::fill(x + p * plane, x + (p + 1) * plane, T(0));
    });
    for (int64_t ki = 0; ki < g.kh; ++ki)
        parallel_for(planes, g.kw * g.out, [&](int64_t p) {
            for (int64_t kj = 0; kj < g.kw; ++kj) col2im_row(cols, x, g, p, ki, kj);
        });
}

py::array im2col(const py::object& x_arg, const py::object& kh, const py::object& kw,
                 const py::object& sh, const py::object& sw, const py::object& ph,
                 const py::object& pw, const py::object& dh, const py::object& dw,
                 const py::object& out) {
    const char* op = "im2col";
    const py::array x = as_array(op, "x", x_arg);
    check_array(op, "x", x, 4);
    const Geometry g = make_geometry(op, x.shape(0), x.shape(1), x.shape(2), x.shape(3),
                                     to_int(op, "kh", kh), to_int(op, "kw", kw),
                                     to_int(op, "sh", sh), to_int(op, "sw", sw),
                                     to_int(op, "ph", ph), to_int(op, "pw", pw),
                                     to_int(op, "dh", dh), to_int(op, "dw", dw));
    py::array cols = output(op, out, x, {g.n, g.rows, g.out});
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        im2col_kernel(static_cast<const T*>(x.data()), static_cast<T*>(cols.mutable_data()), g);
    });
    return cols;
}

py::array col2im(const py::object& cols_arg, const py::object& n, const py::object& c,
                 const py::object& h, const py::object& w, const py::object& kh,
                 const py::object& kw, const py::object& sh, const py::object& sw,
                 const py::object& ph, const py::object& pw, const py::object& dh,
                 const py::object& dw, const py::object& out) {
    const char* op = "col2im";
    const py::array cols = as_array(op, "cols", cols_arg);
    check_array(op, "cols", cols, 3);
    const Geometry g = make_geometry(op, to_int(op, "n", n), to_int(op, "c", c),
                                     to_int(op, "h", h), to_int(op, "w", w),
                                     to_int(op, "kh", kh), to_int(op, "kw", kw),
                                     to_int(op, "sh", sh), to_int(op, "sw", sw),
                                     to_int(op, "ph", ph), to_int(op, "pw", pw),
                                     to_int(op, "dh", dh), to_int(op, "dw", dw));
    if (cols.shape(0) != g.n || cols.shape(1) != g.rows || cols.shape(2) != g.out)
        shape_error("col2im: cols has shape " + shape_str(cols) + " but the geometry needs (" +
                    str(g.n) + ", " + str(g.rows) + ", " + str(g.out) + ")");
    py::array x = output(op, out, cols, {g.n, g.c, g.h, g.w});
    dispatch_float(cols, [&](auto zero) {
        using T = decltype(zero);
        col2im_kernel(static_cast<const T*>(cols.data()), static_cast<T*>(x.mutable_data()), g);
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
