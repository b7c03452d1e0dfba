"""Training the interaction denoiser (torchrun DDP); never imported by the add-on's UI or inference path."""
