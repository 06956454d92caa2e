// Convolution over volumes (N, C, D, H, W), forward and both backward passes, each one
// parallel loop of tasks: a task copies a block of one image's output lines into its thread's
// column buffer (im2col) and multiplies it at once with BLAS, while the block is in cache.
// No buffer the size of the batch exists, small images keep every thread busy (tasks span
// images), and BLAS runs on the loop's threads (blas.hpp). The "fused" variant of
// kernels/cpu/conv.py; an image is a volume of depth 1.
#include <vector>

#include "blas.hpp"
#include "volume.hpp"

using namespace engine_cpp;

namespace {

// A thread's column block stays about this small (it is written, then read by the product,
// while in cache); a block holds at least one output line.
constexpr int64_t kBlockBytes = int64_t(1) << 20;

struct Conv {
    Geometry g;
    int64_t cout, groups, og, kg;  // output channels, groups, per group: outputs and column rows
    int64_t block_lines, blocks;   // output lines per block, blocks per image
};

// Blocks of output lines: at most kBlockBytes of columns, and at least `tasks` blocks over the
// batch when there are lines enough, so that every thread has work with few images.
Conv plan(const Geometry& g, int64_t cout, int64_t groups, int64_t itemsize, int64_t tasks) {
    const int64_t total = lines(g), line_bytes = g.rows * g.o[2] * itemsize;
    int64_t per_block = std::max<int64_t>(1, kBlockBytes / std::max<int64_t>(line_bytes, 1));
    const int64_t wanted = std::max<int64_t>(1, ceil_div(tasks, g.n));  // blocks per image
    per_block = std::min(per_block, ceil_div(total, std::min(wanted, total)));
    return {g, cout, groups, cout / groups, g.rows / groups, per_block, ceil_div(total, per_block)};
}

// One buffer per thread, grown on first use by its own thread.
template <typename T>
struct ThreadBuffers {
    std::vector<std::vector<T>> buffers = std::vector<std::vector<T>>(max_threads());
    T* get(int64_t size) {
        auto& b = buffers[thread_index()];
        if (b.size() < static_cast<size_t>(size)) b.resize(size);
        return b.data();
    }
};

// The column block of image xn for output lines [l0, l1): (C*taps, (l1 - l0) * oW).
template <typename T>
void columns(const T* xn, T* cols, const Geometry& g, int64_t l0, int64_t l1) {
    const int64_t width = (l1 - l0) * g.o[2];
    for (int64_t c = 0; c < g.c; ++c)
        for (int64_t t = 0; t < g.taps; ++t)
            im2col_row(xn + c * g.plane, cols + (c * g.taps + t) * width, g, tap(g, t), l0, l1);
}

template <typename T>
void forward(const T* x, const T* w, const T* bias, T* y, const Conv& p) {
    const Geometry& g = p.g;
    ThreadBuffers<T> buffers;
    parallel_for(g.n * p.blocks, gemm_cost(g.rows, p.block_lines * g.o[2], p.og), [&](int64_t task) {
        const int64_t n = task / p.blocks, l0 = task % p.blocks * p.block_lines;
        const int64_t l1 = std::min(l0 + p.block_lines, lines(g)), width = (l1 - l0) * g.o[2];
        T* cols = buffers.get(g.rows * width);
        columns(x + n * g.c * g.plane, cols, g, l0, l1);
        T* yn = y + n * p.cout * g.out + l0 * g.o[2];
        if (bias != nullptr)
            for (int64_t o = 0; o < p.cout; ++o) std::fill(yn + o * g.out, yn + o * g.out + width, bias[o]);
        for (int64_t i = 0; i < p.groups; ++i)
            gemm<T>(false, false, p.og, width, p.kg, T(1), w + i * p.og * p.kg, p.kg,
                    cols + i * p.kg * width, width, bias != nullptr ? T(1) : T(0),
                    yn + i * p.og * g.out, g.out);
    });
}

// Tasks are (image, block of input channels): a channel's gradient gathers only its own
// column rows, so tasks never write the same element; each runs its line blocks in turn.
template <typename T>
void backward_input(const T* gy, const T* w, T* gx, const Conv& p) {
    const Geometry& g = p.g;
    const int64_t cg = g.c / p.groups;
    const int64_t per_image = std::min(g.c, ceil_div(max_threads(), g.n));
    const int64_t channels = ceil_div(g.c, per_image);  // channels per task
    ThreadBuffers<T> buffers;
    parallel_for(g.n * ceil_div(g.c, channels), gemm_cost(g.rows / per_image, g.out, p.og),
                 [&](int64_t task) {
        const int64_t tasks_per_image = ceil_div(g.c, channels);
        const int64_t n = task / tasks_per_image, c0 = task % tasks_per_image * channels;
        const int64_t c1 = std::min(c0 + channels, g.c);
        T* gxn = gx + n * g.c * g.plane;
        std::fill(gxn + c0 * g.plane, gxn + c1 * g.plane, T(0));
        for (int64_t l0 = 0; l0 < lines(g); l0 += p.block_lines) {
            const int64_t l1 = std::min(l0 + p.block_lines, lines(g)), width = (l1 - l0) * g.o[2];
            T* gcols = buffers.get((c1 - c0) * g.taps * width);
            // the rows of channels [c0, c1), group by group: W_i[:, rows]^T @ gy_i
            for (int64_t c = c0; c < c1;) {
                const int64_t i = c / cg, stop = std::min(c1, (i + 1) * cg);
                gemm<T>(true, false, (stop - c) * g.taps, width, p.og, T(1),
                        w + i * p.og * p.kg + (c - i * cg) * g.taps, p.kg,
                        gy + (n * p.cout + i * p.og) * g.out + l0 * g.o[2], g.out, T(0),
                        gcols + (c - c0) * g.taps * width, width);
                c = stop;
            }
            for (int64_t c = c0; c < c1; ++c)
                for (int64_t t = 0; t < g.taps; ++t)
                    col2im_row(gcols + ((c - c0) * g.taps + t) * width, gxn + c * g.plane, g,
                               tap(g, t), l0, l1);
        }
    });
}

// gw (groups x og x kg) = the sum of the threads' copies of it, each held transposed, (kg x og)
// per group; the copies a thread never touched are empty.
template <typename T>
void add_transposed(const std::vector<std::vector<T>>& sums, T* gw, int64_t groups, int64_t og,
                    int64_t kg) {
    std::fill(gw, gw + groups * og * kg, T(0));
    for (const auto& sum : sums) {
        if (sum.empty()) continue;
        for (int64_t i = 0; i < groups; ++i) {
            const T* st = sum.data() + i * og * kg;
            T* gwi = gw + i * og * kg;
            for (int64_t r = 0; r < kg; ++r)
                for (int64_t o = 0; o < og; ++o) gwi[o * kg + r] += st[r * og + o];
        }
    }
}

// Tasks as the forward's; each thread sums its tasks' products into its own copy of the
// gradient, and the copies are added at the end. The copies hold the gradient transposed,
// (kg x og) per group, so that the product reads the column block as it lies (columns @ gy^T):
// with gy @ columns^T, BLAS packs the transposed column block, measured 1.7x slower on the
// U-Net's layers (m = og = 16-32 outputs).
template <typename T>
void backward_weight(const T* x, const T* gy, T* gw, const Conv& p) {
    const Geometry& g = p.g;
    const int64_t size = p.cout * p.kg;
    std::vector<std::vector<T>> sums(max_threads());
    ThreadBuffers<T> buffers;
    parallel_for(g.n * p.blocks, gemm_cost(g.rows, p.block_lines * g.o[2], p.og), [&](int64_t task) {
        const int64_t n = task / p.blocks, l0 = task % p.blocks * p.block_lines;
        const int64_t l1 = std::min(l0 + p.block_lines, lines(g)), width = (l1 - l0) * g.o[2];
        auto& sum = sums[thread_index()];
        if (sum.empty()) sum.assign(size, T(0));
        T* cols = buffers.get(g.rows * width);
        columns(x + n * g.c * g.plane, cols, g, l0, l1);
        const T* gyn = gy + n * p.cout * g.out + l0 * g.o[2];
        for (int64_t i = 0; i < p.groups; ++i)
            gemm<T>(false, true, p.kg, p.og, width, T(1), cols + i * p.kg * width, width,
                    gyn + i * p.og * g.out, g.out, T(1), sum.data() + i * p.og * p.kg, p.og);
    });
    add_transposed(sums, gw, p.groups, p.og, p.kg);
}

// --- shifted: a stride-1 2-D convolution as one product per kernel tap ------------------------
// With the image zero-padded into rows of the padded width wp, tap (ki, kj) reads, for output
// position q = oy * wp + ox of a "wide" output (its rows wp long, the last wp - ow columns
// unused), input element q + ki * wp + kj: for every channel the same contiguous run. So the
// forward is y_wide += W_t (cout x C) @ X_t (C x oh*wp), X_t the padded image shifted by the
// tap's offset (row stride: one padded plane), and no column matrix is written at all; the
// backward passes are the same products transposed, the wide gradient's unused columns zero.
struct Shifted {
    int64_t n, c, h, w, cout, kh, kw, ph, pw, oh, ow, wp;
    int64_t plane;  // one padded channel, with kw elements of slack for the last tap's run
    int64_t wide;   // oh * wp
    int64_t offset(int64_t t) const { return t / kw * wp + t % kw; }
};

Shifted shifted_of(const char* op, const Conv& p) {
    const Geometry& g = p.g;
    if (g.size[0] != 1 || g.k[0] != 1 || g.p[0] != 0 || g.s[1] != 1 || g.s[2] != 1 ||
        g.d[1] != 1 || g.d[2] != 1 || p.groups != 1)
        shape_error(std::string(op) + ": the shifted convolution takes 2-D images with stride "
                    "1, dilation 1 and groups 1");
    const int64_t wp = g.size[2] + 2 * g.p[2], hp = g.size[1] + 2 * g.p[1];
    const int64_t plane = count_mul(op, "the padded image", hp, wp) + g.k[2];
    count_mul(op, "the padded batch", count_mul(op, "the padded batch", g.n, g.c), plane);
    for (int64_t extent : {plane, g.o[1] * wp}) require_blas_extent(op, extent);
    return {g.n, g.c, g.size[1], g.size[2], p.cout, g.k[1], g.k[2], g.p[1], g.p[2], g.o[1],
            g.o[2], wp, plane, g.o[1] * wp};
}

// Padded rows [r0, r0 + rows) of image xn (C, H, W) into xp (C, plane), zeros around them
// and in each channel's slack; padded row r is input row r - ph.
template <typename T>
void pad_rows(const T* xn, T* xp, const Shifted& s, int64_t r0, int64_t rows, int64_t plane) {
    std::fill(xp, xp + s.c * plane, T(0));
    for (int64_t c = 0; c < s.c; ++c)
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t y = r0 + r - s.ph;
            if (y < 0 || y >= s.h) continue;
            std::copy(xn + (c * s.h + y) * s.w, xn + (c * s.h + y + 1) * s.w,
                      xp + c * plane + r * s.wp + s.pw);
        }
}

