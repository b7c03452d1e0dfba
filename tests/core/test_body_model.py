"""BodyModel over smplx, by value: against the project's FK and an independent numpy skinning.

Synthetic SMPL-like (24 joints) and SMPL-H-like (52 joints) models stand in for
the licensed files.
"""

import os
import sys
import types

import numpy as np
import pytest

from addon.core.body.model import BodyModel, clear_body_model_cache, load_body_model
from addon.core.rotations import axis_angle_to_matrix
from addon.core.skeleton import PARENTS, forward_kinematics

RNG = np.random.default_rng(11)
# SMPL-H: SMPL's first 22 joints, then per hand 5 fingers x 3 joints (index, middle, pinky,
# ring, thumb), each finger's first joint a child of the wrist (20 left, 21 right).
SMPLH_PARENTS = PARENTS[:22] + tuple(
    parent
    for wrist, first in ((20, 22), (21, 37))
    for finger in range(5)
    for parent in (wrist, first + 3 * finger, first + 3 * finger + 1)
)


def synthetic_model(parents=PARENTS, num_vertices=240, num_betas=10, seed=3):
    """SMPL-named arrays of a small random but valid body on the tree ``parents``."""
    rng = np.random.default_rng(seed)
    J, V = len(parents), num_vertices
    home = np.arange(V) % J
    rest_joints = rng.normal(size=(J, 3)) * 0.3
    weights = rng.random((V, J))
    weights[weights < 0.85] = 0.0
    weights[np.arange(V), home] += 1.0
    regressor = np.zeros((J, V))
    regressor[home, np.arange(V)] = rng.random(V) + 0.1
    return {
        "v_template": rest_joints[home] + rng.normal(size=(V, 3)) * 0.05,
        "shapedirs": rng.normal(size=(V, 3, num_betas)) * 0.02,
        "posedirs": rng.normal(size=(V, 3, 9 * (J - 1))) * 0.01,
        "J_regressor": regressor / regressor.sum(axis=1, keepdims=True),
        "weights": weights / weights.sum(axis=1, keepdims=True),
        "f": rng.integers(0, V, size=(400, 3)),
        "kintree_table": np.array([[4294967295, *parents[1:]], list(range(J))], dtype=np.int64),
    }


def random_pose(frames, scale=0.8):
    return (
        RNG.normal(size=(frames, 3)) * scale,
        RNG.normal(size=(frames, 23, 3)) * scale,
        RNG.normal(size=(frames, 3)),
    )


def numpy_lbs(rest_vertices, weights, rest_joints, world_rotations, posed_joints):
    """Linear blend skinning written out: each joint moves x to R_j (x - r_j) + p_j, weighted.

    rest_vertices (T, V, 3) or (V, 3); weights (V, J); rest_joints (J, 3);
    world_rotations (T, J, 3, 3); posed_joints (T, J, 3) (transl included).
    """
    offsets = np.broadcast_to(rest_vertices, (len(world_rotations), *rest_vertices.shape[-2:]))
    moved = np.einsum("tjab,tvjb->tvja", world_rotations, offsets[:, :, None, :] - rest_joints)
    moved = moved + posed_joints[:, None]
    return np.einsum("vj,tvja->tva", weights, moved)


@pytest.fixture(scope="module")
def smpl_arrays():
    return synthetic_model()


@pytest.fixture(scope="module")
def smpl(smpl_arrays):
    return BodyModel(smpl_arrays, kind="smpl", source="synthetic SMPL")


@pytest.fixture(scope="module")
def smplh_arrays():
    return synthetic_model(SMPLH_PARENTS, num_vertices=312, num_betas=16, seed=5)


@pytest.fixture(scope="module")
def smplh(smplh_arrays):
    return BodyModel(smplh_arrays, kind="smplh", source="synthetic SMPL-H")


def test_attributes(smpl, smpl_arrays):
    assert (smpl.kind, smpl.gender, smpl.num_betas, smpl.num_vertices) == ("smpl", "neutral", 10, 240)
    assert smpl.faces.dtype == np.int32 and np.array_equal(smpl.faces, smpl_arrays["f"])
    np.testing.assert_array_equal(smpl.weights, smpl_arrays["weights"])
    np.testing.assert_array_equal(smpl.shapedirs, smpl_arrays["shapedirs"])
    assert smpl.has_pose_correctives
    assert not smpl.weights.flags.writeable  # the instance is shared through the cache
    assert not BodyModel(dict(smpl_arrays, posedirs=np.zeros((240, 3, 207))), kind="smpl").has_pose_correctives


