"""Restoring metric scene depth from relative disparity (thesis section 5.1, "Restoring scene depth").

Depth Anything gives two maps per key frame k: a low-resolution *metric* depth m_k (h, w) in
metres and a high-resolution *relative disparity* d_k (H, W), i.e. inverse depth up to an unknown
scale and offset. One affine map, shared by all K key frames of the (static) camera, turns the
disparity into metric inverse depth:

    argmin_{alpha, beta}  sum_k sum_pixels  rho( alpha * d_k + beta - 1 / m_k )
    m*_k := 1 / (alpha * d_k + beta)

with rho the Huber loss (IRLS, polished by Tukey's biweight) or a RANSAC consensus followed by
least squares on the inliers, so that outliers (depth edges, reflective surfaces, people who moved) do not bias the fit.

Resolution: following the thesis, the metric map is *upsampled* to the disparity resolution, so
every high-resolution disparity pixel is used with its own, unblurred value (downsampling would
average disparity across depth edges and throw away most samples). What is interpolated is the
inverse metric depth 1/m, not m: on any plane (floor, walls, furniture faces) inverse depth is an
affine function of the pixel coordinates, so bilinear interpolation of 1/m is exact there, while
interpolating m would bias the target wherever the surface is slanted. An upsampled value is
valid only where all four contributing metric pixels are valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

FitMethod = Literal["huber", "ransac"]

# Huber's tuning constant: 95% efficiency under Gaussian noise (Huber 1981).
HUBER_K = 1.345
# Tukey's biweight constant: 95% efficiency under Gaussian noise.
TUKEY_C = 4.685
# MAD -> standard deviation for Gaussian residuals.
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class DisparityFit:
    """The affine map from relative disparity to metric inverse depth: 1/m = alpha * d + beta.

    alpha: disparity scale, 1/metres per disparity unit (> 0).
    beta: offset, 1/metres.
    inlier_fraction: share of the fitted pixels whose restored depth agrees with the metric
        depth within the relative ``inlier_threshold`` of the fit (|m / m* - 1| < threshold).
    residual_rms: root mean square of alpha * d + beta - 1/m over those inliers, 1/metres.
    """

    alpha: float
    beta: float
    inlier_fraction: float
    residual_rms: float


def resample_bilinear(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of a map covering the same field of view at another resolution.

    image: (h, w) float. shape: (H, W) the output size. Pixel centres are aligned (the centre of
    output pixel v lies at source coordinate (v + 0.5) * h / H - 0.5); edges are clamped.
    Returns (H, W) float64.
    """
    src = np.asarray(image, dtype=np.float64)
    if src.ndim != 2 or min(src.shape) < 1:
        raise ValueError(f"resample_bilinear: image must be a non-empty (h, w) map, got shape {src.shape}")
    rows0, rows1, wy = _bilinear_taps(src.shape[0], shape[0])
    cols0, cols1, wx = _bilinear_taps(src.shape[1], shape[1])
    top = src[rows0][:, cols0] * (1.0 - wx) + src[rows0][:, cols1] * wx
    bottom = src[rows1][:, cols0] * (1.0 - wx) + src[rows1][:, cols1] * wx
    return top * (1.0 - wy)[:, None] + bottom * wy[:, None]