// Output lines [l0, l1) of one image's gradient gyn (cout, oh, ow) as wide rows of wp values,
// unused columns zero: (cout, (l1 - l0) * wp).
template <typename T>
void widen(const T* gyn, T* wide, const Shifted& s, int64_t l0, int64_t l1) {
    for (int64_t o = 0; o < s.cout; ++o)
        for (int64_t oy = l0; oy < l1; ++oy) {
            T* row = wide + (o * (l1 - l0) + oy - l0) * s.wp;
            std::copy(gyn + (o * s.oh + oy) * s.ow, gyn + (o * s.oh + oy + 1) * s.ow, row);
            std::fill(row + s.ow, row + s.wp, T(0));
        }
}

// Images split further where there are fewer than threads: forward by output channels,
// backward by input channels, the weight's gradient by blocks of output lines.
int64_t splits(int64_t n, int64_t parts) {
    return std::max<int64_t>(1, std::min(parts, ceil_div(max_threads(), n)));
}

// wt: the weights as (taps, cout, C).
template <typename T>
void shifted_forward(const T* x, const T* wt, const T* bias, T* y, const Shifted& s) {
    const int64_t parts = splits(s.n, s.cout), per = ceil_div(s.cout, parts);
    ThreadBuffers<T> pads, wides;
    parallel_for(s.n * parts, gemm_cost(per * s.kh * s.kw, s.wide, s.c), [&](int64_t task) {
        const int64_t n = task / parts, o0 = task % parts * per, o1 = std::min(s.cout, o0 + per);
        if (o0 >= o1) return;
        T* xp = pads.get(s.c * s.plane);
        T* yw = wides.get((o1 - o0) * s.wide);
        pad_rows(x + n * s.c * s.h * s.w, xp, s, 0, s.oh + s.kh - 1, s.plane);
        for (int64_t t = 0; t < s.kh * s.kw; ++t)
            gemm<T>(false, false, o1 - o0, s.wide, s.c, T(1), wt + (t * s.cout + o0) * s.c, s.c,
                    xp + s.offset(t), s.plane, t == 0 ? T(0) : T(1), yw, s.wide);
        for (int64_t o = o0; o < o1; ++o) {
            const T b = bias != nullptr ? bias[o] : T(0);
            for (int64_t oy = 0; oy < s.oh; ++oy) {
                const T* from = yw + ((o - o0) * s.oh + oy) * s.wp;
                T* to = y + ((n * s.cout + o) * s.oh + oy) * s.ow;
                for (int64_t ox = 0; ox < s.ow; ++ox) to[ox] = from[ox] + b;
            }
        }
    });
}

