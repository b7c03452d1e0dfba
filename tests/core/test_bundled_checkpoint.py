"""The checkpoint that ships in addon/assets: small enough, self-describing, and trained."""

import json

import numpy as np
import pytest

from addon.core.data.procedural.dataset import DATA_VERSION
from addon.core.generate import BUNDLED_CHECKPOINT, GenerationRequest, load_generator
from addon.core.text.encoders import MINILM_ID


@pytest.fixture(scope="module")
def meta():
    return json.loads(BUNDLED_CHECKPOINT.with_suffix(".json").read_text())


def test_it_is_small_and_describes_itself(meta):
    size = BUNDLED_CHECKPOINT.stat().st_size + BUNDLED_CHECKPOINT.with_suffix(".json").stat().st_size
    assert size <= 40 * 2**20
    assert meta["text_encoder"] == MINILM_ID
    assert meta["representation"]["fps"] >= 10
    assert meta["representation"]["max_frames"] / meta["representation"]["fps"] >= 10.0
    assert meta["network"]["max_persons"] >= 3
    training = meta["training"]
    assert training["weights"]  # which weights ship (EMA, raw, or an average of checkpoints)
    # The procedural data it learnt (bundle_checkpoint refuses a run recorded on another version
    # than the generator's), and the data its shipped evaluation summary was measured on: today's.
    assert training["procedural_data_version"] in {f"data{v}" for v in range(1, DATA_VERSION + 1)}
    assert meta["evaluation"]["data_version"] == f"data{DATA_VERSION}"
    assert any(source["kind"] == "procedural" for source in training["data"])
    assert {"default_sampler", "fast_sampler", "checks", "summary"} <= set(meta["evaluation"])


@pytest.fixture(scope="module")
def generator():
    return load_generator(BUNDLED_CHECKPOINT, "cpu")


def test_it_generates_people_who_stand_on_the_floor(generator):
    """A trained model, unlike random weights, puts two people's feet on the floor."""
    request = GenerationRequest(prompt="a nurse and a patient stand and talk", roles=("staff", "patient"),
                                seconds=4.0, fps=None, seed=0, sampler="dpmpp_2m", steps=10, device="cpu")
    result = generator.generate(request)
    assert result.joints.shape == (2, 40, 22, 3)
    feet = result.joints[:, :, [10, 11], 2].min(axis=-1)  # (P, T) lowest foot joint
    assert np.all(np.abs(np.median(feet, axis=1)) < 0.08)
    heads = result.joints[:, :, 15, 2]
    assert np.all(np.median(heads, axis=1) > 1.2)  # upright, roughly adult height


def test_it_ships_prompt_anchors_and_reads_a_new_wording_as_the_captions_it_resembles(meta, generator):
    texts = meta["anchors"]["texts"]
    assert 1000 <= len(texts) <= 4096 and len(set(texts)) > 0.9 * len(texts)
    assert generator.anchors is not None and generator.anchors.embeddings.shape == (len(texts), 384)
    # Neither "frail", "gentleman", "collapses" nor "face" is in a training caption (test_procedural_data).
    request = GenerationRequest(prompt="a frail gentleman collapses flat on his face", roles=("patient",),
                                seconds=2.0, fps=None, seed=0, sampler="dpmpp_2m", steps=2, device="cpu")
    understood = generator.prepare(request).understood_as
    assert understood and "fall" in understood[0][0], understood
    assert all(generator.anchors.role_counts[texts.index(t)].tolist() == [0, 1, 0] for t, _ in understood)


def test_its_token_bank_places_the_tuning_prompts_in_their_action_more_often_than_sentences_do(generator):
    """The group vote by token alignment (text/token_alignment.py) against the sentence vote, on
    the 40 tuning prompts it was chosen on: 31 against 25 right when it was bundled."""
    from addon.core.data.procedural.prompts import DEV
    from addon.core.text.anchors import anchor_prompts

    anchors = generator.anchors
    assert anchors.tokens is not None and anchors.tokens.count == len(anchors.texts)
    assert anchors.tokens.vectors.shape[1] < 384  # projected: the bank stays small enough to ship
    texts, roles = [p.text for p in DEV], [p.roles for p in DEV]
    embeddings = generator.text_encoder.encode(texts)
    by_sentence = anchor_prompts(anchors, embeddings, roles).groups
    tokens = generator.text_encoder.encode_tokens(texts)
    by_words = anchor_prompts(anchors, embeddings, roles, prompt_tokens=tokens).groups
    right = [sum(g == p.script for g, p in zip(groups, DEV)) for groups in (by_sentence, by_words)]
    assert right[1] >= 30 and right[1] > right[0], right


