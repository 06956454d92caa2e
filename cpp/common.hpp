// Argument checks shared by the extension's kernels: every argument is validated before any
// memory is allocated or touched, with overflow-safe arithmetic, and a bad call raises the
// kernels' own errors (kernels.errors.ShapeError, a ValueError, or DTypeError, a TypeError)
// naming the op, what it got and what it expects; never a crash or a silently wrong answer.
// Long loops run in chunks and check for Ctrl-C between them.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;

namespace engine_cpp {

// --- errors ----------------------------------------------------------------------------------
// kernels.errors.ShapeError and DTypeError, fetched once when the module is imported (with the
// GIL held) and kept for the life of the process.
struct ErrorClasses {
    PyObject* shape = PyExc_ValueError;
    PyObject* dtype = PyExc_TypeError;
};

inline ErrorClasses& error_classes() {
    static ErrorClasses classes;
    return classes;
}

inline void load_error_classes() {
    py::module_ errors = py::module_::import("kernels.errors");
    error_classes().shape = py::object(errors.attr("ShapeError")).release().ptr();
    error_classes().dtype = py::object(errors.attr("DTypeError")).release().ptr();
}

// Raise with the GIL held (every check runs before the GIL is released).
[[noreturn]] inline void raise_error(PyObject* cls, const std::string& message) {
    PyErr_SetString(cls, message.c_str());
    throw py::error_already_set();
}

[[noreturn]] inline void shape_error(const std::string& message) {
    raise_error(error_classes().shape, message);
}

[[noreturn]] inline void dtype_error(const std::string& message) {
    raise_error(error_classes().dtype, message);
}

inline void require(bool ok, const std::string& message) {
    if (!ok) shape_error(message);
}

// --- sizes -----------------------------------------------------------------------------------
// No array the extension makes may hold more elements than this (64 GiB of float32): a size
// past it comes from a wrapped or absurd argument (a padding of 2**31 on a 2x2 image), not from
// a real input, and is refused before anything is allocated.
constexpr int64_t kMaxElements = int64_t(1) << 34;
inline const char* max_elements_text() { return "2**34"; }

inline std::string str(int64_t v) { return std::to_string(v); }
inline std::string pair_str(int64_t a, int64_t b) { return "(" + str(a) + ", " + str(b) + ")"; }

// a * b for counts of elements: ShapeError when it overflows or passes kMaxElements.
inline int64_t count_mul(const char* op, const std::string& what, int64_t a, int64_t b) {
    int64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r) || r > kMaxElements)
        shape_error(std::string(op) + ": " + what + " would hold more than " +
                    max_elements_text() + " elements (" + str(a) + " x " + str(b) + ")");
    return r;
}

// a + b * c for coordinates (a padded extent, a dilated kernel span): ShapeError on overflow.
inline int64_t extent(const char* op, const std::string& what, int64_t a, int64_t b, int64_t c) {
    int64_t bc = 0, r = 0;
    if (__builtin_mul_overflow(b, c, &bc) || __builtin_add_overflow(a, bc, &r))
        shape_error(std::string(op) + ": " + what + " does not fit in 64 bits (" + str(a) +
                    " + " + str(b) + " x " + str(c) + ")");
    return r;
}

// ceil(a / b) for a >= 0, b >= 1, without the overflow of (a + b - 1) / b.
inline int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0); }

// An int argument (Python int, numpy integer or anything with __index__) as int64.
inline int64_t to_int(const char* op, const char* name, const py::handle& value) {
    PyObject* index = PyNumber_Index(value.ptr());
    if (index == nullptr) {
        PyErr_Clear();
        dtype_error(std::string(op) + ": " + name + " must be an int, got " +
                    std::string(py::str(py::type::handle_of(value).attr("__name__"))));
    }
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(index, &overflow);
    Py_DECREF(index);
    if (overflow != 0)
        shape_error(std::string(op) + ": " + name + " = " + std::string(py::repr(value)) +
                    " does not fit in a 64-bit integer");
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    return static_cast<int64_t>(v);
}

inline void require_positive(const char* op, const char* what, int64_t a, int64_t b) {
    if (a < 1 || b < 1)
        shape_error(std::string(op) + ": " + what + " must be positive, got " + pair_str(a, b));
}

// --- arrays ----------------------------------------------------------------------------------
inline std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

inline std::string dtype_str(const py::dtype& d) { return std::string(py::str(d)); }

// Call f(float) or f(double) by the array's dtype (already checked to be one of them).
template <typename F>
void dispatch_float(const py::array& a, F&& f) {
    if (a.dtype().itemsize() == 4) f(float{});
    else f(double{});
}

// The kernels read memory as native C++ values: a big-endian array (from a FITS or IDX file)
// would be misread, and an unaligned one read through misaligned pointers. Both are refused;
// the Python wrappers (kernels/cpu) hand over native, aligned, C-contiguous copies.
inline void check_layout(const char* op, const char* name, const py::array& a) {
    if (!a.dtype().attr("isnative").cast<bool>())
        dtype_error(std::string(op) + ": " + name + " has dtype " + dtype_str(a.dtype()) +
                    " in non-native byte order; expected native float32 or float64 (convert "
                    "with a.astype(a.dtype.newbyteorder('=')))");
    if (!(a.flags() & py::array::c_style))
        shape_error(std::string(op) + ": " + name +
                    " must be C-contiguous (use numpy.ascontiguousarray)");
    const auto align = static_cast<uintptr_t>(a.dtype().itemsize());
    if (a.size() > 0 && reinterpret_cast<uintptr_t>(a.data()) % align != 0)
        shape_error(std::string(op) + ": " + name + " is not aligned to its " +
                    std::to_string(align) + "-byte elements (copy it with numpy.require(a, "
                    "requirements='CA'))");
}

