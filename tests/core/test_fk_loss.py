"""The FK term of DiffusionLoss: rotations scored by the joints they place (diffusion/losses.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from addon.core.body.model import load_body_model
from addon.core.demo_motion import waving_motion
from addon.core.diffusion.losses import DiffusionLoss, fk_consistency_loss
from addon.core.motion.representation import (
    BODY_PARENTS,
    ROOT_ORIENTATION,
    encode_motion,
    features_to_joints,
    fk_joints_from_features,
)
from addon.core.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix


@pytest.fixture(scope="module")
def encoded():
    """(1, T, 264) float64 features of a real motion (consistent: FK of its rotations = its positions), rest (24, 3)."""
    rest = np.asarray(load_body_model(None).rest_joints(), dtype=np.float64)
    features = encode_motion(waving_motion(seconds=2.0, fps=10.0), rest)[None]
    return torch.as_tensor(features, dtype=torch.float64), torch.as_tensor(rest)


def _turned_root(features: torch.Tensor, degrees: float) -> torch.Tensor:
    """The features with the root's world rotation turned about the vertical (positions unchanged)."""
    angle = np.radians(degrees)
    turn = torch.tensor([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]],
                        dtype=features.dtype)
    out = features.clone()
    out[..., ROOT_ORIENTATION] = matrix_to_rotation_6d(turn @ rotation_6d_to_matrix(features[..., ROOT_ORIENTATION]))
    return out


def test_fk_term_is_zero_for_consistent_features_and_grows_with_a_turned_root(encoded):
    features, rest = encoded
    mask = torch.ones(features.shape[:2], dtype=torch.bool)
    target = features_to_joints(features)
    assert float(fk_consistency_loss(fk_joints_from_features(features, rest), target, mask)) < 1e-12
    small, large = (float(fk_consistency_loss(fk_joints_from_features(_turned_root(features, d), rest), target, mask))
                    for d in (5.0, 20.0))
    # A turn by θ moves a joint at horizontal distance r by 2 r sin(θ / 2): the error grows like sin².
    assert 0.0 < small < large
    assert large / small == pytest.approx((np.sin(np.radians(10.0)) / np.sin(np.radians(2.5))) ** 2, rel=0.05)


def test_fk_term_ignores_padded_frames(encoded):
    features, rest = encoded
    turned = features.clone()
    turned[:, -5:] = _turned_root(features, 30.0)[:, -5:]
    mask = torch.ones(features.shape[:2], dtype=torch.bool)
    mask[:, -5:] = False
    value = fk_consistency_loss(fk_joints_from_features(turned, rest), features_to_joints(features), mask)
    assert float(value) < 1e-12


def test_diffusion_loss_adds_the_weighted_fk_term_and_its_gradient_reaches_the_rotations(encoded):
    features, rest = encoded
    target = features.float()
    pred = _turned_root(features, 15.0).float().requires_grad_(True)
    mask = torch.ones(features.shape[:2], dtype=torch.bool)
    loss = DiffusionLoss(BODY_PARENTS, x0_weight=1.0, fk_weight=3.0)
    terms = loss(pred, target, mask, features_to_joints, lambda x: fk_joints_from_features(x, rest.float()))
    assert float(terms.fk.detach()) > 0
    assert float(terms.total.detach()) == pytest.approx(float((terms.x0 + 3.0 * terms.fk).detach()), rel=1e-6)
    terms.fk.backward()
    grad = pred.grad[..., ROOT_ORIENTATION]
    assert float(grad.abs().max()) > 0  # the rotation that is wrong gets pulled back
    assert float(DiffusionLoss(BODY_PARENTS)(pred.detach(), target, mask).fk) == 0.0  # off by default
    with pytest.raises(ValueError, match="fk_weight"):
        DiffusionLoss(BODY_PARENTS, fk_weight=1.0)(pred.detach(), target, mask, features_to_joints)


def test_fk_term_scores_rotations_only_not_where_the_pelvis_is(encoded):
    features, rest = encoded
    mask = torch.ones(features.shape[:2], dtype=torch.bool)
    target = features_to_joints(features)
    shifted = features.clone()
    shifted[..., 0:66] += torch.tensor([0.8, -0.3, 0.1], dtype=features.dtype).repeat(22)  # every position moved
    assert float(fk_consistency_loss(fk_joints_from_features(shifted, rest), target, mask)) < 1e-12
