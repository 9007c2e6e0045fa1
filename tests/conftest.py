"""Shared test setup: small thread counts (CI has 2 cores), fixed seeds, and the session-wide fixtures."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# The CLI's --engine auto would pick an installed CPU engine and export each random test backbone;
# tests run torch unless they ask for an engine (tests/test_engines.py).
os.environ["VADPIPE_ENGINE"] = "torch"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)


def pytest_configure(config):
    config.addinivalue_line("markers", "extras: the outcome depends on whether the optional engine extras "
                            "([onnx], [openvino]) are installed; .ci/run also runs these on the base install")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def engine_home(tmp_path_factory):
    """One VADPIPE_HOME for the engine tests of a session, so each backbone and size is exported once."""
    return tmp_path_factory.mktemp("engine-home")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The end-to-end tests' one extract -> train chain (tests/helpers/pipeline.py), built once per session."""
    from tests.helpers.pipeline import build_tiny_run

    return build_tiny_run(tmp_path_factory.mktemp("tiny-run"))