template <typename T>
void shifted_backward_input(const T* gy, const T* wt, T* gx, const Shifted& s) {
    const int64_t parts = splits(s.n, s.c), per = ceil_div(s.c, parts);
    ThreadBuffers<T> pads, wides;
    parallel_for(s.n * parts, gemm_cost(per * s.kh * s.kw, s.wide, s.cout), [&](int64_t task) {
        const int64_t n = task / parts, c0 = task % parts * per, c1 = std::min(s.c, c0 + per);
        if (c0 >= c1) return;
        T* gw = wides.get(s.cout * s.wide);
        T* gp = pads.get((c1 - c0) * s.plane);
        widen(gy + n * s.cout * s.oh * s.ow, gw, s, 0, s.oh);
        std::fill(gp, gp + (c1 - c0) * s.plane, T(0));
        for (int64_t t = 0; t < s.kh * s.kw; ++t)
            gemm<T>(true, false, c1 - c0, s.wide, s.cout, T(1), wt + t * s.cout * s.c + c0, s.c,
                    gw, s.wide, T(1), gp + s.offset(t), s.plane);
        for (int64_t c = c0; c < c1; ++c)
            for (int64_t y = 0; y < s.h; ++y) {
                const T* from = gp + (c - c0) * s.plane + (y + s.ph) * s.wp + s.pw;
                std::copy(from, from + s.w, gx + ((n * s.c + c) * s.h + y) * s.w);
            }
    });
}

