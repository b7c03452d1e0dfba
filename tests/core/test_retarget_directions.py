"""Directions that calibration lines up and the score measures come from the rig's geometry,
never from a bone's tail: a hand whose tail points forward (an FBX import convention), a BVH
import's zero-length Hips, a hand without fingers."""

import numpy as np
from dataclasses import replace

from addon.core.axes import Y_UP_TO_Z_UP
from addon.core.motion.motion import Motion
from addon.core.retarget.api import RetargetConfig, retarget_one
from addon.core.retarget.quality import direction_errors
from addon.core.retarget.rig import TargetRig
from addon.core.retarget.rotmath import about, angle_between_deg, to_quaternion, unit
from addon.core.rotations import quaternion_to_axis_angle
from addon.core.skeleton import JOINT_INDEX as J
from helpers.avatar_rigs import _frames, avatar_spec, random_motion, rest_joints, source_of

NO_FEET = RetargetConfig(foot_cleanup=False)


def at_rest(frames: int = 3) -> Motion:
    """SMPL standing in its rest pose (the T-pose every avatar is calibrated to)."""
    return Motion(np.tile([np.pi / 2, 0.0, 0.0], (frames, 1)), np.zeros((frames, 23, 3)),
                  np.tile([0.0, 0.0, 0.95], (frames, 1)), np.zeros(10), 30.0)


def turned_deg(result, name: str) -> np.ndarray:
    """(T,) degrees the bone is turned from its rest (its world delta's angle)."""
    delta = result.solution.deltas[:, result.bone(name)]
    return np.degrees(np.linalg.norm(quaternion_to_axis_angle(to_quaternion(delta)), axis=-1))


def rig_from(names, parents, heads, tails, name="Rig") -> TargetRig:
    matrices = np.tile(np.eye(4), (len(names), 1, 1))
    matrices[:, :3, :3] = _frames(heads, tails, 5)
    matrices[:, :3, 3] = heads
    return TargetRig(name, tuple(names), tuple(parents), matrices, tails)


def forward_hand_tails(spec) -> TargetRig:
    """The Mixamo test avatar with both hands' tails pointing forward (-Y) instead of along the hand."""
    tails = spec.tails.copy()
    for side in ("Left", "Right"):
        b = spec.names.index(f"mixamorig:{side}Hand")
        tails[b] = spec.heads[b] + np.array([0.0, -1.0, 0.0]) * np.linalg.norm(tails[b] - spec.heads[b])
    return rig_from(spec.names, spec.parents, spec.heads, tails, "Forward hands")


def test_a_hand_whose_tail_points_forward_is_not_turned_90_degrees():
    rest = at_rest()
    spec = avatar_spec("mixamo", rest_joints(rest), jitter=0.0, roll_seed=3)
    result = retarget_one(source_of(rest), forward_hand_tails(spec), NO_FEET)
    for side in ("Left", "Right"):
        assert turned_deg(result, f"mixamorig:{side}Hand").max() < 1e-6  # was 90
    # In motion the hands point where the plain avatar's point (their fingers lead the way).
    motion = random_motion()
    spec = avatar_spec("mixamo", rest_joints(motion), roll_seed=3)
    plain = retarget_one(source_of(motion), spec.target_rig(), NO_FEET)
    forward = retarget_one(source_of(motion), forward_hand_tails(spec), NO_FEET)
    for side in ("Left", "Right"):
        finger = spec.heads[spec.names.index(f"mixamorig:{side}HandIndex1")] - spec.heads[spec.names.index(f"mixamorig:{side}Hand")]
        a = forward.solution.deltas[:, forward.bone(f"mixamorig:{side}Hand")] @ finger
        b = plain.solution.deltas[:, plain.bone(f"mixamorig:{side}Hand")] @ finger
        assert angle_between_deg(a, b).max() < 1e-6


def test_the_score_measures_a_hand_turned_about_its_tail():
    """The score's axis is the fingers' direction, not the tail: a hand turned 90 degrees about
    its (forward) tail was scored 0 degrees, measured along that same tail."""
    motion = at_rest()
    spec = avatar_spec("mixamo", rest_joints(motion), jitter=0.0, roll_seed=3)
    result = retarget_one(source_of(motion), forward_hand_tails(spec), NO_FEET)
    hand = result.bone("mixamorig:LeftHand")
    deltas = result.solution.deltas.copy()
    deltas[:, hand] = deltas[:, hand] @ about(np.array([0.0, -1.0, 0.0]), np.radians(90.0))
    errors = direction_errors(result.plan, result.smpl, replace(result.solution, deltas=deltas))
    wrist = list(result.plan.measured_joints).index(J["left_wrist"])
    np.testing.assert_allclose(errors[:, wrist], 90.0, atol=1e-6)


