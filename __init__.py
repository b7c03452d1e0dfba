"""Interaction Synth: the extension's entry point.

Blender imports this package (as ``bl_ext.<repository>.interaction_synth``) and
calls :func:`register` / :func:`unregister`; everything lives in :mod:`.addon`.
"""

from .addon import register, unregister

__all__ = ["register", "unregister"]
