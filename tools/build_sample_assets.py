"""Write the sample Teton sequence and its reconstruction bundle into addon/assets/.

    ./run python tools/build_sample_assets.py

Deterministic (fixed seed): the synthetic generator draws a room, a ceiling-corner
camera and two people; the pipeline reconstructs it with the stand-in body. The demo
and the tests start from these files.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from addon.core.body.model import load_body_model  # noqa: E402
from addon.core.recon.bundle import write_bundle  # noqa: E402
from addon.core.recon.pipeline import ReconstructionConfig, reconstruct  # noqa: E402
from addon.core.recon.sequence import read_sequence  # noqa: E402
from addon.core.recon.synthetic import SyntheticConfig, write_synthetic_sequence  # noqa: E402

ASSETS = REPO_ROOT / "addon" / "assets"
SAMPLE_SEQUENCE = ASSETS / "sample_sequence"
SAMPLE_BUNDLE = ASSETS / "sample_reconstruction.npz"
SAMPLE_CONFIG = SyntheticConfig(image_size=(320, 240), num_frames=50, key_frame_every=10, num_people=(2, 2), noise="clean")
SAMPLE_SEED = 7


def main() -> int:
    body = load_body_model(None)
    if SAMPLE_SEQUENCE.exists():
        shutil.rmtree(SAMPLE_SEQUENCE)
    write_synthetic_sequence(SAMPLE_SEQUENCE, SAMPLE_CONFIG, seed=SAMPLE_SEED, body=body)
    bundle = reconstruct(read_sequence(SAMPLE_SEQUENCE), body, ReconstructionConfig(point_budget=60_000))
    bundle.source = "addon/assets/sample_sequence"
    write_bundle(SAMPLE_BUNDLE, bundle)
    size = sum(p.stat().st_size for p in SAMPLE_SEQUENCE.rglob("*") if p.is_file())
    print(f"wrote {SAMPLE_SEQUENCE} ({size / 2**20:.2f} MiB) and {SAMPLE_BUNDLE} ({SAMPLE_BUNDLE.stat().st_size / 2**20:.2f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
