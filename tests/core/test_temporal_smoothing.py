"""The time filter of a sampler's result (core.diffusion.temporal_smoothing)."""

import numpy as np
import pytest
import torch

from addon.core.diffusion.temporal_smoothing import (gaussian_kernel, kernel_radius, line_beyond,
                                                      gaussian_over_time)


def test_kernel_is_a_normalised_symmetric_gaussian():
    kernel = gaussian_kernel(1.0, kernel_radius(1.0))
    assert len(kernel) == 7
    assert float(kernel.sum()) == pytest.approx(1.0)
    torch.testing.assert_close(kernel, kernel.flip(0))
    assert float(kernel[3] / kernel[4]) == pytest.approx(np.exp(0.5))


def test_straight_lines_pass_unchanged_ends_included():
    t = torch.arange(30, dtype=torch.float64)
    x = (0.1 * t[None, None, :, None] + torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)).expand(2, 2, 30, 3)
    torch.testing.assert_close(gaussian_over_time(x, 1.0), x)


def smoothed(y: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    return gaussian_over_time(torch.as_tensor(y)[None, None, :, None], sigma)[0, 0, :, 0].numpy()


def test_frame_to_frame_noise_is_damped_and_step_scale_motion_kept():
    noise = 0.05 * np.random.default_rng(0).standard_normal(100)
    acceleration = lambda y: np.abs(np.diff(y, 2)).mean()  # noqa: E731
    assert acceleration(smoothed(noise)) < 0.25 * acceleration(noise)
    # Over many draws of unit noise the end frames keep less than 0.8 of it (a reflection about
    # the end frame would keep all of it, the edge value repeated 0.75), the middle about half.
    draws = np.stack([smoothed(row) for row in np.random.default_rng(1).standard_normal((300, 40))])
    assert draws[:, [0, -1]].std() < 0.8 and draws[:, 20].std() < 0.6
    step = np.sin(2 * np.pi * 0.5 * np.arange(100) / 10.0)  # half a hertz at 10 fps: a step-scale movement
    assert np.abs(smoothed(step) - step).max() < 0.06


def test_each_row_is_filtered_over_its_own_frames_and_padding_is_untouched():
    x = torch.zeros(2, 1, 10, 1)
    x[0, 0, :6, 0] = torch.arange(6.0)  # a ramp over 6 real frames ...
    x[0, 0, 6:, 0] = 100.0  # ... then padding that must not leak in
    x[1, 0, :, 0] = torch.arange(10.0)
    valid = torch.tensor([[True] * 6 + [False] * 4, [True] * 10])
    out = gaussian_over_time(x, 1.0, valid)
    torch.testing.assert_close(out[0, 0, :6, 0], torch.arange(6.0))
    torch.testing.assert_close(out[0, 0, 6:, 0], torch.full((4,), 100.0))
    torch.testing.assert_close(out[1, 0, :, 0], torch.arange(10.0))


def test_short_clips_and_zero_sigma_are_returned_as_they_came():
    x = torch.randn(1, 2, 2, 5)
    torch.testing.assert_close(gaussian_over_time(x, 1.0), x)
    y = torch.randn(1, 2, 8, 5)
    torch.testing.assert_close(gaussian_over_time(y, 0.0), y)
    three = torch.tensor([0.0, 3.0, 0.0]).reshape(1, 1, 3, 1)
    out = gaussian_over_time(three, 1.0)
    assert out.shape == three.shape and float(out[0, 0, 1, 0]) < 3.0
    np.testing.assert_allclose(smoothed(np.array([0.0, 1.0, 2.0, 3.0])), [0.0, 1.0, 2.0, 3.0], atol=1e-12)


def test_line_beyond_continues_a_least_squares_line():
    window = torch.tensor([0.0, 1.2, 1.8, 3.0], dtype=torch.float64).reshape(1, 4, 1)  # slope 0.96, mean 1.5
    out = line_beyond(window, 2)[0, :, 0]
    torch.testing.assert_close(out, torch.tensor([1.5 + 0.96 * 2.5, 1.5 + 0.96 * 3.5], dtype=torch.float64))


def test_the_input_is_not_modified_and_the_shape_is_checked():
    x = torch.randn(1, 1, 12, 4)
    before = x.clone()
    gaussian_over_time(x, 1.0)
    torch.testing.assert_close(x, before)
    with pytest.raises(ValueError, match=r"\(B, P, T, F\)"):
        gaussian_over_time(torch.zeros(12, 4), 1.0)
