"""The caveat Generate Interaction gives for actions the checkpoint does poorly (core.action_caveats)."""

import pytest

from addon.core.action_caveats import WEAK_SHARE, action_caveat
from addon.core.generate import GenerationRequest, load_generator
from addon.core.labels import SCRIPT_TITLES, SCRIPTS
from helpers.tiny_checkpoint import write_tiny_checkpoint

COUNTS = {"summary": {"script_agreement": {"walk_through": [0, 11], "sit_on_chair": [9, 10], "hand_over": [5, 10]}}}


def test_only_actions_recognised_in_fewer_than_half_their_clips_get_a_caveat():
    said = action_caveat(COUNTS, "walk_through")
    assert said.startswith("this checkpoint does walking in or out poorly") and "0 of its 11 evaluation clips" in said and "reports/eval.md" in said
    assert action_caveat(COUNTS, "sit_on_chair") == ""
    assert WEAK_SHARE == 0.5 and action_caveat(COUNTS, "hand_over") == ""  # exactly half is not weak
    assert action_caveat(COUNTS, "talk") == ""  # not counted
    assert action_caveat(COUNTS, "") == action_caveat(COUNTS, None) == ""
    assert action_caveat({}, "walk_through") == action_caveat({"summary": {}}, "walk_through") == ""
    assert action_caveat({"summary": {"script_agreement": {"walk_through": [0, 0]}}}, "walk_through") == ""
    assert set(SCRIPT_TITLES) == set(SCRIPTS)  # every action has words for the message


ANCHORS = [("a nurse walks into the room", ("staff",), "walk_through"),
           ("a carer walks out of the room", ("staff",), "walk_through"),
           ("a nurse sits down on a chair", ("staff",), "sit_on_chair"),
           ("a carer takes a seat on the chair", ("staff",), "sit_on_chair")]


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    path = write_tiny_checkpoint(tmp_path_factory.mktemp("caveat"), anchors=ANCHORS, evaluation=COUNTS)
    return load_generator(path, device="cpu")


def ask(prompt: str, **settings) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, roles=("staff",), seconds=0.5, fps=None, seed=0, steps=2, **settings)


def test_a_prompt_placed_in_a_weak_action_says_so_and_others_do_not(generator):
    walked = generator.generate(ask("a staff member strolls into the room"))
    assert walked.caveat == action_caveat(COUNTS, "walk_through") != ""
    assert generator.generate(ask("the nurse sits down on the chair")).caveat == ""
    assert generator.generate(ask("a staff member strolls into the room", anchor_prompt=False)).caveat == ""