// The weight's gradient (cout, C * taps). Tasks are (image, block of output lines): a task
// copies the padded rows its lines read, then its column block, each row of which is one
// contiguous run of those rows (no per-line work, as im2col has), and multiplies it with the
// wide gradient of its lines, columns @ gy^T into its thread's transposed sum (as the fused
// backward_weight, for the same reason).
template <typename T>
void shifted_backward_weight(const T* x, const T* gy, T* gw, const Shifted& s) {
    const int64_t taps = s.kh * s.kw, kg = s.c * taps, size = kg * s.cout;
    const int64_t line_bytes = kg * s.wp * int64_t(sizeof(T));
    int64_t per = std::max<int64_t>(1, kBlockBytes / line_bytes);  // output lines per block
    per = std::min(per, ceil_div(s.oh, std::min(s.oh, splits(s.n, s.oh))));
    const int64_t blocks = ceil_div(s.oh, per);
    std::vector<std::vector<T>> sums(max_threads());
    ThreadBuffers<T> pads, wides, columns;
    parallel_for(s.n * blocks, gemm_cost(kg, per * s.wp, s.cout), [&](int64_t task) {
        const int64_t n = task / blocks, l0 = task % blocks * per, l1 = std::min(s.oh, l0 + per);
        const int64_t width = (l1 - l0) * s.wp, rows = l1 - l0 + s.kh - 1;  // padded rows read
        const int64_t plane = rows * s.wp + s.kw;
        auto& sum = sums[thread_index()];
        if (sum.empty()) sum.assign(size, T(0));
        T* xp = pads.get(s.c * plane);
        T* gyw = wides.get(s.cout * width);
        T* cols = columns.get(kg * width);
        pad_rows(x + n * s.c * s.h * s.w, xp, s, l0, rows, plane);
        widen(gy + n * s.cout * s.oh * s.ow, gyw, s, l0, l1);
        for (int64_t c = 0; c < s.c; ++c)
            for (int64_t t = 0; t < taps; ++t) {
                const T* from = xp + c * plane + s.offset(t);
                std::copy(from, from + width, cols + (c * taps + t) * width);
            }
        gemm<T>(false, true, kg, s.cout, width, T(1), cols, width, gyw, width, T(1), sum.data(),
                s.cout);
    });
    add_transposed(sums, gw, 1, s.cout, kg);
}

