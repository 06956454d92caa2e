// Fused optimizer updates: one pass over the parameter, its gradient and its state, in place.
// Every array must be a native-byte-order, aligned, C-contiguous float32/float64 array of the
// parameter's shape and dtype (else DTypeError or ShapeError): a big-endian parameter would be
// read and written as garbage.
#include <cmath>

#include "common.hpp"

using namespace engine_cpp;

namespace {

void check_same(const char* op, const py::array& p, const py::array& other, const char* name) {
    check_array(op, name, other, p.ndim());
    if (!other.dtype().equal(p.dtype()))
        dtype_error(std::string(op) + ": " + name + " has dtype " +
                             std::string(py::str(other.dtype())) + " but the parameter has " +
                             std::string(py::str(p.dtype())));
    for (py::ssize_t i = 0; i < p.ndim(); ++i)
        if (other.shape(i) != p.shape(i))
            shape_error(std::string(op) + ": " + name + " has shape " +
                                  shape_str(other) + " but the parameter has " + shape_str(p));
}

void check_writeable(const char* op, const py::array& a, const char* name) {
    if (!a.writeable()) shape_error(std::string(op) + ": " + name + " is read-only");
}

// p -= lr * step, where d = g + wd p, b = first ? d : momentum b + (1 - dampening) d, and
// step = nesterov ? d + momentum b : b (b is skipped without momentum).
void sgd_update(py::array p, const py::array& g, py::array buffer, bool first, double lr,
                double momentum, double dampening, double weight_decay, bool nesterov) {
    check_array("sgd_update", "p", p, p.ndim());
    check_same("sgd_update", p, g, "g");
    check_same("sgd_update", p, buffer, "buffer");
    check_writeable("sgd_update", p, "p");
    check_writeable("sgd_update", buffer, "buffer");
    const int64_t n = p.size();
    dispatch_float(p, [&](auto zero) {
        using T = decltype(zero);
        T* __restrict pp = static_cast<T*>(p.mutable_data());
        const T* __restrict gp = static_cast<const T*>(g.data());
        T* __restrict bp = static_cast<T*>(buffer.mutable_data());
        const T lr_ = T(lr), mu = T(momentum), keep = T(1 - dampening), wd = T(weight_decay);
        py::gil_scoped_release release;
        // One thread: waking a team costs more than this memory-bound pass takes.
        if (momentum == 0) {
            for (int64_t i = 0; i < n; ++i) pp[i] -= lr_ * (gp[i] + wd * pp[i]);
        } else if (first) {
            for (int64_t i = 0; i < n; ++i) {
                const T d = gp[i] + wd * pp[i];
                bp[i] = d;
                pp[i] -= lr_ * (nesterov ? d + mu * d : d);
            }
        } else {
            for (int64_t i = 0; i < n; ++i) {
                const T d = gp[i] + wd * pp[i];
                const T b = mu * bp[i] + keep * d;
                bp[i] = b;
                pp[i] -= lr_ * (nesterov ? d + mu * b : b);
            }
        }
    });
}

// Adam with bias correction; step counts from 1; the moments start at zero.
void adam_update(py::array p, const py::array& g, py::array exp_avg, py::array exp_avg_sq,
                 int64_t step, double lr, double beta1, double beta2, double eps,
                 double weight_decay) {
    check_array("adam_update", "p", p, p.ndim());
    check_same("adam_update", p, g, "g");
    check_same("adam_update", p, exp_avg, "exp_avg");
    check_same("adam_update", p, exp_avg_sq, "exp_avg_sq");
    for (auto* a : {&p, &exp_avg, &exp_avg_sq}) check_writeable("adam_update", *a, "state");
    if (step < 1) shape_error("adam_update: step counts from 1");
    const double step_size = lr / (1 - std::pow(beta1, step));
    const double root_correction = std::sqrt(1 - std::pow(beta2, step));
    const int64_t n = p.size();
    dispatch_float(p, [&](auto zero) {
        using T = decltype(zero);
        T* __restrict pp = static_cast<T*>(p.mutable_data());
        const T* __restrict gp = static_cast<const T*>(g.data());
        T* __restrict mp = static_cast<T*>(exp_avg.mutable_data());
        T* __restrict vp = static_cast<T*>(exp_avg_sq.mutable_data());
        const T b1 = T(beta1), b2 = T(beta2), wd = T(weight_decay), size = T(step_size);
        const T inverse_root = T(1 / root_correction), eps_ = T(eps);
        py::gil_scoped_release release;
        for (int64_t i = 0; i < n; ++i) {
            const T d = gp[i] + wd * pp[i];
            const T m = b1 * mp[i] + (T(1) - b1) * d;
            const T v = b2 * vp[i] + (T(1) - b2) * d * d;
            mp[i] = m;
            vp[i] = v;
            pp[i] -= size * m / (std::sqrt(v) * inverse_root + eps_);
        }
    });
}

}  // namespace

void bind_optim(py::module_& m) {
    m.def("sgd_update", &sgd_update, py::arg("p"), py::arg("g"), py::arg("buffer"),
          py::arg("first"), py::arg("lr"), py::arg("momentum"), py::arg("dampening"),
          py::arg("weight_decay"), py::arg("nesterov"),
          "torch.optim.SGD's update of p (and the momentum buffer) in place.");
    m.def("adam_update", &adam_update, py::arg("p"), py::arg("g"), py::arg("exp_avg"),
          py::arg("exp_avg_sq"), py::arg("step"), py::arg("lr"), py::arg("beta1"),
          py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
          "torch.optim.Adam's update of p and its moments in place.");
}
