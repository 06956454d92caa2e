// Winograd F(2x2, 3x3) transforms for 3x3, stride-1 convolutions (Lavin and Gray, 2015).
//
// The convolution of a 4x4 input tile d with a 3x3 filter g gives a 2x2 output tile
//     Y = A^T [(G g G^T) . (B^T d B)] A
// so a layer becomes 16 independent (Cout x C) @ (C x tiles) products: 2.25x fewer
// multiplications than im2col + GEMM. These kernels do the transforms on whole tensors; the
// products run in BLAS. Tiles are numbered t = (n * tiles_h + ty) * tiles_w + tx, and the 16
// transformed elements (row-major in the 4x4 tile) are the leading axis: V[16][C][T].
#include <algorithm>
#include <cstring>

#include "common.hpp"

using namespace engine_cpp;

namespace {

// B^T d B for a 4x4 tile d (row-major): rows, then columns, of
// B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
template <typename T>
inline void input_tile(const T d[16], T v[16]) {
    T t[16];
    for (int j = 0; j < 4; ++j) {
        t[0 * 4 + j] = d[0 * 4 + j] - d[2 * 4 + j];
        t[1 * 4 + j] = d[1 * 4 + j] + d[2 * 4 + j];
        t[2 * 4 + j] = d[2 * 4 + j] - d[1 * 4 + j];
        t[3 * 4 + j] = d[1 * 4 + j] - d[3 * 4 + j];
    }
    for (int i = 0; i < 4; ++i) {
        const T* r = t + 4 * i;
        v[4 * i + 0] = r[0] - r[2];
        v[4 * i + 1] = r[1] + r[2];
        v[4 * i + 2] = r[2] - r[1];
        v[4 * i + 3] = r[1] - r[3];
    }
}

// A^T m A for a 4x4 tile m: A^T = [[1, 1, 1, 0], [0, 1, -1, -1]].
template <typename T>
inline void output_tile(const T m[16], T y[4]) {
    T t[8];
    for (int j = 0; j < 4; ++j) {
        t[0 * 4 + j] = m[0 * 4 + j] + m[1 * 4 + j] + m[2 * 4 + j];
        t[1 * 4 + j] = m[1 * 4 + j] - m[2 * 4 + j] - m[3 * 4 + j];
    }
    for (int i = 0; i < 2; ++i) {
        const T* r = t + 4 * i;
        y[2 * i + 0] = r[0] + r[1] + r[2];
        y[2 * i + 1] = r[1] - r[2] - r[3];
    }
}

// A g A^T for a 2x2 tile g: the adjoint of output_tile, for the weight gradient.
template <typename T>
inline void output_grad_tile(const T g[4], T m[16]) {
    const T rows[4][2] = {{g[0], g[1]}, {g[0] + g[2], g[1] + g[3]},
                          {g[0] - g[2], g[1] - g[3]}, {-g[2], -g[3]}};
    for (int i = 0; i < 4; ++i) {
        const T p = rows[i][0], q = rows[i][1];
        m[4 * i + 0] = p;
        m[4 * i + 1] = p + q;
        m[4 * i + 2] = p - q;
        m[4 * i + 3] = -q;
    }
}

struct Tiles {
    int64_t n, c, h, w, th, tw;
    int64_t count() const { return n * th * tw; }
};

// Tiles are transformed a block at a time into a local buffer and written out as 16 runs of
// contiguous tiles: writing 16 planes an element at a time, a power-of-two stride apart, thrashes
// the cache (measured: 20 ms -> 3 ms for a 8x64x64x64 input).
constexpr int64_t kBlock = 64;

template <typename T>
inline void flush_block(T buffer[16][kBlock], T* first, int64_t plane, int64_t count) {
    for (int e = 0; e < 16; ++e) std::memcpy(first + e * plane, buffer[e], sizeof(T) * count);
}

template <typename T>
void input_kernel(const T* x, T* v, const Tiles& s, int64_t ph, int64_t pw) {
    const int64_t plane = s.c * s.count();  // stride between the 16 transformed planes
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < s.n * s.c; ++p) {
        const int64_t n = p / s.c, c = p % s.c;
        const T* xp = x + p * s.h * s.w;
        T* vp = v + c * s.count() + n * s.th * s.tw;
        T d[16], out[16], buffer[16][kBlock];
        for (int64_t start = 0; start < s.th * s.tw; start += kBlock) {
            const int64_t stop = std::min(start + kBlock, s.th * s.tw);
            for (int64_t t = start; t < stop; ++t) {
                const int64_t y0 = 2 * (t / s.tw) - ph, x0 = 2 * (t % s.tw) - pw;
                const bool inside = y0 >= 0 && x0 >= 0 && y0 + 4 <= s.h && x0 + 4 <= s.w;
                for (int i = 0; i < 4; ++i)
                    for (int j = 0; j < 4; ++j) {
                        const int64_t iy = y0 + i, ix = x0 + j;
                        d[4 * i + j] = inside || (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
                                           ? xp[iy * s.w + ix] : T(0);
                    }
                input_tile(d, out);
                for (int e = 0; e < 16; ++e) buffer[e][t - start] = out[e];
            }
            flush_block(buffer, vp + start, plane, stop - start);
        }
    }
}

template <typename T>
void output_kernel(const T* m, T* y, const Tiles& s, int64_t oh, int64_t ow) {
    const int64_t plane = s.c * s.count();
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < s.n * s.c; ++p) {
        const int64_t n = p / s.c, c = p % s.c;
        const T* mp = m + c * s.count() + n * s.th * s.tw;
        T* yp = y + p * oh * ow;
        T tile[16], out[4];
        for (int64_t ty = 0; ty < s.th; ++ty) {
            for (int64_t tx = 0; tx < s.tw; ++tx) {
                const int64_t t = ty * s.tw + tx;
                for (int e = 0; e < 16; ++e) tile[e] = mp[e * plane + t];
                output_tile(tile, out);
                for (int i = 0; i < 2; ++i)
                    for (int j = 0; j < 2; ++j) {
                        const int64_t oy = 2 * ty + i, ox = 2 * tx + j;
                        if (oy < oh && ox < ow) yp[oy * ow + ox] = out[2 * i + j];
                    }
            }
        }
    }
}

