"""Motions: the ``Motion`` container, AMASS-style ``.npz`` files and time-correct resampling."""
