// Memory-bound kernels in one pass each, on the extension's threads: ReLU, leaky ReLU, sigmoid
// (with a vectorized exponential) and the backward passes of ReLU, leaky ReLU, sigmoid and tanh
// (one read of each operand, one write), a gradient's accumulation (dst += src), and batch norm's
// training forward and backward over (N, C, S) views, one channel per task, with the
// statistics summed in double. The "fused" variants of the composites they replace
// (kernels/composite.py), which the tests cross-check them against.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "common.hpp"
#include "vecmath.hpp"

using namespace engine_cpp;

namespace {

// f(begin, end) over [0, size) in blocks, in parallel.
template <typename F>
void blocks(int64_t size, F&& f) {
    parallel_for(ceil_div(size, kLoopBlock), kLoopBlock, [&](int64_t b) {
        f(b * kLoopBlock, std::min(size, (b + 1) * kLoopBlock));
    });
}

// Arrays of the same shape and float dtype, C-contiguous, aligned and native.
void check_same(const char* op, const std::vector<std::pair<const char*, py::array>>& arrays) {
    const py::array& first = arrays[0].second;
    for (const auto& [name, a] : arrays) {
        check_array(op, name, a, first.ndim());
        if (!a.dtype().equal(first.dtype()))
            dtype_error(std::string(op) + ": " + name + " has dtype " + dtype_str(a.dtype()) +
                        " but " + arrays[0].first + " has " + dtype_str(first.dtype()));
        for (py::ssize_t i = 0; i < a.ndim(); ++i)
            if (a.shape(i) != first.shape(i))
                shape_error(std::string(op) + ": " + name + " has shape " + shape_str(a) +
                            " but " + arrays[0].first + " has " + shape_str(first));
    }
}

std::vector<py::ssize_t> shape_of(const py::array& a) {
    return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

// out[i] = f(a[i], b[i]) for same-shaped arrays (b ignored when unary).
template <typename Op>
py::array binary(const char* op, const char* a_name, const char* b_name, const py::object& a_arg,
                 const py::object& b_arg, Op f) {
    const py::array a = as_array(op, a_name, a_arg), b = as_array(op, b_name, b_arg);
    check_same(op, {{a_name, a}, {b_name, b}});
    py::array out(a.dtype(), shape_of(a));
    dispatch_float(a, [&](auto zero) {
        using T = decltype(zero);
        const T* pa = static_cast<const T*>(a.data());
        const T* pb = static_cast<const T*>(b.data());
        T* po = static_cast<T*>(out.mutable_data());
        blocks(a.size(), [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[i]);
        });
    });
    return out;
}

// sigmoid without overflow: e = e^-|x|, 1 / (1 + e) for x >= 0, e / (1 + e) below.
template <typename T>
inline void sigmoid_span(const T* x, T* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const T e = exp_vectorizable(-std::abs(x[i]));
        const T r = T(1) / (T(1) + e);
        y[i] = x[i] >= T(0) ? r : e * r;
    }
}

ENGINE_CLONES void sigmoid_f32(const float* x, float* y, int64_t n) { sigmoid_span(x, y, n); }
void sigmoid_any(const float* x, float* y, int64_t n) { sigmoid_f32(x, y, n); }
void sigmoid_any(const double* x, double* y, int64_t n) { sigmoid_span(x, y, n); }

// y = f(x) for a float array: span(x, y, n) over blocks of it, in parallel.
template <typename Span>
py::array unary(const char* op, const py::object& x_arg, Span span) {
    const py::array x = as_array(op, "x", x_arg);
    check_same(op, {{"x", x}});
    py::array y(x.dtype(), shape_of(x));
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        const T* px = static_cast<const T*>(x.data());
        T* py_ = static_cast<T*>(y.mutable_data());
        blocks(x.size(), [&](int64_t b, int64_t e) { span(px + b, py_ + b, e - b); });
    });
    return y;
}

