// Sums over the last axis of a C-contiguous float array viewed as (R, C), in double (as batch
// norm's statistics), on the extension's threads: numpy's reductions run on one thread. A task
// sums a block of a row; a row of several blocks adds its blocks' partial sums in order, so the
// result does not depend on the thread count. The CPU backend's sum over trailing axes.
#include <vector>

#include "common.hpp"

using namespace engine_cpp;

namespace {

// 32 running sums: several independent vectors of them, so the additions' latency overlaps
// (one vector of sums would wait for each addition before the next).
template <typename T>
double sum_span(const T* x, int64_t n) {
    constexpr int64_t kLanes = 32;
    double lanes[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int64_t j = 0; j < kLanes; ++j) lanes[j] += x[i + j];
    double sum = 0;
    for (; i < n; ++i) sum += x[i];
    for (int64_t j = 0; j < kLanes; ++j) sum += lanes[j];
    return sum;
}

}  // namespace

void bind_reduce(py::module_& m) {
    m.def("sum_rows", [](const py::object& x_arg) {
        const char* op = "sum_rows";
        const py::array x = as_array(op, "x", x_arg);
        check_array(op, "x", x, 2);
        const int64_t rows = x.shape(0), cols = x.shape(1);
        const int64_t per_row = std::max<int64_t>(1, ceil_div(cols, kLoopBlock));  // blocks
        py::array y(x.dtype(), std::vector<py::ssize_t>{rows});
        std::vector<double> partial(rows * per_row);
        dispatch_float(x, [&](auto zero) {
            using T = decltype(zero);
            const T* px = static_cast<const T*>(x.data());
            parallel_for(rows * per_row, std::min(cols, kLoopBlock) + 1, [&](int64_t task) {
                const int64_t r = task / per_row, b = task % per_row * kLoopBlock;
                partial[task] = sum_span(px + r * cols + b, std::min(cols - b, kLoopBlock));
            });
            T* py_ = static_cast<T*>(y.mutable_data());
            for (int64_t r = 0; r < rows; ++r) {
                double sum = 0;
                for (int64_t b = 0; b < per_row; ++b) sum += partial[r * per_row + b];
                py_[r] = T(sum);
            }
        });
        return y;
    }, py::arg("x"), "The sums of the rows of a 2-D float32/float64 array, added in double.");
}
