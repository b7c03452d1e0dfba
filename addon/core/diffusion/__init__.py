"""Diffusion: noise schedules, samplers (pure functions), guidance, losses and the denoiser."""