template <typename T>
void output_grad_kernel(const T* gy, T* gm, const Tiles& s, int64_t oh, int64_t ow) {
    const int64_t plane = s.c * s.count();
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < s.n * s.c; ++p) {
        const int64_t n = p / s.c, c = p % s.c;
        const T* gp = gy + p * oh * ow;
        T* mp = gm + c * s.count() + n * s.th * s.tw;
        T g[4], out[16], buffer[16][kBlock];
        for (int64_t start = 0; start < s.th * s.tw; start += kBlock) {
            const int64_t stop = std::min(start + kBlock, s.th * s.tw);
            for (int64_t t = start; t < stop; ++t) {
                const int64_t ty = t / s.tw, tx = t % s.tw;
                for (int i = 0; i < 2; ++i)
                    for (int j = 0; j < 2; ++j) {
                        const int64_t oy = 2 * ty + i, ox = 2 * tx + j;
                        g[2 * i + j] = oy < oh && ox < ow ? gp[oy * ow + ox] : T(0);
                    }
                output_grad_tile(g, out);
                for (int e = 0; e < 16; ++e) buffer[e][t - start] = out[e];
            }
            flush_block(buffer, mp + start, plane, stop - start);
        }
    }
}

void require(bool ok, const std::string& message) {
    if (!ok) throw py::value_error(message);
}

int64_t tiles_for(int64_t size) { return (size + 1) / 2; }

