"""Reconstruction of a Teton sequence: depth restoration, floor alignment, tracking, smoothing, bundle format."""
