"""Builds the bundled stand-in body: a procedural model with SMPL's exact structure.

Real SMPL files are licensed and never ship, so the extension carries its own
body with the same arrays as an SMPL ``.pkl`` (``v_template``, ``shapedirs``,
``posedirs``, ``J_regressor``, ``weights``, ``f``, ``kintree_table``): every SMPL
consumer (smplx's ``lbs``, our skinning) runs it unchanged.

Frame: SMPL's template frame, metres, Y up, the body faces +Z, its left is +X;
rest pose is SMPL's T-pose. The build is deterministic: no randomness, and the
signed distance field that decides the mesh topology uses only +, *, / and
sqrt (correctly rounded everywhere), so every machine extracts the same mesh.

Pipeline (:func:`build_standin_arrays`):
  1. designed rest joints (:func:`designed_rest_joints`);
  2. a smooth-union signed distance field of round cones, ellipsoids and rounded
     boxes around the bones (:func:`body_sdf`), sampled on a grid symmetric in x;
  3. surface nets on a repaired (well-composed, one component, no cavities)
     occupancy, Taubin smoothing, exact mirror symmetrisation
     (:func:`build_template_mesh`): one closed genus-0 triangle mesh;
  4. linear-blend skin weights by bone heat diffused over the skin, cut to 4
     influences (:func:`blend_weights`, :func:`skin_weights`);
  5. ten documented linear shape directions (:func:`shape_directions`);
  6. a joint regressor: each joint a convex combination of the vertices around
     it (:func:`joint_regressor`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy import ndimage
from scipy.optimize import lsq_linear
from scipy.spatial import cKDTree

from ..skeleton import JOINT_INDEX, JOINT_NAMES, MIRROR, NUM_JOINTS, PARENTS
from .standin import FORMAT_VERSION, NUM_POSE_BASIS

FLOOR_Y = -1.22  # metres: the soles rest here in the template
GRID_SPACING = 0.0185  # metres; sets the vertex count (~1.5 * area / spacing^2)
_MIRROR_X = np.array([-1.0, 1.0, 1.0])

# ---------------------------------------------------------------------------
# 1. Designed rest joints
# ---------------------------------------------------------------------------

# Adult proportions (stature 1.72 m, soles at FLOOR_Y, head top at +0.50): hip
# centres 0.90 m above the floor, knees 0.49, ankles 0.08, shoulder joints 1.375,
# arm span ~ stature. Midline and left joints; right joints are their mirrors.
_DESIGNED = {
    "pelvis": (0.0, -0.23, 0.0),
    "left_hip": (0.085, -0.32, 0.0),
    "spine1": (0.0, -0.12, -0.015),
    "left_knee": (0.095, -0.73, 0.005),
    "spine2": (0.0, -0.01, -0.015),
    "left_ankle": (0.10, -1.14, -0.03),
    "spine3": (0.0, 0.07, -0.015),
    "left_foot": (0.115, -1.195, 0.10),
    "neck": (0.0, 0.25, -0.025),
    "left_collar": (0.075, 0.17, -0.02),
    "head": (0.0, 0.345, 0.0),
    "left_shoulder": (0.185, 0.155, -0.025),
    "left_elbow": (0.46, 0.15, -0.035),
    "left_wrist": (0.70, 0.15, -0.025),
    "left_hand": (0.785, 0.145, -0.025),
}
# Ends of the leaf bones (no child joint): toe tip, head top, mitt tip.
_LEAF_ENDS = {
    "left_foot": (0.12, -1.20, 0.18),
    "head": (0.0, 0.47, 0.02),
    "left_hand": (0.865, 0.145, -0.025),
}


def _mirrored(name: str, table: dict[str, tuple[float, float, float]]) -> np.ndarray:
    if name in table:
        return np.array(table[name], dtype=np.float64)
    return np.array(table[name.replace("right_", "left_")], dtype=np.float64) * _MIRROR_X


def designed_rest_joints() -> np.ndarray:
    """The 24 rest joints the body is designed around: (24, 3) float64, metres, Y-up, T-pose."""
    return np.stack([_mirrored(name, _DESIGNED) for name in JOINT_NAMES])


def bone_segments(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bone each joint drives, as a segment: (starts (24, 3), ends (24, 3)), metres.

    Joint j's skin weight moves the limb between j and its child (left_hip: the
    thigh). The pelvis drives the lower trunk down to the crotch, spine3 the upper
    chest up to the neck's base; leaf joints end at the toe tip, head top and mitt tip.
    """
    starts = joints.copy()
    ends = np.empty_like(joints)
    for j, name in enumerate(JOINT_NAMES):
        child = {"pelvis": "spine1", "spine3": "neck"}.get(name)
        kids = [k for k in range(NUM_JOINTS) if PARENTS[k] == j]
        if child is not None:
            ends[j] = joints[JOINT_INDEX[child]]
        elif kids:
            ends[j] = joints[kids[0]]
        else:
            ends[j] = _mirrored(name, _LEAF_ENDS)
    # The pelvis bone reaches down between the hips so the crotch follows the pelvis;
    # spine3's stops short of the neck joint, so the neck's own bone owns the neck.
    starts[0] = joints[0] + np.array([0.0, -0.12, 0.0])
    spine3, neck = JOINT_INDEX["spine3"], JOINT_INDEX["neck"]
    ends[spine3] = joints[spine3] + 0.7 * (joints[neck] - joints[spine3])
    return starts, ends


# ---------------------------------------------------------------------------
# 2. Signed distance field
# ---------------------------------------------------------------------------

