"""Switch properties of control rigs that a retarget keys along with the bones.

A generated Rigify rig's limbs blend IK and FK by a custom property ``IK_FK`` on a
``*_parent`` bone (0 = IK, Rigify's default; 1 = FK). The retarget keys the FK controls, so it
keys every such switch to FK in the same action; left at IK the deform bones follow the IK
controls and end up 80-150 degrees away from the keyed pose.
"""

from __future__ import annotations

FK_SWITCH_PROPERTY = "IK_FK"
FK_VALUE = 1.0


def switch_data_path(prop: str) -> str:
    """The pose-bone sub-path of a custom property (``["IK_FK"]``), as F-curves name it."""
    return f'["{prop}"]'
