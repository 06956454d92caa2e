// im2col / col2im (NCHW) and vol2col / col2vol (NCDHW) for float32/float64 arrays, with
// stride, padding and dilation. One 3-D implementation serves both: an image is a volume of
// depth 1 (kernel, stride and dilation 1 and padding 0 along the depth).
//
// Column layout: cols[n][c][kz][ki][kj][oz][oy][ox], i.e. for each image a
// (C*kD*kH*kW, oD*oH*oW) matrix, so that a convolution is W (Cout, C*kD*kH*kW) @ cols[n].
// Every argument is validated, with overflow-safe arithmetic, before any memory is touched: a
// bad call raises ShapeError or DTypeError (kernels.errors), never crashes or returns garbage;
// long calls stop on Ctrl-C.
#include <algorithm>
#include <array>
#include <cstring>

#include "common.hpp"

using namespace engine_cpp;

namespace {

// Spatial values, depth first; a 2-D call has depth 1.
using Triple = std::array<int64_t, 3>;

struct Geometry {
    int64_t n, c;
    Triple size, k, s, p, d, o;  // input, kernel, stride, padding, dilation, output extents
    int64_t taps, rows, out;     // kD*kH*kW, C*taps and oD*oH*oW: the column matrix of one image
    int64_t plane;               // D*H*W
};

// The last `dims` values of v, as "(a, b)" or "(a, b, c)".
std::string tuple_str(const Triple& v, int dims) {
    std::string s = "(";
    for (int i = 3 - dims; i < 3; ++i) s += (i > 3 - dims ? ", " : "") + str(v[i]);
    return s + ")";
}

std::string image_str(int64_t n, int64_t c, const Triple& size, int dims) {
    return "(" + str(n) + ", " + str(c) + ", " + tuple_str(size, dims).substr(1);
}

void require_at_least(const char* op, const char* what, const Triple& v, int dims,
                      int64_t minimum) {
    for (int64_t x : v)
        if (x < minimum)
            shape_error(std::string(op) + ": " + what +
                        (minimum > 0 ? " must be positive, got " : " must be non-negative, got ") +
                        tuple_str(v, dims));
}

Geometry make_geometry(const char* op, int dims, int64_t n, int64_t c, const Triple& size,
                       const Triple& k, const Triple& s, const Triple& p, const Triple& d) {
    if (n < 1 || c < 1 || *std::min_element(size.begin(), size.end()) < 1)
        shape_error(std::string(op) + ": " + (dims == 2 ? "image" : "volume") + " shape " +
                    image_str(n, c, size, dims) + " has a size below 1");
    require_at_least(op, "kernel size", k, dims, 1);
    require_at_least(op, "stride", s, dims, 1);
    require_at_least(op, "dilation", d, dims, 1);
    require_at_least(op, "padding", p, dims, 0);
    static const char* padded_names[] = {"the padded depth", "the padded height",
                                         "the padded width"};
    Triple padded{}, span{};
    for (int i = 0; i < 3; ++i) {
        padded[i] = extent(op, padded_names[i], size[i], 2, p[i]);
        if (__builtin_mul_overflow(d[i], k[i] - 1, &span[i]) ||
            __builtin_add_overflow(span[i], 1, &span[i]))
            shape_error(std::string(op) + ": kernel spans more than 2**63 - 1 elements (kernel " +
                        tuple_str(k, dims) + ", dilation " + tuple_str(d, dims) + ")");
    }
    for (int i = 0; i < 3; ++i)
        if (span[i] > padded[i])
            shape_error(std::string(op) + ": kernel spans " + tuple_str(span, dims) +
                        " with dilation but the padded input is only " + tuple_str(padded, dims));
    Geometry g{n, c, size, k, s, p, d, {}, 0, 0, 0, 0};
    for (int i = 0; i < 3; ++i) g.o[i] = (padded[i] - span[i]) / s[i] + 1;
    const std::string cols = "the column buffer " + image_str(n, c, size, dims) + " -> (" +
                             str(n) + (dims == 2 ? ", C*kh*kw, oH*oW)" : ", C*kd*kh*kw, oD*oH*oW)");
    g.taps = count_mul(op, cols, count_mul(op, cols, k[0], k[1]), k[2]);
    g.rows = count_mul(op, cols, c, g.taps);
    g.out = count_mul(op, cols, count_mul(op, cols, g.o[0], g.o[1]), g.o[2]);
    count_mul(op, cols, count_mul(op, cols, n, g.rows), g.out);
    const char* image = dims == 2 ? "the image" : "the volume";
    g.plane = count_mul(op, image, count_mul(op, image, size[0], size[1]), size[2]);
    count_mul(op, image, count_mul(op, image, n, c), g.plane);
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

// The input index that output index o reads at kernel tap t along axis i (maybe outside).
inline int64_t source(const Geometry& g, int i, int64_t o, int64_t t) {
    return o * g.s[i] - g.p[i] + t * g.d[i];
}

// Row (kz, ki, kj) of plane p's column matrix.
template <typename T>
void im2col_row(const T* x, T* cols, const Geometry& g, int64_t p, int64_t kz, int64_t ki,
                int64_t kj) {
    const int64_t h = g.size[1], w = g.size[2], oh = g.o[1], ow = g.o[2];
    const T* xp = x + p * g.plane;
    T* cp = cols + (p * g.taps + (kz * g.k[1] + ki) * g.k[2] + kj) * g.out;
    int64_t lo, hi;
    valid_range(kj * g.d[2] - g.p[2], g.s[2], w, ow, lo, hi);
    for (int64_t oz = 0; oz < g.o[0]; ++oz) {
        const int64_t iz = source(g, 0, oz, kz);
        for (int64_t oy = 0; oy < oh; ++oy) {
            T* row = cp + (oz * oh + oy) * ow;
            const int64_t iy = source(g, 1, oy, ki);
            if (iz < 0 || iz >= g.size[0] || iy < 0 || iy >= h || lo == hi) {
                std::fill(row, row + ow, T(0));
                continue;
            }
            std::fill(row, row + lo, T(0));
            const T* src = xp + (iz * h + iy) * w + source(g, 2, lo, kj);
            if (g.s[2] == 1) {
                std::memcpy(row + lo, src, sizeof(T) * (hi - lo));
            } else {
                for (int64_t ox = lo; ox < hi; ++ox) row[ox] = src[(ox - lo) * g.s[2]];
            }
            std::fill(row + hi, row + ow, T(0));
        }
    }
}

// Adds row (kz, ki, kj) of plane p's column matrix into the plane of x it was copied from.
template <typename T>
void col2im_row(const T* cols, T* x, const Geometry& g, int64_t p, int64_t kz, int64_t ki,
                int64_t kj) {
    const int64_t h = g.size[1], w = g.size[2], oh = g.o[1], ow = g.o[2];
    T* xp = x + p * g.plane;
    const T* cp = cols + (p * g.taps + (kz * g.k[1] + ki) * g.k[2] + kj) * g.out;
    int64_t lo, hi;
    valid_range(kj * g.d[2] - g.p[2], g.s[2], w, ow, lo, hi);
    if (lo == hi) return;
    for (int64_t oz = 0; oz < g.o[0]; ++oz) {
        const int64_t iz = source(g, 0, oz, kz);
        if (iz < 0 || iz >= g.size[0]) continue;
        for (int64_t oy = 0; oy < oh; ++oy) {
            const int64_t iy = source(g, 1, oy, ki);
            if (iy < 0 || iy >= h) continue;
            const T* row = cp + (oz * oh + oy) * ow;
            T* dst = xp + (iz * h + iy) * w + source(g, 2, lo, kj);
            for (int64_t ox = lo; ox < hi; ++ox) dst[(ox - lo) * g.s[2]] += row[ox];
        }
    }
}

template <typename T>
void im2col_kernel(const T* x, T* cols, const Geometry& g) {
    // One item per row of the column matrices: they are written independently.
    parallel_for(g.n * g.c * g.taps, g.out, [&](int64_t i) {
        const int64_t p = i / g.taps, t = i % g.taps;
        im2col_row(x, cols, g, p, t / (g.k[1] * g.k[2]), t / g.k[2] % g.k[1], t % g.k[2]);
    });
}

template <typename T>
void col2im_kernel(const T* cols, T* x, const Geometry& g) {
    const int64_t planes = g.n * g.c, per_plane = g.taps * g.out;
    // Each (n, c) plane gathers only its own columns: no two threads write the same element.
    if (per_plane <= kChunkWork) {
        parallel_for(planes, per_plane + g.plane, [&](int64_t p) {
            std::fill(x + p * g.plane, x + (p + 1) * g.plane, T(0));
            for (int64_t kz = 0; kz < g.k[0]; ++kz)
                for (int64_t ki = 0; ki < g.k[1]; ++ki)
                    for (int64_t kj = 0; kj < g.k[2]; ++kj) col2im_row(cols, x, g, p, kz, ki, kj);
        });
        return;
    }
    // Large planes: one kernel row at a time over all planes, so that Ctrl-C is seen between.
    parallel_for(planes, g.plane, [&](int64_t p) {
        std::fill(x + p * g.plane, x + (p + 1) * g.plane, T(0));
    });
    for (int64_t kz = 0; kz < g.k[0]; ++kz)
        for (int64_t ki = 0; ki < g.k[1]; ++ki)
            parallel_for(planes, g.k[2] * g.out, [&](int64_t p) {
                for (int64_t kj = 0; kj < g.k[2]; ++kj) col2im_row(cols, x, g, p, kz, ki, kj);
            });
}

// (names[0..2], values) -> the three ints, for the bindings below.
Triple ints(const char* op, const char* const names[3], const py::object* values) {
    return {to_int(op, names[0], values[0]), to_int(op, names[1], values[1]),
            to_int(op, names[2], values[2])};
}

// The geometry of a call that names `dims` (2 or 3) spatial extents: args holds the kernel,
// stride, padding and dilation, `dims` values each, in the bindings' order.
Geometry geometry_of(const char* op, int dims, int64_t n, int64_t c, const Triple& size,
                     const std::vector<py::object>& args) {
    static const char* const names[4][3] = {{"kd", "kh", "kw"}, {"sd", "sh", "sw"},
                                           {"pd", "ph", "pw"}, {"dd", "dh", "dw"}};
    // a 2-D call's depth: kernel, stride, padding and dilation
    static const int64_t unit[4] = {1, 1, 0, 1};
    Triple v[4];
    for (int a = 0; a < 4; ++a) {
        py::object three[3] = {py::int_(unit[a]), py::int_(unit[a]), py::int_(unit[a])};
        for (int i = 0; i < dims; ++i) three[3 - dims + i] = args[a * dims + i];
        v[a] = ints(op, names[a], three);
    }
    return make_geometry(op, dims, n, c, size, v[0], v[1], v[2], v[3]);
}

py::array to_columns(const char* op, int dims, const py::object& x_arg,
                     const std::vector<py::object>& args, const py::object& out) {
    const py::array x = as_array(op, "x", x_arg);
    check_array(op, "x", x, 2 + dims);
    Triple size{1, 1, 1};
    for (int i = 0; i < dims; ++i) size[3 - dims + i] = x.shape(2 + i);
    const Geometry g = geometry_of(op, dims, x.shape(0), x.shape(1), size, args);
    py::array cols = output(op, out, x, {g.n, g.rows, g.out});
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        im2col_kernel(static_cast<const T*>(x.data()), static_cast<T*>(cols.mutable_data()), g);
    });
    return cols;
}

