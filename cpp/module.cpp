// The extension module kernels.cpu._cpp: im2col/col2im, Winograd transforms, max
// pooling, fused optimizers.
#include "common.hpp"

void bind_im2col(py::module_& m);
void bind_winograd(py::module_& m);
void bind_optim(py::module_& m);
void bind_pool(py::module_& m);

PYBIND11_MODULE(_cpp, m) {
    m.doc() = "CPU convolution helpers for NCHW float32/float64 arrays";
    // Bad arguments raise kernels.errors.ShapeError / DTypeError (ValueError / TypeError).
    engine_cpp::load_error_classes();
    bind_im2col(m);
    bind_winograd(m);
    bind_optim(m);
    bind_pool(m);
    m.def("has_openmp", [] {
#ifdef _OPENMP
        return true;
#else
        return false;
#endif
    }, "Whether this build runs its loops in parallel.");
}
