// Max and average pooling over (N, C, D, H, W) volumes; 1-D and 2-D pooling run on unit-axis
// views. The caller gives the output size (floor or ceil mode); every window starts inside the
// input or its left padding and is clipped to the input before it is read, so a kernel far
// larger than the input costs no more than the input itself. Max pooling (dilated windows)
// keeps each window's arg-max, its flat index in the input volume (torch's indices), and its
// backward sends each output gradient there; ties go to the first element in window order and
// NaN wins, as in PyTorch; padding never wins. Average pooling divides by torch's divisor: the
// window clipped to the padded input (count_include_pad), to the input, or divisor_override.
// Arguments are checked with overflow-safe arithmetic, and long calls stop on Ctrl-C.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>

#include "common.hpp"

using namespace engine_cpp;

namespace {

// One spatial axis of a pooling: input size, kernel, stride, padding, dilation, output size.
struct Axis {
    int64_t size, k, s, p, d, out;

    // 1 / torch's divisor along this axis (average pooling, dilation 1).
    double scale(int64_t o, bool include_pad) const {
        const int64_t start = o * s - p;  // the window is [start, start + k)
        if (include_pad) return 1.0 / double(std::min(k, size + p - start));
        return 1.0 / double(std::min(k, size - start) - std::max<int64_t>(-start, 0));
    }
    // The outputs [lo, hi) whose windows span i (a superset of those with a tap on i).
    void covering(int64_t i, int64_t& lo, int64_t& hi) const {
        const int64_t first = i + p - (k - 1) * d;  // o * s >= first
        lo = first <= 0 ? 0 : ceil_div(first, s);
        hi = std::min(out, (i + p) / s + 1);
        lo = std::min(lo, hi);
    }
};

// The taps of a window that fall inside the input: the first one's position, and how many.
struct Span {
    int64_t first, count;
};

// The span of every window along an axis, computed once per call (divisions are slow).
std::vector<Span> spans(const Axis& a) {
    std::vector<Span> out(a.out);
    for (int64_t o = 0; o < a.out; ++o) {
        const int64_t start = o * a.s - a.p;  // < size: checked by make_pool
        const int64_t j0 = start < 0 ? ceil_div(-start, a.d) : 0;
        const int64_t j1 = std::max(j0, std::min(a.k, ceil_div(a.size - start, a.d)));
        out[o] = Span{start + j0 * a.d, j1 - j0};
    }
    return out;
}

struct Pool {
    int64_t n, c;
    std::array<Axis, 3> a;  // depth, height, width
    int64_t plane() const { return a[0].size * a[1].size * a[2].size; }
    int64_t outputs() const { return a[0].out * a[1].out * a[2].out; }
    // The real elements of one window at most, for the cost of a loop.
    int64_t window() const {
        int64_t w = 1;
        for (const Axis& x : a) w *= std::min(x.k, x.size);
        return w;
    }
};

std::string shape_of(int64_t n, int64_t c, const std::array<int64_t, 3>& s) {
    return "(" + str(n) + ", " + str(c) + ", " + str(s[0]) + ", " + str(s[1]) + ", " + str(s[2]) +
           ")";
}

std::array<int64_t, 3> triple(const char* op, const char* name, const py::object& value) {
    if (!py::isinstance<py::sequence>(value) || py::len(value) != 3)
        shape_error(std::string(op) + ": " + name + " must be a sequence of 3 ints");
    const py::sequence seq = py::reinterpret_borrow<py::sequence>(value);
    return {to_int(op, name, seq[0]), to_int(op, name, seq[1]), to_int(op, name, seq[2])};
}

// The geometry of pooling an input (n, c, *size) into (n, c, *out), described as `name` in
// errors. Every window must start inside the input or its left padding.
Pool make_pool(const char* op, const std::string& name, int64_t n, int64_t c,
               const std::array<int64_t, 3>& size, const py::object& kernel,
               const py::object& stride, const py::object& padding, const py::object& dilation,
               const std::array<int64_t, 3>& out) {
    const auto k = triple(op, "kernel", kernel), s = triple(op, "stride", stride);
    const auto p = triple(op, "padding", padding), d = triple(op, "dilation", dilation);
    if (n < 1 || c < 1 || std::min({size[0], size[1], size[2]}) < 1)
        shape_error(std::string(op) + ": " + name + " has shape " + shape_of(n, c, size) +
                    " with a size below 1");
    Pool g{n, c, {}};
    for (int i = 0; i < 3; ++i) {
        require_positive(op, "kernel size", k[i], 1);
        require_positive(op, "stride", s[i], 1);
        require_positive(op, "dilation", d[i], 1);
        // 2 * p <= k keeps every undilated window on at least one real element, as torch asks.
        if (p[i] < 0 || p[i] > k[i] / 2)
            shape_error(std::string(op) + ": padding must lie in [0, kernel / 2], got padding " +
                        str(p[i]) + " for kernel " + str(k[i]));
        extent(op, "the dilated kernel", 1, k[i] - 1, d[i]);
        extent(op, "the padded input", size[i], 2, p[i]);
        // The last window starts before the input's end: (out - 1) * s - p < size.
        if (out[i] < 1 || out[i] - 1 > (size[i] + p[i] - 1) / s[i])
            shape_error(std::string(op) + ": output size " + str(out[i]) + " is not in [1, " +
                        str((size[i] + p[i] - 1) / s[i] + 1) + "] for input size " +
                        str(size[i]) + ", stride " + str(s[i]) + " and padding " + str(p[i]));
        g.a[i] = Axis{size[i], k[i], s[i], p[i], d[i], out[i]};
    }
    const std::string input = "the input " + shape_of(n, c, size);
    count_mul(op, input, count_mul(op, input, n, c), count_mul(op, input, g.a[0].size,
                                                              count_mul(op, input, g.a[1].size,
                                                                        g.a[2].size)));
    const std::string output = "the output " + shape_of(n, c, out);
    count_mul(op, output, n * c, count_mul(op, output, out[0], count_mul(op, output, out[1],
                                                                         out[2])));
    return g;
}

std::array<int64_t, 3> spatial(const py::array& a) { return {a.shape(2), a.shape(3), a.shape(4)}; }

// Saturating a * b, for the cost estimates of the loops (never an allocation).
int64_t cost(int64_t a, int64_t b) {
    const double v = double(a) * double(b);
    return v > 4e18 ? int64_t(4e18) : int64_t(v);
}

std::vector<py::ssize_t> dims(const Pool& g) {
    return {g.n, g.c, g.a[0].out, g.a[1].out, g.a[2].out};
}

py::tuple max_pool3d_forward(const py::object& x_arg, const py::object& kernel,
                             const py::object& stride, const py::object& padding,
                             const py::object& dilation, const py::object& out) {
    const char* op = "max_pool3d";
    const py::array x = as_array(op, "x", x_arg);
    check_array(op, "x", x, 5);
    const Pool g = make_pool(op, "x", x.shape(0), x.shape(1), spatial(x), kernel, stride, padding,
                             dilation, triple(op, "out", out));
    py::array y(x.dtype(), dims(g));
    py::array_t<int64_t> argmax(dims(g));
    const Axis &ad = g.a[0], &ah = g.a[1], &aw = g.a[2];
    const auto sd = spans(ad), sh = spans(ah), sw = spans(aw);
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = static_cast<const T*>(x.data());
        T* yp = static_cast<T*>(y.mutable_data());
        int64_t* ap = argmax.mutable_data();
        // One item per output row (plane, od, oh). A window with no real element (dilated
        // taps that all fall in the padding) gives -inf and the index -1. Sizes are copied
        // (stores through ap could alias them); a unit width step and a single depth tap
        // (every 1-D and 2-D pooling) are compile-time constants: 2-D pooling runs as fast as
        // a kernel of its own.
        const int64_t plane = g.plane(), dd = ad.d, dh = ah.d, hs = ah.size, ws = aw.size;
        const int64_t outs_w = aw.out, outs_h = ah.out, outs_d = ad.out;
        auto rows = [&](auto dw, auto flat) {
            const Span *sd_ = sd.data(), *sh_ = sh.data(), *sw_ = sw.data();
            parallel_for(g.n * g.c * outs_d * outs_h, cost(outs_w, g.window()) + 1, [=](int64_t r) {
                const int64_t oh = r % outs_h, od = r / outs_h % outs_d, p = r / outs_h / outs_d;
                const T* vol = xp + p * plane;
                const Span zd = sd_[od], zh = sh_[oh];
                for (int64_t ow = 0; ow < outs_w; ++ow) {
                    const Span zw = sw_[ow];
                    T best = -std::numeric_limits<T>::infinity();
                    int64_t where = -1;
                    const int64_t z_end = flat ? zd.first + 1 : zd.first + zd.count * dd;
                    const int64_t y_end = zh.first + zh.count * dh;
                    for (int64_t iz = zd.first; iz < z_end; iz += flat ? 1 : dd) {
                        for (int64_t iy = zh.first; iy < y_end; iy += dh) {
                            const int64_t row = (iz * hs + iy) * ws + zw.first;
                            for (int64_t i = row; i < row + zw.count * dw; i += dw) {
                                const T v = vol[i];
                                if (where < 0 || v > best || std::isnan(v)) {
                                    best = v;
                                    where = i;
                                    if (std::isnan(v)) goto done;
                                }
                            }
                        }
                    }
                done:
                    yp[r * outs_w + ow] = best;
                    ap[r * outs_w + ow] = where;
                }
            });
        };
        const std::integral_constant<int64_t, 1> unit;
        const std::true_type flat;
        const std::false_type deep;
        if (ad.k == 1) {  // one depth tap, inside the input (make_pool)
            if (aw.d == 1) rows(unit, flat);
            else rows(aw.d, flat);
        } else {
            if (aw.d == 1) rows(unit, deep);
            else rows(aw.d, deep);
        }
    });
    return py::make_tuple(y, argmax);
}

