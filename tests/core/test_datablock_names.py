"""Datablock names that fit Blender 4.x's 63 bytes with the seed and person kept whole."""

import pytest

from addon.core.datablock_names import NAME_BYTES, fitted_name


def test_short_names_stay_as_written_with_whitespace_made_single():
    assert fitted_name("a  nurse\nwalks", " s3 Staff 1") == "a nurse walks s3 Staff 1"


def test_long_prompts_are_cut_to_their_characters_with_an_ellipsis():
    name = fitted_name("a nurse helps a patient who fell get up", " s7 Staff 1", max_chars=20)
    assert name == "a nurse helps a pat… s7 Staff 1"


@pytest.mark.parametrize("prompt", ["ældre kvinde går i seng og lægger sig ned på sengen igen",
                                    "护士帮助摔倒的病人站起来然后扶他到床边坐下休息一会儿再走",
                                    "a" * 200])
def test_non_ascii_prompts_keep_the_seed_and_person_within_63_bytes(prompt):
    suffix = " s2147483647 Patient 3"
    name = fitted_name(prompt, suffix, max_chars=32)
    assert name.endswith(suffix) and len(name.encode("utf-8")) <= NAME_BYTES
    assert name[: -len(suffix)].endswith("…")
    name.encode("utf-8").decode("utf-8")  # never a character cut in half


def test_a_suffix_that_leaves_no_room_is_an_error():
    with pytest.raises(ValueError, match="no room"):
        fitted_name("x", "s" * 62)
