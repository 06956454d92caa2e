// im2col / col2im (NCHW) and vol2col / col2vol (NCDHW) for float32/float64 arrays, with
// stride, padding and dilation. One 3-D implementation serves both: an image is a volume of
// depth 1 (kernel, stride and dilation 1 and padding 0 along the depth).
//
// Column layout: cols[n][c][kz][ki][kj][oz][oy][ox], i.e. for each image a
// (C*kD*kH*kW, oD*oH*oW) matrix, so that a convolution is W (Cout, C*kD*kH*kW) @ cols[n].
// Every argument is validated, with overflow-safe arithmetic, before any memory is touched: a
// bad call raises ShapeError or DTypeError (kernels.errors), never crashes or returns garbage;
// long calls stop on Ctrl-C.
#include "volume.hpp"

using namespace engine_cpp;

namespace {

template <typename T>
void im2col_kernel(const T* x, T* cols, const Geometry& g) {
    // One item per row of the column matrices: they are written independently.
    parallel_for(g.n * g.c * g.taps, g.out, [&](int64_t i) {
        const int64_t p = i / g.taps;
        im2col_row(x + p * g.plane, cols + i * g.out, g, tap(g, i % g.taps), 0, lines(g));
    });
}

template <typename T>
void col2im_kernel(const T* cols, T* x, const Geometry& g) {
    const int64_t planes = g.n * g.c, per_plane = g.taps * g.out;
    // Each (n, c) plane gathers only its own columns: no two threads write the same element.
    if (per_plane <= kChunkWork) {
        parallel_for(planes, per_plane + g.plane, [&](int64_t p) {
            std::fill(x + p * g.plane, x + (p + 1) * g.plane, T(0));
            for (int64_t t = 0; t < g.taps; ++t)
                col2im_row(cols + (p * g.taps + t) * g.out, x + p * g.plane, g, tap(g, t), 0,
                           lines(g));
        });
        return;
    }
    // Large planes: one kernel row at a time over all planes, so that Ctrl-C is seen between.
    parallel_for(planes, g.plane, [&](int64_t p) {
        std::fill(x + p * g.plane, x + (p + 1) * g.plane, T(0));
    });
    for (int64_t row = 0; row < g.k[0] * g.k[1]; ++row)
        parallel_for(planes, g.k[2] * g.out, [&](int64_t p) {
            for (int64_t t = row * g.k[2]; t < (row + 1) * g.k[2]; ++t)
                col2im_row(cols + (p * g.taps + t) * g.out, x + p * g.plane, g, tap(g, t), 0,
                           lines(g));
        });
}

py::array to_columns(const char* op, int dims, const py::object& x_arg,
                     const std::vector<py::object>& args, const py::object& out) {
    const py::array x = as_array(op, "x", x_arg);
    check_array(op, "x", x, 2 + dims);
    Triple size{1, 1, 1};
    for (int i = 0; i < dims; ++i) size[3 - dims + i] = x.shape(2 + i);
    const Geometry g = geometry_of(op, dims, x.shape(0), x.shape(1), size, args);
    py::array cols = output(op, out, x, {g.n, g.rows, g.out});
    dispatch_float(x, [&](auto zero) {
        using T = decltype(zero);
        im2col_kernel(static_cast<const T*>(x.data()), static_cast<T*>(cols.mutable_data()), g);
    });
    return cols;
}

py::array from_columns(const char* op, int dims, const py::object& cols_arg, const py::object& n,
                       const py::object& c, const std::vector<py::object>& size_args,
                       const std::vector<py::object>& args, const py::object& out) {
    static const char* const size_names[3] = {"d", "h", "w"};
    const py::array cols = as_array(op, "cols", cols_arg);
    check_array(op, "cols", cols, 3);
    py::object three[3] = {py::int_(1), py::int_(1), py::int_(1)};
    for (int i = 0; i < dims; ++i) three[3 - dims + i] = size_args[i];
    const int64_t images = to_int(op, "n", n), channels = to_int(op, "c", c);
    const Geometry g = geometry_of(op, dims, images, channels, ints(op, size_names, three), args);
    if (cols.shape(0) != g.n || cols.shape(1) != g.rows || cols.shape(2) != g.out)
        shape_error(std::string(op) + ": cols has shape " + shape_str(cols) +
                    " but the geometry needs (" + str(g.n) + ", " + str(g.rows) + ", " +
                    str(g.out) + ")");
    std::vector<py::ssize_t> shape{g.n, g.c};
    for (int i = 3 - dims; i < 3; ++i) shape.push_back(g.size[i]);
    py::array x = output(op, out, cols, shape);
    dispatch_float(cols, [&](auto zero) {
        using T = decltype(zero);
        col2im_kernel(static_cast<const T*>(cols.data()), static_cast<T*>(x.mutable_data()), g);
    });
    return x;
}

}  // namespace