py::array max_pool3d_backward(const py::object& gy_arg, const py::object& argmax_arg,
                              const py::object& size_arg) {
    const char* op = "max_pool3d_backward";
    const py::array gy = as_array(op, "gy", gy_arg);
    check_array(op, "gy", gy, 5);
    const py::array argmax = as_array(op, "argmax", argmax_arg);
    if (argmax.dtype().kind() != 'i' || argmax.dtype().itemsize() != 8)
        dtype_error(std::string(op) + ": argmax must be int64, got " + dtype_str(argmax.dtype()));
    if (argmax.ndim() != 5)
        shape_error(std::string(op) + ": argmax must be a C-contiguous 5-D int64 array, got "
                    "shape " + shape_str(argmax));
    check_layout(op, "argmax", argmax);
    for (py::ssize_t i = 0; i < 5; ++i)
        if (argmax.shape(i) != gy.shape(i))
            shape_error(std::string(op) + ": argmax has shape " + shape_str(argmax) +
                        " but gy has " + shape_str(gy));
    const auto size = triple(op, "size", size_arg);
    if (std::min({size[0], size[1], size[2]}) < 1)
        shape_error(std::string(op) + ": input size must be positive");
    const int64_t n = gy.shape(0), c = gy.shape(1), out = gy.shape(2) * gy.shape(3) * gy.shape(4);
    const std::string what = "the input gradient";
    const int64_t plane = count_mul(op, what, size[0], count_mul(op, what, size[1], size[2]));
    count_mul(op, what, count_mul(op, what, n, c), plane);
    const int64_t* ap = static_cast<const int64_t*>(argmax.data());
    for (int64_t i = 0; i < n * c * out; ++i)  // validate before writing anything
        if (ap[i] < 0 || ap[i] >= plane)
            shape_error(std::string(op) + ": argmax holds an index outside the plane");
    py::array gx(gy.dtype(), std::vector<py::ssize_t>{n, c, size[0], size[1], size[2]});
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

// 1 / divisor of every output along each axis: torch's divisor is their product, or the
// override (folded into the depth axis).
std::array<std::vector<double>, 3> scales(const Pool& g, bool include_pad, int64_t override_) {
    std::array<std::vector<double>, 3> out;
    for (int i = 0; i < 3; ++i) {
        out[i].resize(g.a[i].out);
        for (int64_t o = 0; o < g.a[i].out; ++o)
            out[i][o] = override_ ? (i == 0 ? 1.0 / double(override_) : 1.0)
                                  : g.a[i].scale(o, include_pad);
    }
    return out;
}

py::array avg_pool3d_forward(const py::object& x_arg, const py::object& kernel,
                             const py::object& stride, const py::object& padding,
                             const py::object& out, bool count_include_pad,
                             int64_t divisor_override) {
    const char* op = "avg_pool3d";
    const py::array x = as_array(op, "x", x_arg);
    check_array(op, "x", x, 5);
    const Pool g = make_pool(op, "x", x.shape(0), x.shape(1), spatial(x), kernel, stride, padding,
                             py::make_tuple(1, 1, 1), triple(op, "out", out));
    py::array y(x.dtype(), dims(g));
    const auto scale = scales(g, count_include_pad, divisor_override);
    const Axis &ad = g.a[0], &ah = g.a[1], &aw = g.a[2];
    const auto sd = spans(ad), sh = spans(ah), sw = spans(aw);
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        const T* xp = static_cast<const T*>(x.data());
        T* yp = static_cast<T*>(y.mutable_data());
        // As max_pool3d_forward: sizes copied, and a single depth tap a constant.
        const int64_t plane = g.plane(), hs = ah.size, ws = aw.size;
        const int64_t outs_w = aw.out, outs_h = ah.out, outs_d = ad.out;
        const Span *sd_ = sd.data(), *sh_ = sh.data(), *sw_ = sw.data();
        const double *s0 = scale[0].data(), *s1 = scale[1].data(), *s2 = scale[2].data();
        auto rows = [&](auto flat) {
            parallel_for(g.n * g.c * outs_d * outs_h, cost(outs_w, g.window()) + 1, [=](int64_t r) {
                const int64_t oh = r % outs_h, od = r / outs_h % outs_d, p = r / outs_h / outs_d;
                const T* vol = xp + p * plane;
                const Span zd = sd_[od], zh = sh_[oh];
                const int64_t z_end = zd.first + (flat ? 1 : zd.count);
                const double rs = s0[od] * s1[oh];
                for (int64_t ow = 0; ow < outs_w; ++ow) {
                    const Span zw = sw_[ow];
                    double sum = 0;
                    for (int64_t iz = zd.first; iz < z_end; ++iz)
                        for (int64_t iy = zh.first; iy < zh.first + zh.count; ++iy) {
                            const T* row = vol + (iz * hs + iy) * ws + zw.first;
                            for (int64_t j = 0; j < zw.count; ++j) sum += row[j];
                        }
                    yp[r * outs_w + ow] = T(sum * rs * s2[ow]);
                }
            });
        };
        if (ad.k == 1) rows(std::true_type{});  // one depth tap, inside the input
        else rows(std::false_type{});
    });
    return y;
}