// dst += src where dst is C-contiguous and src has dst's shape with any strides (a broadcast
// view, stride 0, included): rows of dst's last axis in blocks, src's offset carried along by
// an odometer over the other axes. Strides are in elements.
template <typename T>
void accumulate_strided(T* dst, const T* src, const std::vector<int64_t>& shape,
                        const std::vector<int64_t>& strides) {
    const int64_t dims = static_cast<int64_t>(shape.size());
    const int64_t inner = dims ? shape[dims - 1] : 1, step = dims ? strides[dims - 1] : 0;
    int64_t rows = 1;
    for (int64_t i = 0; i + 1 < dims; ++i) rows *= shape[i];
    const int64_t per_task = std::max<int64_t>(1, kLoopBlock / std::max<int64_t>(inner, 1));
    parallel_for(ceil_div(rows, per_task), per_task * inner, [&](int64_t task) {
        const int64_t r0 = task * per_task, r1 = std::min(rows, r0 + per_task);
        std::vector<int64_t> index(std::max<int64_t>(dims - 1, 0));
        int64_t offset = 0;
        for (int64_t i = dims - 2, r = r0; i >= 0; --i) {
            index[i] = r % shape[i];
            r /= shape[i];
            offset += index[i] * strides[i];
        }
        for (int64_t r = r0; r < r1; ++r) {
            T* out = dst + r * inner;
            const T* in = src + offset;
            if (step == 1) {
                for (int64_t j = 0; j < inner; ++j) out[j] += in[j];
            } else if (step == 0) {
                const T v = in[0];
                for (int64_t j = 0; j < inner; ++j) out[j] += v;
            } else {
                for (int64_t j = 0; j < inner; ++j) out[j] += in[j * step];
            }
            for (int64_t i = dims - 2; i >= 0; --i) {  // the next row's offset
                offset += strides[i];
                if (++index[i] < shape[i]) break;
                offset -= index[i] * strides[i];
                index[i] = 0;
            }
        }
    });
}

// --- batch norm over (N, C, S) ---------------------------------------------------------------
struct Channels {
    int64_t n, c, s;
};

Channels channels_of(const char* op, const py::array& x) {
    if (x.ndim() != 3)
        shape_error(std::string(op) + ": x must be viewed as (N, C, S), got shape " + shape_str(x));
    if (x.shape(0) * x.shape(2) < 1)
        shape_error(std::string(op) + ": a channel of x " + shape_str(x) + " holds no values");
    return {x.shape(0), x.shape(1), x.shape(2)};
}

py::array channel_vector(const char* op, const char* name, const py::object& arg,
                         const py::array& like, int64_t c) {
    const py::array v = as_array(op, name, arg);
    check_array(op, name, v, 1);
    if (!v.dtype().equal(like.dtype()) || v.shape(0) != c)
        shape_error(std::string(op) + ": " + name + " must be a " + dtype_str(like.dtype()) +
                    " vector of " + str(c) + " channels, got " + dtype_str(v.dtype()) + " " +
                    shape_str(v));
    return v;
}

template <typename T>
const T* data_or_null(const py::object& arg, const py::array& a) {
    return arg.is_none() ? nullptr : static_cast<const T*>(a.data());
}

}  // namespace

