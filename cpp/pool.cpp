// Max and average pooling over NCHW planes. Max pooling keeps each window's arg-max (its flat
// index in the input plane), and its backward sends each output gradient to that element; ties
// go to the first element in row-major window order and NaN wins, as in PyTorch; padding never
// wins. Average pooling divides by the window's size (count_include_pad) or by its count of real
// elements. Every window is clipped to the input before it is read, so a kernel far larger than
// the input costs no more than the input itself; arguments are checked with overflow-safe
// arithmetic, and long calls stop on Ctrl-C.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common.hpp"

using namespace engine_cpp;

namespace {

struct Pool {
    int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow;

    // The rows [i0, i1) of the input that output row oy's window covers (never empty).
    void rows(int64_t oy, int64_t& i0, int64_t& i1) const {
        const int64_t y0 = oy * sh - ph;
        i0 = std::max<int64_t>(y0, 0);
        i1 = std::min(y0 + kh, h);
    }
    void cols(int64_t ox, int64_t& j0, int64_t& j1) const {
        const int64_t x0 = ox * sw - pw;
        j0 = std::max<int64_t>(x0, 0);
        j1 = std::min(x0 + kw, w);
    }
    // The real elements of one window at most, for the cost of a loop.
    int64_t window() const { return std::min(kh, h) * std::min(kw, w); }
};

std::string shape4(int64_t n, int64_t c, int64_t h, int64_t w) {
    return "(" + str(n) + ", " + str(c) + ", " + str(h) + ", " + str(w) + ")";
}

// The geometry of pooling an input (n, c, h, w), described as `name` in errors.
Pool make_pool(const char* op, const std::string& name, int64_t n, int64_t c, int64_t h,
               int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
               int64_t pw) {
    require_positive(op, "kernel size", kh, kw);
    require_positive(op, "stride", sh, sw);
    if (n < 1 || c < 1 || h < 1 || w < 1)
        shape_error(std::string(op) + ": " + name + " has shape " + shape4(n, c, h, w) +
                    " with a size below 1");
    // 2 * p <= k keeps every window on at least one real element (as torch requires).
    if (ph < 0 || pw < 0 || ph > kh / 2 || pw > kw / 2)
        shape_error(std::string(op) + ": padding must lie in [0, kernel / 2], got padding " +
                    pair_str(ph, pw) + " for kernel " + pair_str(kh, kw));
    const int64_t hp = extent(op, "the padded height", h, 2, ph);
    const int64_t wp = extent(op, "the padded width", w, 2, pw);
    if (kh > hp || kw > wp)
        shape_error(std::string(op) + ": the kernel " + pair_str(kh, kw) +
                    " does not fit the padded input " + pair_str(hp, wp));
    Pool g{n, c, h, w, kh, kw, sh, sw, ph, pw, (hp - kh) / sh + 1, (wp - kw) / sw + 1};
    const std::string input = "the input " + shape4(n, c, h, w);
    count_mul(op, input, count_mul(op, input, count_mul(op, input, n, c), h), w);
    const std::string output = "the output of " + shape4(n, c, h, w);
    count_mul(op, output, count_mul(op, output, n * c, g.oh), g.ow);
    return g;
}

Pool pool_of(const char* op, const py::array& x, const py::object& kh, const py::object& kw,
             const py::object& sh, const py::object& sw, const py::object& ph,
             const py::object& pw) {
    return make_pool(op, "x", x.shape(0), x.shape(1), x.shape(2), x.shape(3),
                     to_int(op, "kh", kh), to_int(op, "kw", kw), to_int(op, "sh", sh),
                     to_int(op, "sw", sw), to_int(op, "ph", ph), to_int(op, "pw", pw));
}

// Saturating a * b * c, for the cost estimates of the loops (never an allocation).
int64_t cost(int64_t a, int64_t b, int64_t c = 1) {
    const double v = double(a) * double(b) * double(c);
    return v > 4e18 ? int64_t(4e18) : int64_t(v);
}

py::tuple max_pool2d_forward(const py::object& x_arg, const py::object& kh,
                             const py::object& kw, const py::object& sh, const py::object& sw,
                             const py::object& ph, const py::object& pw) {
    const char* op = "max_pool2d";
    const py::array x = as_array(op, "x", x_arg);
    check_array(op, "x", x, 4);
    const Pool g = pool_of(op, x, kh, kw, sh, sw, ph, pw);
    py::array y(x.dtype(), std::vector<py::ssize_t>{g.n, g.c, g.oh, g.ow});
    py::array_t<int64_t> argmax(std::vector<py::ssize_t>{g.n, g.c, g.oh, g.ow});
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = static_cast<const T*>(x.data());
        T* yp = static_cast<T*>(y.mutable_data());
        int64_t* ap = argmax.mutable_data();
        // One item per output row of a plane.
        parallel_for(g.n * g.c * g.oh, cost(g.ow, g.window()) + 1, [&](int64_t r) {
            const int64_t p = r / g.oh, oy = r % g.oh;
            const T* plane = xp + p * g.h * g.w;
            int64_t i0, i1;
            g.rows(oy, i0, i1);
            for (int64_t ox = 0; ox < g.ow; ++ox) {
                int64_t j0, j1;
                g.cols(ox, j0, j1);
                T best = -std::numeric_limits<T>::infinity();
                int64_t where = -1;
                for (int64_t iy = i0; iy < i1; ++iy) {
                    for (int64_t ix = j0; ix < j1; ++ix) {
                        const T v = plane[iy * g.w + ix];
                        if (where < 0 || v > best || std::isnan(v)) {
                            best = v;
                            where = iy * g.w + ix;
                            if (std::isnan(v)) goto done;
                        }
                    }
                }
            done:
                yp[r * g.ow + ox] = best;
                ap[r * g.ow + ox] = where;
            }
        });
    });
    return py::make_tuple(y, argmax);
}