def test_rest_vertices_and_joints_are_the_shape_blend(smpl, smpl_arrays):
    betas = RNG.normal(size=10)
    expected = smpl_arrays["v_template"] + np.einsum("vcs,s->vc", smpl_arrays["shapedirs"], betas)
    np.testing.assert_allclose(smpl.rest_vertices(betas), expected, atol=1e-12)
    np.testing.assert_allclose(smpl.rest_joints(betas), smpl_arrays["J_regressor"] @ expected, atol=1e-12)
    np.testing.assert_array_equal(smpl.rest_vertices(), smpl_arrays["v_template"])
    # Fewer betas than shape directions: the rest count as zero.
    np.testing.assert_allclose(smpl.rest_vertices(betas[:3]), smpl.rest_vertices(np.r_[betas[:3], np.zeros(7)]), atol=0)
    assert np.abs(smpl.rest_vertices(betas) - smpl.rest_vertices()).max() > 1e-3


def test_forward_joints_are_the_projects_forward_kinematics(smpl):
    orient, pose, transl = random_pose(6)
    betas = RNG.normal(size=10)
    out = smpl.forward(orient, pose, transl, betas)
    local = axis_angle_to_matrix(np.concatenate([orient[:, None], pose], axis=1))
    _, expected = forward_kinematics(local, smpl.rest_joints(betas), transl)
    assert out.joints.shape == (6, 24, 3) and out.vertices.shape == (6, 240, 3)
    assert out.joints.dtype == out.vertices.dtype == np.float64
    np.testing.assert_allclose(out.joints, expected, atol=1e-8)
    assert np.abs(out.joints - smpl.rest_joints(betas)).max() > 0.1  # the pose did move the body


def test_the_zero_pose_gives_the_rest_body(smpl):
    betas = RNG.normal(size=10)
    out = smpl.forward(np.zeros((2, 3)), np.zeros((2, 23, 3)), np.zeros((2, 3)), betas, pose_correctives=True)
    np.testing.assert_allclose(out.vertices, np.broadcast_to(smpl.rest_vertices(betas), (2, 240, 3)), atol=1e-10)
    np.testing.assert_allclose(out.joints[0], smpl.rest_joints(betas), atol=1e-10)


def test_vertices_are_linear_blend_skinning(smpl, smpl_arrays):
    orient, pose, transl = random_pose(4)
    betas = RNG.normal(size=10)
    local = axis_angle_to_matrix(np.concatenate([orient[:, None], pose], axis=1))
    rest_joints = smpl.rest_joints(betas)
    world, posed = forward_kinematics(local, rest_joints, transl)

    plain = smpl.forward(orient, pose, transl, betas)
    expected = numpy_lbs(smpl.rest_vertices(betas), smpl.weights, rest_joints, world, posed)
    np.testing.assert_allclose(plain.vertices, expected, atol=1e-8)

    # With correctives the rest shape first gets posedirs . (R_j - I) over joints 1..23 (SMPL eq. 9).
    corrected = smpl.forward(orient, pose, transl, betas, pose_correctives=True)
    features = (local[:, 1:] - np.eye(3)).reshape(4, 207)
    offsets = np.einsum("vcp,tp->tvc", smpl_arrays["posedirs"], features)
    expected_corrected = numpy_lbs(smpl.rest_vertices(betas) + offsets, smpl.weights, rest_joints, world, posed)
    np.testing.assert_allclose(corrected.vertices, expected_corrected, atol=1e-8)
    assert np.abs(corrected.vertices - plain.vertices).max() > 1e-3
    np.testing.assert_allclose(corrected.joints, plain.joints, atol=1e-12)  # correctives move no joint


def test_long_clips_are_chunked_consistently(smpl):
    orient, pose, transl = random_pose(150)
    whole = smpl.forward(orient, pose, transl)
    part = smpl.forward(orient[100:], pose[100:], transl[100:])
    np.testing.assert_allclose(whole.vertices[100:], part.vertices, atol=1e-12)
    assert smpl.forward(np.zeros((0, 3)), np.zeros((0, 23, 3)), None).vertices.shape == (0, 240, 3)


