"""Distribution and text-matching metrics on evaluator embeddings (Guo et al. 2022's protocol).

The five numbers of the text-to-motion literature, with the formulas of its evaluation
scripts (motion-generation-anchors.md §5 A):

    FID           Fréchet distance between Gaussian fits of real and generated motion embeddings
    R-precision   top-1..k retrieval of the matching text among ``batch_size`` texts
    MM-Dist       mean distance between matched text and motion embeddings
    Diversity     mean distance between random pairs of generated motions
    MModality     mean distance between random pairs of generations for the same prompt

Distances are Euclidean in the evaluator's embedding space, as given (no InterGen
``emb_scale`` and no halving; this project's evaluator L2-normalises its embeddings, so
every distance lies in [0, 2]). Every random choice comes from the ``rng`` passed in;
:func:`replicate` repeats a metric with independent generators and returns mean ± 1.96·σ/√n.
Always report the real test set's numbers next to a model's: R-precision and Diversity mean
something only relative to them.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
from scipy import linalg

from .confidence import mean_and_half_width


def embedding_statistics(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) embeddings -> (mean (D,), covariance (D, D)), float64; covariance with ddof = 1 (np.cov)."""
    emb = _check_embeddings(emb, "emb")
    if len(emb) < 2:
        raise ValueError(f"emb: a covariance needs >= 2 embeddings, got {len(emb)}")
    return emb.mean(axis=0), np.cov(emb, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017):

        d² = |mu1 - mu2|² + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^½)

    mu: (D,), sigma: (D, D). When the product is singular (scipy warns, or sqrtm returns
    non-finite values, e.g. fewer samples than dimensions) eps·I is added to both covariances,
    which changes the result by O(D·√eps). sqrtm of a product of covariances may come back
    complex from rounding; an imaginary diagonal up to 1e-3 is dropped, a larger one raises
    ValueError (the inputs are then not covariances).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64)), np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(
            f"frechet_distance: shapes mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {sigma1.shape}, sigma2 {sigma2.shape} "
            "do not describe two Gaussians of one dimension"
        )
    diff = mu1 - mu2
    covmean, singular = _sqrtm(sigma1 @ sigma2)
    if singular or not np.isfinite(covmean).all():
        offset = np.eye(len(mu1)) * eps
        covmean, _ = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        largest = np.max(np.abs(np.diagonal(covmean).imag))
        if largest > 1e-3:
            raise ValueError(f"frechet_distance: sqrtm has an imaginary component {largest:.3g}")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid(real_emb: np.ndarray, gen_emb: np.ndarray) -> float:
    """FID between (N, D) real and (M, D) generated embeddings (N, M >= 2; use >= D for a full-rank fit)."""
    mu1, sigma1 = embedding_statistics(real_emb)
    mu2, sigma2 = embedding_statistics(gen_emb)
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def r_precision(
    text_emb: np.ndarray, motion_emb: np.ndarray, batch_size: int = 32, top_k: int = 3, *, rng: np.random.Generator
) -> np.ndarray:
    """Top-1..top-k text retrieval accuracy of motions inside fixed batches.

    text_emb, motion_emb: (N, D), row i of each describes the same clip. The rows are shuffled
    by ``rng`` and cut into N // batch_size batches (the remainder is dropped); inside a batch
    every motion ranks the batch's texts by Euclidean distance, and its accuracy at k is
    whether its own text is among the k nearest. Returns (top_k,) float64, non-decreasing.

    The numbers depend on ``batch_size`` (32 for HumanML3D, 96 for InterHuman): always report
    it. Ties (duplicate captions) count in the motion's favour: its rank is the number of
    texts strictly closer than its own.
    """
    text_emb, motion_emb = _check_pairs(text_emb, motion_emb)
    if batch_size < 1 or top_k < 1 or top_k > batch_size:
        raise ValueError(f"r_precision: need 1 <= top_k ({top_k}) <= batch_size ({batch_size})")
    batches = len(text_emb) // batch_size
    if batches == 0:
        raise ValueError(f"r_precision: {len(text_emb)} pairs do not fill one batch of {batch_size}")
    order = rng.permutation(len(text_emb))[: batches * batch_size].reshape(batches, batch_size)
    ranks = []
    for rows in order:
        distances = _pairwise(motion_emb[rows], text_emb[rows])  # (motion, text)
        own = np.diagonal(distances)[:, None]
        ranks.append((distances < own).sum(axis=-1))  # 0: its own text is the nearest
    rank = np.concatenate(ranks)
    return np.array([(rank < k).mean() for k in range(1, top_k + 1)])