// --- bindings: every check before the GIL is released --------------------------------------
std::vector<py::object> window_args(const char* op, const py::object& window) {
    if (!py::isinstance<py::sequence>(window) || py::len(window) != 12)
        shape_error(std::string(op) + ": window must hold 12 ints (kernel, stride, padding and "
                    "dilation, each as (depth, height, width))");
    std::vector<py::object> args;
    for (const auto& v : py::reinterpret_borrow<py::sequence>(window))
        args.push_back(py::reinterpret_borrow<py::object>(v));
    return args;
}

// Three ints (D, H, W) or five (Cout, C/groups, kD, kH, kW) from a sequence.
std::vector<int64_t> int_list(const char* op, const char* name, const py::object& values,
                              size_t count) {
    if (!py::isinstance<py::sequence>(values) || py::len(values) != count)
        shape_error(std::string(op) + ": " + name + " must hold " + str(int64_t(count)) + " ints");
    std::vector<int64_t> out;
    for (const auto& v : py::reinterpret_borrow<py::sequence>(values)) out.push_back(to_int(op, name, v));
    return out;
}

// The checked plan of a convolution of n volumes (c, size) with weights of shape w_shape.
Conv checked_plan(const char* op, int64_t n, int64_t c, const Triple& size, const py::object& window,
                  const std::vector<int64_t>& w_shape, const py::object& groups_arg,
                  int64_t itemsize, int64_t tasks) {
    const int64_t groups = to_int(op, "groups", groups_arg);
    const Geometry g = geometry_of(op, 3, n, c, size, window_args(op, window));
    const int64_t cout = w_shape[0];
    if (groups < 1 || c % groups != 0 || cout < 1 || cout % groups != 0)
        shape_error(std::string(op) + ": groups = " + str(groups) + " must divide the input's " +
                    str(c) + " and the weight's " + str(cout) + " channels");
    if (w_shape[1] != c / groups || w_shape[2] != g.k[0] || w_shape[3] != g.k[1] ||
        w_shape[4] != g.k[2])
        shape_error(std::string(op) + ": the weight's shape (" + str(w_shape[0]) + ", " +
                    str(w_shape[1]) + ", " + tuple_str({w_shape[2], w_shape[3], w_shape[4]}, 3).substr(1) +
                    " does not match " + str(c) + " input channels in " + str(groups) +
                    " groups and the kernel " + tuple_str(g.k, 3));
    count_mul(op, "the output", count_mul(op, "the output", n, cout), g.out);
    for (int64_t extent : {g.rows, g.out, cout}) require_blas_extent(op, extent);
    return plan(g, cout, groups, itemsize, tasks);
}

