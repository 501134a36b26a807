from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.sms import GSM_BASIC, GSM_EXTENSION, sms_segments

EMOJI = "\N{GRINNING FACE}"


def test_the_gsm_tables_have_the_sizes_of_gsm_03_38() -> None:
    assert len(GSM_BASIC) == 127  # 128 positions, less the escape
    assert len(GSM_EXTENSION) == 10
    assert not GSM_BASIC & GSM_EXTENSION


def test_empty_text_is_one_gsm_segment() -> None:
    assert sms_segments("") == ("GSM-7", 1)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (153 * 2, 2), (153 * 2 + 1, 3), (153 * 3, 3), (153 * 3 + 1, 4)],
)
def test_gsm_text_is_160_septets_whole_or_153_per_part(length: int, segments: int) -> None:
    assert sms_segments("a" * length) == ("GSM-7", segments)


def test_the_whole_basic_set_is_gsm() -> None:
    assert sms_segments("".join(sorted(GSM_BASIC)))[0] == "GSM-7"


@pytest.mark.parametrize("char", sorted(GSM_EXTENSION))
def test_extension_characters_count_as_two_septets(char: str) -> None:
    assert sms_segments(char * 80) == ("GSM-7", 1)  # 160 septets
    assert sms_segments(char * 81) == ("GSM-7", 2)  # 162
    assert sms_segments("a" * 159 + char) == ("GSM-7", 2)


def test_an_escape_sequence_is_not_split_across_segments() -> None:
    # 306 septets would fit two parts, but the '{' cannot straddle the first boundary.
    assert sms_segments("a" * 152 + "{" + "a" * 152) == ("GSM-7", 3)
    assert sms_segments("a" * 151 + "{" + "a" * 153) == ("GSM-7", 2)


@pytest.mark.parametrize("char", ["ç", "中", "\u2019", "\t"])
def test_a_character_outside_gsm_switches_to_ucs2(char: str) -> None:
    assert sms_segments("a" * 10 + char) == ("UCS-2", 1)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        (EMOJI, 1),
        (EMOJI + "a" * 68, 1),  # 70 code units
        (EMOJI + "a" * 69, 2),  # 71
        (EMOJI + "a" * 132, 2),  # 134 = 67 * 2
        (EMOJI + "a" * 133, 3),  # 135
        ("中" * 70, 1),
        ("中" * 71, 2),
    ],
)
def test_ucs2_is_70_code_units_whole_or_67_per_part(text: str, segments: int) -> None:
    assert sms_segments(text) == ("UCS-2", segments)


def test_an_emoji_counts_two_code_units() -> None:
    assert sms_segments(EMOJI * 35) == ("UCS-2", 1)
    assert sms_segments(EMOJI * 36) == ("UCS-2", 2)


def test_a_surrogate_pair_is_not_split_across_segments() -> None:
    assert sms_segments("a" * 66 + EMOJI + "a" * 66) == ("UCS-2", 3)
    assert sms_segments("a" * 65 + EMOJI + "a" * 67) == ("UCS-2", 2)


_ALPHABET = st.sampled_from([*sorted(GSM_BASIC | GSM_EXTENSION), "ç", "中", EMOJI])


@given(st.lists(_ALPHABET, max_size=500).map("".join))
def test_segments_never_decrease_as_text_grows(text: str) -> None:
    counts = [sms_segments(text[:end])[1] for end in range(len(text) + 1)]
    assert counts == sorted(counts)


@given(st.text(max_size=400), st.text(max_size=400))
def test_appending_any_text_never_needs_fewer_segments(head: str, tail: str) -> None:
    assert sms_segments(head + tail)[1] >= sms_segments(head)[1]