def test_a_helper_puts_hands_on_the_patient_only_when_the_prompt_implies_touch(generator):
    """Hand contact (motion.hand_contact) follows the action the prompt is understood as."""
    from addon.core.eval.physical import has_contact

    ask = dict(roles=("staff", "patient"), seconds=8.0, fps=None, seed=3, sampler="dpmpp_2m", steps=10, device="cpu")
    helped = generator.generate(GenerationRequest(prompt="a nurse helps a patient who fell get up", **ask))
    assert helped.hands_placed and has_contact(helped.joints)
    as_generated = generator.generate(GenerationRequest(prompt="a nurse helps a patient who fell get up",
                                                        hand_contact=False, **ask))
    assert not as_generated.hands_placed
    np.testing.assert_array_equal(as_generated.joints[1], helped.joints[1])  # the patient is as generated
    talk = generator.generate(GenerationRequest(prompt="a nurse and a patient stand and talk", **ask))
    assert not talk.hands_placed


def test_a_patient_in_bed_lies_on_the_bed_not_beside_it(generator):
    """Sampling lays a patient who lies in bed onto the bed (diffusion.onto_support), levelled (motion.level)."""
    from addon.core.motion.level import lying_weight
    from helpers.rooms import room_with_a_bed  # bed: x 1-3, y 1-2, top 0.5 m

    request = GenerationRequest(prompt="a nurse attends to a patient lying in bed", roles=("staff", "patient"),
                                seconds=6.0, fps=None, seed=0, sampler="dpmpp_2m", steps=10, device="cpu",
                                scene_points=room_with_a_bed())
    patient = generator.generate(request).joints[1]
    lying = (lying_weight(patient) > 0.5) & (patient[:, 0, 2] > 0.35)
    assert lying.mean() > 0.5  # the model lays the patient down for most of the clip
    trunk = patient[lying][:, [0, 3, 6, 9, 12, 15]]  # pelvis, spine, neck, head
    on_bed = (trunk[..., 0] > 1.0) & (trunk[..., 0] < 3.0) & (trunk[..., 1] > 1.0) & (trunk[..., 1] < 2.0)
    assert on_bed[:, 0].all()  # the pelvis never leaves the bed
    # The whole trunk, but for a brief swing: near this clip's end the model turns the lying
    # body's trunk for 0.4 s and back (README, Known issues), which the time-averaged move
    # onto the bed does not follow; the head then reaches 12 cm past the bed's edge.
    assert on_bed.all(axis=1).mean() >= 0.95
    lowest = patient[lying][..., 2].min(axis=-1)
    assert np.all((lowest > 0.5 - 0.03) & (lowest < 0.5 + 0.15))  # on the mattress, not in it, not above it


def test_a_patient_who_sits_down_on_the_chair_sits_on_it(generator):
    """The model sits its sitters in mid-air beside a chair; generation sits them on it (diffusion.seating)."""
    from addon.core.eval.physical import seated_share
    from addon.core.motion.sitting import heading, sitting_frames
    from helpers.rooms import CHAIR_BOX, CHAIR_SEAT, room_with_a_chair  # the chair faces -y

    request = GenerationRequest(prompt="a patient sits down on the chair", roles=("patient",), seconds=8.0, fps=None,
                                seed=1, sampler="dpmpp_2m", steps=10, device="cpu", scene_points=room_with_a_chair())
    joints = generator.generate(request).joints
    sits = sitting_frames(joints)[0]
    assert sits.sum() >= 10  # the model sits down for a second or more (35 frames)
    assert seated_share(joints, np.array([CHAIR_BOX])) > 0.9  # 0.97; 0 as the model sits them
    seated = joints[0, sits & (np.abs(joints[0, :, 0, :2] - CHAIR_SEAT[:2]).max(axis=-1) < 0.25)]
    assert np.median(seated[:, 0, 2]) == pytest.approx(CHAIR_SEAT[2] + 0.18, abs=0.02)  # sitting down, then on it
    assert seated[:, 0, 2].min() > CHAIR_SEAT[2] + 0.15  # never in it
    settled = seated[np.abs(seated[:, 0, 2] - (CHAIR_SEAT[2] + 0.18)) < 0.01]  # sat down (not still easing)
    assert len(settled) >= 20  # 29
    assert np.all(np.abs(np.degrees(heading(settled)) + 90.0) < 30.0)  # facing away from the backrest
    assert np.all(settled[:, [7, 8], 1] < CHAIR_SEAT[1] - 0.25)  # ankles on the floor ahead of the seat
    assert np.all(settled[:, [7, 8], 2] < 0.12)


