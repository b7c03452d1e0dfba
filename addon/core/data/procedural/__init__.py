"""Procedural care-room interactions: rooms, single- and two-person scripts, labels and captions."""
