"""Generation from a checkpoint (core.generate, core.api.generate, tools/generate.py), by value.

Runs on a tiny RANDOM-weight checkpoint (tests/helpers/tiny_checkpoint.py) with the real offline
MiniLM text encoder: the outputs are not meaningful motions, but every step of the path is the
shipped one, so determinism, guidance, shapes, decoding and the error paths are checked for real.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from addon.core import api
from addon.core.diffusion.corrections import Corrections
from addon.core.diffusion.checkpoint import CheckpointError, checkpoint_paths
from addon.core.diffusion.guidance import unguided
from addon.core.diffusion.samplers import SAMPLERS, SamplingCancelled
from addon.core.generation_settings import DEFAULT_GUIDANCE, DEFAULT_SMOOTHING_S, MAX_SMOOTHING_S
from addon.core.generate import (
    BUNDLED_CHECKPOINT,
    GenerationError,
    GenerationRequest,
    Generator,
    clear_generator_cache,
    load_generator,
    motion_joints,
)
from addon.core.motion.amass import read_amass_npz
from addon.core.motion.resample import resample
from addon.core.settings import Preferences
from helpers.tiny_checkpoint import TINY_FPS, TINY_MAX_FRAMES, write_tiny_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMPT = "a nurse helps a patient stand up"


def request(**overrides) -> GenerationRequest:
    values = dict(prompt=PROMPT, roles=("staff", "patient"), seconds=1.5, fps=None, seed=7, steps=4, device="cpu")
    return GenerationRequest(**{**values, **overrides})


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_checkpoint"))


@pytest.fixture(scope="module")
def generator(checkpoint) -> Generator:
    return Generator(checkpoint, device="cpu")


# -------------------------------------------------------------------------------------------
# what comes out


def test_same_seed_is_bit_identical_and_another_seed_differs(generator, checkpoint):
    first, again = generator.generate(request()), generator.generate(request())
    np.testing.assert_array_equal(first.joints, again.joints)
    for a, b in zip(first.motions, again.motions):
        np.testing.assert_array_equal(a.poses_72(), b.poses_72())
        np.testing.assert_array_equal(a.transl, b.transl)
    # A freshly loaded checkpoint (nothing warm) gives the same numbers.
    np.testing.assert_array_equal(Generator(checkpoint, "cpu").generate(request()).joints, first.joints)
    other = generator.generate(request(seed=8))
    assert np.abs(other.joints - first.joints).max() > 1e-3


def test_smoothing_sets_how_much_of_the_frame_to_frame_shake_is_left(generator):
    # The tiny checkpoint's weights are random: its motion is mostly shake, as a filter meets it.
    def shake(seconds: float) -> float:  # mean joint acceleration, metres per frame squared
        joints = generator.generate(request(smoothing_s=seconds)).joints
        return float(np.linalg.norm(np.diff(joints, n=2, axis=1), axis=-1).mean())

    none, default, strong = shake(0.0), shake(DEFAULT_SMOOTHING_S), shake(MAX_SMOOTHING_S)
    assert strong < 0.7 * default < 0.7 * 0.7 * none
    with pytest.raises(GenerationError, match="smoothing_s must be 0 to"):
        request(smoothing_s=-0.1)


@pytest.mark.parametrize("sampler", ["ddpm", "dpmpp_2m"])
def test_guidance_one_is_the_unguided_conditional_model(generator, sampler):
    req = request(guidance=1.0, sampler=sampler, steps=6)
    inputs = generator.prepare(req)
    # The same start, sampled directly with the conditional model and no guidance at all (the
    # persons and their bodies kept apart and the result filtered, as generate() always does).
    valid = torch.ones(1, len(req.roles), dtype=torch.bool)
    corrections = Corrections.for_scenes(generator.stats.mean, generator.stats.std, valid, None,
                                         rest_joints=generator.rest_joints, fps=generator.fps)
    model = corrections.wrap(unguided(generator.denoiser, inputs.cond))
    x0 = SAMPLERS[sampler](model, inputs.x_T, 6, generator=inputs.generator, schedule=generator.schedule)
    x0 = corrections.finish(x0)
    direct = generator.decode(x0[0].numpy(), req.roles)
    result = generator.generate(req)
    for a, b in zip(result.motions, direct):
        np.testing.assert_array_equal(a.poses_72(), b.poses_72())
        np.testing.assert_array_equal(a.transl, b.transl)
    guided = generator.generate(dataclasses.replace(req, guidance=2.5))
    assert np.abs(guided.joints - result.joints).max() > 1e-4


def test_shapes_fps_roles_and_frames_for_seconds(generator, checkpoint):
    roles = ("staff", "patient", "person")
    result = generator.generate(request(roles=roles, seconds=1.52))  # round(1.52 s x 20 fps) = 30
    assert result.joints.shape == (3, 30, 22, 3) and result.joints.dtype == np.float64
    assert [m.role for m in result.motions] == list(roles)
    assert all(m.num_frames == 30 and m.fps == TINY_FPS for m in result.motions)
    assert (result.fps, result.steps, result.sampler, result.device) == (TINY_FPS, 4, "dpmpp_2m", "cpu")
    assert result.checkpoint == str(checkpoint) and result.seconds_taken > 0
    # joints are SMPL FK of the motions: the pelvis sits at J_0 + transl (AMASS convention) ...
    for p, motion in enumerate(result.motions):
        np.testing.assert_allclose(result.joints[p, :, 0], generator.rest_joints[0] + motion.transl, atol=1e-12)
    # ... in the Z-up world: the stats' standing pose keeps every head above its pelvis, feet lowest.
    assert (result.joints[:, :, 15, 2] > result.joints[:, :, 0, 2] + 0.3).all()
    assert (result.joints[:, :, [10, 11], 2].mean() < result.joints[:, :, 0, 2].mean() - 0.5)


def test_decoded_motions_have_valid_rotations_and_finite_values(generator):
    result = generator.generate(request(scene_points=np.random.default_rng(0).uniform(0, 3, (300, 3))))
    assert np.isfinite(result.joints).all()
    for motion in result.motions:
        for values in (motion.global_orient, motion.body_pose, motion.transl):
            assert np.isfinite(values).all()
        rotations = motion.local_rotations()  # (T, 24, 3, 3)
        identity = np.broadcast_to(np.eye(3), rotations.shape)
        np.testing.assert_allclose(rotations.swapaxes(-1, -2) @ rotations, identity, atol=1e-9)
        np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-9)
        assert np.linalg.norm(motion.body_pose, axis=-1).max() <= np.pi + 1e-9
        np.testing.assert_array_equal(motion.body_pose[:, 21:], 0.0)  # SMPL hands: identity


def test_a_scene_changes_the_motion_but_not_the_ids_or_noise(generator):
    plain = generator.prepare(request())
    scene = request(scene_points=np.random.default_rng(1).uniform(0, 3, (500, 3)))
    with_scene = generator.prepare(scene)
    assert torch.equal(plain.x_T, with_scene.x_T)
    assert torch.equal(plain.cond.person_ids, with_scene.cond.person_ids)
    assert with_scene.cond.scene_mask.shape == (1, generator.denoiser.config.scene_groups)
    # Guidance drops the text only: the unconditional branch still sees the scene.
    assert with_scene.uncond.scene_mask.all() and not with_scene.uncond.text_mask.any()
    assert np.abs(generator.generate(scene).joints - generator.generate(request()).joints).max() > 1e-4


def test_person_ids_are_distinct_and_follow_the_seed(generator):
    ids = [generator.prepare(request(roles=("person",) * 4, seed=s)).cond.person_ids[0].tolist() for s in range(6)]
    assert all(sorted(row) == [0, 1, 2, 3] for row in ids)  # 4 of 4: a permutation
    assert len({tuple(row) for row in ids}) > 1


def test_a_different_fps_resamples_the_motions(generator):
    native = generator.generate(request())
    result = generator.generate(request(fps=30.0))
    frames = int(np.floor((native.motions[0].num_frames - 1) * 30.0 / TINY_FPS)) + 1  # same span, 30 fps
    assert result.fps == 30.0 and result.joints.shape == (2, frames, 22, 3)
    for got, source in zip(result.motions, native.motions):
        expected = resample(source, 30.0)
        assert got.fps == 30.0 and got.num_frames == frames
        np.testing.assert_array_equal(got.poses_72(), expected.poses_72())
        np.testing.assert_array_equal(got.transl, expected.transl)
    np.testing.assert_array_equal(result.joints[1], motion_joints(result.motions[1], generator.rest_joints))
    # Frame 3 at 30 fps is 0.1 s, frame 2 at 20 fps: the same instant, exactly.
    np.testing.assert_array_equal(result.joints[:, 3], native.joints[:, 2])


def test_the_callback_reports_every_step_and_can_cancel(generator):
    seen = []
    generator.generate(request(), lambda step, total: seen.append((step, total)))
    assert seen == [(i, 4) for i in range(1, 5)]
    seen.clear()

    def cancel_after_three(step: int, total: int) -> bool:
        seen.append(step)
        return step == 3

    with pytest.raises(SamplingCancelled, match="after step 3 of 4"):
        generator.generate(request(sampler="ddim"), cancel_after_three)
    assert seen == [1, 2, 3]


# -------------------------------------------------------------------------------------------
# errors


def test_bad_requests_fail_clearly(generator):
    with pytest.raises(GenerationError, match="1 to 4 persons, got 5"):
        request(roles=("staff",) * 5)
    with pytest.raises(GenerationError, match="1 to 4 persons, got 0"):
        request(roles=())
    with pytest.raises(GenerationError, match=r"unknown role\(s\) \['nurse'\]"):
        request(roles=("staff", "nurse"))
    with pytest.raises(GenerationError, match="sampler must be one of"):
        request(sampler="euler")
    with pytest.raises(GenerationError, match="seconds must be"):
        request(seconds=0.0)
    with pytest.raises(GenerationError, match=r"scene_points must be \(N > 0, 3\)"):
        request(scene_points=np.zeros((4, 2)))
    longest = TINY_MAX_FRAMES / TINY_FPS
    with pytest.raises(GenerationError, match=rf"too long .* at most {TINY_MAX_FRAMES} frames \({longest:g} s\)"):
        generator.generate(request(seconds=longest + 0.5))
    assert generator.generate(request(seconds=longest)).joints.shape[1] == TINY_MAX_FRAMES


def test_missing_corrupt_and_incompatible_checkpoints_fail_clearly(tmp_path):
    with pytest.raises(CheckpointError, match=r"missing\.safetensors: checkpoint file not found"):
        Generator(tmp_path / "missing.safetensors", "cpu")
    corrupt = write_tiny_checkpoint(tmp_path, name="corrupt")
    corrupt.write_bytes(corrupt.read_bytes()[:200])
    unreadable = r"cannot use generation checkpoint: .*corrupt\.safetensors: not a readable"
    with pytest.raises(CheckpointError, match=unreadable):
        load_generator(corrupt, "cpu")
    other = write_tiny_checkpoint(tmp_path, name="other")
    metadata = checkpoint_paths(other)[1]
    data = json.loads(metadata.read_text())
    data["diffusion"]["prediction"] = "epsilon"
    metadata.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="not a cosine-schedule x0-prediction model"):
        Generator(other, "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(checkpoint):
    with pytest.raises(GenerationError, match="sees no CUDA GPU"):
        Generator(checkpoint, "cuda")


def test_api_uses_the_preferred_checkpoint_and_explains_the_missing_bundled_one(checkpoint, generator):
    result = api.generate(Preferences(checkpoint_path=str(checkpoint), compute_device="CPU"), request())
    np.testing.assert_array_equal(result.joints, generator.generate(request()).joints)
    if not BUNDLED_CHECKPOINT.is_file():
        with pytest.raises(FileNotFoundError, match="not trained yet.*Checkpoint"):
            api.generate(Preferences(), request())


def test_load_generator_keeps_one_warm_per_file_and_reloads_a_replaced_one(tmp_path):
    clear_generator_cache()
    path = write_tiny_checkpoint(tmp_path)
    first = load_generator(path, "cpu")
    assert load_generator(path, "cpu") is first and load_generator(path.with_suffix(""), "auto") is first
    stamp = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(stamp, stamp))
    assert load_generator(path, "cpu") is not first
    clear_generator_cache()


def test_generation_imports_no_training_dataset_or_blender_code():
    script = (
        "import sys, addon.core.generate, addon.core.api\n"
        "print(sorted(m for m in sys.modules if m.startswith(('addon.core.data', 'addon.core.train', "
        "'addon.core.diffusion.losses', 'bpy', 'transformers'))))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -------------------------------------------------------------------------------------------
# the command line


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, str(REPO_ROOT / "tools" / "generate.py"), *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=120)


def test_cli_writes_motions_joints_and_summary(checkpoint, generator, tmp_path):
    out = tmp_path / "out"
    done = run_cli(
        "--prompt", PROMPT, "--roles", "staff,patient", "--seconds", "1.5", "--seed", "7",
        "--steps", "4", "--out", str(out), "--checkpoint", str(checkpoint), "--device", "cpu",
    )
    assert done.returncode == 0, done.stderr
    motions = [read_amass_npz(out / "person1_staff.npz"), read_amass_npz(out / "person2_patient.npz")]
    assert [m.role for m in motions] == ["staff", "patient"] and all(m.fps == TINY_FPS for m in motions)
    joints = np.load(out / "joints.npy", allow_pickle=False)
    assert joints.shape == (2, 30, 22, 3)
    for p, motion in enumerate(motions):
        np.testing.assert_allclose(joints[p], motion_joints(motion, generator.rest_joints), atol=1e-12)
    # Another process, the same seed: the same motion (thread counts may differ, hence the tolerance).
    np.testing.assert_allclose(joints, generator.generate(request()).joints, atol=1e-5)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["prompt"] == PROMPT and summary["roles"] == ["staff", "patient"]
    assert (summary["fps"], summary["seed"], summary["steps"], summary["sampler"]) == (TINY_FPS, 7, 4, "dpmpp_2m")
    assert summary["guidance"] == DEFAULT_GUIDANCE and summary["device"] == "cpu" and summary["checkpoint"] == str(checkpoint)
    assert summary["timings"]["generate_s"] > 0


def test_cli_bad_input_exits_2_with_a_message(checkpoint, tmp_path):
    done = run_cli(
        "--prompt", "x", "--roles", "staff,nurse", "--seconds", "1", "--seed", "0",
        "--out", str(tmp_path / "o"), "--checkpoint", str(checkpoint),
    )
    assert done.returncode == 2 and "unknown role(s) ['nurse']" in done.stderr
    assert not (tmp_path / "o").exists()