void bind_im2col(py::module_& m) {
    using O = const py::object&;
    m.def("im2col", [](O x, O kh, O kw, O sh, O sw, O ph, O pw, O dh, O dw, O out) {
              return to_columns("im2col", 2, x, {kh, kw, sh, sw, ph, pw, dh, dw}, out);
          }, py::arg("x"), py::arg("kh"), py::arg("kw"), py::arg("sh") = 1, py::arg("sw") = 1,
          py::arg("ph") = 0, py::arg("pw") = 0, py::arg("dh") = 1, py::arg("dw") = 1,
          py::arg("out") = py::none(),
          "x (N, C, H, W) -> cols (N, C*kh*kw, oH*oW); writes into `out` when given.");
    m.def("col2im", [](O cols, O n, O c, O h, O w, O kh, O kw, O sh, O sw, O ph, O pw, O dh,
                       O dw, O out) {
              return from_columns("col2im", 2, cols, n, c, {h, w},
                                  {kh, kw, sh, sw, ph, pw, dh, dw}, out);
          }, py::arg("cols"), py::arg("n"), py::arg("c"), py::arg("h"), py::arg("w"),
          py::arg("kh"), py::arg("kw"), py::arg("sh") = 1, py::arg("sw") = 1, py::arg("ph") = 0,
          py::arg("pw") = 0, py::arg("dh") = 1, py::arg("dw") = 1, py::arg("out") = py::none(),
          "cols (N, C*kh*kw, oH*oW) -> x (N, C, H, W), summing overlapping windows.");
    m.def("vol2col", [](O x, O kd, O kh, O kw, O sd, O sh, O sw, O pd, O ph, O pw, O dd, O dh,
                        O dw, O out) {
              return to_columns("vol2col", 3, x, {kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw},
                                out);
          }, py::arg("x"), py::arg("kd"), py::arg("kh"), py::arg("kw"), py::arg("sd") = 1,
          py::arg("sh") = 1, py::arg("sw") = 1, py::arg("pd") = 0, py::arg("ph") = 0,
          py::arg("pw") = 0, py::arg("dd") = 1, py::arg("dh") = 1, py::arg("dw") = 1,
          py::arg("out") = py::none(),
          "x (N, C, D, H, W) -> cols (N, C*kd*kh*kw, oD*oH*oW); writes into `out` when given.");
    m.def("col2vol", [](O cols, O n, O c, O d, O h, O w, O kd, O kh, O kw, O sd, O sh, O sw,
                        O pd, O ph, O pw, O dd, O dh, O dw, O out) {
              return from_columns("col2vol", 3, cols, n, c, {d, h, w},
                                  {kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw}, out);
          }, py::arg("cols"), py::arg("n"), py::arg("c"), py::arg("d"), py::arg("h"),
          py::arg("w"), py::arg("kd"), py::arg("kh"), py::arg("kw"), py::arg("sd") = 1,
          py::arg("sh") = 1, py::arg("sw") = 1, py::arg("pd") = 0, py::arg("ph") = 0,
          py::arg("pw") = 0, py::arg("dd") = 1, py::arg("dh") = 1, py::arg("dw") = 1,
          py::arg("out") = py::none(),
          "cols (N, C*kd*kh*kw, oD*oH*oW) -> x (N, C, D, H, W), summing overlapping windows.");
}
