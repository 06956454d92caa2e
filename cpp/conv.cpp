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
    std::fill(gw, gw + size, T(0));
    for (const auto& sum : sums) {
        if (sum.empty()) continue;
        for (int64_t i = 0; i < p.groups; ++i) {
            const T* st = sum.data() + i * p.og * p.kg;  // (kg x og)
            T* gwi = gw + i * p.og * p.kg;                // (og x kg)
            for (int64_t r = 0; r < p.kg; ++r)
                for (int64_t o = 0; o < p.og; ++o) gwi[o * p.kg + r] += st[r * p.og + o];
        }
    }
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

}  // namespace

void bind_conv(py::module_& m) {
    using O = const py::object&;
    m.def("conv_forward", [](O x_arg, O w_arg, O bias_arg, O window, O groups) {
        const char* op = "conv_forward";
        const py::array x = as_array(op, "x", x_arg), w = as_array(op, "weight", w_arg);
        check_array(op, "x", x, 5);
        const Conv p = checked_plan(op, x.shape(0), x.shape(1), spatial(x), window,
                                    weight_shape(op, w, x), groups, x.itemsize(), max_threads());
        py::array bias;
        if (!bias_arg.is_none()) {
            bias = as_array(op, "bias", bias_arg);
            check_array(op, "bias", bias, 1);
            if (!bias.dtype().equal(x.dtype()) || bias.shape(0) != p.cout)
                shape_error(std::string(op) + ": bias must be a " + dtype_str(x.dtype()) +
                            " vector of the " + str(p.cout) + " output channels, got " +
                            dtype_str(bias.dtype()) + " " + shape_str(bias));
        }
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
