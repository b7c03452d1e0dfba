"""Interaction Synth: the extension's entry point.

Blender imports this package (as ``bl_ext.<repository>.interaction_synth``) and
calls :func:`register` / :func:`unregister`; everything lives in :mod:`.addon`.
"""

if __package__:  # Blender: bl_ext.<repository>.interaction_synth
    from .addon import register, unregister
else:  # imported alone: pytest in a checkout whose folder name is not a Python name ("interaction-synth")
    from addon import register, unregister

__all__ = ["register", "unregister"]