def test_a_patient_who_gets_out_of_bed_sits_on_its_edge_on_the_way(generator):
    """The model sits its patients up in mid-air beside the bed; generation sits them on its edge (diffusion.bed_edge)."""
    from addon.core.eval.physical import seated_share
    from addon.core.motion.sitting import heading, sitting_frames
    from helpers.rooms import room_with_a_bed  # bed: x 1-3, y 1-2, top 0.5 m

    request = GenerationRequest(prompt="an elderly woman gets out of bed", roles=("patient",), seconds=8.0, fps=None,
                                seed=0, sampler="dpmpp_2m", steps=10, device="cpu", scene_points=room_with_a_bed())
    joints = generator.generate(request).joints
    sits = sitting_frames(joints)[0]
    assert sits.sum() >= 10  # 25 frames
    bed = np.array([[2.0, 1.5, 0.0, 2.0, 1.0, 0.0, 0.5]])
    assert seated_share(joints, bed, on="bed") > 0.75  # 0.84 (sitting down and getting up included)
    settled = joints[0, sits & (np.abs(joints[0, :, 0, 2] - (0.5 + 0.18)) < 0.01)]
    assert len(settled) >= 10
    assert np.all(np.abs(settled[:, 0, 1] - 1.12) < 0.05)  # 0.12 m inside the side nearest to it, y = 1
    assert np.all(np.abs(np.degrees(heading(settled)) + 90.0) < 30.0)  # facing out of the bed (-y)
    assert np.all(settled[:, [7, 8], 1] < 1.0 - 0.2)  # ankles on the floor in front of the bed
    assert np.all(settled[:, [7, 8], 2] < 0.12)


def test_a_nurse_who_walks_into_the_room_steps_across_it(generator):
    """The model leaves its walkers shuffling on the spot, ankles together; generation steps them
    along a free route (diffusion.walking)."""
    from addon.core.eval.physical import foot_skating_ratio
    from addon.core.motion.sitting import heading
    from addon.core.placement import height_map
    from helpers.rooms import room_with_a_bed

    room = room_with_a_bed()
    request = GenerationRequest(prompt="a nurse walks into the room", roles=("staff",), seconds=6.0, fps=None,
                                seed=0, sampler="dpmpp_2m", steps=10, device="cpu", scene_points=room)
    joints = generator.generate(request).joints[0]
    pelvis = joints[:, 0, :2]
    assert np.linalg.norm(pelvis[-1] - pelvis[0]) > 1.5  # 0.1-0.6 m as the model walks it
    ankles_apart = np.linalg.norm(joints[:, 7, :2] - joints[:, 8, :2], axis=-1)
    assert np.percentile(ankles_apart, 95) > 0.45  # 0.14-0.23 m as the model walks it
    step = np.diff(pelvis, axis=0)
    striding = np.linalg.norm(step, axis=-1) * 10.0 > 0.6
    assert striding.sum() >= 10
    going = np.arctan2(step[striding, 1], step[striding, 0])
    assert np.cos(heading(joints[:-1][striding]) - going).mean() > 0.9  # facing the way it goes
    assert foot_skating_ratio(joints[None], 10.0) < 0.06
    assert not height_map(room).blocked(joints).any()  # not through the bed