# Primitives: (kind, parameters, blend), metres. ``blend`` is the smooth-union
# width with everything before it in the list (0: a hard union). Kinds:
#   "cone": round cone (a, ra, b, rb): a capsule whose radius goes ra -> rb;
#   "ellipsoid": (centre, radii), axis-aligned;
#   "box": (centre, half extents, rounding radius), axis-aligned.
# Trunk primitives off the midline get a mirror copy; limbs are given for the left
# side and mirrored whole.
_TRUNK = [
    ("ellipsoid", ((0.0, -0.26, 0.0), (0.158, 0.13, 0.112)), 0.0),  # pelvis bowl
    ("ellipsoid", ((0.068, -0.30, -0.052), (0.085, 0.095, 0.075)), 0.05),  # buttock
    ("ellipsoid", ((0.0, -0.08, 0.012), (0.138, 0.17, 0.112)), 0.07),  # abdomen / waist
    ("ellipsoid", ((0.0, 0.08, 0.0), (0.162, 0.17, 0.112)), 0.07),  # rib cage
    ("ellipsoid", ((0.06, 0.105, 0.04), (0.075, 0.065, 0.07)), 0.05),  # chest (pectoral)
    ("cone", ((0.0, 0.19, -0.03), 0.062, (0.185, 0.165, -0.025), 0.05), 0.06),  # shoulder girdle
    ("ellipsoid", ((0.19, 0.16, -0.022), (0.058, 0.058, 0.058)), 0.04),  # deltoid
    ("cone", ((0.0, 0.20, -0.03), 0.058, (0.0, 0.35, 0.0), 0.05), 0.05),  # neck
    ("ellipsoid", ((0.0, 0.40, -0.002), (0.078, 0.10, 0.095)), 0.04),  # skull
    ("ellipsoid", ((0.0, 0.365, 0.035), (0.062, 0.085, 0.075)), 0.03),  # face and jaw
    ("ellipsoid", ((0.0, 0.378, 0.108), (0.016, 0.026, 0.022)), 0.01),  # nose: shows the facing
]
_LEFT_ARM = [
    ("cone", ((0.185, 0.155, -0.025), 0.053, (0.46, 0.15, -0.035), 0.040), 0.0),  # upper arm
    ("cone", ((0.46, 0.15, -0.035), 0.040, (0.58, 0.15, -0.03), 0.039), 0.02),  # forearm (muscle)
    ("cone", ((0.58, 0.15, -0.03), 0.039, (0.70, 0.15, -0.025), 0.029), 0.02),  # forearm (wrist)
    ("box", ((0.785, 0.145, -0.025), (0.066, 0.006, 0.028), 0.018), 0.02),  # mitt
    ("cone", ((0.72, 0.14, 0.0), 0.021, (0.765, 0.136, 0.05), 0.018), 0.015),  # thumb
]
_LEFT_LEG = [
    ("cone", ((0.085, -0.30, 0.0), 0.088, (0.095, -0.73, 0.005), 0.052), 0.0),  # thigh
    ("cone", ((0.095, -0.73, 0.005), 0.052, (0.098, -0.86, -0.012), 0.054), 0.02),  # calf
    ("cone", ((0.098, -0.86, -0.012), 0.054, (0.10, -1.14, -0.03), 0.032), 0.02),  # shin to ankle
    ("cone", ((0.10, -1.14, -0.03), 0.034, (0.112, -1.185, 0.10), 0.030), 0.02),  # instep
    ("ellipsoid", ((0.108, -1.19, 0.06), (0.047, 0.040, 0.128)), 0.02),  # foot
    ("ellipsoid", ((0.10, -1.185, -0.045), (0.035, 0.037, 0.035)), 0.02),  # heel
]
_LIMB_JOIN_BLEND = 0.03  # metres: the fillet where a limb meets the trunk


