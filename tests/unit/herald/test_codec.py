from __future__ import annotations

import pytest

from herald.codec import frame, unframe
from herald.errors import CodecError


def test_frame_and_unframe_are_inverse() -> None:
    data = frame(7, b"\x02hi")
    assert data[:5] == b"\x00\x00\x00\x00\x07"
    schema_id, body = unframe(data)
    assert schema_id == 7 and bytes(body) == b"\x02hi"


@pytest.mark.parametrize("data", [b"", b"\x00\x00", b"\x01\x00\x00\x00\x07body", b"{json}"])
def test_unframe_rejects_what_is_not_confluent_framed(data: bytes) -> None:
    with pytest.raises(CodecError):
        unframe(data)
