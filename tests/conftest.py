import os

# The "cuda" device runs in Numba's CUDA simulator unless ENGINE_TEST_GPU=1 asks for the real
# GPU (python -m pytest -m cuda on a GPU machine). Set before Numba is imported.
if os.environ.get("ENGINE_TEST_GPU") != "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

# ENGINE_RECORD_LAUNCHES=1 python -m pytest rewrites kernels/cuda/launches.json: the
# argument types of every kernel launch, which the compile check compiles for real GPUs
# (ENGINE_RECORD_LAUNCHES=FILE.json writes FILE.json instead).
if os.environ.get("ENGINE_RECORD_LAUNCHES"):
    from kernels.cuda.compile_check import start_recording
    _save_launches = start_recording()

    def pytest_sessionfinish(session, exitstatus):
        target = os.environ["ENGINE_RECORD_LAUNCHES"]
        _save_launches(*(() if target == "1" else (target,)))

# Small example counts keep the whole suite within CI's budget on 2 cores; raise them locally
# with HYPOTHESIS_PROFILE=thorough.
settings.register_profile("ci", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
