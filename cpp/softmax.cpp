// Softmax and log-softmax along one axis, forward and backward, in two passes over the data
// (the row's maximum, then one pass that writes), on the extension's threads. x is viewed as
// (outer, n, inner) with the axis in the middle: rows of n contiguous values when inner is 1
// (the common case: the last axis), else n rows of `inner` values, reduced across. Sums run in
// lanes of the dtype within blocks of 1024 values, and in double across blocks. The "fused" variants of the composites they replace (kernels/composite.py), which the
// tests cross-check them against.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common.hpp"
#include "vecmath.hpp"

using namespace engine_cpp;

namespace {


struct Rows {
    int64_t outer, n, inner;
};

Rows rows_of(const char* op, const py::array& a) {
    if (a.ndim() != 3)
        shape_error(std::string(op) + ": expected a (outer, n, inner) view, got shape " +
                    shape_str(a));
    if (a.shape(1) < 1) shape_error(std::string(op) + ": the axis of " + shape_str(a) + " is empty");
    return {a.shape(0), a.shape(1), a.shape(2)};
}

py::array checked(const char* op, const char* name, const py::object& arg) {
    const py::array a = as_array(op, name, arg);
    check_array(op, name, a, 3);
    return a;
}

void check_pair(const char* op, const py::array& y, const py::array& gy) {
    if (!y.dtype().equal(gy.dtype()))
        dtype_error(std::string(op) + ": grad_output has dtype " + dtype_str(gy.dtype()) +
                    " but y has " + dtype_str(y.dtype()));
    for (int i = 0; i < 3; ++i)
        if (y.shape(i) != gy.shape(i))
            shape_error(std::string(op) + ": grad_output has shape " + shape_str(gy) +
                        " but y has " + shape_str(y));
}

constexpr int kLanes = 8;  // independent partial results, which the compiler maps to vectors

// The largest value of row[0, n) (a nan ignored: it makes the exponentials nan anyway).
template <typename T>
T row_max(const T* row, int64_t n) {
    T lane[kLanes];
    for (int j = 0; j < kLanes; ++j) lane[j] = -std::numeric_limits<T>::infinity();
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) lane[j] = row[i + j] > lane[j] ? row[i + j] : lane[j];
    T top = -std::numeric_limits<T>::infinity();
    for (; i < n; ++i) top = row[i] > top ? row[i] : top;
    for (int j = 0; j < kLanes; ++j) top = lane[j] > top ? lane[j] : top;
    return top;
}

// sum of f(i) over [0, n): lanes of T within blocks of 1024, the blocks summed in double.
template <typename T, typename F>
double row_sum(int64_t n, F&& f) {
    double total = 0;
    for (int64_t begin = 0; begin < n; begin += 1024) {
        const int64_t end = std::min(n, begin + 1024);
        T lane[kLanes] = {};
        int64_t i = begin;
        for (; i + kLanes <= end; i += kLanes)
            for (int j = 0; j < kLanes; ++j) lane[j] += f(i + j);
        for (; i < end; ++i) lane[0] += f(i);
        for (int j = 0; j < kLanes; ++j) total += double(lane[j]);
    }
    return total;
}

// One row of n contiguous values: out = softmax(row) or log_softmax(row).
template <typename T>
inline void row_forward(const T* row, T* out, int64_t n, bool log) {
    // a nan in the row, or inf - inf, makes every value nan, as the composite and torch
    const T top = row_max(row, n);
    if (log) {
        const double sum = row_sum<T>(n, [&](int64_t i) { return exp_vectorizable(row[i] - top); });
        const T shift = top + T(std::log(sum));
        for (int64_t i = 0; i < n; ++i) out[i] = row[i] - shift;
    } else {
        for (int64_t i = 0; i < n; ++i) out[i] = exp_vectorizable(row[i] - top);
        const T scale = T(1.0 / row_sum<T>(n, [&](int64_t i) { return out[i]; }));
        for (int64_t i = 0; i < n; ++i) out[i] *= scale;
    }
}

// One row of the backward: softmax: gx = y (gy - sum(gy y)); log_softmax: gx = gy - exp(y) sum(gy).
template <typename T>
inline void row_backward(const T* y, const T* gy, T* out, int64_t n, bool log) {
    if (log) {
        const T s = T(row_sum<T>(n, [&](int64_t i) { return gy[i]; }));
        for (int64_t i = 0; i < n; ++i) out[i] = gy[i] - exp_vectorizable(y[i]) * s;
    } else {
        const T s = T(row_sum<T>(n, [&](int64_t i) { return gy[i] * y[i]; }));
        for (int64_t i = 0; i < n; ++i) out[i] = y[i] * (gy[i] - s);
    }
}


// float32 rows in the instruction sets of ENGINE_CLONES
ENGINE_CLONES void row_forward_f32(const float* row, float* out, int64_t n, bool log) {
    row_forward(row, out, n, log);
}

ENGINE_CLONES void row_backward_f32(const float* y, const float* gy, float* out, int64_t n,
                                    bool log) {
    row_backward(y, gy, out, n, log);
}

