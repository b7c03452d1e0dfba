"""Batch rendering, numpy only: job specs, the manifest, lens models, COCO keypoints,
visibility, per-clip annotations and the data-set writers (MMAction2, PoseC3D, COCO).

Nothing here imports Blender; ``addon/bridge/render_*.py`` builds the scenes and
``addon/batch`` drives the processes.
"""
