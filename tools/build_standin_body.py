"""Build the bundled stand-in body and write addon/assets/standin_body.npz.

Usage: .venv/bin/python tools/build_standin_body.py [--out PATH]

Deterministic: running it again gives the same file contents
(tests/core/test_standin_body.py checks the asset against a fresh build).
Prints the body's measures and what one unit of each shape direction changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from addon.core.body.standin import STANDIN_PATH, load_standin_arrays  # noqa: E402
from addon.core.body.standin_build import body_measures, build_standin_arrays  # noqa: E402


def measures_table(arrays: dict[str, np.ndarray]) -> str:
    """Template measures (cm) and the change per +1 of each shape direction (cm)."""
    v, f, regressor, dirs = arrays["v_template"], arrays["f"], arrays["J_regressor"], arrays["shapedirs"]
    names = [str(n) for n in arrays["shape_direction_names"]]
    base = body_measures(v, f, regressor @ v)
    changes = []
    for s in range(dirs.shape[2]):
        shaped = v + dirs[:, :, s]
        m = body_measures(shaped, f, regressor @ shaped)
        changes.append({key: m[key] - base[key] for key in base})
    header = f"{'measure (cm)':<24}{'template':>9}" + "".join(f"{n[:9]:>10}" for n in names)
    rows = [header]
    for key in base:
        rows.append(f"{key:<24}{100 * base[key]:9.1f}" + "".join(f"{100 * c[key]:+10.1f}" for c in changes))
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=STANDIN_PATH)
    args = parser.parse_args()
    arrays = build_standin_arrays()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    load_standin_arrays(args.out)  # the file must pass its own loader
    volume = float(np.einsum("ij,ij->", arrays["v_template"][arrays["f"][:, 0]],
                             np.cross(arrays["v_template"][arrays["f"][:, 1]], arrays["v_template"][arrays["f"][:, 2]])) / 6.0)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): "
          f"{len(arrays['v_template'])} vertices, {len(arrays['f'])} faces, volume {volume:.4f} m^3")
    print(measures_table(arrays))


if __name__ == "__main__":
    main()