def _bilinear_taps(source_size: int, target_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower/upper source indices and the weight of the upper one for each target index."""
    position = (np.arange(target_size) + 0.5) * (source_size / target_size) - 0.5
    position = np.clip(position, 0.0, source_size - 1.0)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, source_size - 1)
    return lower, upper, position - lower


def upsample_inverse_depth(metric: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse metric depth 1/m resampled bilinearly to ``shape``; NaN where any tap is invalid.

    metric: (h, w) metres; non-finite or non-positive values are invalid.
    Returns (H, W) float64, 1/metres.
    """
    m = np.asarray(metric, dtype=np.float64)
    ok = np.isfinite(m) & (m > 0.0)
    inverse = np.where(ok, 1.0 / np.where(ok, m, 1.0), 0.0)
    resampled = resample_bilinear(inverse, shape)
    # An invalid tap with non-zero weight lowers the resampled validity below one.
    support = resample_bilinear(ok.astype(np.float64), shape)
    return np.where(support > 1.0 - 1e-9, resampled, np.nan)


def fit_disparity_affine(
    disparity: Sequence[np.ndarray],
    metric: Sequence[np.ndarray],
    *,
    valid: Sequence[np.ndarray] | None = None,
    method: FitMethod = "huber",
    rng: np.random.Generator,
    inlier_threshold: float = 0.05,
    max_samples: int = 250_000,
    ransac_iterations: int = 256,
) -> DisparityFit:
    """Fit alpha * d + beta ~= 1/m over all K key frames jointly (thesis section 5.1).

    argmin_{alpha, beta} sum_{k=1..K} sum_pixels rho(alpha * d_k + beta - 1 / m_k),
    rho = Huber (IRLS, then a Tukey biweight polish) or RANSAC consensus + least squares on the inliers.

    disparity: K maps (H, W) float, relative disparity (inverse depth up to scale and offset).
    metric: K maps (h, w) float, metres, same field of view (upsampled here, see the module doc).
    valid: optional K masks (H, W) bool; False excludes a pixel (e.g. people, who move).
    method: "huber" (Huber IRLS with a MAD scale, polished by Tukey's biweight) or "ransac"
        (2-point consensus, then least squares on the inliers).
    rng: the only source of randomness (pixel subsampling, RANSAC samples).
    inlier_threshold: relative depth disagreement |m / m* - 1| that still counts as an inlier;
        RANSAC's consensus threshold and the definition of ``inlier_fraction`` (0.05 = 5%).
    max_samples: pixels used at most; more valid pixels are subsampled uniformly with ``rng``
        (two parameters need far fewer: 250k pixels pin alpha and beta to ~1e-4 and keep the
        robust fit under a second for 10 key frames at 640x480).
    Returns a :class:`DisparityFit`. Raises ValueError naming the input on bad shapes, when no
    pixel is valid, or when the fitted scale is not positive.
    """
    if method not in ("huber", "ransac"):
        raise ValueError(f"method must be 'huber' or 'ransac', got {method!r}")
    if not 0.0 < inlier_threshold < 1.0:
        raise ValueError(f"inlier_threshold must be in (0, 1), got {inlier_threshold}")
    # 1. Pair every valid disparity pixel with the upsampled inverse metric depth 1/m.
    d, y = _gather_samples(disparity, metric, valid)
    # 2. Bound the work: a uniform subsample keeps the estimate unbiased.
    if d.size > max_samples:
        keep = rng.choice(d.size, size=max_samples, replace=False)
        d, y = d[keep], y[keep]
    # 3. Robust fit of the thesis' objective alpha * d + beta - 1/m.
    if method == "huber":
        alpha, beta = _fit_huber(d, y)
    else:
        alpha, beta = _fit_ransac(d, y, rng, inlier_threshold, ransac_iterations)
    if not alpha > 0.0:
        raise ValueError(
            f"disparity: the fitted scale alpha = {alpha:.4g} is not positive; disparity must grow "
            "as metric depth shrinks (is the disparity map inverted, or mostly invalid?)"
        )
    # 4. Report agreement on all fitted pixels.
    residual = alpha * d + beta - y
    inliers = np.abs(residual) < inlier_threshold * y
    rms = float(np.sqrt(np.mean(residual[inliers] ** 2))) if inliers.any() else float("nan")
    return DisparityFit(float(alpha), float(beta), float(inliers.mean()), rms)


def restore_metric_depth(disparity: np.ndarray, fit: DisparityFit) -> np.ndarray:
    """Metric depth m* = 1 / (alpha * d + beta) (thesis section 5.1).

    disparity: (H, W) float relative disparity. Returns (H, W) float64 metres; NaN (invalid)
    where the denominator is not positive or the disparity is not finite.
    """
    d = np.asarray(disparity, dtype=np.float64)
    denominator = fit.alpha * d + fit.beta
    ok = np.isfinite(denominator) & (denominator > 0.0)
    return np.where(ok, 1.0 / np.where(ok, denominator, 1.0), np.nan)


def _gather_samples(
    disparity: Sequence[np.ndarray], metric: Sequence[np.ndarray], valid: Sequence[np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated (disparity, 1/m) pairs, float64, over the valid pixels of every key frame."""
    if len(disparity) == 0:
        raise ValueError("disparity: no key frames given")
    if len(metric) != len(disparity):
        raise ValueError(f"metric: {len(metric)} maps for {len(disparity)} disparity maps")
    if valid is not None and len(valid) != len(disparity):
        raise ValueError(f"valid: {len(valid)} masks for {len(disparity)} disparity maps")
    ds, ys = [], []
    for k, (disp, met) in enumerate(zip(disparity, metric)):
        disp = np.asarray(disp, dtype=np.float64)
        if disp.ndim != 2 or np.asarray(met).ndim != 2:
            raise ValueError(f"key frame {k}: disparity and metric must be 2-D maps, got {disp.shape} and {np.shape(met)}")
        inverse = upsample_inverse_depth(met, disp.shape)
        ok = np.isfinite(disp) & np.isfinite(inverse)
        if valid is not None:
            mask = np.asarray(valid[k], dtype=bool)
            if mask.shape != disp.shape:
                raise ValueError(f"valid[{k}]: shape {mask.shape} differs from the disparity's {disp.shape}")
            ok &= mask
        ds.append(disp[ok])
        ys.append(inverse[ok])
    d, y = np.concatenate(ds), np.concatenate(ys)
    if d.size < 2:
        raise ValueError("disparity: fewer than 2 valid pixels in all key frames (metric depth missing or masked out)")
    return d, y


def _weighted_line(d: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """Weighted least squares for y ~= alpha * d + beta (2x2 normal equations, centred)."""
    w = np.ones_like(d) if w is None else w
    total = w.sum()
    d_mean, y_mean = (w * d).sum() / total, (w * y).sum() / total
    dc = d - d_mean
    spread = (w * dc * dc).sum()
    if spread <= 0.0:
        raise ValueError("disparity: all fitted pixels have the same disparity; scale and offset are not identifiable")
    alpha = (w * dc * (y - y_mean)).sum() / spread
    return float(alpha), float(y_mean - alpha * d_mean)


def _fit_huber(d: np.ndarray, y: np.ndarray, iterations: int = 50, tolerance: float = 1e-10) -> tuple[float, float]:
    """Huber M-estimate by iteratively reweighted least squares, then a redescending polish.

    Stage 1, Huber: weights w = min(1, k sigma / |r|) with k = 1.345 and sigma = 1.4826 * MAD(r)
    re-estimated every iteration; the Huber loss is convex, so the least-squares start is safe.
    Huber bounds each outlier's influence but does not remove it: one-sided gross outliers (5% in
    the tests) still shift beta by a few percent. Stage 2, Tukey's biweight from the Huber
    solution with its scale fixed (the MM-estimation recipe): w = (1 - (r / c sigma)^2)^2 inside
    c sigma, c = 4.685, zero outside, so gross outliers stop pulling at all. The biweight loss is
    not convex, which is why it starts from the Huber fit and not from least squares.
    """
    # 1. Start from ordinary least squares.
    alpha, beta = _weighted_line(d, y)
    scale_floor = 1e-12 * max(float(np.median(np.abs(y))), 1e-12)
    sigma = scale_floor
    for _ in range(iterations):
        # 2. Residuals and their robust scale.
        r = alpha * d + beta - y
        sigma = max(MAD_TO_SIGMA * float(np.median(np.abs(r - np.median(r)))), scale_floor)
        # 3. Huber weights: quadratic inside k sigma, linear (bounded influence) outside.
        w = np.minimum(1.0, HUBER_K * sigma / np.maximum(np.abs(r), 1e-300))
        # 4. Weighted least squares; stop when the line no longer moves.
        (alpha, beta), moved = _reweighted_step(d, y, w, alpha, beta)
        if moved <= tolerance * (abs(alpha) + abs(beta)):
            break
    for _ in range(iterations):
        # 5. Biweight polish at the Huber scale: residuals beyond c sigma get zero weight.
        u = (alpha * d + beta - y) / (TUKEY_C * sigma)
        w = np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
        (alpha, beta), moved = _reweighted_step(d, y, w, alpha, beta)
        if moved <= tolerance * (abs(alpha) + abs(beta)):
            break
    return alpha, beta


def _reweighted_step(
    d: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float, beta: float
) -> tuple[tuple[float, float], float]:
    """One IRLS step: the weighted line and how far (alpha, beta) moved."""
    new_alpha, new_beta = _weighted_line(d, y, w)
    return (new_alpha, new_beta), abs(new_alpha - alpha) + abs(new_beta - beta)


def _fit_ransac(
    d: np.ndarray, y: np.ndarray, rng: np.random.Generator, threshold: float, iterations: int,
    score_samples: int = 20_000,
) -> tuple[float, float]:
    """RANSAC over 2-pixel line hypotheses, scored on a subsample, refined by least squares.

    A pixel is an inlier when |alpha d + beta - y| < threshold * y, i.e. the restored depth
    agrees with the metric depth within ``threshold`` (relative), at any distance.
    """
    # 1. Hypotheses from pixel pairs whose disparities differ enough to fix the slope.
    pairs = rng.integers(0, d.size, size=(iterations, 2))
    d1, d2, y1, y2 = d[pairs[:, 0]], d[pairs[:, 1]], y[pairs[:, 0]], y[pairs[:, 1]]
    low, high = np.percentile(d, [5.0, 95.0])
    usable = np.abs(d1 - d2) > 0.01 * max(high - low, 1e-12)
    if not usable.any():
        raise ValueError("disparity: the valid pixels span too small a disparity range for RANSAC")
    slope = (y1[usable] - y2[usable]) / (d1[usable] - d2[usable])
    intercept = y1[usable] - slope * d1[usable]
    # 2. Consensus on a fixed subsample (hypotheses x samples residuals, chunked).
    pick = rng.choice(d.size, size=min(score_samples, d.size), replace=False)
    ds, ys = d[pick], y[pick]
    counts = np.concatenate([
        (np.abs(slope[i:i + 64, None] * ds + intercept[i:i + 64, None] - ys) < threshold * ys).sum(1)
        for i in range(0, slope.size, 64)
    ])
    best = int(np.argmax(counts))
    alpha, beta = float(slope[best]), float(intercept[best])
    # 3. Least squares on all inliers, re-selecting them until the set settles.
    inliers = np.abs(alpha * d + beta - y) < threshold * y
    for _ in range(10):
        if inliers.sum() < 2:
            raise ValueError("disparity: RANSAC found fewer than 2 inliers; metric and disparity disagree everywhere")
        alpha, beta = _weighted_line(d[inliers], y[inliers])
        updated = np.abs(alpha * d + beta - y) < threshold * y
        if np.array_equal(updated, inliers):
            break
        inliers = updated
    return alpha, beta
