"""What the denoiser is conditioned on: text, roles, person ids, padding masks and scene point groups.

Thesis section 5.5: each person gets a learned ID embedding drawn WITHOUT replacement (so the model
cannot rely on a fixed person order) and a learned role (class) embedding; the text embedding is
prepended as a token; object point clouds are grouped in clusters of 64 points, one token each.
The grouping is Point-BERT's (anchors, section 7): farthest-point-sampled centres, the 64 nearest
points of each centre relative to it, and a shared per-point MLP with max-pool, so a token does
not depend on the order of the points inside its group.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..motion.motion import ROLES as _MOTION_ROLES

ROLES: tuple[str, ...] = tuple(_MOTION_ROLES)  # ("staff", "patient", "person"); index = role id
GROUP_SIZE = 64  # points per scene group (thesis 5.5)


def role_ids(roles: Sequence[str]) -> Tensor:
    """Role names -> (P,) int64 indices into ROLES; an unknown name raises ValueError."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; expected one of {ROLES}")
    return torch.tensor([ROLES.index(r) for r in roles], dtype=torch.int64)


def draw_person_ids(num_persons: int, max_persons: int, generator: torch.Generator) -> Tensor:
    """(num_persons,) int64 distinct ids from range(max_persons), drawn without replacement."""
    if not 0 <= num_persons <= max_persons:
        raise ValueError(f"need 0 <= num_persons <= max_persons, got {num_persons} and {max_persons}")
    return torch.randperm(max_persons, generator=generator, device=generator.device)[:num_persons].cpu()


# --- scene point groups ----------------------------------------------------------------------


def farthest_point_sample(points: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """Indices (k,) int64 of k points spread over ``points`` (N, 3), metres.

    Starts at a point drawn from ``generator``, then repeatedly takes the point farthest from all
    chosen so far (ties: the lowest index). Deterministic for a given generator state.
    """
    n = points.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"farthest_point_sample needs 1 <= k <= N, got k={k}, N={n}")
    chosen = torch.empty(k, dtype=torch.int64)
    current = int(torch.randint(n, (1,), generator=generator, device=generator.device).item())
    nearest_sq = torch.full((n,), float("inf"), dtype=points.dtype, device=points.device)
    for i in range(k):
        chosen[i] = current
        nearest_sq = torch.minimum(nearest_sq, ((points - points[current]) ** 2).sum(-1))
        current = int(nearest_sq.argmax().item())
    return chosen.to(points.device)


def group_points(points: Tensor, centres: Tensor, group_size: int = GROUP_SIZE) -> Tensor:
    """The group_size nearest points of each centre, relative to it: (k, group_size, 3) metres.

    points: (N, 3); centres: (k, 3). With N < group_size the N neighbours repeat cyclically,
    which the max-pooling SceneEncoder cannot tell from the plain set.
    """
    count = min(group_size, points.shape[0])
    neighbours = torch.cdist(centres, points).topk(count, dim=1, largest=False).indices  # (k, count)
    neighbours = neighbours[:, torch.arange(group_size, device=points.device) % count]
    return points[neighbours] - centres[:, None, :]


@dataclass(frozen=True)
class SceneGroups:
    """One scene as point groups. points: (S, G, 3) metres relative to centres; centres: (S, 3) metres."""

    points: Tensor
    centres: Tensor


def scene_tokens(
    points: Tensor, num_groups: int, generator: torch.Generator, group_size: int = GROUP_SIZE
) -> SceneGroups:
    """A scene point cloud (N, 3), metres, Z-up -> min(num_groups, N) FPS groups of group_size points."""
    if points.ndim != 2 or points.shape[1] != 3 or points.shape[0] == 0:
        raise ValueError(f"scene points must be (N>0, 3), got {tuple(points.shape)}")
    centre_idx = farthest_point_sample(points, min(num_groups, points.shape[0]), generator)
    centres = points[centre_idx]
    return SceneGroups(points=group_points(points, centres, group_size), centres=centres)


class SceneEncoder(nn.Module):
    """Point groups -> one d_model token each: shared PointNet on the group + MLP of its centre.

    The per-point MLP runs on each point alone and max-pool reduces over the group, so a token is
    invariant to the order of points in its group; the centre embedding says where the group is.
    """

    def __init__(self, d_model: int, hidden: int = 128) -> None:
        super().__init__()
        self.point_mlp = nn.Sequential(
            nn.Linear(3, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden)
        )
        self.group_proj = nn.Linear(hidden, d_model)
        self.centre_mlp = nn.Sequential(nn.Linear(3, d_model), nn.GELU(), nn.Linear(d_model, d_model))

    def forward(self, points: Tensor, centres: Tensor) -> Tensor:
        """points: (..., S, G, 3) centre-relative metres; centres: (..., S, 3) -> (..., S, d_model)."""
        pooled = self.point_mlp(points).amax(dim=-2)  # (..., S, hidden)
        return self.group_proj(pooled) + self.centre_mlp(centres)


