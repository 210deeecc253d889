"""Shared test set-up: quiet TensorFlow, hypothesis profiles."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Derandomized in CI so a run is reproducible; locally hypothesis explores fresh examples.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny PyTorch networks on one thread (faster than two on a busy machine).

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``; torch is imported
    here, not at collection, so test files that never ask for it stay light.
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