def test_flat_body_pose_and_missing_transl(smpl):
    orient, pose, _ = random_pose(3)
    a = smpl.forward(orient, pose, None)
    b = smpl.forward(orient, pose.reshape(3, 69), np.zeros((3, 3)))
    np.testing.assert_array_equal(a.vertices, b.vertices)


@pytest.mark.parametrize(
    "change, name",
    [
        (lambda o, p, t, b: (o, p[:, :22], t, b), "body_pose"),
        (lambda o, p, t, b: (o, p, t[:2], b), "transl"),
        (lambda o, p, t, b: (o[:, :2], p, t, b), "global_orient"),
        (lambda o, p, t, b: (o, p, t, np.zeros(11)), "betas"),
        (lambda o, p, t, b: (o, np.where(p > 1, np.nan, p), t, b), "body_pose"),
    ],
)
def test_bad_inputs_name_the_argument(smpl, change, name):
    orient, pose, transl = random_pose(3)
    with pytest.raises(ValueError, match=name):
        smpl.forward(*change(orient, pose, transl, np.zeros(10)))


def test_smplh_gives_the_24_smpl_joints(smplh, smplh_arrays):
    assert (smplh.kind, smplh.num_betas, smplh.weights.shape) == ("smplh", 16, (312, 24))
    betas = RNG.normal(size=16)
    rest = smplh.rest_vertices(betas)
    # SMPL's hand joints 22/23 are SMPL-H's middle-finger knuckles 25/40.
    smpl_rows = list(range(22)) + [25, 40]
    np.testing.assert_allclose(smplh.rest_joints(betas), smplh_arrays["J_regressor"][smpl_rows] @ rest, atol=1e-12)
    # Fingers folded into SMPL's hand joints: 22 takes the left hand's 15, 23 the right hand's.
    w = smplh_arrays["weights"]
    np.testing.assert_allclose(smplh.weights[:, :22], w[:, :22], atol=0)
    np.testing.assert_allclose(smplh.weights[:, 22], w[:, 22:37].sum(axis=1), atol=1e-15)
    np.testing.assert_allclose(smplh.weights[:, 23], w[:, 37:52].sum(axis=1), atol=1e-15)
    np.testing.assert_allclose(smplh.weights.sum(axis=1), 1.0, atol=1e-12)

    orient, pose, transl = random_pose(5)
    out = smplh.forward(orient, pose, transl, betas)
    assert out.joints.shape == (5, 24, 3) and out.vertices.shape == (5, 312, 3)
    local = axis_angle_to_matrix(np.concatenate([orient[:, None], pose], axis=1))
    world, posed = forward_kinematics(local, smplh.rest_joints(betas), transl)
    np.testing.assert_allclose(out.joints, posed, atol=1e-8)

    # SMPL's hand rotations (body_pose joints 22/23) do not exist in SMPL-H: ignored.
    without_hands = pose.copy()
    without_hands[:, 21:23] = 0.0
    np.testing.assert_array_equal(smplh.forward(orient, without_hands, transl, betas).vertices, out.vertices)
    local[:, 22:24] = np.eye(3)
    world, posed = forward_kinematics(local, smplh.rest_joints(betas), transl)
    expected = numpy_lbs(rest, smplh.weights, smplh.rest_joints(betas), world, posed)
    np.testing.assert_allclose(out.vertices, expected, atol=1e-8)

    corrected = smplh.forward(orient, pose, transl, betas, pose_correctives=True)
    assert np.abs(corrected.vertices - out.vertices).max() > 1e-3


def test_a_tree_that_is_not_smpls_is_refused(smpl_arrays):
    bad = dict(smpl_arrays, kintree_table=smpl_arrays["kintree_table"].copy())
    bad["kintree_table"][0, 15] = 9  # head hung off spine3 instead of the neck
    with pytest.raises(ValueError, match="my_model.npz: key 'kintree_table'"):
        BodyModel(bad, kind="smpl", source="my_model.npz")
    with pytest.raises(ValueError, match="'J_regressor'"):
        BodyModel(smpl_arrays, kind="smplh", source="my_model.npz")


