"""The job file of the batch-avatar tests: one prompt, tiny frames, every person on the test avatar."""

import json

JOB = """
[[scenes]]
name = "ward"
procedural = "care_room"
[[prompts]]
name = "talk"
text = "a nurse and a patient stand and talk"
roles = {roles}
label = "talk"
[[avatars]]
name = "nurse"
blend = "nurse.blend"
{object_line}
[clip]
seconds = 0.5
width = 96
height = 72
[generation]
checkpoint = "{checkpoint}"
steps = 1
device = "cpu"
[randomize]
avatars = ["nurse"]
[outputs]
png_frames = true
"""


def annotations(folder):
    return json.loads((folder / "annotations.json").read_text())
