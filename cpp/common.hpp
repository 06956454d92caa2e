// Argument checks shared by the extension's kernels: every array is validated before any
// memory is touched, and a bad call raises ValueError or TypeError instead of crashing.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace py = pybind11;

namespace engine_cpp {

inline std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

// Call f(float) or f(double) by the array's dtype (already checked to be one of them).
template <typename F>
void dispatch_float(const py::array& a, F&& f) {
    if (a.dtype().itemsize() == 4) f(float{});
    else f(double{});
}

inline void require_positive(const char* op, const char* what, int64_t a, int64_t b) {
    if (a < 1 || b < 1)
        throw py::value_error(std::string(op) + ": " + what + " must be positive, got (" +
                              std::to_string(a) + ", " + std::to_string(b) + ")");
}

// `a` must be a float32/float64, C-contiguous array of the given ndim.
inline void check_array(const char* op, const char* name, const py::array& a, py::ssize_t ndim) {
    const char kind = a.dtype().kind();
    const auto size = a.dtype().itemsize();
    if (kind != 'f' || (size != 4 && size != 8))
        throw py::type_error(std::string(op) + ": " + name +
                             " must be float32 or float64, got " +
                             std::string(py::str(a.dtype())));
    if (a.ndim() != ndim)
        throw py::value_error(std::string(op) + ": " + name + " must have " +
                              std::to_string(ndim) + " dimensions, got shape " + shape_str(a));
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(op) + ": " + name +
                              " must be C-contiguous (use numpy.ascontiguousarray)");
}

// `out` when it fits exactly (shape, dtype, contiguous, writeable), else a new array.
inline py::array output(const char* op, const py::object& out, const py::dtype& dtype,
                        const std::vector<py::ssize_t>& shape) {
    if (out.is_none()) return py::array(dtype, shape);
    if (!py::isinstance<py::array>(out))
        throw py::type_error(std::string(op) + ": out must be a numpy array or None");
    py::array a = py::reinterpret_borrow<py::array>(out);
    check_array(op, "out", a, static_cast<py::ssize_t>(shape.size()));
    if (!a.dtype().is(dtype))
        throw py::type_error(std::string(op) + ": out has dtype " + std::string(py::str(a.dtype())) +
                             " but the input is " + std::string(py::str(dtype)));
    if (!a.writeable()) throw py::value_error(std::string(op) + ": out is read-only");
    for (size_t i = 0; i < shape.size(); ++i)
        if (a.shape(i) != shape[i])
            throw py::value_error(std::string(op) + ": out has shape " + shape_str(a) +
                                  " but the result needs another shape");
    return a;
}

}  // namespace engine_cpp
