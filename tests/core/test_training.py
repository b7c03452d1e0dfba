"""Training: config errors, data items, exact resume, DDP = one process, checkpoints without pickle.

Everything runs on the CPU with the tiny network, a randomly initialised open_clip text tower
built from a small config (real open_clip code, no weights to download) and procedural toy
clips written in our clips_npz format.
"""

import dataclasses
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from addon.core.body.model import load_body_model
from addon.core.data.mirror import mirror_motion
from addon.core.diffusion.checkpoint import build_denoiser, load_checkpoint_files
from addon.core.diffusion.conditioning import Conditioning, role_ids
from addon.core.diffusion.guidance import unguided
from addon.core.diffusion.samplers import sample_ddim
from addon.core.diffusion.schedule import cosine_schedule
from addon.core.motion.representation import NormalizationStats, encode_motion
from addon.core.skeleton import MIRROR
from addon.core.train.clips_npz import read_clips_npz, write_clip_npz
from addon.core.train.config import ConfigError, OptimConfig, load_train_config
from addon.core.train.dataset import MotionDataset, SceneSpec, build_text_encoder, collate
from addon.core.train.distributed import DistContext
from addon.core.train.features import encode_clip, feature_stats, mirror_features
from addon.core.train.loop import Trainer, learning_rate, train
from addon.core.train.metrics import TIMING_KEYS, MetricsLog
from addon.core.train.order import EpochOrder, GlobalBatchSampler
from addon.core.train.sources import toy_clips
from addon.core.train.state import latest_checkpoint, load_training_state, state_paths

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_CLIP = {
    "embed_dim": 16,
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
REST = load_body_model(None).rest_joints()


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny tensors: one intra-op thread is several times faster than two on a loaded 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# helpers


def toml(table: dict, prefix: str = "") -> str:
    """A small TOML writer for the configs below (scalars, lists of numbers, tables, [[arrays]])."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    lines = [f"{k} = {value(v)}" for k, v in table.items() if not isinstance(v, dict) and not _is_tables(v)]
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            lines += ["", f"[{name}]", toml(v, name + ".")]
        elif _is_tables(v):
            for item in v:
                lines += ["", f"[[{name}]]", toml(item, name + ".")]
    return "\n".join(lines)


def _is_tables(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def write_toy_clips(folder: Path, count: int, frames: int, persons: int, seed: int, scene_every: int = 0) -> Path:
    """Toy clips (sinusoidal joint rotations, no FK in their making) as clips_npz files."""
    rng = np.random.default_rng(seed)
    for i, clip in enumerate(toy_clips(count, frames, persons, 20.0, seed)):
        if scene_every and i % scene_every == 0:
            clip.scene_points = rng.uniform([-2, -2, 0], [2, 2, 1.5], (300, 3)).astype(np.float32)
        write_clip_npz(folder / f"{seed}_{i:03d}.npz", clip)
    return folder


def make_config(tmp_path: Path, name: str, data: list[dict], **sections) -> Path:
    raw = {
        "output": str(tmp_path / name),
        "seed": 7,
        "device": "cpu",
        "fps": 20.0,
        "max_frames": 16,
        "max_persons": 2,
        "mirror": True,
        "data": data,
        "network": {"preset": "tiny"},
        "text": {"encoder": "clip-config", "clip_config": TINY_CLIP, "clip_seed": 3},
        "optim": {"batch_size": 4, "steps": 12, "learning_rate": 3e-3, "warmup_steps": 3, "ema_decay": 0.9},
        "conditioning": {"text_dropout": 0.3, "scene_dropout": 0.3},
        "loss": {"x0": 1.0, "velocity": 1.0, "bone_length": 1.0, "foot_contact": 1.0, "fk": 1.0},
        "checkpoint": {"every": 5, "keep_last": 2, "log_every": 2},
    }
    for key, value in sections.items():
        raw[key] = {**raw[key], **value} if isinstance(raw.get(key), dict) else value
    path = tmp_path / f"{name}.toml"
    path.write_text(toml(raw) + "\n")
    return path


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory) -> Path:
    """Six clips: one-person ones of 22 frames (some with a scene), two-person ones of 13."""
    folder = tmp_path_factory.mktemp("clips")
    write_toy_clips(folder, 4, 22, 1, seed=1, scene_every=2)
    write_toy_clips(folder, 2, 13, 2, seed=2)
    return folder


def data_tables(folder: Path) -> list[dict]:
    return [{"kind": "clips_npz", "path": str(folder), "weight": 1.5}]


def tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def without_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


# ---------------------------------------------------------------------------------------------
# config


def test_tiny_config_of_the_repository_loads():
    config = load_train_config(REPO_ROOT / "configs" / "tiny.toml")
    assert config.network.d_model == 32 and config.max_frames == 40
    assert [s.kind for s in config.sources] == ["synthetic", "synthetic"]
    assert config.output == REPO_ROOT / "configs" / ".." / "out" / "train" / "tiny"


def test_a_procedural_source_records_the_generator_version_it_trained_on():
    from addon.core.data.procedural.dataset import DATA_VERSION

    config = load_train_config(REPO_ROOT / "configs" / "care_tune3.toml")
    assert [s.describe() for s in config.sources] == [
        {"kind": "procedural", "weight": 1.0, "count": 4000, "split": "train", "data_seed": 0,
         "data_version": DATA_VERSION}]


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        ({"optim": {"bach_size": 4}}, "optim.bach_size", "unknown key"),
        ({"optim": {"learning_rate": -1.0}}, "optim.learning_rate", "must be >= "),
        ({"max_frames": "long"}, "max_frames", "expected an integer"),
        ({"optim": {"precision": "fp8"}}, "optim.precision", "expected one of"),
        ({"data": [{"kind": "mocap", "path": "x"}]}, "data[0].kind", "expected one of"),
        ({"data": [{"kind": "clips_npz"}]}, "data[0].path", "is required"),
        ({"network": {"preset": "tiny", "text_dim": 8}}, "network.text_dim", "[text] encoder"),
        ({"network": {"preset": "tiny", "heads": 5}}, "network", "divisible by heads"),
        ({"text": {"encoder": "clip:ViT-B-32"}}, "text.clip_weights", "is required"),
        ({"checkpoint": {"every": 0}}, "checkpoint.every", "must be >= 1"),
    ],
)
def test_config_errors_name_the_file_and_the_key(tmp_path, edit, key, message):
    edit = dict(edit)
    path = make_config(tmp_path, "bad", edit.pop("data", [{"kind": "synthetic"}]), **edit)
    with pytest.raises(ConfigError) as error:
        load_train_config(path)
    assert str(error.value).startswith(f"{path}: key '{key}'")
    assert message in str(error.value)


def test_config_file_problems_name_the_file(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_train_config(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("output = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_train_config(broken)
    no_output = tmp_path / "no_output.toml"
    no_output.write_text('[[data]]\nkind = "synthetic"\n')
    with pytest.raises(ConfigError, match=r"no_output\.toml: key 'output': is required"):
        load_train_config(no_output)


def test_the_inference_path_never_imports_training_code():
    import importlib.util

    modules = [m for m in ("addon.core.api", "addon.core.generate", "addon.core.worker")
               if importlib.util.find_spec(m) is not None]
    script = f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n" \
             "print(sorted(m for m in sys.modules if m.startswith('addon.core.train')))"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert "addon.core.api" in modules and out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# data


def test_mirrored_features_equal_the_features_of_the_mirrored_motion():
    # A left/right symmetric skeleton, where mirroring is exact (data/mirror.py).
    reflect = np.diag([-1.0, 1.0, 1.0])
    rest = (REST + REST[list(MIRROR)] @ reflect) / 2
    motion = toy_clips(1, 12, 1, 20.0, seed=5)[0].motions[0]
    expected = encode_motion(mirror_motion(motion, rest_pelvis=rest[0]), rest)
    got = mirror_features(encode_motion(motion, rest))
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert np.abs(got - encode_motion(motion, rest)).max() > 0.1  # it did change something
    np.testing.assert_array_equal(mirror_features(got), encode_motion(motion, rest))  # an involution


def test_toy_captions_describe_the_walk_and_survive_mirroring():
    from addon.core.data.mirror import mirror_text
    from addon.core.rotations import rotation_6d_to_matrix

    def described(features: np.ndarray) -> str:
        """'forward' / 'backwards' / 'to the left' / 'to the right' from the pelvis path and facing."""
        root = rotation_6d_to_matrix(features[0, 258:264].astype(np.float64))
        step = features[-1, 0:3] - features[0, 0:3]
        along, left = step @ (root @ [0.0, 0.0, 1.0]), step @ (root @ [1.0, 0.0, 0.0])
        if abs(along) > abs(left):
            return "forward" if along > 0 else "backwards"
        return "to the left" if left > 0 else "to the right"

    clips = [encode_clip(c, REST) for c in toy_clips(24, 20, 1, 20.0, seed=9)]
    seen = set()
    for clip in clips:
        mirrored = (mirror_features(clip.features[0]), mirror_text(clip.texts[0]))
        for features, text in ((clip.features[0], clip.texts[0]), mirrored):
            seen.add(described(features))
            assert described(features) in text, (text, described(features))
    assert seen == {"forward", "backwards", "to the left", "to the right"}


def test_clips_npz_round_trip_both_layouts(tmp_path):
    clip = toy_clips(1, 10, 2, 20.0, seed=3)[0]
    clip.scene_points = np.ones((5, 3), dtype=np.float32)
    write_clip_npz(tmp_path / "a_smpl.npz", clip)
    encoded = encode_clip(clip, REST)
    write_clip_npz(tmp_path / "b_features.npz", encoded, rest_joints=REST)
    smpl, features = read_clips_npz(tmp_path, 20.0, REST)
    for read in (smpl, features):
        np.testing.assert_allclose(read.features, encoded.features, atol=1e-5)
        assert read.roles == encoded.roles and read.texts == encoded.texts and read.scene_points.shape == (5, 3)
    # 30 fps: SMPL parameters are resampled (1.5x the frames over the same span), features refuse.
    (tmp_path / "b_features.npz").unlink()
    assert read_clips_npz(tmp_path, 30.0, REST)[0].num_frames == 14
    write_clip_npz(tmp_path / "b_features.npz", encoded, rest_joints=REST)
    with pytest.raises(ValueError, match=r"b_features\.npz: 'fps' is 20.0 but training runs at 30.0"):
        read_clips_npz(tmp_path, 30.0, REST)
    with pytest.raises(ValueError, match=r"b_features\.npz: 'rest_joints' differ"):
        read_clips_npz(tmp_path, 20.0, REST + 0.01)


def test_global_batches_are_the_same_for_one_or_two_processes_and_weights_count():
    order = EpochOrder([3, 4], [2.0, 0.5], seed=1)
    assert order.epoch_length == 3 * 2 + 2
    epoch = order.epoch(0)
    assert sorted(np.bincount(epoch, minlength=7)[:3]) == [2, 2, 2] and np.bincount(epoch, minlength=7)[3:].sum() == 2
    one = iter(GlobalBatchSampler(order, 4))
    halves = [iter(GlobalBatchSampler(order, 4, num_replicas=2, rank=r)) for r in range(2)]
    for _ in range(5):  # steps, across epoch boundaries
        single = [next(one) for _ in range(4)]
        assert single == [next(halves[0]) for _ in range(2)] + [next(halves[1]) for _ in range(2)]
    resumed = iter(GlobalBatchSampler(order, 4, start_step=5))
    assert [next(resumed) for _ in range(4)] == [next(one) for _ in range(4)]
    with pytest.raises(ValueError, match="divisible"):
        GlobalBatchSampler(order, 5, num_replicas=2)


def test_items_are_deterministic_per_position_and_batches_pad(clip_folder):
    clips = read_clips_npz(clip_folder, 20.0, REST)
    stats = feature_stats(clips, include_mirrored=True)
    dataset = MotionDataset(clips, stats, max_frames=16, id_table=2, mirror=True, scene=SceneSpec(True, 4, 8), seed=0)
    a, b = dataset[(0, 11)], dataset[(0, 11)]
    torch.testing.assert_close(a.features, b.features, rtol=0, atol=0)
    assert a.text == b.text and torch.equal(a.person_ids, b.person_ids)
    crops = {tuple(dataset[(0, p)].features[0, :, 0].tolist()) for p in range(12)}
    assert len(crops) > 3  # random crops (and mirror images) differ between positions
    batch = collate([dataset[(0, 1)], dataset[(5, 2)]])  # 1 person x 16 frames + scene, 2 persons x 13
    assert batch.x0.shape == (2, 2, 16, 264) and batch.person_mask.tolist() == [[True, False], [True, True]]
    assert batch.frame_mask.sum(1).tolist() == [16, 13] and batch.scene_mask.tolist() == [[True] * 4, [False] * 4]
    assert float(batch.x0[1, :, 13:].abs().sum()) == 0.0
    # Normalisation: over all frames of all clips and their mirror images, mean 0 and std 1.
    both = [np.concatenate([c.features, mirror_features(c.features)]) for c in clips]
    all_frames = np.concatenate([f.reshape(-1, 264) for f in both])
    normalized = stats.normalize(all_frames)
    varying = stats.std > 1e-3
    np.testing.assert_allclose(normalized.mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(normalized.std(0)[varying], 1.0, atol=1e-3)


def test_learning_rate_warms_up_linearly_then_follows_the_cosine():
    optim = OptimConfig(learning_rate=1.0, warmup_steps=4, steps=14, final_lr_fraction=0.1)
    assert [learning_rate(s, optim) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert learning_rate(9, optim) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert learning_rate(14, optim) == pytest.approx(0.1)
    assert learning_rate(9, dataclasses.replace(optim, cosine_decay=False)) == 1.0


# ---------------------------------------------------------------------------------------------
# training


def test_a_tiny_model_overfits_one_clip(tmp_path):
    folder = write_toy_clips(tmp_path / "one", 1, 16, 1, seed=4)
    path = make_config(
        tmp_path, "overfit", [{"kind": "clips_npz", "path": str(folder)}], mirror=False,
        optim={"batch_size": 8, "steps": 300, "learning_rate": 3e-3, "warmup_steps": 10, "ema_decay": 0.0},
        conditioning={"text_dropout": 0.0, "scene_dropout": 0.0}, checkpoint={"every": 300, "log_every": 20},
    )
    config = load_train_config(path)
    weights = train(config)
    losses = [r["loss"] for r in MetricsLog(config.output / "metrics.jsonl").read()]
    assert len(losses) == 15 and losses[-1] < 0.05 * losses[0], losses

    # DDIM (20 steps) from the checkpoint's network lands on the clip; an untrained one does not.
    meta, arrays = load_checkpoint_files(weights)
    stats = NormalizationStats(arrays.stats_mean, arrays.stats_std)
    clip = read_clips_npz(folder, 20.0, REST)[0]
    target = torch.from_numpy(stats.normalize(clip.features)).float()[None]  # (1, 1, 16, 264)
    text = build_text_encoder(config.text).encode(list(clip.texts))
    cond = Conditioning(
        text=text, text_mask=torch.tensor([True]), roles=role_ids(clip.roles)[None], person_ids=torch.tensor([[1]]),
        person_mask=torch.tensor([[True]]), frame_mask=torch.ones(1, 16, dtype=torch.bool),
    )
    generator = torch.Generator().manual_seed(0)
    errors, joint_errors_m = {}, {}
    for name, model in (("trained", build_denoiser(meta, arrays)), ("untrained", _untrained(meta))):
        noise = torch.randn(target.shape, generator=generator)
        sample = sample_ddim(unguided(model, cond), noise, 20, generator=generator, schedule=cosine_schedule(1000))
        errors[name] = float((sample - target).abs().mean())  # normalised units (unit std per feature)
        joints = stats.denormalize(sample[0, 0].double().numpy())[:, :66].reshape(16, 22, 3)
        truth = clip.features[0, :, :66].reshape(16, 22, 3)
        joint_errors_m[name] = float(np.linalg.norm(joints - truth, axis=-1).mean())
    assert errors["trained"] < 0.12 and errors["untrained"] > 0.5, errors
    assert joint_errors_m["trained"] < 0.03 and joint_errors_m["untrained"] > 0.1, joint_errors_m


def _untrained(meta, seed: int = 0):
    """The network of ``meta`` with the initial weights a run of config seed ``seed`` starts from."""
    from addon.core.diffusion.denoiser import DenoiserConfig, InteractionDenoiser
    from addon.core.train.randomness import stream_seed

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, "init"))
        return InteractionDenoiser(DenoiserConfig.from_dict(meta.network)).eval()


class Crash(Exception):
    pass


def test_resume_after_a_crash_is_bit_exact(tmp_path, clip_folder):
    extra = dict(network={"preset": "tiny", "dropout": 0.1})  # network dropout: reseeded per step
    straight = load_train_config(make_config(tmp_path, "straight", data_tables(clip_folder), **extra))
    resumed = load_train_config(make_config(tmp_path, "resumed", data_tables(clip_folder), **extra))
    train(straight)

    def crash_at_7(p):
        if p.step == 7:  # after the checkpoint of step 5, mid logging window, past the log of step 6
            raise Crash()

    with pytest.raises(Crash):
        train(resumed, progress=crash_at_7)
    assert latest_checkpoint(resumed.output)[0] == 5
    assert MetricsLog(resumed.output / "metrics.jsonl").read()[-1]["step"] == 6
    seen = []
    last = train(resumed, progress=lambda p: seen.append(p.step))
    assert seen == [6, 7, 8, 9, 10, 11, 12] and last.name == "step_00000012.safetensors"

    a, b = tensors(straight.output / "checkpoints" / "step_00000012.safetensors"), tensors(last)
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    state_a = tensors(state_paths(straight.output / "checkpoints" / "step_00000012")[0])
    state_b = tensors(state_paths(resumed.output / "checkpoints" / "step_00000012")[0])
    for key in state_a:
        if key.startswith("optimizer."):
            assert torch.equal(state_a[key], state_b[key]), key
    log_a = without_timing(MetricsLog(straight.output / "metrics.jsonl").read())
    log_b = without_timing(MetricsLog(resumed.output / "metrics.jsonl").read())
    assert [r["step"] for r in log_a] == [2, 4, 6, 8, 10, 12] and log_a == log_b
    assert log_a[-1]["loss"] < log_a[0]["loss"]
    # keep_last = 2
    assert sorted(p.name for p in (resumed.output / "checkpoints").glob("*.state.json")) == [
        "step_00000010.state.json", "step_00000012.state.json"]
    # A finished run resumes to nothing and returns its last checkpoint.
    assert train(resumed) == last


def test_resume_refuses_changed_run_settings(tmp_path, clip_folder):
    path = make_config(tmp_path, "run", data_tables(clip_folder), optim={"steps": 2}, checkpoint={"every": 2})
    train(load_train_config(path))
    changed = make_config(tmp_path, "run", data_tables(clip_folder), optim={"steps": 4, "learning_rate": 1e-3})
    with pytest.raises(ValueError, match=r"step_00000002\.state\.json: the run settings \['optim.learning_rate'\]"):
        train(load_train_config(changed))


def test_checkpoint_rebuilds_the_trained_network_and_state_files_hold_no_pickle(tmp_path, clip_folder):
    config = load_train_config(make_config(tmp_path, "ckpt", data_tables(clip_folder)))
    trainer = Trainer(config, DistContext(), resume=False)
    for _ in range(3):
        trainer.step()
    stem = trainer.save(elapsed_s=1.0)

    meta, arrays = load_checkpoint_files(stem.with_name(stem.name + ".safetensors"))
    batch = next(trainer.batches)
    generator = torch.Generator().manual_seed(0)
    cond = batch.conditioning(torch.randn(4, 16, generator=generator))
    x_t, t = torch.randn(batch.x0.shape, generator=generator), torch.tensor([0, 10, 500, 999])
    with torch.no_grad():
        live = trainer.model.eval()(x_t, t, cond)
        assert torch.equal(build_denoiser(meta, arrays, use_ema=False)(x_t, t, cond), live)
        ema_model = _untrained(meta)
        ema_model.load_state_dict(trainer.ema)
        assert torch.equal(build_denoiser(meta, arrays)(x_t, t, cond), ema_model(x_t, t, cond))
        assert not torch.equal(ema_model(x_t, t, cond), live)
    assert meta.text_encoder == trainer.text.encoder_id and meta.text_encoder.startswith("clip-config:")
    assert meta.training["steps"] == 3 and meta.training["seed"] == 7 and meta.training["date"]
    assert meta.training["data"] == [{"kind": "clips_npz", "weight": 1.5, "path": str(clip_folder)}]
    np.testing.assert_array_equal(arrays.rest_joints, REST.astype(np.float32))

    # The training state: safetensors + JSON only, no pickle (torch.save writes a zip of pickles).
    tensor_file, json_file = state_paths(stem)
    from safetensors import safe_open

    with safe_open(str(tensor_file), framework="pt") as handle:
        keys = list(handle.keys())
    assert any(k.startswith("optimizer.state.") for k in keys) and "rng.torch_cpu" in keys
    document = json.loads(json_file.read_text())
    assert document["step"] == 3 and document["format"] == "isynth-train-state"
    for file in (tensor_file, json_file):
        head = file.read_bytes()[:2]
        assert head[:1] != b"\x80" and not zipfile.is_zipfile(file)
    assert not [p for p in config.output.rglob("*") if p.suffix in (".pt", ".pth", ".pkl", ".pickle")]
    state = load_training_state(stem)
    assert state.step == 3 and len(state.optimizer["state"]) == len(list(trainer.model.parameters()))


def test_two_process_ddp_step_equals_one_process_on_the_whole_batch(tmp_path, clip_folder):
    # lr 1e-5 and no warm-up: Adam moves a weight by ~lr x g / (|g| + 1e-8), so where the exact
    # gradient is 0 (e.g. the key bias, which softmax ignores) two summation orders of rounding
    # noise (~1e-10) may differ by up to ~lr x 0.02; at this lr that stays below 1e-6, while a
    # weight with a real gradient moves by ~lr.
    common = dict(optim={"steps": 1, "batch_size": 4, "learning_rate": 1e-5, "warmup_steps": 0},
                  checkpoint={"every": 1, "log_every": 1})
    single = load_train_config(make_config(tmp_path, "single", data_tables(clip_folder), **common))
    ddp_path = make_config(tmp_path, "ddp", data_tables(clip_folder), **common)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(REPO_ROOT / "tools" / "train.py"), str(ddp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    train(single)

    stems = {name: tmp_path / name / "checkpoints" / "step_00000001" for name in ("single", "ddp")}
    meta, _ = load_checkpoint_files(stems["ddp"].with_suffix(".safetensors"))
    assert meta.training["world_size"] == 2
    a, b = (tensors(stem.with_suffix(".safetensors")) for stem in stems.values())
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6
    start = _untrained(meta, seed=7).state_dict()
    assert max(float((a[f"model.{k}"] - v).abs().max()) for k, v in start.items()) > 5e-6  # the step did move them
    # The gradients themselves: Adam's first moment after one step is 0.1 x the gradient.
    state_a, state_b = (tensors(state_paths(stem)[0]) for stem in stems.values())
    moments = [k for k in state_a if k.endswith(".exp_avg")]
    assert len(moments) == len(start)
    for key in moments:
        scale = float(state_a[key].abs().max())
        assert float((state_a[key] - state_b[key]).abs().max()) <= 1e-5 * scale + 1e-12, key
    log_single = MetricsLog(tmp_path / "single" / "metrics.jsonl").read()
    log_ddp = MetricsLog(tmp_path / "ddp" / "metrics.jsonl").read()
    assert len(log_single) == len(log_ddp) == 1
    for key in ("loss", "x0", "velocity", "bone_length", "foot_contact", "fk", "grad_norm"):
        assert log_ddp[0][key] == pytest.approx(log_single[0][key], rel=1e-6, abs=1e-9), key


def test_init_from_starts_a_new_run_from_a_checkpoints_weights_and_statistics(tmp_path, clip_folder):
    base = train(load_train_config(make_config(tmp_path, "base", data_tables(clip_folder), optim={"steps": 4},
                                               checkpoint={"every": 4})))
    tune_path = make_config(tmp_path, "tune", data_tables(clip_folder), init_from=str(base),
                            optim={"steps": 2, "learning_rate": 1e-3}, checkpoint={"every": 2})
    config = load_train_config(tune_path)
    assert config.init_from == base
    trainer = Trainer(config, DistContext(), resume=False)
    meta, arrays = load_checkpoint_files(base)
    assert trainer.step_index == 0
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, arrays.ema[key]), key  # the base run's EMA weights
    np.testing.assert_array_equal(trainer.stats.mean, arrays.stats_mean)
    last = train(config)
    tuned_meta, _ = load_checkpoint_files(last)
    assert tuned_meta.training["steps"] == 2
    assert meta.training["init_from"] is None
    assert tuned_meta.training["init_from"] == {
        "path": base.name, "training": {k: v for k, v in meta.training.items() if k != "init_from"}}
    # A resumed fine-tune keeps that provenance; a network that does not fit is refused up front.
    assert train(config) == last
    wrong = make_config(tmp_path, "wrong", data_tables(clip_folder), init_from=str(base),
                        network={"preset": "tiny", "layers": 3})
    with pytest.raises(ValueError, match=r"wrong\.toml: key 'init_from' .* network differs"):
        Trainer(load_train_config(wrong), DistContext(), resume=False)
