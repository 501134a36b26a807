"""SMS length accounting: which encoding a text needs and how many segments it costs.

A text is sent as GSM-7 when every character is in the GSM 03.38 basic set or its extension
table (extension characters take an escape septet, so they count as two); otherwise as UCS-2,
counted in UTF-16 code units (characters outside the BMP, such as emoji, count as two).
A text that fits one segment (160 septets or 70 units) is sent whole; a longer one is split into
concatenated segments of 153 septets or 67 units, and, as handsets do, an escape sequence or a
surrogate pair is never split across two segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

SmsEncoding = Literal["GSM-7", "UCS-2"]

GSM_7: Final = "GSM-7"
UCS_2: Final = "UCS-2"

# GSM 03.38 basic character set, 0x00-0x7F, without 0x1B (the escape to the extension table).
GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs an escape septet plus its own.
GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

_GSM_SINGLE, _GSM_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


def sms_segments(text: str) -> tuple[SmsEncoding, int]:
    """``(encoding, segments)`` for ``text``; an empty text is one GSM-7 segment."""
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        septets = [2 if c in GSM_EXTENSION else 1 for c in text]
        return GSM_7, _count(septets, _GSM_SINGLE, _GSM_PART)
    code_units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return UCS_2, _count(code_units, _UCS2_SINGLE, _UCS2_PART)


def _count(sizes: Sequence[int], single: int, part: int) -> int:
    """Segments for characters of the given sizes: one if all fit ``single``, else packed."""
    if sum(sizes) <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:  # a character that does not fit whole starts the next segment
            segments, used = segments + 1, 0
        used += size
    return segments