// x (N, C, H, W) -> V (16, C, N*th*tw) for an output of oh x ow with padding (ph, pw).
py::array winograd_input(const py::array& x, int64_t ph, int64_t pw, int64_t oh, int64_t ow,
                         const py::object& out) {
    check_array("winograd_input", "x", x, 4);
    require(ph >= 0 && pw >= 0, "winograd_input: padding must be non-negative");
    require(oh >= 1 && ow >= 1, "winograd_input: output size must be positive");
    const Tiles s{x.shape(0), x.shape(1), x.shape(2), x.shape(3), tiles_for(oh), tiles_for(ow)};
    require(s.n >= 1 && s.c >= 1 && s.h >= 1 && s.w >= 1,
            "winograd_input: x has shape " + shape_str(x) + " with a size below 1");
    require(oh == s.h + 2 * ph - 2 && ow == s.w + 2 * pw - 2,
            "winograd_input: a 3x3 stride-1 output of x " + shape_str(x) + " padded by (" +
                std::to_string(ph) + ", " + std::to_string(pw) + ") is not " + std::to_string(oh) +
                " x " + std::to_string(ow));
    py::array v = output("winograd_input", out, x.dtype(), {16, s.c, s.count()});
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        const T* src = static_cast<const T*>(x.data());
        T* dst = static_cast<T*>(v.mutable_data());
        py::gil_scoped_release release;
        input_kernel(src, dst, s, ph, pw);
    });
    return v;
}

// M (16, C, N*th*tw) -> y (N, C, oh, ow).
py::array winograd_output(const py::array& m, int64_t n, int64_t oh, int64_t ow,
                          const py::object& out) {
    check_array("winograd_output", "m", m, 3);
    require(n >= 1 && oh >= 1 && ow >= 1, "winograd_output: sizes must be positive");
    const Tiles s{n, m.shape(1), oh, ow, tiles_for(oh), tiles_for(ow)};
    require(m.shape(0) == 16 && m.shape(1) >= 1 && m.shape(2) == s.count(),
            "winograd_output: m has shape " + shape_str(m) + " but the output needs (16, C, " +
                std::to_string(s.count()) + ")");
    py::array y = output("winograd_output", out, m.dtype(), {n, s.c, oh, ow});
    dispatch_float(m, [&](auto zero) {
        using T = decltype(zero);
        const T* src = static_cast<const T*>(m.data());
        T* dst = static_cast<T*>(y.mutable_data());
        py::gil_scoped_release release;
        output_kernel(src, dst, s, oh, ow);
    });
    return y;
}

// gy (N, C, oh, ow) -> gM (16, C, N*th*tw), the adjoint of winograd_output.
py::array winograd_output_grad(const py::array& gy, const py::object& out) {
    check_array("winograd_output_grad", "gy", gy, 4);
    const Tiles s{gy.shape(0), gy.shape(1), gy.shape(2), gy.shape(3), tiles_for(gy.shape(2)),
                  tiles_for(gy.shape(3))};
    require(s.n >= 1 && s.c >= 1 && s.h >= 1 && s.w >= 1,
            "winograd_output_grad: gy has shape " + shape_str(gy) + " with a size below 1");
    py::array gm = output("winograd_output_grad", out, gy.dtype(), {16, s.c, s.count()});
    dispatch_float(gy, [&](auto zero) {
        using T = decltype(zero);
        const T* src = static_cast<const T*>(gy.data());
        T* dst = static_cast<T*>(gm.mutable_data());
        py::gil_scoped_release release;
        output_grad_kernel(src, dst, s, s.h, s.w);
    });
    return gm;
}

}  // namespace

void bind_winograd(py::module_& m) {
    m.def("winograd_input", &winograd_input, py::arg("x"), py::arg("ph"), py::arg("pw"),
          py::arg("oh"), py::arg("ow"), py::arg("out") = py::none(),
          "x (N, C, H, W) -> B^T d B of every 4x4 tile, shape (16, C, N*ceil(oh/2)*ceil(ow/2)).");
    m.def("winograd_output", &winograd_output, py::arg("m"), py::arg("n"), py::arg("oh"),
          py::arg("ow"), py::arg("out") = py::none(),
          "(16, C, tiles) -> A^T m A of every tile, shape (N, C, oh, ow).");
    m.def("winograd_output_grad", &winograd_output_grad, py::arg("gy"),
          py::arg("out") = py::none(),
          "gy (N, C, oh, ow) -> A g A^T of every 2x2 tile, shape (16, C, tiles): "
          "the adjoint of winograd_output.");
}