py::array max_pool2d_backward(const py::object& gy_arg, const py::object& argmax_arg,
                              const py::object& h_arg, const py::object& w_arg) {
    const char* op = "max_pool2d_backward";
    const py::array gy = as_array(op, "gy", gy_arg);
    check_array(op, "gy", gy, 4);
    const py::array argmax = as_array(op, "argmax", argmax_arg);
    if (argmax.dtype().kind() != 'i' || argmax.dtype().itemsize() != 8)
        dtype_error(std::string(op) + ": argmax must be int64, got " + dtype_str(argmax.dtype()));
    if (argmax.ndim() != 4)
        shape_error("max_pool2d_backward: argmax must be a C-contiguous 4-D int64 array, got "
                    "shape " + shape_str(argmax));
    check_layout(op, "argmax", argmax);
    for (py::ssize_t i = 0; i < 4; ++i)
        if (argmax.shape(i) != gy.shape(i))
            shape_error("max_pool2d_backward: argmax has shape " + shape_str(argmax) +
                        " but gy has " + shape_str(gy));
    const int64_t h = to_int(op, "h", h_arg), w = to_int(op, "w", w_arg);
    if (h < 1 || w < 1)
        shape_error("max_pool2d_backward: input size must be positive, got " + pair_str(h, w));
    const int64_t n = gy.shape(0), c = gy.shape(1), out = gy.shape(2) * gy.shape(3);
    const std::string what = "the input gradient";
    const int64_t plane = count_mul(op, what, h, w);
    count_mul(op, what, count_mul(op, what, n, c), plane);
    const int64_t* ap = static_cast<const int64_t*>(argmax.data());
    for (int64_t i = 0; i < n * c * out; ++i)  // validate before writing anything
        if (ap[i] < 0 || ap[i] >= plane)
            shape_error("max_pool2d_backward: argmax holds an index outside the plane");
    py::array gx(gy.dtype(), std::vector<py::ssize_t>{n, c, h, w});
    dispatch_float(gy, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = static_cast<const T*>(gy.data());
        T* xp = static_cast<T*>(gx.mutable_data());
        // One item per plane: a plane's outputs may send their gradients to the same element.
        parallel_for(n * c, out + plane, [&](int64_t p) {
            T* dst = xp + p * plane;
            std::fill(dst, dst + plane, T(0));
            for (int64_t o = 0; o < out; ++o) dst[ap[p * out + o]] += gp[p * out + o];
        });
    });
    return gx;
}

py::array avg_pool2d_forward(const py::object& x_arg, const py::object& kh,
                             const py::object& kw, const py::object& sh, const py::object& sw,
                             const py::object& ph, const py::object& pw, bool count_include_pad) {
    const char* op = "avg_pool2d";
    const py::array x = as_array(op, "x", x_arg);
    check_array(op, "x", x, 4);
    const Pool g = pool_of(op, x, kh, kw, sh, sw, ph, pw);
    py::array y(x.dtype(), std::vector<py::ssize_t>{g.n, g.c, g.oh, g.ow});
    const double full = double(g.kh) * double(g.kw);
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = static_cast<const T*>(x.data());
        T* yp = static_cast<T*>(y.mutable_data());
        parallel_for(g.n * g.c * g.oh, cost(g.ow, g.window()) + 1, [&](int64_t r) {
            const int64_t p = r / g.oh, oy = r % g.oh;
            const T* plane = xp + p * g.h * g.w;
            int64_t i0, i1;
            g.rows(oy, i0, i1);
            for (int64_t ox = 0; ox < g.ow; ++ox) {
                int64_t j0, j1;
                g.cols(ox, j0, j1);
                double sum = 0;
                for (int64_t iy = i0; iy < i1; ++iy)
                    for (int64_t ix = j0; ix < j1; ++ix) sum += plane[iy * g.w + ix];
                const double divisor = count_include_pad ? full : double((i1 - i0) * (j1 - j0));
                yp[r * g.ow + ox] = T(sum / divisor);
            }
        });
    });
    return y;
}

// The range [lo, hi) of outputs whose windows (start o*stride - pad, size kernel) cover i.
inline void covering(int64_t i, int64_t pad, int64_t kernel, int64_t stride, int64_t count,
                     int64_t& lo, int64_t& hi) {
    const int64_t first = i + pad - kernel + 1;  // o*stride >= first
    lo = first <= 0 ? 0 : ceil_div(first, stride);
    hi = std::min(count, (i + pad) / stride + 1);
    lo = std::min(lo, hi);
}