void row_forward_any(const float* row, float* out, int64_t n, bool log) {
    row_forward_f32(row, out, n, log);
}
void row_forward_any(const double* row, double* out, int64_t n, bool log) {
    row_forward(row, out, n, log);
}
void row_backward_any(const float* y, const float* gy, float* out, int64_t n, bool log) {
    row_backward_f32(y, gy, out, n, log);
}
void row_backward_any(const double* y, const double* gy, double* out, int64_t n, bool log) {
    row_backward(y, gy, out, n, log);
}

// y = softmax or log_softmax of x along the middle axis.
template <typename T>
void forward(const T* x, T* y, Rows r, bool log) {
    if (r.inner == 1) {
        parallel_for(r.outer, 3 * r.n, [&](int64_t o) {
            row_forward_any(x + o * r.n, y + o * r.n, r.n, log);
        });
        return;
    }
    // across rows: a running maximum and sum per column, vectorized over inner
    parallel_for(r.outer, 3 * r.n * r.inner, [&](int64_t o) {
        const T* block = x + o * r.n * r.inner;
        T* out = y + o * r.n * r.inner;
        std::vector<T> top(r.inner, -std::numeric_limits<T>::infinity());
        std::vector<double> sum(r.inner, 0.0);
        for (int64_t k = 0; k < r.n; ++k)
            for (int64_t j = 0; j < r.inner; ++j) {
                const T v = block[k * r.inner + j];
                top[j] = v > top[j] ? v : top[j];
            }
        for (int64_t k = 0; k < r.n; ++k)
            for (int64_t j = 0; j < r.inner; ++j) {
                const T e = exp_vectorizable(block[k * r.inner + j] - top[j]);
                sum[j] += double(e);
                if (!log) out[k * r.inner + j] = e;
            }
        std::vector<T> shift(r.inner);
        for (int64_t j = 0; j < r.inner; ++j)
            shift[j] = log ? top[j] + T(std::log(sum[j])) : T(1.0 / sum[j]);
        for (int64_t k = 0; k < r.n; ++k)
            for (int64_t j = 0; j < r.inner; ++j) {
                const int64_t at = k * r.inner + j;
                out[at] = log ? block[at] - shift[j] : out[at] * shift[j];
            }
    });
}

// The gradient along the middle axis (see row_backward).
template <typename T>
void backward(const T* y, const T* gy, T* gx, Rows r, bool log) {
    parallel_for(r.outer, 3 * r.n * r.inner, [&](int64_t o) {
        const int64_t base = o * r.n * r.inner;
        const T *yb = y + base, *gb = gy + base;
        T* out = gx + base;
        if (r.inner == 1) {
            row_backward_any(yb, gb, out, r.n, log);
            return;
        }
        std::vector<double> sum(r.inner, 0.0);
        for (int64_t k = 0; k < r.n; ++k)
            for (int64_t j = 0; j < r.inner; ++j) {
                const int64_t at = k * r.inner + j;
                sum[j] += log ? double(gb[at]) : double(gb[at]) * double(yb[at]);
            }
        for (int64_t k = 0; k < r.n; ++k)
            for (int64_t j = 0; j < r.inner; ++j) {
                const int64_t at = k * r.inner + j;
                const T s = T(sum[j]);
                out[at] = log ? gb[at] - exp_vectorizable(yb[at]) * s : yb[at] * (gb[at] - s);
            }
    });
}

std::vector<py::ssize_t> shape_of(const py::array& a) {
    return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

}  // namespace

void bind_softmax(py::module_& m) {
    using O = const py::object&;
    m.def("softmax_forward", [](O x_arg, bool log) {
        const char* op = log ? "log_softmax" : "softmax";
        const py::array x = checked(op, "x", x_arg);
        const Rows r = rows_of(op, x);
        py::array y(x.dtype(), shape_of(x));
        dispatch_float(x, [&](auto zero) {
            using T = decltype(zero);
            forward(static_cast<const T*>(x.data()), static_cast<T*>(y.mutable_data()), r, log);
        });
        return y;
    }, py::arg("x"), py::arg("log"),
       "softmax (or log_softmax) of x (outer, n, inner) along axis 1, float32/float64.");
    m.def("softmax_backward", [](O y_arg, O gy_arg, bool log) {
        const char* op = log ? "log_softmax_backward" : "softmax_backward";
        const py::array y = checked(op, "y", y_arg), gy = checked(op, "grad_output", gy_arg);
        const Rows r = rows_of(op, y);
        check_pair(op, y, gy);
        py::array gx(y.dtype(), shape_of(y));
        dispatch_float(y, [&](auto zero) {
            using T = decltype(zero);
            backward(static_cast<const T*>(y.data()), static_cast<const T*>(gy.data()),
                     static_cast<T*>(gx.mutable_data()), r, log);
        });
        return gx;
    }, py::arg("y"), py::arg("grad_output"), py::arg("log"),
       "The gradient of softmax (or log_softmax) along axis 1 of (outer, n, inner), from its "
       "output y.");
}