# --- the condition of a batch ----------------------------------------------------------------


# eq=False: a generated __eq__ would compare tensors with ==, whose truth value is ambiguous.
@dataclass(eq=False)
class Conditioning:
    """Everything but x_t and t that one denoiser batch sees. B batch, P persons, T frames, S groups.

    text: (B, E) float32 unit text embeddings, or None (= no text for any row).
    text_mask: (B,) bool, False = this row is unconditional (text dropped / absent).
    roles: (B, P) int64 indices into ROLES.
    person_ids: (B, P) int64 ID-embedding indices, distinct within a row.
    person_mask: (B, P) bool, True = a real person (False = padding).
    frame_mask: (B, T) bool, True = a real frame (the clip is shorter than T otherwise).
    scene_points: (B, S, G, 3) metres relative to centres, or None; scene_centres: (B, S, 3)
    metres; scene_mask: (B, S) bool, False = padding or a dropped scene.
    """

    text: Tensor | None
    text_mask: Tensor
    roles: Tensor
    person_ids: Tensor
    person_mask: Tensor
    frame_mask: Tensor
    scene_points: Tensor | None = None
    scene_centres: Tensor | None = None
    scene_mask: Tensor | None = None

    def __post_init__(self) -> None:
        b, p = self.roles.shape
        expect = {"text_mask": (b,), "person_ids": (b, p), "person_mask": (b, p)}
        for name, shape in expect.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"Conditioning.{name}: expected shape {shape}, got {got}")
        if self.frame_mask.ndim != 2 or self.frame_mask.shape[0] != b:
            got = tuple(self.frame_mask.shape)
            raise ValueError(f"Conditioning.frame_mask: expected (B={b}, T), got {got}")
        if self.text is not None and (self.text.ndim != 2 or self.text.shape[0] != b):
            raise ValueError(f"Conditioning.text: expected (B={b}, E), got {tuple(self.text.shape)}")
        scene = (self.scene_points, self.scene_centres, self.scene_mask)
        if any(s is None for s in scene) != all(s is None for s in scene):
            raise ValueError("Conditioning: scene_points, scene_centres and scene_mask go together")
        if self.scene_points is not None:
            s = self.scene_mask.shape[1]
            if self.scene_points.shape[:2] != (b, s) or self.scene_centres.shape != (b, s, 3):
                raise ValueError("Conditioning: scene_points (B, S, G, 3), scene_centres (B, S, 3) and "
                                 f"scene_mask (B, S) disagree: {tuple(self.scene_points.shape)}, "
                                 f"{tuple(self.scene_centres.shape)}, {tuple(self.scene_mask.shape)}")

    @property
    def batch_size(self) -> int:
        return self.roles.shape[0]

    @property
    def num_persons(self) -> int:
        return self.roles.shape[1]

    @property
    def num_frames(self) -> int:
        return self.frame_mask.shape[1]

    @property
    def pose_mask(self) -> Tensor:
        """(B, P, T) bool: a real frame of a real person."""
        return self.person_mask[:, :, None] & self.frame_mask[:, None, :]

    def to(self, device: torch.device | str) -> Conditioning:
        """A copy with every tensor on ``device``."""
        moved = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return Conditioning(**{k: None if v is None else v.to(device) for k, v in moved.items()})

    def cat(self, other: Conditioning) -> Conditioning:
        """self's rows then other's, every field along batch (one forward for cond + uncond).

        Persons and frames must agree. A missing text or scene on one side becomes zeros with a
        False mask; scenes with different S are padded to the larger S with masked groups.
        """
        if (self.num_persons, self.num_frames) != (other.num_persons, other.num_frames):
            raise ValueError(
                f"Conditioning.cat: (P, T) differ: {(self.num_persons, self.num_frames)} vs "
                f"{(other.num_persons, other.num_frames)}"
            )
        a, b = _with_matching_optionals(self, other)
        fields = {}
        for f in dataclasses.fields(self):
            first, second = getattr(a, f.name), getattr(b, f.name)
            fields[f.name] = None if first is None else torch.cat([first, second])
        return Conditioning(**fields)

    def drop_text(self, mask: Tensor) -> Conditioning:
        """Rows where mask (B,) is True lose their text (mask False, embedding zeroed)."""
        keep = self.text_mask & ~mask
        text = None if self.text is None else self.text * keep[:, None].to(self.text.dtype)
        return dataclasses.replace(self, text=text, text_mask=keep)

    def drop_scene(self, mask: Tensor) -> Conditioning:
        """Rows where mask (B,) is True lose every scene group (scene_mask False)."""
        if self.scene_mask is None:
            return self
        return dataclasses.replace(self, scene_mask=self.scene_mask & ~mask[:, None])

    def unconditional(self, drop_scene: bool = False) -> Conditioning:
        """The same batch without text (and without scene if drop_scene); persons and masks stay."""
        every_row = torch.ones(self.batch_size, dtype=torch.bool, device=self.text_mask.device)
        uncond = self.drop_text(every_row)
        return uncond.drop_scene(every_row) if drop_scene else uncond


