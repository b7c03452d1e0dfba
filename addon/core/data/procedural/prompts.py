"""The evaluation's reworded prompts: each script described in words no training caption uses.

Role nouns (aide, orderly, clinician, attendant / pensioner, senior, inpatient, grandmother ...)
and most verbs differ from :mod:`.captions`; :func:`vocabulary_overlap` measures how much. Each
prompt names its script (the class the evaluator's classifier should see) and the roles to
generate, the staff member first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .captions import PATIENT, STAFF, TEMPLATES


@dataclass(frozen=True)
class RewordedPrompt:
    text: str
    script: str
    roles: tuple[str, ...]


_S, _P = ("staff",), ("patient",)
_SP = ("staff", "patient")

REWORDED: tuple[RewordedPrompt, ...] = tuple(RewordedPrompt(t, s, r) for t, s, r in (
    ("an aide strolls through the ward", "walk_through", _S),
    ("a frail gentleman shuffles along the ward", "walk_through", _P),
    ("an orderly waits in place, then faces the opposite way", "stand_and_turn", _S),
    ("a pensioner pauses and spins round to look behind him", "stand_and_turn", _P),
    ("a senior lowers himself into an armchair", "sit_on_chair", _P),
    ("a grandmother settles onto a seat", "sit_on_chair", _P),
    ("an inpatient perches at the border of the mattress", "sit_on_bed_edge", _P),
    ("a frail lady settles at the rim of her cot", "sit_on_bed_edge", _P),
    ("a pensioner climbs onto the mattress to rest", "go_to_bed", _P),
    ("a grandfather retires to his cot and reclines", "go_to_bed", _P),
    ("an inpatient rises from the mattress and ends up upright", "get_out_of_bed", _P),
    ("a senior leaves his cot in the morning", "get_out_of_bed", _P),
    ("a reclining senior shifts onto the left flank", "turn_in_bed", _P),
    ("a grandmother resting on the mattress rotates to her right flank", "turn_in_bed", _P),
    ("a frail gentleman collapses flat on his face", "fall_standing", _P),
    ("a pensioner topples over where he stands", "fall_standing", _P),
    ("a senior stumbles mid-stride and crashes down", "fall_walking", _P),
    ("a grandmother slips during her stroll and hits the ground", "fall_walking", _P),
    ("an inpatient slides off the mattress onto the ground", "fall_from_bed", _P),
    ("a pensioner tumbles from the side of the cot", "fall_from_bed", _P),
    ("a grandfather down on the tiles attempts to rise but cannot", "fall_and_try_to_get_up", _P),
    ("a senior sprawled on the ground makes efforts to push up", "fall_and_try_to_get_up", _P),
    ("an aide squats low", "kneel_or_crouch", _S),
    ("an orderly drops onto one knee", "kneel_or_crouch", _S),
    ("an attendant stoops above the mattress", "bend_over_bed", _S),
    ("a clinician bows low across the cot", "bend_over_bed", _S),
    ("an aide lifts a fallen pensioner back onto his feet", "help_up_from_floor", _SP),
    ("an orderly raises a senior who is down on the tiles", "help_up_from_floor", _SP),
    ("a clinician gets an inpatient up from the mattress", "help_out_of_bed", _SP),
    ("an attendant brings a grandmother from lying in her cot to standing", "help_out_of_bed", _SP),
    ("an aide steadies a frail gentleman as he strolls", "support_walking", _SP),
    ("an orderly guides a senior along by the elbow", "support_walking", _SP),
    ("a clinician tends to an inpatient resting on the mattress", "attend_in_bed", _SP),
    ("an attendant looks in on a reclining grandmother", "attend_in_bed", _SP),
    ("a senior collapses and an aide dashes across to him", "fall_while_staff_present", _SP),
    ("an orderly races over when a pensioner drops to the ground", "fall_while_staff_present", _SP),
    ("an aide and a pensioner have a conversation", "talk", _SP),
    ("a clinician converses with a grandmother", "talk", _SP),
    ("an attendant offers a glass to a senior", "hand_over", _SP),
    ("an aide delivers a parcel into the hands of an inpatient", "hand_over", _SP),
))

# Tuning prompts: the same scripts worded unlike both the training captions and REWORDED (other
# role nouns: porter, matron, medic, volunteer, ward sister, paramedic / widow, retiree, elder,
# grandpa, convalescent, octogenarian ...). Sampling settings (guidance, prompt anchoring) are
# chosen on these (tools/tune_sampling.py); the evaluation never scores them, so REWORDED stays
# a test set.
DEV: tuple[RewordedPrompt, ...] = tuple(RewordedPrompt(t, s, r) for t, s, r in (
    ("a porter marches down the corridor", "walk_through", _S),
    ("a widow ambles past the window", "walk_through", _P),
    ("a matron halts and swings about to face the door", "stand_and_turn", _S),
    ("a retiree lingers upright, then rotates to glance back", "stand_and_turn", _P),
    ("an elder drops into a stool", "sit_on_chair", _P),
    ("a convalescent parks himself on a wooden seat", "sit_on_chair", _P),
    ("a grandpa rests on the border of his bunk", "sit_on_bed_edge", _P),
    ("an octogenarian plants herself at the lip of the cot", "sit_on_bed_edge", _P),
    ("a widow crawls under the covers for a nap", "go_to_bed", _P),
    ("a retiree stretches out on his bunk", "go_to_bed", _P),
    ("an elder climbs from the bunk and straightens up", "get_out_of_bed", _P),
    ("a convalescent quits the cot and is upright", "get_out_of_bed", _P),
    ("a reclining grandpa flips over to his left", "turn_in_bed", _P),
    ("an octogenarian under the covers swings onto her right", "turn_in_bed", _P),
    ("a retiree crumples to the tiles", "fall_standing", _P),
    ("a widow tips backward and lands hard", "fall_standing", _P),
    ("an elder tripping in mid-step plunges to the ground", "fall_walking", _P),
    ("a grandpa stumbles over his feet while strolling and crashes", "fall_walking", _P),
    ("a convalescent slithers off the bunk to the tiles", "fall_from_bed", _P),
    ("an octogenarian tips off the cot", "fall_from_bed", _P),
    ("a widow sprawled on the tiles struggles in vain to rise", "fall_and_try_to_get_up", _P),
    ("a retiree lying flat attempts to push himself upright", "fall_and_try_to_get_up", _P),
    ("a porter hunkers down low", "kneel_or_crouch", _S),
    ("a medic goes down on one knee", "kneel_or_crouch", _S),
    ("a matron stoops over the bunk", "bend_over_bed", _S),
    ("a volunteer leans across the cot", "bend_over_bed", _S),
    ("a porter hoists a fallen widow back to her feet", "help_up_from_floor", _SP),
    ("a paramedic lifts an elder off the tiles", "help_up_from_floor", _SP),
    ("a ward sister gets a retiree up from his bunk", "help_out_of_bed", _SP),
    ("a medic raises an octogenarian from lying in her cot to upright", "help_out_of_bed", _SP),
    ("a volunteer walks arm in arm with a grandpa", "support_walking", _SP),
    ("a porter steadies a convalescent along the corridor", "support_walking", _SP),
    ("a matron checks in on a widow under the covers", "attend_in_bed", _SP),
    ("a ward sister tends an elder reclining on his bunk", "attend_in_bed", _SP),
    ("a retiree crumples and a paramedic dashes over", "fall_while_staff_present", _SP),
    ("a volunteer rushes across when a widow topples", "fall_while_staff_present", _SP),
    ("a medic chats with a retiree", "talk", _SP),
    ("a porter and a grandpa exchange a few words", "talk", _SP),
    ("a matron passes a cup to an elder", "hand_over", _SP),
    ("a volunteer gives a parcel to a convalescent", "hand_over", _SP),
))

_STOP = {"a", "an", "the", "and", "of", "to", "on", "in", "at", "his", "her", "him", "who", "is", "it", "its",
         "from", "by", "as", "into", "onto", "up", "down", "then", "over", "with", "while", "when", "their",
         "them", "back", "but", "one", "low", "side"}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP}


def training_vocabulary() -> set[str]:
    """Every content word a training caption can contain (templates and role nouns)."""
    words: set[str] = set()
    for templates in TEMPLATES.values():
        for template in templates:
            words |= _words(re.sub(r"\{[a-zA-Z]+\}", " ", template))
    for noun in STAFF + PATIENT:
        words |= _words(noun)
    words |= {"slowly", "around", "forwards", "backwards", "left", "right", "kneels", "crouches", "room",
              "into", "out", "across", "again", "stands", "gets"}
    return words


def vocabulary_overlap(text: str) -> float:
    """Fraction of a prompt's content words that some training caption uses."""
    words = _words(text)
    return len(words & training_vocabulary()) / max(1, len(words))
