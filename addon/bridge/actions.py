"""Writing and reading F-curves in bulk on every supported Blender version.

The action API changed twice:
- 4.2/4.3: ``action.fcurves`` holds the curves directly.
- 4.4/4.5: slotted actions. Curves live in a channelbag of a keyframe strip on a
  layer, for one slot (``strip.channelbag(slot, ensure=True)``); ``action.fcurves``
  still exists but only sees the first slot, so it is never used there.
- 5.0: ``action.fcurves`` is gone; ``bpy_extras.anim_utils.action_ensure_channelbag_for_slot``.
Everything else in the extension goes through :func:`write_action` / :func:`read_action`.
Keys are written with ``keyframe_points.add`` + ``foreach_set`` (linear time in the
number of keys; ``keyframe_insert`` is quadratic per channel).
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

SLOTTED_ACTIONS = bpy.app.version >= (4, 4, 0)
# Enum values of bpy.types.Keyframe.interpolation, as foreach_set needs ints.
_INTERPOLATION = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}


@dataclass(frozen=True)
class Channel:
    """One animated property: ``data_path``[``index``] sampled at every frame.

    values: (N,) float; group: the F-curve group shown in the editors (e.g. a bone name).
    """

    data_path: str
    index: int
    values: np.ndarray
    group: str = ""


def _channelbag(action: bpy.types.Action, slot):
    """The slot's channelbag, created if missing (4.4+ only)."""
    if bpy.app.version >= (5, 0, 0):
        from bpy_extras import anim_utils

        return anim_utils.action_ensure_channelbag_for_slot(action, slot)
    layer = action.layers[0] if action.layers else action.layers.new("Layer")
    strip = layer.strips[0] if layer.strips else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def _new_fcurve(action, container, channel: Channel, groups: dict):
    if not SLOTTED_ACTIONS:
        return container.new(channel.data_path, index=channel.index, action_group=channel.group)
    fcurve = container.fcurves.new(channel.data_path, index=channel.index)
    if channel.group:
        group = groups.get(channel.group)
        if group is None:
            group = groups[channel.group] = container.groups.new(channel.group)
        fcurve.group = group
    return fcurve


def stash_active_action(obj: bpy.types.Object) -> bpy.types.Action | None:
    """Move the object's current action to a muted NLA track so it is kept, not overwritten."""
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return None
    old = anim.action
    track = anim.nla_tracks.new()
    track.name = "[Action Stash]"
    start = int(old.frame_range[0])
    strip = track.strips.new(old.name, start, old)
    if SLOTTED_ACTIONS and anim.action_slot is not None and hasattr(strip, "action_slot"):
        strip.action_slot = anim.action_slot
    track.mute = True
    track.lock = True
    anim.action = None
    return old


def write_action(
    obj: bpy.types.ID,
    name: str,
    channels: list[Channel],
    frame_start: float = 1.0,
    interpolation: str = "LINEAR",
) -> bpy.types.Action:
    """A new action on ``obj`` (an Object, or e.g. a shape Key) with one F-curve per channel, keyed at every frame.

    Frames are ``frame_start + arange(N)``. Any action the object had is stashed on
    the NLA first, never overwritten. Returns the new action (Blender may dedupe
    ``name`` as ``name.001``).
    """
    if not channels:
        raise ValueError(f"write_action({obj.name!r}): no channels")
    count = len(channels[0].values)
    if any(len(c.values) != count for c in channels):
        raise ValueError(f"write_action({obj.name!r}): channels have different lengths")
    stash_active_action(obj)
    action = bpy.data.actions.new(name)
    anim = obj.animation_data or obj.animation_data_create()
    if SLOTTED_ACTIONS:
        # The slot's type must match the animated ID (an Object, or a shape Key).
        slot = action.slots.new(id_type=obj.id_type, name=obj.name)
        anim.action = action
        anim.action_slot = slot
        container = _channelbag(action, slot)
    else:
        anim.action = action
        container = action.fcurves
    frames = frame_start + np.arange(count, dtype=np.float32)
    co = np.empty(2 * count, dtype=np.float32)
    co[0::2] = frames
    interp = np.full(count, _INTERPOLATION[interpolation], dtype=np.int32)
    groups: dict = {}
    for channel in channels:
        fcurve = _new_fcurve(action, container, channel, groups)
        fcurve.keyframe_points.add(count)
        co[1::2] = channel.values
        fcurve.keyframe_points.foreach_set("co", co)
        fcurve.keyframe_points.foreach_set("interpolation", interp)
        fcurve.update()
    return action


def action_fcurves(obj: bpy.types.Object) -> list:
    """The F-curves of the object's active action (and active slot on 4.4+)."""
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return []
    action = anim.action
    if not SLOTTED_ACTIONS:
        return list(action.fcurves)
    slot = anim.action_slot
    if slot is None:
        return []
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                return list(bag.fcurves)
    return []


def overwrite_channels(obj: bpy.types.Object, values: dict[tuple[str, int], np.ndarray]) -> None:
    """Replace the key values of existing F-curves of the object's active action in place.

    values: (data_path, index) -> (N,) one value per key, in key order (frames unchanged).
    KeyError naming the channel when the action has no such F-curve; ValueError when a
    length differs from the F-curve's key count. Nothing is written unless every channel fits.
    """
    fcurves = {(f.data_path, f.array_index): f for f in action_fcurves(obj)}
    for key, series in values.items():
        if key not in fcurves:
            raise KeyError(f"{obj.name!r}: the active action has no F-curve {key[0]}[{key[1]}]")
        if len(series) != len(fcurves[key].keyframe_points):
            raise ValueError(f"{obj.name!r}: {key[0]}[{key[1]}] has {len(fcurves[key].keyframe_points)} keys, "
                             f"got {len(series)} values")
    for key, series in values.items():
        fcurve = fcurves[key]
        co = np.empty(2 * len(series), dtype=np.float32)
        fcurve.keyframe_points.foreach_get("co", co)
        co[1::2] = series
        fcurve.keyframe_points.foreach_set("co", co)
        fcurve.update()


def read_action(obj: bpy.types.Object) -> dict[tuple[str, int], np.ndarray]:
    """Keyed values per (data_path, index): (N,) float32 in key order (frames = keys)."""
    result = {}
    for fcurve in action_fcurves(obj):
        co = np.empty(2 * len(fcurve.keyframe_points), dtype=np.float32)
        fcurve.keyframe_points.foreach_get("co", co)
        result[(fcurve.data_path, fcurve.array_index)] = co[1::2].copy()
    return result


def action_frames(obj: bpy.types.Object) -> np.ndarray:
    """Key frame numbers (N,) of the first F-curve of the active action."""
    fcurves = action_fcurves(obj)
    if not fcurves:
        return np.zeros(0, dtype=np.float32)
    co = np.empty(2 * len(fcurves[0].keyframe_points), dtype=np.float32)
    fcurves[0].keyframe_points.foreach_get("co", co)
    return co[0::2].copy()