def matching_score(text_emb: np.ndarray, motion_emb: np.ndarray) -> float:
    """MM-Dist: mean Euclidean distance between matched rows of (N, D) text and motion embeddings.

    The reference scripts sum it over R-precision batches (so they drop the remainder); here
    every pair counts.
    """
    text_emb, motion_emb = _check_pairs(text_emb, motion_emb)
    return float(np.linalg.norm(text_emb - motion_emb, axis=-1).mean())


def diversity(emb: np.ndarray, pairs: int = 300, *, rng: np.random.Generator) -> float:
    """Mean Euclidean distance between ``pairs`` random pairs of (N, D) embeddings, N >= pairs.

    As in the reference scripts, two index lists of ``pairs`` are drawn without replacement
    and paired element-wise (a pair may repeat a row with itself). Raw embedding distances:
    no ``emb_scale`` and no halving (InterGen multiplies by 6 and halves).
    """
    emb = _check_embeddings(emb, "emb")
    if len(emb) < pairs:
        raise ValueError(f"diversity: needs >= {pairs} embeddings for {pairs} pairs, got {len(emb)}")
    first = rng.choice(len(emb), pairs, replace=False)
    second = rng.choice(len(emb), pairs, replace=False)
    return float(np.linalg.norm(emb[first] - emb[second], axis=-1).mean())


def multimodality(emb_groups: np.ndarray, pairs: int = 10, *, rng: np.random.Generator) -> float:
    """MModality: mean distance between generations for the same prompt.

    emb_groups: (prompts, generations, D), generations >= pairs (the literature uses 100 prompts
    x 30 generations, 10 pairs). As in the reference scripts, one pair of index lists is drawn
    without replacement and used for every prompt.
    """
    groups = np.asarray(emb_groups, dtype=np.float64)
    if groups.ndim != 3:
        raise ValueError(f"emb_groups: expected (prompts, generations, D), got {groups.shape}")
    if groups.shape[1] < pairs:
        raise ValueError(f"multimodality: needs >= {pairs} generations per prompt, got {groups.shape[1]}")
    first = rng.choice(groups.shape[1], pairs, replace=False)
    second = rng.choice(groups.shape[1], pairs, replace=False)
    return float(np.linalg.norm(groups[:, first] - groups[:, second], axis=-1).mean())


def replicate(
    fn: Callable[[np.random.Generator], Any], replications: int = 20, seed: int = 0
) -> tuple[Any, Any]:
    """Run ``fn(rng)`` ``replications`` times with independent generators; return (mean, 95 % half-width).

    fn returns a number, an array, or a dict of those; the result has the same form.
    Replication i uses ``np.random.default_rng([seed, i])``, so runs are reproducible and
    adding replications keeps the earlier ones. Half-width = 1.96·σ/√n (σ with ddof = 0).
    """
    if replications < 1:
        raise ValueError(f"replicate: replications must be >= 1, got {replications}")
    results = [fn(np.random.default_rng([seed, i])) for i in range(replications)]
    if isinstance(results[0], dict):
        summary = {key: mean_and_half_width([r[key] for r in results]) for key in results[0]}
        return ({k: _plain(m) for k, (m, _) in summary.items()}, {k: _plain(h) for k, (_, h) in summary.items()})
    mean, half = mean_and_half_width(np.asarray(results, dtype=np.float64))
    return _plain(mean), _plain(half)


def _sqrtm(matrix: np.ndarray) -> tuple[np.ndarray, bool]:
    """scipy's sqrtm, and whether it reported the matrix singular (its warning is swallowed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        root = linalg.sqrtm(matrix)
    singular = False
    for caught_warning in caught:
        if issubclass(caught_warning.category, linalg.LinAlgWarning):
            singular = True
        else:
            warnings.warn_explicit(
                caught_warning.message, caught_warning.category, caught_warning.filename, caught_warning.lineno
            )
    return root, singular


def _plain(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, D), (M, D) -> (N, M) Euclidean distances (exact differences, not the |a|²+|b|² expansion)."""
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def _check_embeddings(emb: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(emb, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected (N, D) embeddings, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: non-finite values")
    return array


def _check_pairs(text_emb: np.ndarray, motion_emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    text_emb, motion_emb = _check_embeddings(text_emb, "text_emb"), _check_embeddings(motion_emb, "motion_emb")
    if text_emb.shape != motion_emb.shape:
        raise ValueError(f"text_emb {text_emb.shape} and motion_emb {motion_emb.shape} must pair row by row")
    return text_emb, motion_emb