// `a` must be a native, aligned, C-contiguous float32/float64 array of the given ndim.
inline void check_array(const char* op, const char* name, const py::array& a, py::ssize_t ndim) {
    const char kind = a.dtype().kind();
    const auto size = a.dtype().itemsize();
    if (kind != 'f' || (size != 4 && size != 8))
        dtype_error(std::string(op) + ": " + name + " must be float32 or float64, got " +
                    dtype_str(a.dtype()));
    if (a.ndim() != ndim)
        shape_error(std::string(op) + ": " + name + " must have " + std::to_string(ndim) +
                    " dimensions, got shape " + shape_str(a));
    check_layout(op, name, a);
}

// An argument that must be a numpy array, as one.
inline py::array as_array(const char* op, const char* name, const py::handle& value) {
    if (!py::isinstance<py::array>(value))
        dtype_error(std::string(op) + ": " + name + " must be a numpy array, got " +
                    std::string(py::str(py::type::handle_of(value).attr("__name__"))));
    return py::reinterpret_borrow<py::array>(value);
}

inline bool overlaps(const py::array& a, const py::array& b) {
    const auto* a0 = static_cast<const char*>(a.data());
    const auto* b0 = static_cast<const char*>(b.data());
    return a.nbytes() > 0 && b.nbytes() > 0 && a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

// A new array of a size the checks allowed (up to kMaxElements) that the machine may still not
// hold: numpy's MemoryError becomes a ShapeError naming the bytes, as any other refused size.
inline py::array new_array(const char* op, const py::dtype& dtype,
                           const std::vector<py::ssize_t>& shape) {
    try {
        return py::array(dtype, shape);
    } catch (py::error_already_set& e) {
        if (!e.matches(PyExc_MemoryError)) throw;
        int64_t bytes = dtype.itemsize();  // at most 8 * 2**34: no overflow
        std::string dims;
        for (py::ssize_t n : shape) {
            bytes *= n;
            dims += (dims.empty() ? "" : ", ") + str(n);
        }
        shape_error(std::string(op) + ": the result (" + dims + ") needs " + str(bytes) +
                    " bytes, more than this machine could allocate");
    }
}

// `out` when it fits exactly (shape, dtype, contiguous, aligned, writeable, not overlapping
// the input), else a new array.
inline py::array output(const char* op, const py::object& out, const py::array& input,
                        const std::vector<py::ssize_t>& shape) {
    const py::dtype dtype = input.dtype();
    if (out.is_none()) return new_array(op, dtype, shape);
    if (!py::isinstance<py::array>(out))
        dtype_error(std::string(op) + ": out must be a numpy array or None");
    py::array a = py::reinterpret_borrow<py::array>(out);
    check_array(op, "out", a, static_cast<py::ssize_t>(shape.size()));
    if (!a.dtype().equal(dtype))
        dtype_error(std::string(op) + ": out has dtype " + dtype_str(a.dtype()) +
                    " but the input is " + dtype_str(dtype));
    if (!a.writeable()) shape_error(std::string(op) + ": out is read-only");
    for (size_t i = 0; i < shape.size(); ++i)
        if (a.shape(i) != shape[i])
            shape_error(std::string(op) + ": out has shape " + shape_str(a) +
                        " but the result needs another shape");
    if (overlaps(a, input))
        shape_error(std::string(op) + ": out shares memory with the input");
    return a;
}

// --- loops -----------------------------------------------------------------------------------
// About this many elementary steps run between two checks for Ctrl-C (a few milliseconds).
constexpr int64_t kChunkWork = int64_t(1) << 22;

// Below about this many elementary steps in all (tens of microseconds), a loop runs on the
// calling thread: waking the others would cost more.
constexpr int64_t kSerialWork = int64_t(1) << 15;

// Elements per task of a memory-bound loop (an elementwise pass, a sum): 128 KB of float32.
constexpr int64_t kLoopBlock = int64_t(1) << 15;

// The threads the parallel loops use: eg.set_num_threads's count, or OpenMP's default (every
// core, or OMP_NUM_THREADS) while it is 0. One count for the process, as torch's (OpenMP's own
// setting belongs to the thread that makes it).
inline std::atomic<int>& thread_setting() {
    static std::atomic<int> threads{0};
    return threads;
}

inline int64_t max_threads() {
#ifdef _OPENMP
    const int set = thread_setting().load();
    return set > 0 ? set : std::max(1, omp_get_max_threads());
#else
    return 1;
#endif
}

// The calling thread's index among a parallel loop's threads (0 outside one).
inline int thread_index() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// body(i) for every i in [0, count), in parallel where OpenMP is on, with the GIL released;
// `cost` is the work of one item. Items run in chunks of about kChunkWork steps, and between
// chunks the GIL is taken back to check for signals, so Ctrl-C stops a long call with
// KeyboardInterrupt. Items within a chunk must not write to the same memory.
template <typename F>
void parallel_for(int64_t count, int64_t cost, F&& body) {
    // One item, or too little work in all to pay for waking the team: the calling thread alone.
    const bool alone = count == 1 || count < kSerialWork / std::max<int64_t>(cost, 1);
    const int threads = alone ? 1 : static_cast<int>(max_threads());
    const int64_t step = std::max<int64_t>(threads, kChunkWork / std::max<int64_t>(cost, 1));
    for (int64_t start = 0; start < count;) {
        const int64_t stop = count - start > step ? start + step : count;
        {
            py::gil_scoped_release release;
            if (threads == 1) {
                for (int64_t i = start; i < stop; ++i) body(i);
            } else {
#pragma omp parallel for schedule(static) num_threads(threads)
                for (int64_t i = start; i < stop; ++i) body(i);
            }
        }
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        start = stop;
    }
}

}  // namespace engine_cpp
