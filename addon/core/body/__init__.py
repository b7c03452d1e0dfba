"""Body models: the SMPL-family files a user points at, the bundled stand-in, and skinning."""
