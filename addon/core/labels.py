"""The one list of action labels (per frame, per person) and of scripts (per clip).

A clip's Motions carry ``labels`` (T,) int32 indices into :data:`ACTIONS`; a clip's script is
one of :data:`SCRIPTS`, the class the evaluator's clip classifier predicts. The procedural data
set writes them, the evaluation and the renderer's annotations read them, and generation reads
:data:`TOUCH_SCRIPTS`, :data:`IN_BED_SCRIPTS` and :data:`ON_CHAIR_SCRIPTS` (names only: nothing
here loads data).
"""

from __future__ import annotations

ACTIONS: tuple[str, ...] = (
    "stand", "walk", "hurry", "turn", "sit_down", "sit", "stand_up", "lie_down", "lie",
    "get_out_of_bed", "turn_in_bed", "fall", "lie_on_floor", "try_to_get_up", "kneel", "crouch",
    "bend_over", "help_up", "assist_transfer", "support_walk", "attend", "talk", "hand_over",
)
ACTION_INDEX = {name: index for index, name in enumerate(ACTIONS)}

# One per clip. Single-person scripts first, then the two-person ones.
SCRIPTS: tuple[str, ...] = (
    "walk_through", "stand_and_turn", "sit_on_chair", "sit_on_bed_edge", "go_to_bed",
    "get_out_of_bed", "turn_in_bed", "fall_standing", "fall_walking", "fall_from_bed",
    "fall_and_try_to_get_up", "kneel_or_crouch", "bend_over_bed",
    "help_up_from_floor", "help_out_of_bed", "support_walking", "attend_in_bed",
    "fall_while_staff_present", "talk", "hand_over",
)
SCRIPT_INDEX = {name: index for index, name in enumerate(SCRIPTS)}
# What each script is, in a few words for messages ("this checkpoint does walking in or out poorly").
SCRIPT_TITLES: dict[str, str] = {
    "walk_through": "walking in or out", "stand_and_turn": "standing and turning",
    "sit_on_chair": "sitting down on a chair", "sit_on_bed_edge": "sitting on a bed's edge",
    "go_to_bed": "going to bed", "get_out_of_bed": "getting out of bed", "turn_in_bed": "turning in bed",
    "fall_standing": "falling from standing", "fall_walking": "falling while walking",
    "fall_from_bed": "falling from the bed", "fall_and_try_to_get_up": "falling and trying to get up",
    "kneel_or_crouch": "kneeling or crouching", "bend_over_bed": "bending over the bed",
    "help_up_from_floor": "helping someone up from the floor", "help_out_of_bed": "helping someone out of bed",
    "support_walking": "supporting someone's walk", "attend_in_bed": "attending someone in bed",
    "fall_while_staff_present": "a fall with staff present", "talk": "talking", "hand_over": "handing something over",
}
TWO_PERSON_SCRIPTS = frozenset(SCRIPTS[SCRIPTS.index("help_up_from_floor"):])
# Scripts whose caption says that the two people touch (assisting hands reach the other person).
TOUCH_SCRIPTS = frozenset({"help_up_from_floor", "help_out_of_bed", "support_walking", "hand_over"})
# Scripts in which someone lies in bed for part of the clip (generation lays them onto the bed).
IN_BED_SCRIPTS = frozenset({"go_to_bed", "get_out_of_bed", "turn_in_bed", "fall_from_bed", "help_out_of_bed",
                            "attend_in_bed"})
# Scripts in which someone sits on a chair (generation seats sitters beside a chair on it).
ON_CHAIR_SCRIPTS = frozenset({"sit_on_chair", "hand_over"})
# Scripts in which someone sits on the edge of a bed (generation sits sitters beside a bed on its edge).
ON_BED_EDGE_SCRIPTS = frozenset({"sit_on_bed_edge", "go_to_bed", "get_out_of_bed", "fall_from_bed",
                                 "help_out_of_bed"})
# Scripts that are a walk (generation steps the walkers along a route, together).
WALKING_SCRIPTS = frozenset({"walk_through", "fall_walking", "support_walking"})