std::vector<int64_t> weight_shape(const char* op, const py::array& w, const py::array& like) {
    check_array(op, "weight", w, 5);
    if (!w.dtype().equal(like.dtype()))
        dtype_error(std::string(op) + ": weight has dtype " + dtype_str(w.dtype()) +
                    " but the input is " + dtype_str(like.dtype()));
    return {w.shape(0), w.shape(1), w.shape(2), w.shape(3), w.shape(4)};
}

Triple spatial(const py::array& a) { return {a.shape(2), a.shape(3), a.shape(4)}; }

std::vector<py::ssize_t> volume_shape(int64_t n, int64_t c, const Triple& size) {
    return {n, c, size[0], size[1], size[2]};
}

void require_shape(const char* op, const char* name, const py::array& a, const py::array& like,
                   const std::vector<py::ssize_t>& shape) {
    check_array(op, name, a, 5);
    if (!a.dtype().equal(like.dtype()))
        dtype_error(std::string(op) + ": " + name + " has dtype " + dtype_str(a.dtype()) +
                    " but the input is " + dtype_str(like.dtype()));
    for (size_t i = 0; i < shape.size(); ++i)
        if (a.shape(i) != shape[i])
            shape_error(std::string(op) + ": " + name + " has shape " + shape_str(a) +
                        " but the convolution gives (" + str(shape[0]) + ", " + str(shape[1]) +
                        ", " + str(shape[2]) + ", " + str(shape[3]) + ", " + str(shape[4]) + ")");
}

// The bias of a forward call: None as an empty array, else a vector of the cout channels in
// x's dtype.
py::array checked_bias(const char* op, const py::object& bias_arg, const py::array& x,
                       int64_t cout) {
    if (bias_arg.is_none()) return py::array();
    const py::array bias = as_array(op, "bias", bias_arg);
    check_array(op, "bias", bias, 1);
    if (!bias.dtype().equal(x.dtype()) || bias.shape(0) != cout)
        shape_error(std::string(op) + ": bias must be a " + dtype_str(x.dtype()) +
                    " vector of the " + str(cout) + " output channels, got " +
                    dtype_str(bias.dtype()) + " " + shape_str(bias));
    return bias;
}

// The kernel extents (kh, kw) of a shifted call's window, with its weight wt (taps, Cout, C)
// checked against them and against `like` (named like_name), whose channels are wt's axis
// `axis` (2: the input's C, 1: the gradient's Cout).
std::pair<int64_t, int64_t> checked_taps(const char* op, const py::array& wt, const py::array& like,
                                         const char* like_name, int axis, const py::object& window) {
    check_array(op, "weight", wt, 3);
    if (!wt.dtype().equal(like.dtype()))
        dtype_error(std::string(op) + ": weight has dtype " + dtype_str(wt.dtype()) + " but " +
                    like_name + " is " + dtype_str(like.dtype()));
    const std::vector<py::object> win = window_args(op, window);
    const int64_t kh = to_int(op, "kh", win[1]), kw = to_int(op, "kw", win[2]);
    if (wt.shape(0) != kh * kw || wt.shape(axis) != like.shape(1))
        shape_error(std::string(op) + ": weight must be (taps, Cout, C) = (" + str(kh * kw) +
                    (axis == 2 ? ", Cout, " + str(like.shape(1)) : ", " + str(like.shape(1)) + ", C") +
                    "), got " + shape_str(wt));
    return {kh, kw};
}

}  // namespace