def test_load_body_model_reads_and_caches_the_users_file(tmp_path, smpl_arrays):
    np.savez(tmp_path / "SMPL_MALE.npz", **smpl_arrays)
    clear_body_model_cache()
    body = load_body_model(str(tmp_path), gender="male")
    assert (body.kind, body.gender) == ("smpl", "male")
    assert body.source == str((tmp_path / "SMPL_MALE.npz").resolve())
    np.testing.assert_array_equal(body.rest_vertices(), smpl_arrays["v_template"])
    assert load_body_model(str(tmp_path), gender="male") is body
    # A replaced file (newer modification time) is read again.
    stat = os.stat(tmp_path / "SMPL_MALE.npz")
    os.utime(tmp_path / "SMPL_MALE.npz", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert load_body_model(str(tmp_path), gender="male") is not body
    with pytest.raises(FileNotFoundError, match="SMPL_FEMALE"):
        load_body_model(str(tmp_path), gender="female")
    with pytest.raises(ValueError, match="gender"):
        load_body_model(str(tmp_path), gender="Male")
    clear_body_model_cache()


def test_load_body_model_reads_amass_smplh(tmp_path, smplh_arrays):
    (tmp_path / "smplh" / "female").mkdir(parents=True)
    np.savez(tmp_path / "smplh" / "female" / "model.npz", **smplh_arrays)
    body = load_body_model(str(tmp_path), gender="female", kind="smplh")
    assert (body.kind, body.num_betas) == ("smplh", 16)
    clear_body_model_cache()


def test_no_model_folder_gives_the_standin(monkeypatch, smpl_arrays):
    # The stand-in's arrays come from addon.core.body.standin; a fake one tests the plumbing.
    fake = types.ModuleType("addon.core.body.standin")
    fake.load_standin_arrays = lambda: dict(
        smpl_arrays,
        posedirs=np.zeros((240, 3, 207)),
        shape_direction_names=np.array(["height"] * 10),
        format_version=np.array(1),
    )
    monkeypatch.setitem(sys.modules, "addon.core.body.standin", fake)
    clear_body_model_cache()
    try:
        body = load_body_model(None)
        assert (body.kind, body.gender, body.has_pose_correctives) == ("standin", "neutral", False)
        assert load_body_model("", gender="female", kind="smplh") is body
        np.testing.assert_array_equal(body.rest_vertices(), smpl_arrays["v_template"])
    finally:
        clear_body_model_cache()


def test_the_bundled_standin_loads_when_present():
    pytest.importorskip("addon.core.body.standin", reason="the stand-in body is written separately")
    clear_body_model_cache()
    try:
        body = load_body_model(None)
        out = body.forward(np.zeros((1, 3)), np.zeros((1, 23, 3)), np.zeros((1, 3)))
        np.testing.assert_allclose(out.vertices[0], body.rest_vertices(), atol=1e-10)
        assert body.kind == "standin" and body.weights.shape == (body.num_vertices, 24)
    finally:
        clear_body_model_cache()


def test_rest_arrays_do_not_import_torch(tmp_path):
    # Blender's process builds rigs from rest arrays; torch must only load to skin poses.
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys, numpy as np\n"
        "from addon.core.body.model import BodyModel\n"
        "rng = np.random.default_rng(0); V = 30\n"
        "w = rng.random((V, 24)); w /= w.sum(1, keepdims=True)\n"
        "kt = np.stack([np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]), np.arange(24)])\n"
        "arrays = dict(v_template=rng.random((V, 3)), shapedirs=rng.random((V, 3, 10)), posedirs=np.zeros((V, 3, 207)),\n"
        "  J_regressor=np.full((24, V), 1.0 / V), weights=w, f=rng.integers(0, V, (10, 3)), kintree_table=kt)\n"
        "model = BodyModel(arrays, kind='smpl'); model.rest_joints(np.ones(10)); model.rest_vertices()\n"
        "print('torch' in sys.modules, 'smplx' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_preferred_body_falls_back_to_neutral_and_names_what_it_tried(tmp_path):
    from helpers.tiny_smpl import write_tiny_smpl

    from addon.core.body.model import preferred_body_model

    write_tiny_smpl(tmp_path / "models")
    body = preferred_body_model(str(tmp_path / "models"), "female")
    assert body.kind == "smpl" and body.gender == "neutral"
    assert preferred_body_model("", "male").kind == "standin"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no SMPL or SMPL-H model file"):
        preferred_body_model(str(tmp_path / "empty"))