py::array avg_pool3d_backward(const py::object& gy_arg, const py::object& size_arg,
                              const py::object& kernel, const py::object& stride,
                              const py::object& padding, bool count_include_pad,
                              int64_t divisor_override) {
    const char* op = "avg_pool3d_backward";
    const py::array gy = as_array(op, "gy", gy_arg);
    check_array(op, "gy", gy, 5);
    const Pool g = make_pool(op, "the input", gy.shape(0), gy.shape(1),
                             triple(op, "size", size_arg), kernel, stride, padding,
                             py::make_tuple(1, 1, 1), spatial(gy));
    const auto scale = scales(g, count_include_pad, divisor_override);
    const Axis &ad = g.a[0], &ah = g.a[1], &aw = g.a[2];
    // Which outputs cover each input column.
    std::vector<int64_t> x_lo(aw.size), x_hi(aw.size);
    for (int64_t ix = 0; ix < aw.size; ++ix) aw.covering(ix, x_lo[ix], x_hi[ix]);
    py::array gx(gy.dtype(), std::vector<py::ssize_t>{g.n, g.c, ad.size, ah.size, aw.size});
    const bool disjoint = ad.k <= ad.s && ah.k <= ah.s && aw.k <= aw.s;
    const int64_t per_row = cost(aw.size, cost(std::min(ad.out, ceil_div(ad.k, ad.s)),
                                               cost(std::min(ah.out, ceil_div(ah.k, ah.s)),
                                                    std::min(aw.out, ceil_div(aw.k, aw.s)))));
    dispatch_float(gy, [&](auto zero) {
        using T = decltype(zero);
        const T* gp = static_cast<const T*>(gy.data());
        T* xp = static_cast<T*>(gx.mutable_data());
        // One item per input row (plane, id, ih): each element gathers from the windows
        // covering it.
        parallel_for(g.n * g.c * ad.size * ah.size, per_row + 1, [&](int64_t r) {
            const int64_t ih = r % ah.size, id = r / ah.size % ad.size, p = r / ah.size / ad.size;
            const T* vol = gp + p * g.outputs();
            int64_t d_lo, d_hi, h_lo, h_hi;
            ad.covering(id, d_lo, d_hi);
            ah.covering(ih, h_lo, h_hi);
            T* dst = xp + r * aw.size;
            if (disjoint) {  // at most one window covers each element: written once
                if (d_lo == d_hi || h_lo == h_hi) {
                    std::fill(dst, dst + aw.size, T(0));
                    return;
                }
                const T* row = vol + (d_lo * ah.out + h_lo) * aw.out;
                const double rs = scale[0][d_lo] * scale[1][h_lo];
                for (int64_t ix = 0; ix < aw.size; ++ix) {
                    const int64_t ow = x_lo[ix];
                    dst[ix] = ow < x_hi[ix] ? T(double(row[ow]) * scale[2][ow] * rs) : T(0);
                }
                return;
            }
            std::fill(dst, dst + aw.size, T(0));
            for (int64_t od = d_lo; od < d_hi; ++od)
                for (int64_t oh = h_lo; oh < h_hi; ++oh) {
                    const T* row = vol + (od * ah.out + oh) * aw.out;
                    const double rs = scale[0][od] * scale[1][oh];
                    for (int64_t ix = 0; ix < aw.size; ++ix) {
                        double part = 0;
                        for (int64_t ow = x_lo[ix]; ow < x_hi[ix]; ++ow)
                            part += double(row[ow]) * scale[2][ow];
                        dst[ix] += T(part * rs);
                    }
                }
        });
    });
    return gx;
}

}  // namespace

void bind_pool(py::module_& m) {
    m.def("max_pool3d_forward", &max_pool3d_forward, py::arg("x"), py::arg("kernel"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("out"),
          "x (N, C, D, H, W) -> (y, argmax) of shape (N, C, *out): the maxima of the dilated "
          "windows and their flat indices in the D*H*W volume; kernel, stride, padding, dilation "
          "and out are (d, h, w) triples.");
    m.def("max_pool3d_backward", &max_pool3d_backward, py::arg("gy"), py::arg("argmax"),
          py::arg("size"),
          "Each output gradient added at its arg-max, in a volume of size (d, h, w).");
    m.def("avg_pool3d_forward", &avg_pool3d_forward, py::arg("x"), py::arg("kernel"),
          py::arg("stride"), py::arg("padding"), py::arg("out"),
          py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
          "x (N, C, D, H, W) -> the windows' sums over torch's divisor, or over "
          "divisor_override where it is not 0.");
    m.def("avg_pool3d_backward", &avg_pool3d_backward, py::arg("gy"), py::arg("size"),
          py::arg("kernel"), py::arg("stride"), py::arg("padding"),
          py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
          "The adjoint of avg_pool3d_forward for an input volume of size (d, h, w).");
}