def _sdf_cone(p: np.ndarray, a, ra: float, b, rb: float) -> np.ndarray:
    """Round cone, approximated as a capsule whose radius is interpolated along the axis."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ba = b - a
    pa = p - a
    t = np.clip((pa[:, 0] * ba[0] + pa[:, 1] * ba[1] + pa[:, 2] * ba[2]) / float(ba @ ba), 0.0, 1.0)
    d = pa - t[:, None] * ba
    return np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]) - (ra + t * (rb - ra))


def _sdf_ellipsoid(p: np.ndarray, centre, radii) -> np.ndarray:
    """Ellipsoid distance bound k0 (k0 - 1) / k1, k0 = |q / r|, k1 = |q / r^2| (exact on the surface)."""
    q = p - np.asarray(centre, dtype=np.float64)
    r = np.asarray(radii, dtype=np.float64)
    s0, s1 = q / r, q / (r * r)
    k0 = np.sqrt(s0[:, 0] * s0[:, 0] + s0[:, 1] * s0[:, 1] + s0[:, 2] * s0[:, 2])
    k1 = np.sqrt(s1[:, 0] * s1[:, 0] + s1[:, 1] * s1[:, 1] + s1[:, 2] * s1[:, 2])
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _sdf_box(p: np.ndarray, centre, half, rounding: float) -> np.ndarray:
    q = np.abs(p - np.asarray(centre, dtype=np.float64)) - np.asarray(half, dtype=np.float64)
    outside = np.maximum(q, 0.0)
    length = np.sqrt(outside[:, 0] ** 2 + outside[:, 1] ** 2 + outside[:, 2] ** 2)
    return length + np.minimum(q.max(axis=1), 0.0) - rounding


def _primitive(p: np.ndarray, kind: str, params: tuple, mirror: bool) -> np.ndarray:
    """Distance to one primitive; ``mirror`` evaluates its x -> -x copy."""
    if mirror:
        p = p * _MIRROR_X  # the mirror image of p against the left primitive
    if kind == "cone":
        return _sdf_cone(p, *params)
    if kind == "ellipsoid":
        return _sdf_ellipsoid(p, *params)
    return _sdf_box(p, *params)


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (blend width k, metres): fillets where two parts meet."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


def _chain_field(p: np.ndarray, parts: list, mirror: bool, with_lateral_copies: bool) -> np.ndarray:
    """Smooth union of a primitive list, each part blended into those before it."""
    field = None
    for kind, params, blend in parts:
        copies = [mirror] + ([True] if with_lateral_copies and _is_lateral(kind, params) else [])
        for copy in copies:
            d = _primitive(p, kind, params, copy)
            field = d if field is None else (smooth_min(field, d, blend) if blend > 0 else np.minimum(field, d))
    return field


def body_sdf(points: np.ndarray) -> np.ndarray:
    """Signed distance (approximate) to the body: (N, 3) metres -> (N,) metres, < 0 inside.

    Each limb is smooth-unioned with the trunk separately and the results are
    combined with a hard min: a left and a right limb never web together (no
    skin between the thighs), while every limb gets a fillet where it joins.
    """
    trunk = _chain_field(points, _TRUNK, mirror=False, with_lateral_copies=True)
    field = None
    for parts in (_LEFT_ARM, _LEFT_LEG):
        for mirror in (False, True):
            limb = _chain_field(points, parts, mirror, with_lateral_copies=False)
            joined = smooth_min(trunk, limb, _LIMB_JOIN_BLEND)
            field = joined if field is None else np.minimum(field, joined)
    # Flat soles: cut everything below the floor.
    return np.maximum(field, FLOOR_Y - points[:, 1])


def _is_lateral(kind: str, params: tuple) -> bool:
    """Whether a trunk primitive sits off the midline (and so needs its mirror copy)."""
    points = [params[0]] + ([params[2]] if kind == "cone" else [])
    return any(abs(point[0]) > 0 for point in points)


# ---------------------------------------------------------------------------
# 3. Surface extraction: repaired occupancy -> surface nets -> smoothing
# ---------------------------------------------------------------------------

_GRID_BOUNDS = ((-0.95, 0.95), (FLOOR_Y - 0.05, 0.56), (-0.20, 0.28))  # metres, x y z


def _grid_axes(spacing: float) -> list[np.ndarray]:
    """Sample coordinates per axis. x is symmetric about 0 (x_i = -x_{n-1-i} exactly)."""
    axes = []
    for axis, (low, high) in enumerate(_GRID_BOUNDS):
        n = int(np.ceil((high - low) / spacing)) + 1
        if axis == 0:
            axes.append((np.arange(n) - (n - 1) / 2.0) * spacing)
        else:
            axes.append(low + np.arange(n) * spacing)
    return axes


def _critical_fill(inside: np.ndarray) -> np.ndarray:
    """Samples to add so the occupancy has no critical 2x2 face or 2x2x2 cube configuration.

    A binary volume without these (``well-composed``, Latecki 2000) has a
    2-manifold boundary, which is what makes surface nets give a manifold mesh.
    Critical: a 2x2 face with only one diagonal pair inside ("checkerboard"); a
    2x2x2 cube with exactly two opposite corners inside, or exactly two outside.
    """
    fill = np.zeros_like(inside)
    c = inside
    # 1. Checkerboard faces, for the three face orientations.
    for a, b in ((0, 1), (0, 2), (1, 2)):
        s = [slice(None)] * 3

        def corner(da: int, db: int) -> tuple:
            index = list(s)
            index[a] = slice(da, c.shape[a] - 1 + da)
            index[b] = slice(db, c.shape[b] - 1 + db)
            return tuple(index)

        p00, p11, p10, p01 = c[corner(0, 0)], c[corner(1, 1)], c[corner(1, 0)], c[corner(0, 1)]
        bad = (p00 == p11) & (p10 == p01) & (p00 != p10)
        for da in (0, 1):
            for db in (0, 1):
                fill[corner(da, db)] |= bad
    # 2. Cubes whose only two inside (or only two outside) corners are antipodal.
    n = [c.shape[i] - 1 for i in range(3)]
    corners = {
        (dx, dy, dz): c[dx:dx + n[0], dy:dy + n[1], dz:dz + n[2]]
        for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)
    }
    count = sum(v.astype(np.int8) for v in corners.values())
    for (dx, dy, dz), value in corners.items():
        if dx == 1:
            continue  # each antipodal pair once
        opposite = corners[(1 - dx, 1 - dy, 1 - dz)]
        pair_in = value & opposite & (count == 2)
        pair_out = ~value & ~opposite & (count == 6)
        bad = pair_in | pair_out
        for (ex, ey, ez) in corners:
            fill[ex:ex + n[0], ey:ey + n[1], ez:ez + n[2]] |= bad
    return fill & ~inside


def repair_occupancy(inside: np.ndarray) -> np.ndarray:
    """One solid, no cavities, well-composed: (nx, ny, nz) bool -> same shape.

    Repeats until nothing changes: 1. fill critical configurations (this also
    joins parts that touch only along an edge or at a corner); 2. keep the largest
    6-connected solid; 3. fill cavities (outside regions that do not reach the
    grid border).
    """
    solid = inside.copy()
    for _ in range(50):
        previous = solid
        solid = solid | _critical_fill(solid)
        labels, count = ndimage.label(solid)
        if count > 1:
            sizes = np.bincount(labels.ravel())[1:]
            solid = labels == (np.argmax(sizes) + 1)
        solid = ndimage.binary_fill_holes(solid)
        if np.array_equal(solid, previous):
            return solid
    raise RuntimeError("occupancy repair did not converge")


def surface_nets(field: np.ndarray, inside: np.ndarray, axes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Naive surface nets: one vertex per cell the surface crosses, one quad per crossed grid edge.

    field: (nx, ny, nz) signed distances (metres); inside: the repaired occupancy
    (decides the topology; where it disagrees with the field's sign the crossing
    is pulled next to the flipped sample). The border samples must be outside.
    Returns (vertices (V, 3) float64 metres, quads (Q, 4) int64, counter-clockwise
    seen from outside).
    """
    spacing = axes[1][1] - axes[1][0]
    eps = 1e-3 * spacing
    value = np.where(inside, np.minimum(field, -eps), np.maximum(field, eps))
    origin = np.array([axes[0][0], axes[1][0], axes[2][0]])
    cell_shape = tuple(s - 1 for s in inside.shape)
    position_sum = np.zeros(cell_shape + (3,))
    crossing_count = np.zeros(cell_shape)
    index = np.indices(inside.shape).transpose(1, 2, 3, 0).astype(np.float64)
    quads = []
    cell_id = -np.ones(cell_shape, dtype=np.int64)
    # 1. Crossing point on every grid edge with a sign change, accumulated into its 4 cells.
    edges_per_axis = []
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        a, b = value[tuple(lo)], value[tuple(hi)]
        crossed = inside[tuple(lo)] != inside[tuple(hi)]
        t = np.where(crossed, a / np.where(crossed, a - b, 1.0), 0.0)
        point = index[tuple(lo)].copy()
        point[..., axis] += t
        edges_per_axis.append((crossed, inside[tuple(lo)]))
        others = [d for d in range(3) if d != axis]
        for d0 in (0, 1):
            for d1 in (0, 1):
                # The cell (with edge index i along axis) that holds this edge at offsets (-d0, -d1).
                src = [slice(None)] * 3
                dst = [slice(None)] * 3
                for other, delta in zip(others, (d0, d1)):
                    n_other = inside.shape[other]
                    src[other] = slice(delta, n_other - 1 + delta)
                    dst[other] = slice(0, n_other - 1)
                src_t = tuple(src)
                mask = crossed[src_t]
                position_sum[tuple(dst)] += np.where(mask[..., None], point[src_t], 0.0)
                crossing_count[tuple(dst)] += mask
    # 2. One vertex per crossed cell at the mean of its crossings.
    active = crossing_count > 0
    cell_id[active] = np.arange(int(active.sum()))
    vertices = origin + (position_sum[active] / crossing_count[active][:, None]) * spacing
    # 3. One quad per crossed edge, around it counter-clockwise seen from its positive end.
    for axis, (crossed, low_inside) in enumerate(edges_per_axis):
        u, w = (axis + 1) % 3, (axis + 2) % 3  # (u, w, axis) is right-handed
        i = np.argwhere(crossed)
        i = i[(i[:, u] > 0) & (i[:, w] > 0) & (i[:, u] < cell_shape[u]) & (i[:, w] < cell_shape[w])]
        ring = []
        for du, dw in ((-1, -1), (0, -1), (0, 0), (-1, 0)):
            c = i.copy()
            c[:, u] += du
            c[:, w] += dw
            ring.append(cell_id[c[:, 0], c[:, 1], c[:, 2]])
        quad = np.stack(ring, axis=1)
        # Normal points from inside to outside: +axis when the low end is inside.
        outward_positive = low_inside[i[:, 0], i[:, 1], i[:, 2]]
        quad[~outward_positive] = quad[~outward_positive][:, ::-1]
        quads.append(quad)
    return vertices, np.concatenate(quads)


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """Unique undirected edges (E, 2) int64, sorted, of polygons (F, k)."""
    k = faces.shape[1]
    pairs = np.concatenate([faces[:, [i, (i + 1) % k]] for i in range(k)])
    return np.unique(np.sort(pairs, axis=1), axis=0)