def _with_matching_optionals(a: Conditioning, b: Conditioning) -> tuple[Conditioning, Conditioning]:
    """a and b with text and scene either both None or both tensors of equal trailing shape."""
    if (a.text is None) != (b.text is None):
        ref = a.text if a.text is not None else b.text

        def with_text(c: Conditioning) -> Conditioning:
            zeros = ref.new_zeros(c.batch_size, ref.shape[1])
            return c if c.text is not None else dataclasses.replace(c, text=zeros)

        a, b = with_text(a), with_text(b)
    if a.scene_mask is None and b.scene_mask is None:
        return a, b
    ref = a if a.scene_mask is not None else b
    size = max(c.scene_mask.shape[1] for c in (a, b) if c.scene_mask is not None)
    return _pad_scene(a, ref, size), _pad_scene(b, ref, size)


def _pad_scene(c: Conditioning, ref: Conditioning, size: int) -> Conditioning:
    """c with S = size scene groups: missing groups are zeros with a False mask (shapes from ref)."""
    if c.scene_mask is None:
        g = ref.scene_points.shape[2]
        points = ref.scene_points.new_zeros(c.batch_size, 0, g, 3)
        centres = ref.scene_centres.new_zeros(c.batch_size, 0, 3)
        mask = ref.scene_mask.new_zeros(c.batch_size, 0)
    else:
        points, centres, mask = c.scene_points, c.scene_centres, c.scene_mask
    extra = size - mask.shape[1]
    return dataclasses.replace(
        c,
        scene_points=F.pad(points, (0, 0, 0, 0, 0, extra)),
        scene_centres=F.pad(centres, (0, 0, 0, extra)),
        scene_mask=F.pad(mask, (0, extra), value=False),
    )


def build_conditioning(
    roles: Sequence[Sequence[str]],
    lengths: Sequence[int],
    num_frames: int,
    max_persons: int,
    generator: torch.Generator,
    text: Tensor | None = None,
    scenes: Sequence[SceneGroups | None] | None = None,
) -> Conditioning:
    """A Conditioning for B clips, padded to the most persons of any row and to num_frames.

    roles: per row, one role name per person (1..max_persons). lengths: per row, real frames.
    text: (B, E) embeddings or None. scenes: per row a SceneGroups or None, padded to the
    largest S. Person ids are drawn per row without replacement from ``generator``.
    """
    b = len(roles)
    counts = [len(lengths), b if text is None else text.shape[0], b if scenes is None else len(scenes)]
    if counts != [b, b, b]:
        raise ValueError("build_conditioning: roles, lengths, text and scenes need one entry per row")
    p = max(len(r) for r in roles)
    ids = torch.stack([draw_person_ids(p, max_persons, generator) for _ in range(b)])
    role_rows = [F.pad(role_ids(r), (0, p - len(r)), value=ROLES.index("person")) for r in roles]
    person_mask = torch.arange(p)[None, :] < torch.tensor([len(r) for r in roles])[:, None]
    frame_mask = torch.arange(num_frames)[None, :] < torch.tensor(list(lengths))[:, None]
    cond = Conditioning(
        text=text,
        text_mask=torch.full((b,), text is not None),
        roles=torch.stack(role_rows),
        person_ids=ids,
        person_mask=person_mask,
        frame_mask=frame_mask,
    )
    if scenes is None or all(s is None for s in scenes):
        return cond
    present = [s for s in scenes if s is not None]
    size, g = max(s.centres.shape[0] for s in present), present[0].points.shape[1]
    points = present[0].points.new_zeros(b, size, g, 3)
    centres = present[0].centres.new_zeros(b, size, 3)
    mask = torch.zeros(b, size, dtype=torch.bool)
    for row, s in enumerate(scenes):
        if s is not None:
            n = s.centres.shape[0]
            points[row, :n], centres[row, :n], mask[row, :n] = s.points, s.centres, True
    return dataclasses.replace(cond, scene_points=points, scene_centres=centres, scene_mask=mask)