py::array from_columns(const char* op, int dims, const py::object& cols_arg, const py::object& n,
                       const py::object& c, const std::vector<py::object>& size_args,
                       const std::vector<py::object>& args, const py::object& out) {
    static const char* const size_names[3] = {"d", "h", "w"};
    const py::array cols = as_array(op, "cols", cols_arg);
    check_array(op, "cols", cols, 3);
    py::object three[3] = {py::int_(1), py::int_(1), py::int_(1)};
    for (int i = 0; i < dims; ++i) three[3 - dims + i] = size_args[i];
    const int64_t images = to_int(op, "n", n), channels = to_int(op, "c", c);
    const Geometry g = geometry_of(op, dims, images, channels, ints(op, size_names, three), args);
    if (cols.shape(0) != g.n || cols.shape(1) != g.rows || cols.shape(2) != g.out)
        shape_error(std::string(op) + ": cols has shape " + shape_str(cols) +
                    " but the geometry needs (" + str(g.n) + ", " + str(g.rows) + ", " +
                    str(g.out) + ")");
    std::vector<py::ssize_t> shape{g.n, g.c};
    for (int i = 3 - dims; i < 3; ++i) shape.push_back(g.size[i]);
    py::array x = output(op, out, cols, shape);
    dispatch_float(cols, [&](auto zero) {
        using T = decltype(zero);
        col2im_kernel(static_cast<const T*>(cols.data()), static_cast<T*>(x.mutable_data()), g);
    });
    return x;
}

}  // namespace