def _uniform_laplacian(n: int, edges: np.ndarray) -> sp.csr_matrix:
    """Row-normalised adjacency minus identity: (L v)_i = mean of neighbours - v_i."""
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return sp.diags(1.0 / degree) @ adjacency - sp.identity(n, format="csr")


def taubin_smooth(
    vertices: np.ndarray, edges: np.ndarray, iterations: int = 12, lam: float = 0.5, mu: float = -0.53
) -> np.ndarray:
    """Taubin's lambda|mu smoothing (low-pass, little shrinkage): (V, 3) -> (V, 3) metres."""
    laplacian = _uniform_laplacian(len(vertices), edges)
    v = vertices.copy()
    for _ in range(iterations):
        v = v + lam * (laplacian @ v)
        v = v + mu * (laplacian @ v)
    return v


def triangulate_quads(vertices: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Split each quad along its shorter diagonal: (Q, 4) -> (2Q, 3), orientation kept.

    Near-ties (a quad straddling the midline has mirror-image diagonals) go to
    a-c, so round-off on another machine cannot change the faces.
    """
    a, b, c, d = quads.T
    ac = np.linalg.norm(vertices[a] - vertices[c], axis=1)
    bd = np.linalg.norm(vertices[b] - vertices[d], axis=1)
    split_ac = ac <= bd + 1e-9
    first = np.where(split_ac[:, None], np.stack([a, b, c], 1), np.stack([a, b, d], 1))
    second = np.where(split_ac[:, None], np.stack([a, c, d], 1), np.stack([b, c, d], 1))
    return np.concatenate([first, second]).astype(np.int64)


def mirror_permutation(vertices: np.ndarray, tolerance: float) -> np.ndarray:
    """perm[i]: the vertex at vertex i's mirror image (x -> -x); (V,) int64.

    Raises ValueError when some vertex has no partner within ``tolerance`` metres.
    """
    distance, perm = cKDTree(vertices).query(vertices * _MIRROR_X)
    if distance.max() > tolerance or not np.array_equal(perm[perm], np.arange(len(vertices))):
        raise ValueError(f"mesh is not mirror-symmetric (worst partner {distance.max():.2e} m away)")
    return perm.astype(np.int64)


def build_template_mesh(spacing: float = GRID_SPACING) -> tuple[np.ndarray, np.ndarray]:
    """The template surface: (vertices (V, 3) float64 metres Y-up, faces (F, 3) int64 CCW from outside)."""
    # 1. Sample the field on the grid and make it exactly symmetric in x.
    axes = _grid_axes(spacing)
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    field = body_sdf(grid.reshape(-1, 3)).reshape(grid.shape[:3])
    field = 0.5 * (field + field[::-1])
    # 2. Occupancy with a manifold, genus-0-friendly boundary.
    inside = repair_occupancy(field < 0.0)
    # 3. Surface nets, smoothed on the quad mesh.
    vertices, quads = surface_nets(field, inside, axes)
    vertices = taubin_smooth(vertices, mesh_edges(quads))
    # 4. Exact mirror symmetry: average every vertex with its partner's mirror image
    #    (they differ by round-off only).
    perm = mirror_permutation(vertices, tolerance=1e-6)
    vertices = 0.5 * (vertices + vertices[perm] * _MIRROR_X)
    vertices[perm == np.arange(len(vertices)), 0] = 0.0
    # 5. Triangles.
    return vertices, triangulate_quads(vertices, quads)


# ---------------------------------------------------------------------------
# 4. Linear-blend skin weights
# ---------------------------------------------------------------------------


def segment_distances(points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from every point to every segment and the closest points.

    points: (N, 3); starts, ends: (B, 3), metres.
    Returns (distances (N, B) metres, closest points (N, B, 3) metres).
    """
    axis = ends - starts  # (B, 3)
    rel = points[:, None, :] - starts[None]  # (N, B, 3)
    t = np.clip((rel * axis).sum(-1) / (axis * axis).sum(-1), 0.0, 1.0)
    closest = starts[None] + t[..., None] * axis[None]
    return np.linalg.norm(points[:, None, :] - closest, axis=-1), closest


def _top_k_normalised(weights: np.ndarray, k: int) -> np.ndarray:
    """Keep each row's k largest entries (stable on ties) and renormalise: (V, J) -> (V, J)."""
    order = np.argsort(-weights, axis=1, kind="stable")[:, :k]
    kept = np.zeros_like(weights)
    rows = np.arange(len(weights))[:, None]
    kept[rows, order] = weights[rows, order]
    return kept / kept.sum(axis=1, keepdims=True)


_VERTICAL_TRUNK_BONES = ("pelvis", "spine1", "spine2", "spine3")
_TRUNK_HORIZONTAL_DISCOUNT = 0.5
_CHIN = (0.0, 0.29, 0.06)  # metres: the head also owns the jaw, in front of the neck bone


def bone_distances(vertices: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """How far each vertex is from the bone each joint drives, for skinning: (V, 24) metres.

    The trunk is wide around short vertical bones, so for those the horizontal
    part of the distance counts half: trunk skin is owned in horizontal bands
    (as in SMPL), and no collar bone reaches the sternum. The head's bone has a
    second branch from the head joint to the chin, so the jaw turns with the head.
    """
    starts, ends = bone_segments(joints)
    distance, _ = segment_distances(vertices, starts, ends)
    squash = np.array([1.0 - _TRUNK_HORIZONTAL_DISCOUNT, 1.0, 1.0 - _TRUNK_HORIZONTAL_DISCOUNT])
    trunk_distance, _ = segment_distances(vertices * squash, starts * squash, ends * squash)
    trunk = [JOINT_INDEX[name] for name in _VERTICAL_TRUNK_BONES]
    distance[:, trunk] = trunk_distance[:, trunk]
    head = JOINT_INDEX["head"]
    jaw, _ = segment_distances(vertices, joints[head][None], np.array([_CHIN]))
    distance[:, head] = np.minimum(distance[:, head], jaw[:, 0])
    return distance


def blend_weights(vertices: np.ndarray, faces: np.ndarray, joints: np.ndarray, heat: float = 2.0) -> np.ndarray:
    """Smooth, dense bone influences by bone heat: (V, 24) float64, >= 0, rows sum to 1, mirror-symmetric.

    Baran and Popovic's "bone heat" (SIGGRAPH 2007): each bone heats the skin
    nearest to it and the heat diffuses over the surface,
    (-Laplacian + H) w_j = H p_j with H = heat / d^2 (d: distance to the nearest
    bone) and p_j = 1 where bone j is the nearest. Seams blend over about the
    skin's distance from the bone, and influence spreads along the skin, not
    across gaps; what creeps round the crotch to the other leg is cut.
    The skin weights are these cut to 4 influences; the shape directions use
    them whole, since the cut is not continuous where five bones meet (armpits).
    vertices: (V, 3) metres; faces: (F, 3); joints: (24, 3) metres (rest).
    """
    # 1. Distance to the bones (bone_distances); the nearest owns the vertex.
    distance = bone_distances(vertices, joints)
    nearest = distance.argmin(axis=1)
    # 2. The graph Laplacian in 1/m^2 (divided by the mean squared edge length), like H.
    edges = mesh_edges(faces)
    edge_length2 = float(np.mean(np.sum((vertices[edges[:, 0]] - vertices[edges[:, 1]]) ** 2, axis=1)))
    n = len(vertices)
    adjacency = sp.csr_matrix((np.ones(2 * len(edges)), (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])), shape=(n, n))
    laplacian = (sp.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency) / edge_length2
    # 3. One factorisation, one solve per bone. Rows sum to 1: the Laplacian kills constants.
    h = heat / np.maximum(distance[np.arange(n), nearest], 1e-3) ** 2
    owner = np.zeros((n, NUM_JOINTS))
    owner[np.arange(n), nearest] = 1.0
    solve = spla.factorized((laplacian + sp.diags(h)).tocsc())
    weights = np.maximum(np.column_stack([solve(h * owner[:, j]) for j in range(NUM_JOINTS)]), 0.0)
    # 4. Heat that crept round the crotch: a left bone never pulls the right half
    #    (faded over 1.5 cm either side of the midline), nor a right bone the left.
    x = vertices[:, :1]
    left = np.array([name.startswith("left_") for name in JOINT_NAMES])
    right = np.array([name.startswith("right_") for name in JOINT_NAMES])
    weights *= np.where(left, _ramp(x, -0.015, 0.015), 1.0) * np.where(right, _ramp(-x, -0.015, 0.015), 1.0)
    weights /= weights.sum(axis=1, keepdims=True)
    # 5. Exact left/right symmetry.
    perm = mirror_permutation(vertices, tolerance=1e-9)
    return 0.5 * (weights + weights[perm][:, list(MIRROR)])


def skin_weights(blend: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Linear-blend skinning weights: blend_weights (V, 24) -> (V, 24) float64.

    >= 0, rows sum to 1, at most 4 non-zero per row (SMPL's sparsity), exactly
    mirror-symmetric. vertices: (V, 3) metres, the template (for the mirror).
    """
    weights = _top_k_normalised(np.maximum(blend, 0.0), 4)
    # On the midline a left/right pair ties; keeping one of the two would make the
    # body lean to one side, so a pair that does not fit whole is dropped whole.
    perm = mirror_permutation(vertices, tolerance=1e-9)
    midline = perm == np.arange(len(vertices))
    kept = weights > 0
    weights[midline] *= kept[midline][:, list(MIRROR)]
    weights[weights < 1e-4] = 0.0  # numerically zero influences are not influences
    weights /= weights.sum(axis=1, keepdims=True)
    # The right half is the mirror of the left (ties between unpaired joints aside).
    right = vertices[:, 0] < 0
    weights[right] = weights[perm[right]][:, list(MIRROR)]
    return weights


def _diffuse(values: np.ndarray, faces: np.ndarray, steps: int) -> np.ndarray:
    """Average each vertex's values half with its neighbours', ``steps`` times: (V, ...) -> (V, ...)."""
    laplacian = _uniform_laplacian(len(values), mesh_edges(faces))
    flat = values.reshape(len(values), -1)
    for _ in range(steps):
        flat = flat + 0.5 * (laplacian @ flat)
    return flat.reshape(values.shape)


# ---------------------------------------------------------------------------
# 5. Shape directions
# ---------------------------------------------------------------------------

SHAPE_DIRECTION_NAMES: tuple[str, ...] = (
    "height",  # 0: uniform scale about the soles, +4.07 % (+7 cm of stature) per unit
    "girth",  # 1: soft tissue out along the normals, trunk most: waist circumference ~ +9 cm per unit
    "leg_length",  # 2: legs stretched between ankles and hips, +4.5 cm per unit (upper body rises)
    "arm_length",  # 3: arms stretched between shoulder and wrist, +3 cm per arm per unit
    "shoulder_width",  # 4: shoulder girdle and arms moved out, +1.2 cm per side per unit
    "hip_width",  # 5: pelvis widened and legs moved out, +1.2 cm per side per unit
    "torso_length",  # 6: trunk stretched between pelvis and chest (spine3), +2.5 cm per unit
    "belly",  # 7: abdomen pushed forward, +1.5 cm at the navel per unit
    "head_size",  # 8: skull scaled about the head joint, +4 % per unit (head top +0.55 cm)
    "muscularity",  # 9: limbs thicker (+7 % upper arm, +6 % thigh circumference) and a deeper chest
)
STATURE = 1.72  # metres, soles to head top of the template
_HEIGHT_PER_UNIT = 0.07 / STATURE
_LEG_PER_UNIT = 0.045
_ARM_PER_UNIT = 0.03
_SHOULDER_PER_UNIT = 0.012
_HIP_PER_UNIT = 0.012
_TORSO_PER_UNIT = 0.025
_BELLY_PER_UNIT = 0.015
_HEAD_PER_UNIT = 0.04
# Soft-tissue growth per unit (fraction of the skin's distance to the bone), per joint.
_GIRTH = {
    "pelvis": 0.10, "spine1": 0.12, "spine2": 0.10, "spine3": 0.06, "neck": 0.05, "head": 0.01,
    "collar": 0.05, "hip": 0.09, "knee": 0.05, "ankle": 0.02, "foot": 0.01,
    "shoulder": 0.08, "elbow": 0.05, "wrist": 0.02, "hand": 0.02,
}
_MUSCLE = {
    "pelvis": 0.0, "spine1": 0.0, "spine2": 0.03, "spine3": 0.05, "neck": 0.05, "head": 0.0,
    "collar": 0.05, "hip": 0.06, "knee": 0.05, "ankle": 0.0, "foot": 0.0,
    "shoulder": 0.07, "elbow": 0.05, "wrist": 0.0, "hand": 0.0,
}
# The trunk's soft tissue is centred in front of the spine joints (which sit near the back).
_TRUNK_CORE_SHIFT = np.array([0.0, 0.0, 0.025])


def _per_joint(table: dict[str, float]) -> np.ndarray:
    return np.array([table[name.replace("left_", "").replace("right_", "")] for name in JOINT_NAMES])


def _ramp(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 before ``start``, 1 after ``end`` (either order), smoothstep between.

    C1 (no crease where a stretch starts); its slope peaks at 1.5 / |end - start|,
    which bounds how far a negative beta can compress before the map folds.
    """
    t = np.clip((x - start) / (end - start), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _bump(x: np.ndarray, centre: float, half_width: float) -> np.ndarray:
    """(1 - u^2)^2 for |u| < 1, u = (x - centre) / half_width: smooth, compact."""
    u = np.clip((x - centre) / half_width, -1.0, 1.0)
    return (1.0 - u * u) ** 2


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals: (V, 3); outward for counter-clockwise faces."""
    face_normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def _tissue_offsets(vertices: np.ndarray, faces: np.ndarray, weights: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Soft tissue of each vertex as a vector: (V, 3) metres.

    Direction: the outward surface normal. Length: the skin-weighted distance to
    the bones (trunk bones shifted forward to the middle of the trunk's
    cross-section). Growing a circular section by g along its normals scales its
    radius by 1 + g. Normals, unlike "away from the nearest bone", never point
    into the flank under the armpit, so large betas do not crumple the skin there.
    """
    starts, ends = bone_segments(joints)
    trunk = [JOINT_INDEX[n] for n in ("pelvis", "spine1", "spine2", "spine3")]
    starts[trunk] += _TRUNK_CORE_SHIFT
    ends[trunk] += _TRUNK_CORE_SHIFT
    distance, _ = segment_distances(vertices, starts, ends)
    depth = (weights * distance).sum(axis=1)
    return depth[:, None] * vertex_normals(vertices, faces)


def shape_directions(vertices: np.ndarray, faces: np.ndarray, weights: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Linear shape space: (V, 3, S) metres per unit beta, S = len(SHAPE_DIRECTION_NAMES).

    v(betas) = vertices + shapedirs @ betas, as in SMPL. Every direction is a
    smooth displacement field of the template, documented in SHAPE_DIRECTION_NAMES;
    the position-only ones (height, lengths, widths) are monotone maps along one
    axis, so no beta folds the surface onto itself.
    vertices: (V, 3) metres; faces: (F, 3); weights: (V, 24) blend_weights (dense, smooth);
    joints: (24, 3) designed rest joints.
    """
    x, y, z = vertices.T
    side = np.sign(x)
    j = {name: joints[JOINT_INDEX[name]] for name in JOINT_NAMES}
    zeros = np.zeros_like(vertices)
    dirs = []
    # 0. Height: uniform scale about the point between the soles.
    pivot = np.array([0.0, FLOOR_Y, 0.0])
    dirs.append(_HEIGHT_PER_UNIT * (vertices - pivot))
    # 1. Girth: soft tissue grows along the normals, trunk most. Diffused so the
    #    concave creases (armpits, crotch) do not pinch.
    tissue = _tissue_offsets(vertices, faces, weights, joints)
    dirs.append(_diffuse((weights @ _per_joint(_GIRTH))[:, None] * tissue, faces, steps=10))
    # 2. Leg length: a height map, 0 at the ankles, full above the hips (the body rides up).
    d = zeros.copy()
    d[:, 1] = _LEG_PER_UNIT * _ramp(y, j["left_ankle"][1], j["left_hip"][1])
    dirs.append(d)
    # 3. Arm length: |x| map between shoulder and wrist; the mitt moves out rigidly.
    d = zeros.copy()
    upper_body = _ramp(y, -0.10, 0.0)  # nothing below the chest reaches past the shoulders anyway
    d[:, 0] = side * _ARM_PER_UNIT * _ramp(np.abs(x), j["left_shoulder"][0], j["left_wrist"][0]) * upper_body
    dirs.append(d)
    # 4. Shoulder width: the girdle widens from beside the neck; arms shift out rigidly.
    d = zeros.copy()
    band = _ramp(y, -0.02, 0.10) * (1.0 - _ramp(y, 0.24, 0.30))  # chest top to neck, never the head
    d[:, 0] = side * _SHOULDER_PER_UNIT * _ramp(np.abs(x), 0.05, j["left_shoulder"][0]) * band
    dirs.append(d)
    # 5. Hip width: the middle of the pelvis widens (|x| < 8 cm, inside the hip
    #    joints), everything further out and below shifts out rigidly.
    d = zeros.copy()
    d[:, 0] = _HIP_PER_UNIT * (2.0 * _ramp(x, -0.08, 0.08) - 1.0) * _ramp(y, -0.10, -0.25)
    dirs.append(d)
    # 6. Torso length: a height map, 0 at the pelvis, full from spine3 up (below the
    #    armpits, so arms, neck and head ride up unstretched).
    d = zeros.copy()
    d[:, 1] = _TORSO_PER_UNIT * _ramp(y, j["pelvis"][1], j["spine3"][1])
    dirs.append(d)
    # 7. Belly: the front of the abdomen moves forward, most at the navel (y ~ -0.10).
    d = zeros.copy()
    trunk = weights[:, [JOINT_INDEX[n] for n in ("pelvis", "spine1", "spine2", "spine3")]].sum(axis=1)
    front = _ramp(z, 0.0, 0.09)
    d[:, 2] = _BELLY_PER_UNIT * _bump(y, -0.10, 0.17) * _bump(x, 0.0, 0.17) * front * trunk
    dirs.append(d)
    # 8. Head size: scale about the head joint, faded through the neck by the head's skin weight.
    head_weight = weights[:, JOINT_INDEX["head"]]
    dirs.append(_HEAD_PER_UNIT * head_weight[:, None] * (vertices - j["head"]))
    # 9. Muscularity: limbs and chest grow away from their bones (not the belly).
    dirs.append(_diffuse((weights @ _per_joint(_MUSCLE))[:, None] * tissue, faces, steps=10))
    return np.stack(dirs, axis=-1)


# ---------------------------------------------------------------------------
# 6. Joint regressor
# ---------------------------------------------------------------------------


def _convex_weights(points: np.ndarray, target: np.ndarray, stiffness: float = 1e4) -> np.ndarray:
    """The most even convex combination of ``points`` (K, 3) equal to ``target`` (3,): (K,).

    Minimises |w|^2 subject to points.T w = target, sum(w) = 1, w >= 0 (the
    constraints as heavily weighted least squares rows). The most even weights
    make the joint the centre of its whole neighbourhood, so it follows shape
    changes of that neighbourhood rather than of a few vertices.
    """
    k = len(points)
    system = np.vstack([stiffness * np.vstack([points.T, np.ones((1, k))]), np.eye(k)])
    rhs = np.concatenate([stiffness * np.append(target, 1.0), np.zeros(k)])
    return lsq_linear(system, rhs, bounds=(0.0, np.inf), method="bvls", tol=1e-12).x


def joint_regressor(vertices: np.ndarray, joints: np.ndarray, tolerance: float = 1e-4) -> np.ndarray:
    """J_regressor: (24, V) float64, rows >= 0 summing to 1, ``J_regressor @ vertices ~= joints``.

    Each joint is a convex combination of the vertices around it (a ring around
    a limb joint, front and back patches for the spine): 1. take the vertices
    within 1.5x the nearest vertex's distance (at least 32); 2. find the most
    even weights that reproduce the joint; 3. if the joint is outside their hull
    (residual > tolerance metres), take 1.5x as many nearest vertices and retry.
    Left rows are mirrored onto the right joints; midline rows are symmetrised.
    vertices: (V, 3) metres; joints: (24, 3) metres.
    """
    tree = cKDTree(vertices)
    regressor = np.zeros((NUM_JOINTS, len(vertices)))
    for j, name in enumerate(JOINT_NAMES):
        if name.startswith("right_"):
            continue
        nearest_distance, _ = tree.query(joints[j])
        k = max(32, len(tree.query_ball_point(joints[j], 1.5 * nearest_distance)))
        while True:
            _, nearest = tree.query(joints[j], k=k)
            w = _convex_weights(vertices[nearest], joints[j])
            w = np.maximum(w, 0.0)
            w /= w.sum()
            if np.linalg.norm(w @ vertices[nearest] - joints[j]) < tolerance or k >= len(vertices):
                break
            k = min(int(k * 1.5), len(vertices))
        regressor[j, nearest] = w
    perm = mirror_permutation(vertices, tolerance=1e-9)
    for j, name in enumerate(JOINT_NAMES):
        if name.startswith("right_"):
            regressor[j] = regressor[MIRROR[j]][perm]
        elif MIRROR[j] == j:
            regressor[j] = 0.5 * (regressor[j] + regressor[j][perm])
    return regressor


# ---------------------------------------------------------------------------
# 7. Assembly
# ---------------------------------------------------------------------------

_SMPL_ROOT_PARENT = 4294967295  # kintree_table[0, 0] in SMPL files (uint32 -1)


def kintree_table() -> np.ndarray:
    """SMPL's kintree_table: (2, 24) int64, row 0 parents (root 4294967295), row 1 joint ids."""
    parents = np.array(PARENTS, dtype=np.int64)
    parents[0] = _SMPL_ROOT_PARENT
    return np.stack([parents, np.arange(NUM_JOINTS, dtype=np.int64)])


def build_standin_arrays() -> dict[str, np.ndarray]:
    """Every array of the stand-in body, SMPL-named (standin.STANDIN_KEYS), float64 / int64.

    v_template (V, 3) metres; shapedirs (V, 3, S); posedirs (V, 3, 207) zeros (no
    pose correctives); J_regressor (24, V); weights (V, 24); f (F, 3);
    kintree_table (2, 24); shape_direction_names (S,) str; format_version () int.
    """
    designed = designed_rest_joints()
    vertices, faces = build_template_mesh()
    blend = blend_weights(vertices, faces, designed)
    return {
        "v_template": vertices,
        "shapedirs": shape_directions(vertices, faces, blend, designed),
        "posedirs": np.zeros((len(vertices), 3, NUM_POSE_BASIS)),
        "J_regressor": joint_regressor(vertices, designed),
        "weights": skin_weights(blend, vertices),
        "f": faces,
        "kintree_table": kintree_table(),
        "shape_direction_names": np.array(SHAPE_DIRECTION_NAMES),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
    }


# ---------------------------------------------------------------------------
# 8. Body measures (what the shape directions are specified in)
# ---------------------------------------------------------------------------


def slice_perimeter(
    vertices: np.ndarray, faces: np.ndarray, axis: int, value: float, keep: Callable[[np.ndarray], np.ndarray] | None = None
) -> float:
    """Length (metres) of the mesh's cross-section by the plane ``coordinate[axis] == value``.

    keep: optional filter on the section's segment midpoints (M, 3) -> (M,) bool,
    to measure one loop (one thigh) of several.
    """
    s = vertices[faces, axis] - value  # (F, 3)
    crossing = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        sa, sb = s[:, a], s[:, b]
        t = np.where((sa > 0) != (sb > 0), sa / np.where(sa == sb, 1.0, sa - sb), np.nan)
        crossing.append(vertices[faces[:, a]] + t[:, None] * (vertices[faces[:, b]] - vertices[faces[:, a]]))
    points = np.stack(crossing, axis=1)  # (F, 3 edges, 3)
    cut = (~np.isnan(points[..., 0])).sum(axis=1) == 2
    ends = points[cut][~np.isnan(points[cut][..., 0])].reshape(-1, 2, 3)
    if keep is not None:
        ends = ends[keep(ends.mean(axis=1))]
    return float(np.linalg.norm(ends[:, 0] - ends[:, 1], axis=1).sum())


def body_measures(vertices: np.ndarray, faces: np.ndarray, joints: np.ndarray) -> dict[str, float]:
    """Anthropometric measures of a T-posed body, metres.

    vertices: (V, 3) metres Y-up facing +Z; faces: (F, 3); joints: (24, 3) its rest joints.
    Circumferences are plane sections at heights tied to the joints, so a
    longer leg or trunk does not move the section onto other anatomy.
    """
    x, y, z = vertices.T
    j = {name: joints[JOINT_INDEX[name]] for name in JOINT_NAMES}
    waist_y = j["spine1"][1] + 0.02
    hips = (y > j["left_hip"][1] - 0.08) & (y < j["left_hip"][1] + 0.12)
    return {
        "height": float(y.max() - y.min()),
        "arm_span": float(x.max() - x.min()),
        "shoulder_joint_width": float(j["left_shoulder"][0] - j["right_shoulder"][0]),
        "hip_width": float(2.0 * np.abs(x[hips]).max()),
        "hip_joint_width": float(j["left_hip"][0] - j["right_hip"][0]),
        "leg_length": float(j["left_hip"][1] - y.min()),
        "arm_length": float(x.max() - j["left_shoulder"][0]),
        "torso_length": float(j["neck"][1] - j["pelvis"][1]),
        "chest_circumference": slice_perimeter(
            vertices, faces, 1, j["spine3"][1] - 0.03, lambda m: np.abs(m[:, 0]) < 0.25
        ),
        "waist_circumference": slice_perimeter(vertices, faces, 1, waist_y),
        "thigh_circumference": slice_perimeter(
            vertices, faces, 1, j["left_hip"][1] + 0.45 * (j["left_knee"][1] - j["left_hip"][1]), lambda m: m[:, 0] > 0
        ),
        "upper_arm_circumference": slice_perimeter(
            vertices, faces, 0, 0.5 * (j["left_shoulder"][0] + j["left_elbow"][0])
        ),
        "belly_front": float(z[(np.abs(y - waist_y) < 0.06) & (np.abs(x) < 0.05)].max()),
        "head_width": float(2.0 * np.abs(x[y > j["head"][1]]).max()),
        "head_top": float(y.max()),
    }
