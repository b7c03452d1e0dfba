"""Re-keying through constraints, on a rig evaluated in numpy: a chain whose bones follow their
parents (the hierarchy the solve assumes) and the same chain with a Rigify-like constraint
(a bone that cancels half of its parent's keyed rotation, as Rigify's isolated head does)."""

import numpy as np
import pytest

from addon.core.retarget.rotmath import about, power
from addon.core.retarget.through_constraints import angles_deg, corrected_basis, keyed_parents, unresponsive

K = 4  # a chain: bone k's parent is bone k - 1


def random_rotations(rng, n, max_deg=70.0):
    axes = rng.normal(size=(n, 3))
    return about(axes, np.radians(rng.uniform(5.0, max_deg, n)))


def evaluate(basis, rest, isolate=None, copied=None):
    """(K, 3, 3) armature-space rotations of the chain: R_k = R_{k-1} · L_k · B_k, except that
    bone ``isolate`` gets R_{k-1} · L_k · (B_{k-1})^-1/2 · B_k (half its parent's key undone)
    and bone ``copied`` copies the root's rotation whatever its keys (a Copy Rotation)."""
    out = np.empty_like(basis)
    for k in range(len(basis)):
        parent = np.eye(3) if k == 0 else out[k - 1]
        local = rest[k] @ basis[k]
        if k == isolate:
            local = rest[k] @ power(basis[k - 1], -0.5) @ basis[k]
        out[k] = out[0] if k == copied else parent @ local
    return out


@pytest.fixture
def chain():
    rng = np.random.default_rng(3)
    rest = random_rotations(rng, K, 40.0)
    goal = evaluate(random_rotations(rng, K), rest)  # a pose the plain chain can show
    start = random_rotations(rng, K)  # keys that show something else
    return rest, goal, start, np.arange(K) - 1


def test_a_plain_chain_is_corrected_in_one_evaluation(chain):
    rest, goal, basis, parents = chain
    assert angles_deg(evaluate(basis, rest), goal).max() > 20.0
    basis = corrected_basis(basis, evaluate(basis, rest), goal, parents)
    assert angles_deg(evaluate(basis, rest), goal).max() < 1e-6


def test_without_the_parents_turn_a_chain_needs_one_evaluation_per_bone(chain):
    """The negative control: correcting every bone by its own error alone (no parents) leaves
    the descendants of corrected bones off after one evaluation."""
    rest, goal, basis, _ = chain
    alone = np.full(K, -1)
    basis = corrected_basis(basis, evaluate(basis, rest), goal, alone)
    assert angles_deg(evaluate(basis, rest), goal).max() > 5.0


def test_a_bone_that_cancels_half_its_parents_key_converges_within_a_few_evaluations(chain):
    rest, goal, basis, parents = chain
    isolate = 2
    errors = [angles_deg(evaluate(basis, rest, isolate), goal).max()]
    for _ in range(8):
        basis = corrected_basis(basis, evaluate(basis, rest, isolate), goal, parents)
        errors.append(angles_deg(evaluate(basis, rest, isolate), goal).max())
    assert errors[0] > 20.0
    assert errors[-1] < 0.01, errors
    assert all(b <= a + 1e-9 for a, b in zip(errors[1:], errors[2:])), errors  # no oscillation


def test_the_angle_ignores_pose_scale():
    rotation = about(np.array([0.0, 0.0, 1.0]), np.radians(30.0))
    scaled = rotation * np.array([1.3, 0.7, 2.0])  # columns scaled, as a pose bone's matrix
    assert angles_deg(scaled, rotation) == pytest.approx(0.0, abs=1e-6)
    assert angles_deg(np.eye(3), rotation) == pytest.approx(30.0)


def test_keyed_parents_skip_unkeyed_bones_and_need_parents_first():
    #   0 root -> 1 (unkeyed MCH) -> 2 -> 3 (unkeyed) -> 4 ; 0 -> 5
    parents = [-1, 0, 1, 2, 3, 0]
    assert keyed_parents([0, 2, 4, 5], parents).tolist() == [-1, 0, 1, 0]
    assert keyed_parents([2, 4], parents).tolist() == [-1, 0]
    with pytest.raises(ValueError, match="parents first"):
        keyed_parents([4, 2], parents)


def test_a_bone_that_copies_another_is_found_unresponsive_and_its_children_still_converge(chain):
    rest, goal, basis, parents = chain
    copied = 1
    evaluated = evaluate(basis, rest, copied=copied)
    moves = np.ones(K, dtype=bool)
    for _ in range(4):
        corrected = corrected_basis(basis, evaluated, goal, parents, moves)
        after = evaluate(corrected, rest, copied=copied)
        moves &= ~unresponsive(basis, corrected, evaluated, after, parents)
        basis, evaluated = corrected, after
    assert moves.tolist() == [True, False, True, True]
    errors = angles_deg(evaluated, goal)
    assert errors[copied] > 5.0  # nothing the keys can do
    assert np.all(np.delete(errors, copied) < 0.01), errors  # its children are placed by their own keys