void bind_pointwise(py::module_& m) {
    using O = const py::object&;
    m.def("relu", [](O x) {
        return unary("relu", x, [](const auto* in, auto* out, int64_t n) {
            using T = std::remove_pointer_t<decltype(out)>;
            for (int64_t i = 0; i < n; ++i) out[i] = in[i] < T(0) ? T(0) : in[i];  // keeps nan
        });
    }, py::arg("x"), "max(x, 0), nan kept, for a float32/float64 array.");
    m.def("sigmoid", [](O x) {
        return unary("sigmoid", x, [](const auto* in, auto* out, int64_t n) {
            sigmoid_any(in, out, n);
        });
    }, py::arg("x"), "1 / (1 + e^-x) for a float32/float64 array, without overflow.");
    m.def("relu_backward", [](O x, O gy) {
        return binary("relu_backward", "x", "grad_output", x, gy,
                      [](auto xv, auto g) { return xv > 0 ? g : decltype(g)(0); });
    }, py::arg("x"), py::arg("grad_output"), "grad_output where x > 0, else 0 (torch's).");
    m.def("leaky_relu", [](O x, double slope) {
        return binary("leaky_relu", "x", "x", x, x, [slope](auto xv, auto) {
            return xv > 0 ? xv : xv * decltype(xv)(slope);
        });
    }, py::arg("x"), py::arg("negative_slope"), "x where x > 0, else x * negative_slope.");
    m.def("leaky_relu_backward", [](O x, O gy, double slope) {
        return binary("leaky_relu_backward", "x", "grad_output", x, gy, [slope](auto xv, auto g) {
            return xv > 0 ? g : g * decltype(g)(slope);
        });
    }, py::arg("x"), py::arg("grad_output"), py::arg("negative_slope"),
       "grad_output where x > 0, else grad_output * negative_slope.");
    m.def("sigmoid_backward", [](O y, O gy) {
        return binary("sigmoid_backward", "y", "grad_output", y, gy,
                      [](auto yv, auto g) { return g * (yv * (1 - yv)); });
    }, py::arg("y"), py::arg("grad_output"), "grad_output * y (1 - y), y = sigmoid(x).");
    m.def("tanh_backward", [](O y, O gy) {
        return binary("tanh_backward", "y", "grad_output", y, gy,
                      [](auto yv, auto g) { return g * (1 - yv * yv); });
    }, py::arg("y"), py::arg("grad_output"), "grad_output * (1 - y^2), y = tanh(x).");

    m.def("accumulate", [](O dst_arg, O src_arg) {
        const char* op = "accumulate";
        py::array dst = as_array(op, "dst", dst_arg);
        const py::array src = as_array(op, "src", src_arg);
        check_array(op, "dst", dst, dst.ndim());
        if (!dst.writeable()) shape_error(std::string(op) + ": dst is read-only");
        if (!src.dtype().equal(dst.dtype()) || !src.dtype().attr("isnative").cast<bool>())
            dtype_error(std::string(op) + ": src has dtype " + dtype_str(src.dtype()) +
                        " but dst has " + dtype_str(dst.dtype()) + " (native byte order)");
        if (src.ndim() != dst.ndim())
            shape_error(std::string(op) + ": src has shape " + shape_str(src) + " but dst has " +
                        shape_str(dst));
        const int64_t item = dst.itemsize();
        std::vector<int64_t> shape, strides;
        for (py::ssize_t i = 0; i < dst.ndim(); ++i) {
            if (src.shape(i) != dst.shape(i))
                shape_error(std::string(op) + ": src has shape " + shape_str(src) +
                            " but dst has " + shape_str(dst));
            if (src.strides(i) % item != 0)
                shape_error(std::string(op) + ": src's strides are not whole elements");
            shape.push_back(dst.shape(i));
            strides.push_back(src.strides(i) / item);
        }
        if (reinterpret_cast<uintptr_t>(src.data()) % item != 0)
            shape_error(std::string(op) + ": src is not aligned to its elements");
        if (dst.size() > 0 && src.size() > 0 && std::find(shape.begin(), shape.end(), 0) == shape.end()) {
            // the span of memory src reads, for its overlap with dst
            const char* lo = static_cast<const char*>(src.data());
            const char* hi = lo + item;
            for (size_t i = 0; i < shape.size(); ++i)
                (strides[i] < 0 ? lo : hi) += (shape[i] - 1) * strides[i] * item;
            const char* d0 = static_cast<const char*>(dst.data());
            if (lo < d0 + dst.nbytes() && d0 < hi)
                shape_error(std::string(op) + ": src shares memory with dst");
        }
        dispatch_float(dst, [&](auto zero) {
            using T = decltype(zero);
            accumulate_strided(static_cast<T*>(dst.mutable_data()),
                               static_cast<const T*>(src.data()), shape, strides);
        });
    }, py::arg("dst"), py::arg("src"),
       "dst += src, dst C-contiguous float32/float64, src of its shape and dtype, any strides.");
    m.def("batch_norm_forward", [](O x_arg, O weight, O bias, double eps) {
        const char* op = "batch_norm_forward";
        const py::array x = as_array(op, "x", x_arg);
        check_same(op, {{"x", x}});
        const Channels ch = channels_of(op, x);
        py::array w, b;
        if (!weight.is_none()) w = channel_vector(op, "weight", weight, x, ch.c);
        if (!bias.is_none()) b = channel_vector(op, "bias", bias, x, ch.c);
        const std::vector<py::ssize_t> vector{ch.c};
        py::array y(x.dtype(), shape_of(x)), mean(x.dtype(), vector), var(x.dtype(), vector),
            invstd(x.dtype(), vector);
        dispatch_float(x, [&](auto zero) {
            using T = decltype(zero);
            const T* px = static_cast<const T*>(x.data());
            const T *pw = data_or_null<T>(weight, w), *pb = data_or_null<T>(bias, b);
            T *pyo = static_cast<T*>(y.mutable_data()), *pm = static_cast<T*>(mean.mutable_data());
            T *pv = static_cast<T*>(var.mutable_data()), *pi = static_cast<T*>(invstd.mutable_data());
            const double count = double(ch.n) * double(ch.s);
            parallel_for(ch.c, 3 * ch.n * ch.s, [&](int64_t c) {
                double sum = 0;
                for (int64_t n = 0; n < ch.n; ++n) {
                    const T* row = px + (n * ch.c + c) * ch.s;
#pragma omp simd reduction(+ : sum)
                    for (int64_t i = 0; i < ch.s; ++i) sum += row[i];
                }
                const T mu = T(sum / count);
                double squares = 0;
                for (int64_t n = 0; n < ch.n; ++n) {
                    const T* row = px + (n * ch.c + c) * ch.s;
#pragma omp simd reduction(+ : squares)
                    for (int64_t i = 0; i < ch.s; ++i) {
                        const double d = double(row[i] - mu);
                        squares += d * d;
                    }
                }
                const T v = T(squares / count), inv = T(1) / std::sqrt(v + T(eps));
                const T scale = pw ? inv * pw[c] : inv, shift = pb ? pb[c] : T(0);
                for (int64_t n = 0; n < ch.n; ++n) {
                    const T* row = px + (n * ch.c + c) * ch.s;
                    T* out = pyo + (n * ch.c + c) * ch.s;
                    for (int64_t i = 0; i < ch.s; ++i) out[i] = (row[i] - mu) * scale + shift;
                }
                pm[c] = mu;
                pv[c] = v;
                pi[c] = inv;
            });
        });
        return py::make_tuple(y, mean, var, invstd);
    }, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
       "Training-mode batch norm of x (N, C, S): y, the batch mean, biased variance, 1/std.");

    m.def("batch_norm_backward", [](O x_arg, O gy_arg, O mean_arg, O invstd_arg, O weight) {
        const char* op = "batch_norm_backward";
        const py::array x = as_array(op, "x", x_arg), gy = as_array(op, "grad_output", gy_arg);
        check_same(op, {{"x", x}, {"grad_output", gy}});
        const Channels ch = channels_of(op, x);
        const py::array mean = channel_vector(op, "mean", mean_arg, x, ch.c);
        const py::array invstd = channel_vector(op, "invstd", invstd_arg, x, ch.c);
        py::array w;
        if (!weight.is_none()) w = channel_vector(op, "weight", weight, x, ch.c);
        const std::vector<py::ssize_t> vector{ch.c};
        py::array gx(x.dtype(), shape_of(x)), gw(x.dtype(), vector), gb(x.dtype(), vector);
        dispatch_float(x, [&](auto zero) {
            using T = decltype(zero);
            const T *px = static_cast<const T*>(x.data()), *pg = static_cast<const T*>(gy.data());
            const T *pm = static_cast<const T*>(mean.data()), *pi = static_cast<const T*>(invstd.data());
            const T* pw = data_or_null<T>(weight, w);
            T *pgx = static_cast<T*>(gx.mutable_data()), *pgw = static_cast<T*>(gw.mutable_data());
            T* pgb = static_cast<T*>(gb.mutable_data());
            const double count = double(ch.n) * double(ch.s);
            parallel_for(ch.c, 4 * ch.n * ch.s, [&](int64_t c) {
                const T mu = pm[c], inv = pi[c];
                double sum_g = 0, sum_gx = 0;  // sums of gy and gy * xhat
                for (int64_t n = 0; n < ch.n; ++n) {
                    const T *row = px + (n * ch.c + c) * ch.s, *g = pg + (n * ch.c + c) * ch.s;
#pragma omp simd reduction(+ : sum_g, sum_gx)
                    for (int64_t i = 0; i < ch.s; ++i) {
                        sum_g += g[i];
                        sum_gx += double(g[i]) * double((row[i] - mu) * inv);
                    }
                }
                const T scale = pw ? inv * pw[c] : inv;
                const T mean_g = T(sum_g / count), mean_gx = T(sum_gx / count);
                for (int64_t n = 0; n < ch.n; ++n) {
                    const T *row = px + (n * ch.c + c) * ch.s, *g = pg + (n * ch.c + c) * ch.s;
                    T* out = pgx + (n * ch.c + c) * ch.s;
                    for (int64_t i = 0; i < ch.s; ++i)
                        out[i] = scale * (g[i] - mean_g - (row[i] - mu) * inv * mean_gx);
                }
                pgb[c] = T(sum_g);
                pgw[c] = T(sum_gx);
            });
        });
        return py::make_tuple(gx, gw, gb);
    }, py::arg("x"), py::arg("grad_output"), py::arg("mean"), py::arg("invstd"), py::arg("weight"),
       "Gradients (x, weight, bias) of training-mode batch norm over x (N, C, S).");
}
