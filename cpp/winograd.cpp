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
    parallel_for(s.n * s.c, 32 * s.th * s.tw, [&](int64_t p) {
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
    });
}

template <typename T>
void output_kernel(const T* m, T* y, const Tiles& s, int64_t oh, int64_t ow) {
    const int64_t plane = s.c * s.count();
    parallel_for(s.n * s.c, 32 * s.th * s.tw, [&](int64_t p) {
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
    });
}

template <typename T>
void output_grad_kernel(const T* gy, T* gm, const Tiles& s, int64_t oh, int64_t ow) {
    const int64_t plane = s.c * s.count();
    parallel_for(s.n * s.c, 32 * s.th * s.tw, [&](int64_t p) {
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
    });
}

int64_t tiles_for(int64_t size) { return size / 2 + size % 2; }

// The tiles of an (n, c) batch with an output of oh x ow, with the 16 x c x tiles transformed
// array counted against the extension's limit.
Tiles make_tiles(const char* op, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh,
                 int64_t ow) {
    const Tiles s{n, c, h, w, tiles_for(oh), tiles_for(ow)};
    const std::string what = "the transformed tiles (16, C, N*ceil(oh/2)*ceil(ow/2))";
    const int64_t count = count_mul(op, what, count_mul(op, what, n, s.th), s.tw);
    count_mul(op, what, count_mul(op, what, 16, c), count);
    return s;
}

// x (N, C, H, W) -> V (16, C, N*th*tw) for an output of oh x ow with padding (ph, pw).
py::array winograd_input(const py::object& x_arg, const py::object& ph_arg,
                         const py::object& pw_arg, const py::object& oh_arg,
                         const py::object& ow_arg, const py::object& out) {
    const char* op = "winograd_input";
    const py::array x = as_array(op, "x", x_arg);
    check_array(op, "x", x, 4);
    const int64_t ph = to_int(op, "ph", ph_arg), pw = to_int(op, "pw", pw_arg);
    const int64_t oh = to_int(op, "oh", oh_arg), ow = to_int(op, "ow", ow_arg);
    require(ph >= 0 && pw >= 0, "winograd_input: padding must be non-negative");
    require(oh >= 1 && ow >= 1, "winograd_input: output size must be positive");
    const int64_t n = x.shape(0), c = x.shape(1), h = x.shape(2), w = x.shape(3);
    require(n >= 1 && c >= 1 && h >= 1 && w >= 1,
            "winograd_input: x has shape " + shape_str(x) + " with a size below 1");
    // oh == h + 2 ph - 2, without overflow: both sides are compared as h + 2 ph.
    require(oh == extent(op, "the padded height", h, 2, ph) - 2 &&
                ow == extent(op, "the padded width", w, 2, pw) - 2,
            "winograd_input: a 3x3 stride-1 output of x " + shape_str(x) + " padded by (" +
                std::to_string(ph) + ", " + std::to_string(pw) + ") is not " + std::to_string(oh) +
                " x " + std::to_string(ow));
    const Tiles s = make_tiles(op, n, c, h, w, oh, ow);
    py::array v = output(op, out, x, {16, s.c, s.count()});
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        input_kernel(static_cast<const T*>(x.data()), static_cast<T*>(v.mutable_data()), s, ph,
                     pw);
    });
    return v;
}

// M (16, C, N*th*tw) -> y (N, C, oh, ow).
py::array winograd_output(const py::object& m_arg, const py::object& n_arg,
                          const py::object& oh_arg, const py::object& ow_arg,
                          const py::object& out) {
    const char* op = "winograd_output";
    const py::array m = as_array(op, "m", m_arg);
    check_array(op, "m", m, 3);
    const int64_t n = to_int(op, "n", n_arg), oh = to_int(op, "oh", oh_arg),
                  ow = to_int(op, "ow", ow_arg);
    require(n >= 1 && oh >= 1 && ow >= 1, "winograd_output: sizes must be positive");
    require(m.shape(1) >= 1, "winograd_output: m has shape " + shape_str(m) + " with no channel");
    const Tiles s = make_tiles(op, n, m.shape(1), oh, ow, oh, ow);
    const std::string what = "the output (N, C, oh, ow)";
    count_mul(op, what, count_mul(op, what, count_mul(op, what, n, s.c), oh), ow);
    require(m.shape(0) == 16 && m.shape(2) == s.count(),
            "winograd_output: m has shape " + shape_str(m) + " but the output needs (16, C, " +
                std::to_string(s.count()) + ")");
    py::array y = output(op, out, m, {n, s.c, oh, ow});
    dispatch_float(m, [&](auto zero) {
        using T = decltype(zero);
        output_kernel(static_cast<const T*>(m.data()), static_cast<T*>(y.mutable_data()), s, oh,
                      ow);
    });
    return y;
}

// gy (N, C, oh, ow) -> gM (16, C, N*th*tw), the adjoint of winograd_output.
py::array winograd_output_grad(const py::object& gy_arg, const py::object& out) {
    const char* op = "winograd_output_grad";
    const py::array gy = as_array(op, "gy", gy_arg);
    check_array(op, "gy", gy, 4);
    const int64_t n = gy.shape(0), c = gy.shape(1), h = gy.shape(2), w = gy.shape(3);
    require(n >= 1 && c >= 1 && h >= 1 && w >= 1,
            "winograd_output_grad: gy has shape " + shape_str(gy) + " with a size below 1");
    const Tiles s = make_tiles(op, n, c, h, w, h, w);
    py::array gm = output(op, out, gy, {16, s.c, s.count()});
    dispatch_float(gy, [&](auto zero) {
        using T = decltype(zero);
        output_grad_kernel(static_cast<const T*>(gy.data()), static_cast<T*>(gm.mutable_data()),
                           s, s.h, s.w);
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