py::array avg_pool2d_backward(const py::object& gy_arg, const py::object& h_arg,
                              const py::object& w_arg, const py::object& kh,
                              const py::object& kw, const py::object& sh, const py::object& sw,
                              const py::object& ph, const py::object& pw,
                              bool count_include_pad) {
    const char* op = "avg_pool2d_backward";
    const py::array gy = as_array(op, "gy", gy_arg);
    check_array(op, "gy", gy, 4);
    const int64_t h = to_int(op, "h", h_arg), w = to_int(op, "w", w_arg);
    if (h < 1 || w < 1)
        shape_error(std::string(op) + ": input size must be positive, got " + pair_str(h, w));
    const Pool g = make_pool(op, "the input", gy.shape(0), gy.shape(1), h, w,
                             to_int(op, "kh", kh), to_int(op, "kw", kw), to_int(op, "sh", sh),
                             to_int(op, "sw", sw), to_int(op, "ph", ph), to_int(op, "pw", pw));
    if (gy.shape(2) != g.oh || gy.shape(3) != g.ow)
        shape_error(std::string(op) + ": gy has shape " + shape_str(gy) + " but pooling an input "
                    "of " + pair_str(h, w) + " gives " + pair_str(g.oh, g.ow));
    // Which outputs cover each input column, and each output's divisor.
    std::vector<int64_t> x_lo(g.w), x_hi(g.w);
    for (int64_t ix = 0; ix < g.w; ++ix) covering(ix, g.pw, g.kw, g.sw, g.ow, x_lo[ix], x_hi[ix]);
    // 1 / divisor = row_scale[oy] * col_scale[ox]: the divisor is the window's rows x columns.
    std::vector<double> row_scale(g.oh), col_scale(g.ow);
    for (int64_t oy = 0; oy < g.oh; ++oy) {
        int64_t i0, i1;
        g.rows(oy, i0, i1);
        row_scale[oy] = 1.0 / (count_include_pad ? double(g.kh) : double(i1 - i0));
    }
    for (int64_t ox = 0; ox < g.ow; ++ox) {
        int64_t j0, j1;
        g.cols(ox, j0, j1);
        col_scale[ox] = 1.0 / (count_include_pad ? double(g.kw) : double(j1 - j0));
    }
    py::array gx(gy.dtype(), std::vector<py::ssize_t>{g.n, g.c, g.h, g.w});
    const bool disjoint = g.kh <= g.sh && g.kw <= g.sw;
    const int64_t per_row = cost(g.w, std::min(g.oh, ceil_div(g.kh, g.sh)),
                                 std::min(g.ow, ceil_div(g.kw, g.sw)));
    dispatch_float(gy, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = static_cast<const T*>(gy.data());
        T* xp = static_cast<T*>(gx.mutable_data());
        // One item per input row of a plane: each element gathers from the windows covering it.
        parallel_for(g.n * g.c * g.h, per_row + 1, [&](int64_t r) {
            const int64_t p = r / g.h, iy = r % g.h;
            const T* plane = gp + p * g.oh * g.ow;
            int64_t y_lo, y_hi;
            covering(iy, g.ph, g.kh, g.sh, g.oh, y_lo, y_hi);
            T* dst = xp + r * g.w;
            if (disjoint) {  // at most one window covers each element
                if (y_lo == y_hi) {
                    std::fill(dst, dst + g.w, T(0));
                    return;
                }
                const T* row = plane + y_lo * g.ow;
                const double rs = row_scale[y_lo];
                for (int64_t ix = 0; ix < g.w; ++ix) {
                    const int64_t ox = x_lo[ix];
                    dst[ix] = ox < x_hi[ix] ? T(double(row[ox]) * col_scale[ox] * rs) : T(0);
                }
                return;
            }
            for (int64_t ix = 0; ix < g.w; ++ix) {
                double sum = 0;
                for (int64_t oy = y_lo; oy < y_hi; ++oy) {
                    const T* row = plane + oy * g.ow;
                    double part = 0;
                    for (int64_t ox = x_lo[ix]; ox < x_hi[ix]; ++ox)
                        part += double(row[ox]) * col_scale[ox];
                    sum += part * row_scale[oy];
                }
                dst[ix] = T(sum);
            }
        });
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
    m.def("avg_pool2d_forward", &avg_pool2d_forward, py::arg("x"), py::arg("kh"), py::arg("kw"),
          py::arg("sh"), py::arg("sw"), py::arg("ph"), py::arg("pw"),
          py::arg("count_include_pad") = true,
          "x (N, C, H, W) -> the mean of each window (over its real elements only when "
          "count_include_pad is false).");
    m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("gy"), py::arg("h"),
          py::arg("w"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
          py::arg("ph"), py::arg("pw"), py::arg("count_include_pad") = true,
          "The adjoint of avg_pool2d_forward for an input of (N, C, h, w).");
}
