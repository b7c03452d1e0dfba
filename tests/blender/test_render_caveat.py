"""A batch clip whose prompt lands on an action the checkpoint does poorly says so in its log and
annotations (core.action_caveats), so a data set's engineer can find and drop such clips."""

import json

from addon.batch.clip import render_clip
from addon.core.render.jobspec import load_job_spec
from addon.core.render.manifest import build_manifest

JOB = """
[[scenes]]
name = "ward"
procedural = "care_room"
[[prompts]]
name = "{name}"
text = "{text}"
roles = ["staff"]
label = "{label}"
[clip]
seconds = 0.5
width = 64
height = 48
[generation]
checkpoint = "{checkpoint}"
steps = 1
device = "cpu"
[outputs]
png_frames = true
"""
ANCHORS = [("a nurse walks into the room", ("staff",), "walk_through"),
           ("a nurse sits down on a chair", ("staff",), "sit_on_chair")]
COUNTS = {"summary": {"script_agreement": {"walk_through": [1, 11], "sit_on_chair": [9, 10]}}}


def test_the_clip_of_a_weak_action_carries_the_caveat_and_the_others_none(tmp_path):
    from helpers.tiny_checkpoint import write_tiny_checkpoint  # torch: not in the compat envs

    checkpoint = write_tiny_checkpoint(tmp_path, anchors=ANCHORS, evaluation=COUNTS)
    said = []
    found = {}
    for name, text, label in (("walk", "a nurse walks into the room", "walk"),
                              ("sit", "a nurse sits down on a chair", "sit_down")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "jobs.toml").write_text(JOB.format(name=name, text=text, label=label, checkpoint=checkpoint))
        job = build_manifest(load_job_spec(folder / "jobs.toml"))["jobs"][0]
        clip = render_clip(job, folder / "out", say=said.append)
        found[name] = json.loads((clip / "annotations.json").read_text())["generation"]
    assert "does walking in or out poorly" in found["walk"]["caveat"] and "1 of its 11" in found["walk"]["caveat"]
    assert "caveat" not in found["sit"]
    assert [line for line in said if "poorly" in line] == [
        f"ward.walk.v000.recorded: prompt 'a nurse walks into the room': {found['walk']['caveat']}"]
