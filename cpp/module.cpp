// The extension module kernels.cpu._cpp: im2col/col2im, the fused convolution, Winograd
// transforms, pooling, matrix products, one-pass activations, sums and batch norm, fused
// optimizers; the threads they use and the BLAS they call.
#include "blas.hpp"

void bind_im2col(py::module_& m);
void bind_winograd(py::module_& m);
void bind_optim(py::module_& m);
void bind_pool(py::module_& m);
void bind_conv(py::module_& m);
void bind_matmul(py::module_& m);
void bind_pointwise(py::module_& m);
void bind_softmax(py::module_& m);
void bind_reduce(py::module_& m);

PYBIND11_MODULE(_cpp, m) {
    m.doc() = "CPU convolution helpers for NCHW float32/float64 arrays";
    // Bad arguments raise kernels.errors.ShapeError / DTypeError (ValueError / TypeError).
    engine_cpp::load_error_classes();
    bind_im2col(m);
    bind_winograd(m);
    bind_optim(m);
    bind_pool(m);
    bind_conv(m);
    bind_matmul(m);
    bind_pointwise(m);
    bind_softmax(m);
    bind_reduce(m);
    m.def("set_num_threads", [](int64_t n) {
        if (n < 0) engine_cpp::shape_error("set_num_threads: n must be >= 0 (0: OpenMP's default)");
        engine_cpp::thread_setting() = static_cast<int>(std::min<int64_t>(n, 1 << 16));
    }, py::arg("n"), "Threads for the parallel loops, for the whole process; 0: OpenMP's default.");
    m.def("get_num_threads", [] { return engine_cpp::max_threads(); },
          "Threads the parallel loops use.");
    m.def("set_blas", [](uintptr_t sgemm, uintptr_t dgemm, bool ilp64) {
        auto& b = engine_cpp::blas();
        b.sgemm = reinterpret_cast<void*>(sgemm);
        b.dgemm = reinterpret_cast<void*>(dgemm);
        b.ilp64 = ilp64;
    }, py::arg("sgemm"), py::arg("dgemm"), py::arg("ilp64"),
       "The addresses of cblas_sgemm and cblas_dgemm (row-major CBLAS), and whether their "
       "integers are 64-bit; kernels/cpu/threads.py finds them in numpy's BLAS.");
    m.def("has_blas", &engine_cpp::have_blas, "Whether set_blas gave the kernels a BLAS.");
    m.def("has_openmp", [] {
#ifdef _OPENMP
        return true;
#else
        return false;
#endif
    }, "Whether this build runs its loops in parallel.");
}
