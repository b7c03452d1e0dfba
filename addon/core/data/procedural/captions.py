"""Captions for procedural clips: varied templates, synonyms and paraphrases, true of the clip.

Left/right words describe the body's own sides, so :func:`..mirror.mirror_text` keeps a caption
true of the mirrored clip. The evaluation's reworded prompts (:mod:`.prompts`) avoid every word
of the role lists below.
"""

from __future__ import annotations

import numpy as np

STAFF = ("nurse", "carer", "caregiver", "staff member", "care worker", "care assistant", "nursing assistant",
         "health care worker", "doctor", "helper", "member of staff", "physiotherapist")
PATIENT = ("patient", "resident", "elderly man", "elderly woman", "older person", "old man", "old woman",
           "elderly person", "elderly patient", "older man", "older woman", "sick person", "care home resident")
PERSON = {"staff": STAFF, "patient": PATIENT}

# {A}: the (first) person, {B}: the second person; {a}/{b}: the same with "the".
# Several wordings per script, so that a text encoder's neighbourhood of each script is wide; none
# uses a content word of the evaluation's reworded prompts (tests/core/test_procedural_data.py).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "walk_through": ("{A} walks {way}", "{A} walks {way}{pace}", "{A} is walking {way}", "{A} goes {way} on foot",
                     "{A} heads {way}", "{A} wanders {way}", "{A} paces {way}", "{A} steps {way}{pace}"),
    "stand_and_turn": ("{A} stands and turns {turn}", "{A} stands still, then turns {turn}",
                       "{A} is standing and turns {turn}", "{A} stays put and then turns {turn}",
                       "{A} stands for a moment and swivels {turn}", "{A} halts and pivots {turn}",
                       "{A} remains still, then twists {turn}"),
    "sit_on_chair": ("{A} walks to a chair and sits down{up}", "{A} sits down on a chair{up}",
                     "{A} takes a seat on the chair{up}", "{A} sits in a chair{up}", "{A} sinks into a chair{up}",
                     "{A} goes over to a chair and sits{up}", "{A} is seated on a chair{up}"),
    "sit_on_bed_edge": ("{A} sits down on the edge of the bed", "{A} walks to the bed and sits on its edge",
                        "{A} sits on the side of the bed", "{A} sits at the bedside", "{A} sits on the end of the bed",
                        "{A} goes to the bed and sits on it", "{A} sits at the edge of the hospital bed"),
    "go_to_bed": ("{A} walks to the bed and lies down", "{A} gets into bed", "{A} sits on the bed and lies down",
                  "{A} lies down in bed", "{A} goes to bed", "{A} lies down on the bed to sleep",
                  "{A} heads to bed and lies on it", "{A} gets in the bed to lie down"),
    "get_out_of_bed": ("{A} gets out of bed", "{A} sits up in bed and stands up",
                       "{A} lying in bed gets up and stands beside the bed", "{A} stands up from the bed",
                       "{A} gets up out of bed", "{A} wakes and gets out of bed", "{A} steps out of bed",
                       "{A} sits up and gets out of the bed"),
    "turn_in_bed": ("{A} lying in bed turns onto the {side} side", "{A} turns over in bed onto the {side} side",
                    "{A} rolls onto the {side} side in bed", "{A} in bed rolls over to the {side} side",
                    "{A} lies in bed and turns to the {side} side", "{A} changes position in bed, turning to the {side} side",
                    "{A} in bed turns on to the {side} side"),
    "fall_standing": ("{A} falls {fall}", "{A} is standing and falls {fall}", "{A} loses balance and falls {fall}",
                      "{A} falls down {fall}", "{A} keels over {fall}", "{A} goes down {fall}",
                      "{A} faints and falls {fall}", "{A} loses footing and falls over {fall}"),
    "fall_walking": ("{A} walks and falls {fall}", "{A} falls {fall} while walking",
                     "{A} trips while walking and falls {fall}", "{A} trips and falls {fall}",
                     "{A} is walking when they fall {fall}", "{A} walks, trips and goes down {fall}",
                     "{A} loses footing while walking and falls {fall}", "{A} falls {fall} in the middle of a walk"),
    "fall_from_bed": ("{A} falls out of bed", "{A} sitting on the bed slips and falls to the floor",
                      "{A} falls from the edge of the bed", "{A} rolls out of bed onto the floor",
                      "{A} falls from the bed", "{A} sitting on the bed falls down to the floor",
                      "{A} loses balance on the bed and falls to the floor", "{A} goes over the edge of the bed"),
    "fall_and_try_to_get_up": ("{A} lies on the floor and tries to get up", "{A} on the floor tries to stand up",
                               "{A} lying on the floor struggles to get up", "{A} who fell tries to get up",
                               "{A} on the floor tries to stand but fails", "{A} is on the floor trying to get up",
                               "{A} lies on the floor trying to stand", "{A} on the floor fails to get up"),
    "kneel_or_crouch": ("{A} {low} down and gets up again", "{A} walks over and {low} down", "{A} {low} down",
                        "{A} {low} down on the floor", "{A} {low} to pick something up from the floor",
                        "{A} {low}, then gets up", "{A} goes over and {low}"),
    "bend_over_bed": ("{A} bends over the bed", "{A} walks to the bed and bends over it",
                      "{A} leans over the bed", "{A} leans down over the bed", "{A} bends down over the bed",
                      "{A} leans forward over the bed", "{A} bends towards the bed"),
    "help_up_from_floor": ("{A} helps {b} up from the floor", "{A} {hurries} to {b} on the floor and helps them stand up",
                           "{A} helps {b} who fell get up", "{A} helps {b} to get up from the floor again",
                           "{A} pulls {b} up from the floor", "{A} gives {b} a hand getting up from the floor",
                           "{A} helps {b} who is on the floor to stand"),
    "help_out_of_bed": ("{A} helps {b} get out of bed", "{A} helps {b} sit up and stand up from the bed",
                        "{A} assists {b} out of bed", "{A} helps {b} stand up from bed", "{A} helps {b} up out of bed",
                        "{A} supports {b} getting out of bed", "{A} assists {b} to get up from the bed"),
    "support_walking": ("{A} supports {b} while walking", "{A} walks beside {b} and holds their arm",
                        "{A} helps {b} walk", "{A} holds {b} by the arm while they walk",
                        "{A} walks with {b}, supporting them", "{A} assists {b} with walking",
                        "{A} accompanies {b} and supports them"),
    "attend_in_bed": ("{A} attends to {b} in bed", "{A} checks on {b} lying in bed",
                      "{A} walks to the bed and looks after {b}", "{A} cares for {b} lying in bed",
                      "{A} stands by the bed and checks on {b}", "{A} visits {b} in bed",
                      "{A} attends {b} at the bedside"),
    "fall_while_staff_present": ("{b} falls {fall} and {a} hurries over", "{a} rushes to {b} who falls {fall}",
                                 "{B} falls {fall} while {a} is in the room and comes to help",
                                 "{b} falls {fall} and {a} comes to help", "{b} falls {fall}, and {a} runs to them",
                                 "{a} hurries to help when {b} falls {fall}", "while {a} is nearby, {b} falls {fall}"),
    "talk": ("{A} and {B} talk", "{A} talks with {B}", "{A} and {B} stand and chat", "{A} chats with {B}",
             "{A} and {B} chat together", "{A} speaks with {B}", "{A} and {B} talk to each other"),
    "group_talk": ("{A}, {B} and {C} talk", "{A} talks with {B} and {C}", "{A}, {B} and {C} stand together and chat",
                   "{A} chats with {B} and {C}", "{A}, {B} and {C} speak to each other"),
    "hand_over": ("{A} hands something to {b}", "{A} gives {b} an object", "{A} passes an item to {b}",
                  "{A} gives something to {b}", "{A} hands {b} a cup", "{A} passes {b} something",
                  "{A} gives {b} a bottle"),
}