void bind_conv(py::module_& m) {
    using O = const py::object&;
    m.def("conv_forward", [](O x_arg, O w_arg, O bias_arg, O window, O groups) {
        const char* op = "conv_forward";
        const py::array x = as_array(op, "x", x_arg), w = as_array(op, "weight", w_arg);
        check_array(op, "x", x, 5);
        const Conv p = checked_plan(op, x.shape(0), x.shape(1), spatial(x), window,
                                    weight_shape(op, w, x), groups, x.itemsize(), max_threads());
        const py::array bias = checked_bias(op, bias_arg, x, p.cout);
        py::array y(x.dtype(), volume_shape(p.g.n, p.cout, p.g.o));
        dispatch_float(x, [&](auto zero) {
            using T = decltype(zero);
            forward(static_cast<const T*>(x.data()), static_cast<const T*>(w.data()),
                    bias_arg.is_none() ? nullptr : static_cast<const T*>(bias.data()),
                    static_cast<T*>(y.mutable_data()), p);
        });
        return y;
    }, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("window"), py::arg("groups") = 1,
       "x (N, C, D, H, W) * weight (Cout, C/groups, kD, kH, kW) [+ bias] -> (N, Cout, oD, oH, oW);"
       " window: the 12 ints of kernel, stride, padding and dilation, each (depth, height, width).");
    m.def("conv_backward_input", [](O gy_arg, O w_arg, O size_arg, O window, O groups) {
        const char* op = "conv_backward_input";
        const py::array gy = as_array(op, "grad_output", gy_arg), w = as_array(op, "weight", w_arg);
        check_array(op, "grad_output", gy, 5);
        const std::vector<int64_t> size = int_list(op, "input_size", size_arg, 3);
        const std::vector<int64_t> ws = weight_shape(op, w, gy);
        const int64_t c = ws[1] * to_int(op, "groups", groups);
        const Triple input{size[0], size[1], size[2]};
        const Conv p = checked_plan(op, gy.shape(0), c, input, window, ws, groups, gy.itemsize(), 1);
        require_shape(op, "grad_output", gy, gy, volume_shape(p.g.n, p.cout, p.g.o));
        py::array gx(gy.dtype(), volume_shape(p.g.n, c, input));
        dispatch_float(gy, [&](auto zero) {
            using T = decltype(zero);
            backward_input(static_cast<const T*>(gy.data()), static_cast<const T*>(w.data()),
                           static_cast<T*>(gx.mutable_data()), p);
        });
        return gx;
    }, py::arg("grad_output"), py::arg("weight"), py::arg("input_size"), py::arg("window"),
       py::arg("groups") = 1,
       "The input's gradient (N, C, D, H, W) of conv_forward, input_size = (D, H, W).");
    m.def("shifted_forward", [](O x_arg, O wt_arg, O bias_arg, O window) {
        const char* op = "shifted_forward";
        const py::array x = as_array(op, "x", x_arg), wt = as_array(op, "weight", wt_arg);
        check_array(op, "x", x, 5);
        const auto [kh, kw] = checked_taps(op, wt, x, "the input", 2, window);
        const std::vector<int64_t> ws{wt.shape(1), x.shape(1), 1, kh, kw};
        const Conv p = checked_plan(op, x.shape(0), x.shape(1), spatial(x), window, ws,
                                    py::int_(1), x.itemsize(), max_threads());
        const Shifted s = shifted_of(op, p);
        const py::array bias = checked_bias(op, bias_arg, x, s.cout);
        py::array y(x.dtype(), volume_shape(s.n, s.cout, p.g.o));
        dispatch_float(x, [&](auto zero) {
            using T = decltype(zero);
            shifted_forward(static_cast<const T*>(x.data()), static_cast<const T*>(wt.data()),
                            bias_arg.is_none() ? nullptr : static_cast<const T*>(bias.data()),
                            static_cast<T*>(y.mutable_data()), s);
        });
        return y;
    }, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("window"),
       "conv_forward of images (N, C, 1, H, W), stride 1, dilation 1, groups 1, with the weight "
       "as (taps, Cout, C): one product per kernel tap on the padded image.");
    m.def("shifted_backward_input", [](O gy_arg, O wt_arg, O size_arg, O window) {
        const char* op = "shifted_backward_input";
        const py::array gy = as_array(op, "grad_output", gy_arg), wt = as_array(op, "weight", wt_arg);
        check_array(op, "grad_output", gy, 5);
        const std::vector<int64_t> size = int_list(op, "input_size", size_arg, 3);
        const auto [kh, kw] = checked_taps(op, wt, gy, "grad_output", 1, window);
        const std::vector<int64_t> ws{wt.shape(1), wt.shape(2), 1, kh, kw};
        const Triple input{size[0], size[1], size[2]};
        const Conv p = checked_plan(op, gy.shape(0), wt.shape(2), input, window, ws, py::int_(1),
                                    gy.itemsize(), 1);
        const Shifted s = shifted_of(op, p);
        require_shape(op, "grad_output", gy, gy, volume_shape(s.n, s.cout, p.g.o));
        py::array gx(gy.dtype(), volume_shape(s.n, s.c, input));
        dispatch_float(gy, [&](auto zero) {
            using T = decltype(zero);
            shifted_backward_input(static_cast<const T*>(gy.data()),
                                   static_cast<const T*>(wt.data()),
                                   static_cast<T*>(gx.mutable_data()), s);
        });
        return gx;
    }, py::arg("grad_output"), py::arg("weight"), py::arg("input_size"), py::arg("window"),
       "The input's gradient (N, C, 1, H, W) of shifted_forward.");
    m.def("shifted_backward_weight", [](O x_arg, O gy_arg, O cout_arg, O window) {
        const char* op = "shifted_backward_weight";
        const py::array x = as_array(op, "x", x_arg), gy = as_array(op, "grad_output", gy_arg);
        check_array(op, "x", x, 5);
        const std::vector<py::object> win = window_args(op, window);
        const int64_t kh = to_int(op, "kh", win[1]), kw = to_int(op, "kw", win[2]);
        const std::vector<int64_t> ws{to_int(op, "cout", cout_arg), x.shape(1), 1, kh, kw};
        const Conv p = checked_plan(op, x.shape(0), x.shape(1), spatial(x), window, ws,
                                    py::int_(1), x.itemsize(), max_threads());
        const Shifted s = shifted_of(op, p);
        require_shape(op, "grad_output", gy, x, volume_shape(s.n, s.cout, p.g.o));
        py::array gw(x.dtype(), std::vector<py::ssize_t>{s.cout, s.c, 1, kh, kw});
        dispatch_float(x, [&](auto zero) {
            using T = decltype(zero);
            shifted_backward_weight(static_cast<const T*>(x.data()), static_cast<const T*>(gy.data()),
                                    static_cast<T*>(gw.mutable_data()), s);
        });
        return gw;
    }, py::arg("x"), py::arg("grad_output"), py::arg("cout"), py::arg("window"),
       "The weight's gradient (Cout, C, 1, kH, kW) of shifted_forward.");
    m.def("conv_backward_weight", [](O x_arg, O gy_arg, O w_shape, O window, O groups) {
        const char* op = "conv_backward_weight";
        const py::array x = as_array(op, "x", x_arg), gy = as_array(op, "grad_output", gy_arg);
        check_array(op, "x", x, 5);
        const std::vector<int64_t> ws = int_list(op, "weight_shape", w_shape, 5);
        const Conv p = checked_plan(op, x.shape(0), x.shape(1), spatial(x), window, ws, groups,
                                    x.itemsize(), max_threads());
        require_shape(op, "grad_output", gy, x, volume_shape(p.g.n, p.cout, p.g.o));
        py::array gw(x.dtype(), std::vector<py::ssize_t>(ws.begin(), ws.end()));
        dispatch_float(x, [&](auto zero) {
            using T = decltype(zero);
            backward_weight(static_cast<const T*>(x.data()), static_cast<const T*>(gy.data()),
                            static_cast<T*>(gw.mutable_data()), p);
        });
        return gw;
    }, py::arg("x"), py::arg("grad_output"), py::arg("weight_shape"), py::arg("window"),
       py::arg("groups") = 1, "The weight's gradient (Cout, C/groups, kD, kH, kW) of conv_forward.");
}
