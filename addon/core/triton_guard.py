"""Triton kept out of Blender's process: importing it there after a render crashes Blender.

``transformers`` (the MiniLM text encoder) and ``open_clip`` import ``torch._dynamo``, which
imports Triton when it is installed (the CUDA builds of torch bring it). Inside Blender, once a
Workbench or EEVEE render has brought up the GPU stack (on a machine without a GPU, Mesa's
llvmpipe and its LLVM), loading Triton's native library segfaults the process (seen with
bpy 5.0.1 and torch 2.14.1: ``triton/knobs.py`` line 15, on the first MiniLM load after a
render; ``./run bench`` and a headless script that renders and then generates both died there).

Nothing this project runs compiles kernels, so inside Blender Triton is marked absent before
those libraries load: ``import triton`` then raises ImportError and torch reports it missing,
as on a machine without it. Outside Blender (the generation worker, training, the command-line
tools) nothing changes. ``bpy`` is looked up in ``sys.modules``, never imported.
"""

from __future__ import annotations

import sys


def keep_triton_out_of_blender() -> bool:
    """Mark Triton absent when running inside Blender and it is not loaded yet; True if marked."""
    if "bpy" in sys.modules and "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]  # import triton -> ImportError
        return True
    return False
