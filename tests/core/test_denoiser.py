"""The interaction denoiser and its conditioning, checked by value with fixed generators.

Conditioning: person ids without replacement, farthest-point sampling, point groups and the
order-invariant scene encoder, batch concatenation. Denoiser: masks, person equivariance,
text conditioning, batched guidance, gradients, a short fit.
"""

import dataclasses
import itertools
import math

import pytest
import torch

from addon.core.diffusion.conditioning import (
    ROLES,
    Conditioning,
    SceneEncoder,
    build_conditioning,
    draw_person_ids,
    farthest_point_sample,
    group_points,
    role_ids,
    scene_tokens,
)
from addon.core.diffusion.denoiser import (
    FEATURE_DIM,
    DenoiserConfig,
    InteractionDenoiser,
    default_config,
    sinusoidal_encoding,
    tiny_config,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_net(config: DenoiserConfig | None = None, seed: int = 0) -> InteractionDenoiser:
    # nn.Module init draws from the global RNG; fork it so tests never disturb each other.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return InteractionDenoiser(config or tiny_config()).eval()


def make_batch(net, roles, lengths, frames, seed=1, scene=True, text=True):
    g = gen(seed)
    cfg = net.config
    b = len(roles)
    scenes = [scene_tokens(torch.rand(300, 3, generator=g) * 3, 6 + 2 * i, g) for i in range(b)] if scene else None
    text_emb = torch.nn.functional.normalize(torch.randn(b, cfg.text_dim, generator=g), dim=-1) if text else None
    cond = build_conditioning(roles, lengths, frames, cfg.max_persons, g, text=text_emb, scenes=scenes)
    x = torch.randn(b, cond.num_persons, frames, cfg.feature_dim, generator=g)
    t = torch.randint(0, 1000, (b,), generator=g)
    return x, t, cond


# --- conditioning ----------------------------------------------------------------------------


def test_roles_and_role_ids():
    assert ROLES == ("staff", "patient", "person")
    assert role_ids(["patient", "staff", "person", "staff"]).tolist() == [1, 0, 2, 0]
    assert role_ids(["staff"]).dtype == torch.int64
    with pytest.raises(ValueError, match="nurse"):
        role_ids(["staff", "nurse"])


def test_person_ids_are_drawn_without_replacement_and_cover_every_order():
    g = gen(3)
    seen = set()
    for _ in range(2000):
        ids = draw_person_ids(3, 4, g)
        assert ids.dtype == torch.int64 and ids.shape == (3,)
        assert len(set(ids.tolist())) == 3 and all(0 <= i < 4 for i in ids.tolist())
        seen.add(tuple(ids.tolist()))
    assert seen == set(itertools.permutations(range(4), 3))  # all 24 ordered draws occur
    full = {tuple(draw_person_ids(4, 4, g).tolist()) for _ in range(2000)}
    assert full == set(itertools.permutations(range(4)))
    assert torch.equal(draw_person_ids(2, 4, gen(9)), draw_person_ids(2, 4, gen(9)))
    with pytest.raises(ValueError):
        draw_person_ids(5, 4, g)


def test_farthest_point_sample_follows_its_definition_on_a_line():
    points = torch.stack([torch.arange(11.0), torch.zeros(11), torch.zeros(11)], dim=1)
    starts = set()
    for seed in range(20):
        first, second, third = farthest_point_sample(points, 3, gen(seed)).tolist()
        starts.add(first)
        assert second == (0 if first >= 5 else 10)  # the farther end; a tie (5) takes the lower index
        spacing = [min(abs(i - first), abs(i - second)) for i in range(11)]
        assert third == spacing.index(max(spacing))
    assert len(starts) > 3  # the start really comes from the generator


def _covering_radius(points, idx):
    return torch.cdist(points, points[idx]).min(dim=1).values.max().item()


def _min_spacing(points, idx):
    d = torch.cdist(points[idx], points[idx])
    return d[~torch.eye(len(idx), dtype=torch.bool)].min().item()


def test_farthest_point_sample_spreads_better_than_random_and_is_deterministic():
    g = gen(5)
    # A dense cluster plus a sparse background, where random picks crowd into the cluster.
    points = torch.cat([torch.randn(1500, 3, generator=g) * 0.1, torch.rand(500, 3, generator=g) * 4 - 2])
    k = 24
    fps = farthest_point_sample(points, k, gen(1))
    assert torch.equal(fps, farthest_point_sample(points, k, gen(1)))
    assert len(set(fps.tolist())) == k
    randoms = [torch.randperm(len(points), generator=g)[:k] for _ in range(20)]
    best_random_cover = min(_covering_radius(points, r) for r in randoms)
    best_random_spacing = max(_min_spacing(points, r) for r in randoms)
    assert _covering_radius(points, fps) < 0.8 * best_random_cover
    assert _min_spacing(points, fps) > 1.5 * best_random_spacing


def test_group_points_are_the_nearest_neighbours_relative_to_the_centre():
    g = gen(2)
    points = torch.rand(400, 3, generator=g)
    centres = points[farthest_point_sample(points, 5, g)]
    groups = group_points(points, centres, 64)
    assert groups.shape == (5, 64, 3)
    for c in range(5):
        absolute = groups[c] + centres[c]
        inside = (absolute[:, None, :] - points[None]).abs().sum(-1).min(dim=0).values < 1e-6  # (N,)
        assert inside.sum() == 64
        dist = (points - centres[c]).norm(dim=1)
        assert dist[inside].max() <= dist[~inside].min() + 1e-6
        assert groups[c].norm(dim=1).min() < 1e-6  # the centre itself is a point of its group
    few = group_points(points[:10], points[:2], 64)  # fewer points than a group: cyclic repeats
    assert few.shape == (2, 64, 3) and torch.equal(few[:, :10], few[:, 10:20])


def test_scene_encoder_ignores_point_order_within_a_group_but_not_the_points():
    g = gen(4)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        encoder = SceneEncoder(d_model=32, hidden=16)
    groups = scene_tokens(torch.rand(600, 3, generator=g) * 2, 8, g)
    tokens = encoder(groups.points, groups.centres)
    assert tokens.shape == (8, 32)
    order = torch.stack([torch.randperm(64, generator=g) for _ in range(8)])  # per-group permutation
    shuffled = torch.gather(groups.points, 1, order[..., None].expand(-1, -1, 3))
    assert not torch.equal(shuffled, groups.points)
    assert (encoder(shuffled, groups.centres) - tokens).abs().max() < 1e-6
    moved = groups.points.clone()
    moved[3, 10] += 0.5
    changed = (encoder(moved, groups.centres) - tokens).abs().amax(dim=1)
    assert changed[3] > 1e-4 and changed[torch.arange(8) != 3].max() == 0
    shifted = (encoder(groups.points, groups.centres + 0.3) - tokens).abs().max()
    assert shifted > 1e-4


def test_scene_tokens_are_deterministic_for_a_generator():
    points = torch.rand(1000, 3, generator=gen(0))
    a, b = scene_tokens(points, 16, gen(7)), scene_tokens(points, 16, gen(7))
    assert torch.equal(a.points, b.points) and torch.equal(a.centres, b.centres)
    assert a.points.shape == (16, 64, 3) and a.centres.shape == (16, 3)
    assert scene_tokens(points[:5], 16, gen(7)).centres.shape == (5, 3)  # at most N groups


def test_conditioning_cat_concatenates_every_field_along_batch():
    net = make_net()
    _, _, a = make_batch(net, [["staff", "patient"], ["person"]], [10, 7], 10, seed=1)
    _, _, b = make_batch(net, [["patient", "person"]], [4], 10, seed=2, scene=False)
    both = a.cat(b)
    assert both.batch_size == 3
    for field in dataclasses.fields(Conditioning):
        value, first = getattr(both, field.name), getattr(a, field.name)
        assert value is not None and value.shape[0] == 3, field.name
        assert torch.equal(value[:2, : first.shape[1]] if first.ndim > 1 else value[:2], first), field.name
    for name in ("text", "text_mask", "roles", "person_ids", "person_mask", "frame_mask"):
        assert torch.equal(getattr(both, name)[2:], getattr(b, name)), name
    # b had no scene: zeros with a False mask; a's second row had fewer groups: padded, masked.
    assert not both.scene_mask[2].any() and both.scene_points[2].abs().sum() == 0
    assert both.scene_mask[0].sum() == 6 and both.scene_mask[1].sum() == 8
    # text missing on one side becomes zero rows with a False mask
    c = b.cat(dataclasses.replace(b, text=None, text_mask=torch.zeros(1, dtype=torch.bool)))
    assert c.text.shape == (2, net.config.text_dim) and c.text[1].abs().sum() == 0
    assert c.text_mask.tolist() == [True, False]
    with pytest.raises(ValueError, match="differ"):
        a.cat(make_batch(net, [["staff"]], [5], 5)[2])


def test_drop_text_and_unconditional():
    net = make_net()
    _, _, cond = make_batch(net, [["staff"], ["patient"], ["person"]], [5, 5, 5], 5)
    dropped = cond.drop_text(torch.tensor([False, True, False]))
    assert dropped.text_mask.tolist() == [True, False, True]
    assert dropped.text[1].abs().sum() == 0 and torch.equal(dropped.text[0], cond.text[0])
    uncond = cond.unconditional()
    assert not uncond.text_mask.any() and torch.equal(uncond.scene_mask, cond.scene_mask)
    assert not cond.unconditional(drop_scene=True).scene_mask.any()
    assert torch.equal(uncond.person_ids, cond.person_ids) and torch.equal(uncond.roles, cond.roles)


# --- denoiser --------------------------------------------------------------------------------


def test_feature_layout_and_config_round_trip():
    assert FEATURE_DIM == 264 == DenoiserConfig().feature_dim
    cfg = tiny_config(layers=3)
    assert DenoiserConfig.from_dict(dataclasses.asdict(cfg)) == cfg
    with pytest.raises(ValueError, match="unknown"):
        DenoiserConfig.from_dict({**dataclasses.asdict(cfg), "width": 3})
    with pytest.raises(ValueError):
        tiny_config(d_model=30, heads=4)


def test_sinusoidal_encoding_follows_eq_3_24():
    enc = sinusoidal_encoding(torch.tensor([0, 1, 7]), 8)
    assert enc.shape == (3, 8)
    assert torch.equal(enc[0], torch.tensor([0.0, 1.0] * 4))
    for i in range(4):
        angle = 7 / 10000 ** (2 * i / 8)
        assert enc[2, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert enc[2, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_output_shape_and_zero_padding():
    net = make_net()
    x, t, cond = make_batch(net, [["staff", "patient", "person"], ["patient"]], [12, 5], 12)
    out = net(x, t, cond)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out[~cond.pose_mask].abs().sum() == 0
    assert out[cond.pose_mask].abs().min() > 0
    default = make_net(default_config())
    x, t, cond = make_batch(default, [["staff", "patient"]], [20], 20)
    assert default(x, t, cond).shape == (1, 2, 20, 264)


def test_padded_persons_frames_and_groups_do_not_affect_valid_outputs():
    net = make_net()
    x, t, cond = make_batch(net, [["staff", "patient", "person"], ["patient"]], [12, 5], 12)
    base = net(x, t, cond)
    valid = cond.pose_mask
    g = gen(99)
    x2 = torch.where(valid[..., None], x, torch.randn(x.shape, generator=g) * 100)
    roles2 = torch.where(cond.person_mask, cond.roles, 0)  # padded person becomes "staff"
    centres2 = torch.where(cond.scene_mask[..., None], cond.scene_centres, torch.full_like(cond.scene_centres, 9.0))
    points2 = torch.where(cond.scene_mask[..., None, None], cond.scene_points, torch.ones_like(cond.scene_points))
    cond2 = dataclasses.replace(cond, roles=roles2, scene_centres=centres2, scene_points=points2)
    changed = net(x2, t, cond2)
    assert (changed[valid] - base[valid]).abs().max() < 1e-5
    # Control: the same change to a VALID frame does move the other valid outputs.
    x3 = x.clone()
    x3[1, 0, 2] += 5.0
    moved = net(x3, t, cond)
    others = valid.clone()
    others[1, 0, 2] = False
    assert (moved[others] - base[others]).abs().max() > 1e-4


def test_permuting_persons_with_their_ids_and_roles_permutes_the_output():
    net = make_net()
    x, t, cond = make_batch(net, [["staff", "patient", "person"], ["patient", "staff"]], [10, 8], 10)
    perm = torch.tensor([2, 0, 1])
    permuted = dataclasses.replace(
        cond,
        roles=cond.roles[:, perm],
        person_ids=cond.person_ids[:, perm],
        person_mask=cond.person_mask[:, perm],
    )
    out = net(x, t, cond)
    out_perm = net(x[:, perm], t, permuted)
    assert (out_perm - out[:, perm]).abs().max() < 1e-5
    # The ids matter: the same persons with their ids swapped give another output.
    swapped = dataclasses.replace(cond, person_ids=cond.person_ids[:, perm])
    assert (net(x, t, swapped) - out).abs().max() > 1e-4


def test_text_changes_the_output_and_missing_text_equals_dropped_text():
    net = make_net()
    x, t, cond = make_batch(net, [["staff", "patient"], ["staff", "patient"]], [10, 10], 10)
    out = net(x, t, cond)
    uncond = net(x, t, cond.unconditional())
    assert (out - uncond).abs().amax(dim=(1, 2, 3)).min() > 1e-4
    no_text = dataclasses.replace(cond, text=None, text_mask=torch.zeros(2, dtype=torch.bool))
    assert torch.allclose(net(x, t, no_text), uncond, atol=1e-6)
    one_dropped = net(x, t, cond.drop_text(torch.tensor([False, True])))
    assert torch.allclose(one_dropped[0], out[0], atol=1e-6)
    assert torch.allclose(one_dropped[1], uncond[1], atol=1e-6)
    other_text = dataclasses.replace(cond, text=cond.text.flip(0))
    assert (net(x, t, other_text) - out).abs().max() > 1e-4


def test_one_batched_guidance_forward_equals_two_separate_forwards():
    net = make_net()
    x, t, cond = make_batch(net, [["staff", "patient"], ["patient"]], [9, 6], 9)
    batched = net(torch.cat([x, x]), torch.cat([t, t]), cond.cat(cond.unconditional()))
    assert torch.allclose(batched[:2], net(x, t, cond), atol=1e-5)
    assert torch.allclose(batched[2:], net(x, t, cond.unconditional()), atol=1e-5)


def test_step_changes_the_output():
    net = make_net()
    x, t, cond = make_batch(net, [["staff"]], [6], 6)
    assert (net(x, t, cond) - net(x, t + 300, cond)).abs().max() > 1e-4
    assert torch.allclose(net(x, t.to(torch.float64), cond), net(x, t, cond))


def test_gradients_reach_every_parameter():
    net = make_net().train()
    x, t, cond = make_batch(net, [["staff", "patient"], ["person"]], [8, 5], 8)
    cond = cond.drop_text(torch.tensor([False, True]))  # so the "no text" token is used too
    net(x, t, cond).square().mean().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().max() > 0, name


def test_ten_adam_steps_reduce_a_regression_loss():
    net = make_net(seed=3).train()
    x, t, cond = make_batch(net, [["staff", "patient"], ["person"]], [12, 8], 12, seed=5)
    target = torch.randn(x.shape, generator=gen(6)) * cond.pose_mask[..., None]
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(10):
        loss = (net(x, t, cond) - target).square().sum() / (cond.pose_mask.sum() * x.shape[-1])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))


def test_bad_shapes_are_refused():
    net = make_net()
    x, t, cond = make_batch(net, [["staff"]], [6], 6)
    with pytest.raises(ValueError, match="does not fit"):
        net(torch.zeros(1, 1, 6, 10), t, cond)
    with pytest.raises(ValueError, match="must match"):
        net(torch.cat([x, x]), torch.cat([t, t]), cond)
    with pytest.raises(ValueError, match="scene"):
        dataclasses.replace(cond, scene_mask=None)
