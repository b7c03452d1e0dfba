"""Standalone probe run *inside* the generation interpreter; prints one JSON line.

It must run on any Python 3 with or without torch, so it imports nothing from
this package and only the standard library at module level.
"""

import json
import platform
import sys


def probe() -> dict:
    """What this interpreter offers for generation: Python, torch, devices."""
    report = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "torch": None,
        "torch_error": None,
        "cuda_available": False,
        "cuda_devices": [],
        "mps_available": False,
    }
    try:
        import torch
    except Exception as error:  # any import failure is a finding, not a crash
        report["torch_error"] = f"{type(error).__name__}: {error}"
        return report
    report["torch"] = torch.__version__
    try:
        report["cuda_available"] = bool(torch.cuda.is_available())
        if report["cuda_available"]:
            report["cuda_devices"] = [
                torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
            ]
        mps = getattr(torch.backends, "mps", None)
        report["mps_available"] = bool(mps is not None and mps.is_available())
    except Exception as error:  # a broken driver must not hide the torch version
        report["torch_error"] = f"device query failed: {type(error).__name__}: {error}"
    return report


if __name__ == "__main__":
    sys.stdout.write(json.dumps(probe()) + "\n")
