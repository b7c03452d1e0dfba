"""Retargeting SMPL motions onto any humanoid armature (numpy only, no Blender).

- :mod:`.mapping`, :mod:`.presets`, :mod:`.autodetect`, :mod:`.mapping_file`: which target
  bone plays which SMPL joint (presets, name synonyms, JSON, duplicates, L/R mirroring).
- :mod:`.rig`: the target's rest data and the SMPL source, as read once by the bridge.
- :mod:`.plan`: per-bone roles on the target (mapped, in-between, twist, rigid, static).
- :mod:`.subset`: the plan cut down to the bones the keys depend on (keyed bones and ancestors).
- :mod:`.calibration`: rest-pose offsets (A-pose vs T-pose) from bone directions or a match pose.
- :mod:`.solve`: per-frame world rotations -> Blender pose channels, root translation.
- :mod:`.feet`: foot contacts and the planted-foot clean-up (two-bone IK).
- :mod:`.quality`: the score shown after every retarget.
- :mod:`.switches`: control-rig switches keyed with the bones (Rigify's IK/FK to FK).
- :mod:`.api`: the one entry point the operator calls.
"""
