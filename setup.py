"""Builds the C++ extension kernels.cpu._cpp (im2col, Winograd, pooling,
optimizers); metadata is in
pyproject.toml."""
import os
import tempfile

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

# the sources compile in parallel, one per core (NPY_NUM_BUILD_JOBS sets another count)
ParallelCompile("NPY_NUM_BUILD_JOBS").install()


class BuildExt(build_ext):
    """Adds OpenMP when the compiler takes it; the kernels are correct without it."""

    def build_extensions(self):
        for ext in self.extensions:
            if _compiler_accepts(self.compiler, "-fopenmp"):
                ext.extra_compile_args.append("-fopenmp")
                ext.extra_link_args.append("-fopenmp")
        super().build_extensions()


def _compiler_accepts(compiler, flag):
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.cpp")
        with open(source, "w") as f:
            f.write("int main() { return 0; }\n")
        try:
            compiler.compile([source], output_dir=tmp, extra_postargs=[flag])
        except Exception:  # noqa: BLE001  any failure means "no"
            return False
    return True


setup(
    ext_modules=[Pybind11Extension("kernels.cpu._cpp",
                                   ["cpp/module.cpp", "cpp/im2col.cpp", "cpp/winograd.cpp", "cpp/optim.cpp",
                                    "cpp/pool.cpp", "cpp/conv.cpp",
                                    "cpp/matmul.cpp", "cpp/pointwise.cpp", "cpp/softmax.cpp",
                                    "cpp/reduce.cpp"],
                                   depends=["cpp/common.hpp", "cpp/volume.hpp", "cpp/blas.hpp",
                                            "cpp/vecmath.hpp"], cxx_std=17,
                                   # the kernels never read floating-point exception flags: without
                                   # trapping maths, loops with conditions (clamps, maxima) vectorize
                                   extra_compile_args=["-O3", "-fno-math-errno",
                                                       "-fno-trapping-math"])],
    cmdclass={"build_ext": BuildExt},
)