def _noun(role: str, rng: np.random.Generator) -> str:
    return str(rng.choice(PERSON.get(role, ("person",))))


def _indefinite(noun: str) -> str:
    if noun.startswith("other "):
        return "an" + noun  # "another nurse"
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def captions(script: str, roles: list[str], facts: dict, rng: np.random.Generator, count: int = 3) -> list[str]:
    """``count`` captions of a clip. roles: the persons' roles, the staff member first for
    two-person scripts that have one (A = roles[0], B = roles[1])."""
    texts = []
    templates = list(TEMPLATES["group_talk" if script == "talk" and len(roles) == 3 else script])
    rng.shuffle(templates)
    for k in range(count):
        template = templates[k % len(templates)]
        nouns = [_noun(role, rng) for role in roles]
        for i in range(1, len(nouns)):
            if nouns[i] in nouns[:i]:
                nouns[i] = "other " + nouns[i] if len(nouns) == 2 else ("second " if i == 1 else "third ") + nouns[i]
        slots = {
            "A": _indefinite(nouns[0]), "a": "the " + nouns[0],
            "B": _indefinite(nouns[1]) if len(nouns) > 1 else "", "b": "the " + nouns[1] if len(nouns) > 1 else "",
            "C": _indefinite(nouns[2]) if len(nouns) > 2 else "",
            "way": {"in": "into the room", "out": "out of the room", "across": "across the room"}.get(
                facts.get("direction", ""), "across the room"),
            "pace": " slowly" if facts.get("pace") else "",
            "turn": "around" if facts.get("turn") else str(rng.choice(("", "to the side"))),
            "up": str(rng.choice((" and stands up again", ", then gets up"))) if facts.get("stands_up") else "",
            "side": facts.get("side", "left"),
            "fall": facts.get("fall", "forwards"),
            "low": {"kneel": "kneels", "half_kneel": "kneels", "crouch": "crouches"}.get(facts.get("kind", ""), "kneels"),
            "hurries": "hurries" if facts.get("hurry") else "walks",
        }
        texts.append(" ".join(template.format(**slots).split()))
    return texts
