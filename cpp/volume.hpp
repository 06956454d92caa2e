// The geometry of a convolution window over volumes (N, C, D, H, W), shared by im2col/col2im
// and the fused convolution: an image is a volume of depth 1 (kernel, stride and dilation 1
// and padding 0 along the depth). Every size is validated, with overflow-safe arithmetic,
// before any memory is touched.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>

#include "common.hpp"

namespace engine_cpp {

// Spatial values, depth first; a 2-D call has depth 1.
using Triple = std::array<int64_t, 3>;

struct Geometry {
    int64_t n, c;
    Triple size, k, s, p, d, o;  // input, kernel, stride, padding, dilation, output extents
    int64_t taps, rows, out;     // kD*kH*kW, C*taps and oD*oH*oW: the column matrix of one image
    int64_t plane;               // D*H*W
};

// The last `dims` values of v, as "(a, b)" or "(a, b, c)".
inline std::string tuple_str(const Triple& v, int dims) {
    std::string s = "(";
    for (int i = 3 - dims; i < 3; ++i) s += (i > 3 - dims ? ", " : "") + str(v[i]);
    return s + ")";
}

inline std::string image_str(int64_t n, int64_t c, const Triple& size, int dims) {
    return "(" + str(n) + ", " + str(c) + ", " + tuple_str(size, dims).substr(1);
}

inline void require_at_least(const char* op, const char* what, const Triple& v, int dims,
                      int64_t minimum) {
    for (int64_t x : v)
        if (x < minimum)
            shape_error(std::string(op) + ": " + what +
                        (minimum > 0 ? " must be positive, got " : " must be non-negative, got ") +
                        tuple_str(v, dims));
}

inline Geometry make_geometry(const char* op, int dims, int64_t n, int64_t c, const Triple& size,
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

// Output lines: line l is the output row (oz, oy) = (l / oH, l % oH), oW positions long.
inline int64_t lines(const Geometry& g) { return g.o[0] * g.o[1]; }

// Kernel tap t as (kz, ki, kj).
inline Triple tap(const Geometry& g, int64_t t) {
    return {t / (g.k[1] * g.k[2]), t / g.k[2] % g.k[1], t % g.k[2]};
}

// Row (kz, ki, kj) of one plane's column matrix, for output lines [l0, l1): reads the plane xp
// (D*H*W values) and writes (l1 - l0) * oW values from cp.
template <typename T>
void im2col_row(const T* xp, T* cp, const Geometry& g, const Triple& t, int64_t l0, int64_t l1) {
    const int64_t h = g.size[1], w = g.size[2], oh = g.o[1], ow = g.o[2];
    const auto [kz, ki, kj] = t;
    int64_t lo, hi;
    valid_range(kj * g.d[2] - g.p[2], g.s[2], w, ow, lo, hi);
    for (int64_t l = l0; l < l1; ++l) {
        const int64_t iz = source(g, 0, l / oh, kz), iy = source(g, 1, l % oh, ki);
        T* row = cp + (l - l0) * ow;
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

// Adds row (kz, ki, kj) of one plane's column matrix, for output lines [l0, l1), into the
// plane xp it was copied from.
template <typename T>
void col2im_row(const T* cp, T* xp, const Geometry& g, const Triple& t, int64_t l0, int64_t l1) {
    const int64_t h = g.size[1], w = g.size[2], oh = g.o[1], ow = g.o[2];
    const auto [kz, ki, kj] = t;
    int64_t lo, hi;
    valid_range(kj * g.d[2] - g.p[2], g.s[2], w, ow, lo, hi);
    if (lo == hi) return;
    for (int64_t l = l0; l < l1; ++l) {
        const int64_t iz = source(g, 0, l / oh, kz), iy = source(g, 1, l % oh, ki);
        if (iz < 0 || iz >= g.size[0] || iy < 0 || iy >= h) continue;
        const T* row = cp + (l - l0) * ow;
        T* dst = xp + (iz * h + iy) * w + source(g, 2, lo, kj);
        for (int64_t ox = lo; ox < hi; ++ox) dst[(ox - lo) * g.s[2]] += row[ox];
    }
}

// (names[0..2], values) -> the three ints, for the bindings below.
inline Triple ints(const char* op, const char* const names[3], const py::object* values) {
    return {to_int(op, names[0], values[0]), to_int(op, names[1], values[1]),
            to_int(op, names[2], values[2])};
}

// The geometry of a call that names `dims` (2 or 3) spatial extents: args holds the kernel,
// stride, padding and dilation, `dims` values each, in the bindings' order.
inline Geometry geometry_of(const char* op, int dims, int64_t n, int64_t c, const Triple& size,
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

}  // namespace engine_cpp