void bind_im2col(py::module_& m) {
    using O = const py::object&;
    m.def("im2col", [](O x, O kh, O kw, O sh, O sw, O ph, O pw, O dh, O dw, O out) {
              return to_columns("im2col", 2, x, {kh, kw, sh, sw, ph, pw, dh, dw}, out);
          }, py::arg("x"), py::arg("kh"), py::arg("kw"), py::arg("sh") = 1, py::arg("sw") = 1,
          py::arg("ph") = 0, py::arg("pw") = 0, py::arg("dh") = 1, py::arg("dw") = 1,
          py::arg("out") = py::none(),
          "x (N, C, H, W) -> cols (N, C*kh*kw, oH*oW); writes into `out` when given.");
    m.def("col2im", [](O cols, O n, O c, O h, O w, O kh, O kw, O sh, O sw, O ph, O pw, O dh,
                       O dw, O out) {
              return from_columns("col2im", 2, cols, n, c, {h, w},
                                  {kh, kw, sh, sw, ph, pw, dh, dw}, out);
          }, py::arg("cols"), py::arg("n"), py::arg("c"), py::arg("h"), py::arg("w"),
          py::arg("kh"), py::arg("kw"), py::arg("sh") = 1, py::arg("sw") = 1, py::arg("ph") = 0,
          py::arg("pw") = 0, py::arg("dh") = 1, py::arg("dw") = 1, py::arg("out") = py::none(),
          "cols (N, C*kh*kw, oH*oW) -> x (N, C, H, W), summing overlapping windows.");
    m.def("vol2col", [](O x, O kd, O kh, O kw, O sd, O sh, O sw, O pd, O ph, O pw, O dd, O dh,
                        O dw, O out) {
              return to_columns("vol2col", 3, x, {kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw},
                                out);
          }, py::arg("x"), py::arg("kd"), py::arg("kh"), py::arg("kw"), py::arg("sd") = 1,
          py::arg("sh") = 1, py::arg("sw") = 1, py::arg("pd") = 0, py::arg("ph") = 0,
          py::arg("pw") = 0, py::arg("dd") = 1, py::arg("dh") = 1, py::arg("dw") = 1,
          py::arg("out") = py::none(),
          "x (N, C, D, H, W) -> cols (N, C*kd*kh*kw, oD*oH*oW); writes into `out` when given.");
    m.def("col2vol", [](O cols, O n, O c, O d, O h, O w, O kd, O kh, O kw, O sd, O sh, O sw,
                        O pd, O ph, O pw, O dd, O dh, O dw, O out) {
              return from_columns("col2vol", 3, cols, n, c, {d, h, w},
                                  {kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw}, out);
          }, py::arg("cols"), py::arg("n"), py::arg("c"), py::arg("d"), py::arg("h"),
          py::arg("w"), py::arg("kd"), py::arg("kh"), py::arg("kw"), py::arg("sd") = 1,
          py::arg("sh") = 1, py::arg("sw") = 1, py::arg("pd") = 0, py::arg("ph") = 0,
          py::arg("pw") = 0, py::arg("dd") = 1, py::arg("dh") = 1, py::arg("dw") = 1,
          py::arg("out") = py::none(),
          "cols (N, C*kd*kh*kw, oD*oH*oW) -> x (N, C, D, H, W), summing overlapping windows.");
}
