// Batched matrix products on BLAS (blas.hpp), threaded by the extension's own loop: each task
// is one block of one product's output, computed by a single-threaded BLAS call. The engine's
// matmul and the im2col and Winograd convolutions run here, so that one thread pool does all
// the parallel work.
#include "blas.hpp"

using namespace engine_cpp;

namespace {

// A (batch, rows, cols) operand in BLAS terms: row-major or transposed, its leading
// dimension and batch stride in elements.
struct Operand {
    const char* data;
    int64_t batch_stride, ld;
    bool trans;
};

Operand operand(const char* op, const char* name, const py::array& a, const py::array& like) {
    if (a.ndim() != 3)
        shape_error(std::string(op) + ": " + name + " must have 3 dimensions, got " + shape_str(a));
    const char kind = a.dtype().kind();
    if (kind != 'f' || !a.dtype().equal(like.dtype()) || !a.dtype().attr("isnative").cast<bool>())
        dtype_error(std::string(op) + ": " + name + " must be native float32 or float64 like the "
                    "other operands, got " + dtype_str(a.dtype()));
    const int64_t size = a.itemsize(), rows = a.shape(1), cols = a.shape(2);
    int64_t strides[3];
    for (int i = 0; i < 3; ++i) {
        if (a.strides(i) % size != 0 || reinterpret_cast<uintptr_t>(a.data()) % size != 0)
            shape_error(std::string(op) + ": " + name + " is not aligned to its elements");
        strides[i] = a.strides(i) / size;
    }
    if (a.shape(0) == 1) strides[0] = 0;
    // a unit axis's stride is free: take the one that makes the layout BLAS's
    if (cols == 1) strides[2] = 1;
    if (rows == 1 && strides[2] == 1) strides[1] = std::max<int64_t>(cols, 1);
    if (strides[2] == 1 && strides[1] >= std::max<int64_t>(cols, 1))
        return {static_cast<const char*>(a.data()), strides[0], strides[1], false};
    if (rows == 1) strides[1] = 1;
    if (strides[1] == 1 && strides[2] >= std::max<int64_t>(rows, 1))
        return {static_cast<const char*>(a.data()), strides[0], strides[2], true};
    shape_error(std::string(op) + ": " + name + " must hold row-major or column-major matrices "
                "(copy it with numpy.ascontiguousarray)");
}

template <typename T>
void batched(const Operand& a, const Operand& b, T* c, int64_t c_batch, int64_t ldc,
             int64_t batch, int64_t m, int64_t n, int64_t k) {
    // Split each product into parts along its longer side until every thread has one, but
    // keep parts at least 64 wide and small products whole.
    const int64_t threads = max_threads();
    int64_t parts = 1;
    if (batch < threads && gemm_cost(m, n, k) >= kSerialWork)
        parts = std::min(ceil_div(threads, batch), std::max<int64_t>(1, std::max(m, n) / 64));
    const bool split_rows = m >= n;
    const int64_t step = ceil_div(split_rows ? m : n, parts);
    auto task_body = [&](int64_t task) {
        const int64_t i = task / parts, start = task % parts * step;
        const int64_t stop = std::min(start + step, split_rows ? m : n);
        if (start >= stop) return;
        const T* pa = reinterpret_cast<const T*>(a.data) + i * a.batch_stride;
        const T* pb = reinterpret_cast<const T*>(b.data) + i * b.batch_stride;
        T* pc = c + i * c_batch;
        if (split_rows) {
            pa += a.trans ? start : start * a.ld;
            pc += start * ldc;
        } else {
            pb += b.trans ? start * b.ld : start;
            pc += start;
        }
        gemm<T>(a.trans, b.trans, split_rows ? stop - start : m, split_rows ? n : stop - start,
                k, T(1), pa, a.ld, pb, b.ld, T(0), pc, ldc);
    };
    parallel_for(batch * parts, gemm_cost(m, n, k) / parts, task_body);
}

}  // namespace

void bind_matmul(py::module_& m) {
    m.def("matmul", [](const py::object& a_arg, const py::object& b_arg, const py::object& out_arg) {
        const char* op = "matmul";
        const py::array a = as_array(op, "a", a_arg), b = as_array(op, "b", b_arg);
        const Operand pa = operand(op, "a", a, a), pb = operand(op, "b", b, a);
        const int64_t batch = std::max(a.shape(0), b.shape(0));
        const int64_t rows = a.shape(1), inner = a.shape(2), cols = b.shape(2);
        if (b.shape(1) != inner || (a.shape(0) != batch && a.shape(0) != 1) ||
            (b.shape(0) != batch && b.shape(0) != 1))
            shape_error(std::string(op) + ": cannot multiply " + shape_str(a) + " by " +
                        shape_str(b));
        for (int64_t extent : {batch, rows, inner, cols}) require_blas_extent(op, extent);
        py::array out;
        if (out_arg.is_none()) {
            out = py::array(a.dtype(), std::vector<py::ssize_t>{batch, rows, cols});
        } else {
            out = as_array(op, "out", out_arg);
            const Operand po = operand(op, "out", out, a);
            if (out.shape(0) != batch || out.shape(1) != rows || out.shape(2) != cols ||
                (po.trans && rows > 1 && cols > 1) || (batch > 1 && po.batch_stride == 0))
                shape_error(std::string(op) + ": out must be row-major matrices of shape (" +
                            str(batch) + ", " + str(rows) + ", " + str(cols) + "), got " +
                            shape_str(out));
            if (!out.writeable()) shape_error(std::string(op) + ": out is read-only");
            if (overlaps(out, a) || overlaps(out, b))
                shape_error(std::string(op) + ": out shares memory with an operand");
        }
        if (batch == 0 || rows == 0 || cols == 0) return out;
        const Operand po = operand(op, "out", out, a);
        dispatch_float(a, [&](auto zero) {
            using T = decltype(zero);
            T* c = static_cast<T*>(out.mutable_data());
            if (inner == 0) {
                for (int64_t i = 0; i < batch; ++i)
                    for (int64_t r = 0; r < rows; ++r)
                        std::fill(c + i * po.batch_stride + r * po.ld,
                                  c + i * po.batch_stride + r * po.ld + cols, T(0));
                return;
            }
            batched<T>(pa, pb, c, po.batch_stride, po.ld, batch, rows, cols, inner);
        });
        return out;
    }, py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
       "a (B or 1, m, k) @ b (B or 1, k, n) -> (B, m, n); operands row- or column-major "
       "matrices (transposed views), out row-major matrices with any batch stride.");
}
