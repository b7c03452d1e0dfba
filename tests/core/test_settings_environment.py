"""Preferences validation, interpreter selection, the real probe and device resolution."""

import os
import stat
import sys

import pytest

from addon.core.environment import (
    EnvironmentReport,
    GenerationEnvironmentError,
    Interpreter,
    probe_interpreter,
    resolve_device,
    select_interpreter,
)
from addon.core.settings import Preferences


def report(cuda: bool) -> EnvironmentReport:
    return EnvironmentReport(
        python="3.11.7", executable="/x/python", platform="Linux", torch="2.13.0",
        torch_error=None, cuda_available=cuda, cuda_devices=("NVIDIA H100",) if cuda else (),
        mps_available=False,
    )


def test_defaults_need_nothing_set():
    prefs = Preferences()
    assert prefs.problems() == []
    assert prefs.compute_device == "AUTO" and prefs.python_mode == "BLENDER"


def test_bad_enum_values_are_named():
    with pytest.raises(ValueError, match="compute_device"):
        Preferences(compute_device="TPU")
    with pytest.raises(ValueError, match="python_mode"):
        Preferences(python_mode="CONDA")


def test_problems_name_each_missing_path(tmp_path):
    prefs = Preferences(
        smpl_model_dir=str(tmp_path / "no_smpl"),
        checkpoint_path=str(tmp_path / "model.safetensors"),
        python_mode="EXTERNAL",
    )
    problems = prefs.problems()
    assert any("SMPL model folder" in p and "no_smpl" in p for p in problems)
    assert any("checkpoint file" in p and "model.safetensors" in p for p in problems)
    assert any("no interpreter is set" in p for p in problems)


def test_blender_mode_uses_blenders_python_with_the_wheel_paths():
    interpreter = select_interpreter(Preferences(), "/blender/python3.11", ("/ext/site-packages",))
    assert interpreter.executable == "/blender/python3.11"
    env = interpreter.environment({"PYTHONPATH": "/old"})
    assert env["PYTHONPATH"] == os.pathsep.join(["/ext/site-packages", "/old"])


def test_external_mode_requires_an_existing_interpreter(tmp_path):
    with pytest.raises(GenerationEnvironmentError, match="not found.*nope"):
        select_interpreter(Preferences(python_mode="EXTERNAL", python_executable=str(tmp_path / "nope")), "/b")
    interpreter = select_interpreter(
        Preferences(python_mode="EXTERNAL", python_executable=sys.executable), "/blender/python"
    )
    assert interpreter == Interpreter(executable=sys.executable)


def test_probe_runs_the_real_interpreter():
    found = probe_interpreter(Interpreter(sys.executable))
    assert found.python == ".".join(map(str, sys.version_info[:3]))
    import torch

    assert found.torch == torch.__version__
    assert found.cuda_available == torch.cuda.is_available()
    assert "torch" in found.summary()


def test_probe_reports_an_interpreter_without_torch(tmp_path):
    # The interpreter itself is real; it just cannot see torch (isolated mode, no site).
    wrapper = tmp_path / "python-no-site"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -S -I \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    found = probe_interpreter(Interpreter(str(wrapper)))
    assert found.torch is None and not found.can_generate
    assert "torch missing" in found.summary()


def test_probe_errors_name_the_interpreter(tmp_path):
    with pytest.raises(GenerationEnvironmentError, match="not found"):
        probe_interpreter(Interpreter(str(tmp_path / "missing-python")))
    broken = tmp_path / "broken-python"
    broken.write_text("#!/bin/sh\necho 'Segmentation fault' >&2\nexit 139\n")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(GenerationEnvironmentError, match="broken-python.*exit 139.*Segmentation"):
        probe_interpreter(Interpreter(str(broken)))


@pytest.mark.parametrize(
    ("requested", "cuda", "expected"),
    [("AUTO", True, "cuda"), ("AUTO", False, "cpu"), ("CPU", True, "cpu"), ("CUDA", True, "cuda")],
)
def test_resolve_device(requested, cuda, expected):
    assert resolve_device(requested, report(cuda)) == expected


def test_cuda_without_a_gpu_is_an_error_not_a_silent_fallback():
    with pytest.raises(GenerationEnvironmentError, match="sees no CUDA GPU"):
        resolve_device("CUDA", report(False))