def test_a_hand_without_fingers_keeps_its_forearms_calibration_and_is_not_scored():
    motion = at_rest()
    spec = avatar_spec("mixamo", rest_joints(motion), rest="A", jitter=0.0, roll_seed=3)
    keep = [i for i, n in enumerate(spec.names) if "HandIndex" not in n]
    heads, tails = spec.heads[keep].copy(), spec.tails[keep].copy()
    names = [spec.names[i] for i in keep]
    for side in ("Left", "Right"):
        b = names.index(f"mixamorig:{side}Hand")
        tails[b] = heads[b] + np.array([0.0, -0.08, 0.0])  # forward: says nothing about the hand
    parents = [keep.index(spec.parents[i]) if spec.parents[i] >= 0 else -1 for i in keep]
    result = retarget_one(source_of(motion), rig_from(names, parents, heads, tails), NO_FEET)
    for side in ("Left", "Right"):
        hand, forearm = result.bone(f"mixamorig:{side}Hand"), result.bone(f"mixamorig:{side}ForeArm")
        np.testing.assert_allclose(result.solution.deltas[:, hand], result.solution.deltas[:, forearm], atol=1e-9)
    assert J["left_wrist"] not in result.plan.measured_joints and J["left_elbow"] in result.plan.measured_joints


def cmu_bvh_rig(rest_y) -> TargetRig:
    """A CMU skeleton as Blender's BVH import makes it: a zero-length root (Hips, its tail
    put +Y) whose children LHipJoint/RHipJoint/LowerBack all start at its head."""
    p = rest_y @ Y_UP_TO_Z_UP.T
    p[:, 2] -= p[[J["left_foot"], J["right_foot"]], 2].min() - 0.03
    names, parents, heads, tails = [], [], [], []

    def add(name, parent, head, tail):
        names.append(name)
        parents.append(-1 if parent is None else names.index(parent))
        heads.append(np.asarray(head, dtype=float))
        tails.append(np.asarray(tail, dtype=float))

    add("Hips", None, p[J["pelvis"]], p[J["pelvis"]] + [0.0, 0.1, 0.0])
    for s, S, L in (("left", "Left", "L"), ("right", "Right", "R")):
        add(f"{L}HipJoint", "Hips", p[J["pelvis"]], p[J[f"{s}_hip"]])
        add(f"{S}UpLeg", f"{L}HipJoint", p[J[f"{s}_hip"]], p[J[f"{s}_knee"]])
        add(f"{S}Leg", f"{S}UpLeg", p[J[f"{s}_knee"]], p[J[f"{s}_ankle"]])
        add(f"{S}Foot", f"{S}Leg", p[J[f"{s}_ankle"]], p[J[f"{s}_foot"]])
        add(f"{S}ToeBase", f"{S}Foot", p[J[f"{s}_foot"]], p[J[f"{s}_foot"]] + [0.0, -0.06, 0.0])
    add("LowerBack", "Hips", p[J["pelvis"]], p[J["spine2"]])
    add("Spine", "LowerBack", p[J["spine2"]], p[J["spine3"]])
    add("Spine1", "Spine", p[J["spine3"]], p[J["neck"]])
    add("Neck", "Spine1", p[J["neck"]], p[J["head"]])
    add("Head", "Neck", p[J["head"]], p[J["head"]] + [0.0, 0.0, 0.2])
    for s, S in (("left", "Left"), ("right", "Right")):
        add(f"{S}Shoulder", "Spine1", p[J[f"{s}_collar"]], p[J[f"{s}_shoulder"]])
        add(f"{S}Arm", f"{S}Shoulder", p[J[f"{s}_shoulder"]], p[J[f"{s}_elbow"]])
        add(f"{S}ForeArm", f"{S}Arm", p[J[f"{s}_elbow"]], p[J[f"{s}_wrist"]])
        add(f"{S}Hand", f"{S}ForeArm", p[J[f"{s}_wrist"]], p[J[f"{s}_hand"]])
    return rig_from(names, parents, np.array(heads), np.array(tails), "CMU")


def test_a_bvh_imports_zero_length_hips_are_not_pitched():
    """The Hips -> LowerBack link has no length: calibrating by the Hips' tail (+Y) pitched the
    hips 82 degrees and swung the legs' heads 12 cm. The next mapped joint with a length
    (Spine) gives the direction; the hips are not scored by it (it is the lower back's)."""
    rest = at_rest()
    rig = cmu_bvh_rig(rest_joints(rest))
    result = retarget_one(source_of(rest), rig, NO_FEET)
    assert result.mapping.bone_of("pelvis") == "Hips" and result.mapping.bone_of("spine1") == "LowerBack"
    assert turned_deg(result, "Hips").max() < 1e-6
    up_leg = result.bone("LeftUpLeg")
    moved = result.solution.heads[:, up_leg] - result.solution.heads[:, result.plan.root]
    np.testing.assert_allclose(moved, np.broadcast_to(rig.rest_matrices[rig.index("LeftUpLeg"), :3, 3]
                                                      - rig.rest_matrices[rig.index("Hips"), :3, 3], moved.shape), atol=1e-9)
    assert J["pelvis"] not in result.plan.measured_joints
    # In motion: the hips face where SMPL's face, the legs follow.
    motion = random_motion()
    result = retarget_one(source_of(motion), cmu_bvh_rig(rest_joints(motion)), NO_FEET)
    assert direction_errors(result.plan, result.smpl, result.solution).max() < 1e-6
    facing = result.solution.deltas[:, result.plan.root] @ unit(np.array([0.0, -1.0, 0.0]))
    assert angle_between_deg(facing, result.smpl.forward()).max() < 1.0
