"""A message's bytes on the wire, made once, and sent without further copies.

Sending a message through the email library and smtplib held several copies of it at
once (bench/RESULTS.md, "Delivery memory", counts them): the parts' base64 text, each
part's serialized bytes, the joined parts, the generator's outer buffer (`as_bytes`),
and smtplib's DATA quoting, which copies the message to double leading dots and twice
more to append CRLF and the final dot.

- `base64_lines` encodes an attachment once, with CRLF line ends, so the generator's
  line-end rewriting has nothing to change;
- `wire_bytes` serializes a message of leaf parts (what `build_message` makes) straight
  into one buffer, part after part, byte for byte what `as_bytes` gives;
- `StreamingData` sends DATA from that buffer in slices, quoting dots slice by slice.
"""

from __future__ import annotations

import binascii
import ctypes
import re
import smtplib
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import Policy
from io import BytesIO
from typing import Any

_CRLF = b"\r\n"
#: Raw bytes per base64 line: 76 characters, as RFC 2045 allows at most.
_LINE_BYTES = 57
#: How much is encoded, copied or sent at a time.
_SLICE = 1 << 20


def base64_lines(data: bytes) -> str:
    """`data` in base64, 76 characters a line, each line ended by CRLF."""
    out = bytearray()
    _write_base64(out, data)
    return out.decode("ascii")


def _write_base64(out: bytearray, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(data), _LINE_BYTES * 1024):
        block = view[start : start + _LINE_BYTES * 1024]
        out += b"".join(
            binascii.b2a_base64(block[i : i + _LINE_BYTES], newline=False) + _CRLF
            for i in range(0, len(block), _LINE_BYTES)
        )


def base64_size(raw: int) -> int:
    """How many bytes `raw` bytes of attachment take on the wire, as `base64_lines`
    writes them: 4 characters per 3 bytes, 76 a line, each line ended by CRLF."""
    encoded = 4 * -(-raw // 3)
    return encoded + 2 * -(-encoded // 76)


class Base64Attachment(EmailMessage):
    """An attachment part that keeps its raw bytes and makes its base64 text on demand.

    `build_message` turns each attachment part into one, so a message holds every
    attachment once, raw, rather than as base64 text; `wire_bytes` encodes it straight
    into the wire buffer. Readers of the part (`get_payload`, `get_content`) see the base64
    text as always.
    """

    data: bytes | None = None

    @property
    def _payload(self) -> str | None:
        if self.data is not None:
            return base64_lines(self.data)
        return self.__dict__.get("_payload_text")

    @_payload.setter
    def _payload(self, value: str | None) -> None:
        self.data = None  # replaced (set_payload, clear_content): no longer ours
        self.__dict__["_payload_text"] = value

    @classmethod
    def adopt(cls, part: Message, data: bytes) -> None:
        """Make `part` (a base64 part the email library made) keep `data` raw."""
        part.__class__ = cls
        assert isinstance(part, cls)
        part.data = data


def wire_bytes(msg: EmailMessage) -> bytearray:
    """The message as SMTP sends it (CRLF line ends), as `msg.as_bytes()` would give it.

    A multipart message whose parts are leaf parts is written part by part into one
    buffer of the exact size (measured by a first, writing-free pass); anything else
    goes through the email library's generator.
    """
    policy = msg.policy.clone(linesep="\r\n")
    parts = _leaf_parts(msg)
    if parts is None:
        return bytearray(msg.as_bytes(policy=policy))
    if msg.get_boundary() is None:
        msg.set_boundary(_boundary_for(parts, policy))
    size = _Measure()
    _emit(size, msg, parts, policy)
    out = _Fill(size.total)
    _emit(out, msg, parts, policy)
    assert out.position == size.total
    return out.buffer


def _leaf_parts(msg: EmailMessage) -> list[Message] | None:
    """The parts of a multipart message whose parts are all leaf parts, else None."""
    payload = msg.get_payload() if msg.is_multipart() else None
    if not isinstance(payload, list):
        return None
    parts = [part for part in payload if isinstance(part, Message) and not part.is_multipart()]
    return parts if len(parts) == len(payload) else None


class _Measure:
    def __init__(self) -> None:
        self.total = 0

    def add(self, data: bytes | bytearray) -> None:
        self.total += len(data)

    def add_base64(self, data: bytes) -> None:
        self.total += base64_size(len(data))


class _Fill(_Measure):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.buffer = bytearray(size)
        self.position = 0

    def add(self, data: bytes | bytearray) -> None:
        self.buffer[self.position : self.position + len(data)] = data
        self.position += len(data)

    def add_base64(self, data: bytes) -> None:
        block = bytearray()
        step = _LINE_BYTES * (_SLICE // _LINE_BYTES)  # whole lines only
        for start in range(0, len(data), step):
            block.clear()
            _write_base64(block, data[start : start + step])
            self.add(block)


def _emit(out: _Measure, msg: EmailMessage, parts: list[Message], policy: Policy[Any]) -> None:
    boundary = str(msg.get_boundary()).encode("ascii")
    out.add(_headers(msg, policy))
    if msg.preamble is not None:
        out.add(_ascii(msg.preamble) + _CRLF)
    for index, part in enumerate(parts):
        out.add((b"" if index == 0 else _CRLF) + b"--" + boundary + _CRLF)
        _write_part(out, part, policy)
    out.add(_CRLF + b"--" + boundary + b"--" + _CRLF)
    if msg.epilogue is not None:
        out.add(_ascii(msg.epilogue))


class StreamingData:
    """smtplib's DATA without its copies: mix in before smtplib.SMTP.

    smtplib quotes the whole message (`re.sub`), then appends CRLF and ".CRLF" to it,
    each a new copy. This sends the message in slices that end at a line end, doubling
    a dot at the start of a line slice by slice (RFC 5321 4.5.2).
    """

    def data(self, msg: bytes | bytearray) -> tuple[int, bytes]:
        smtp = self
        assert isinstance(smtp, smtplib.SMTP)
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        view = memoryview(msg)
        start = 0
        while start < len(msg):
            end = min(start + _SLICE, len(msg))
            if end < len(msg):
                # End at a line end, so each slice starts a line: '^' below is right.
                line_end = msg.rfind(b"\n", start, end)
                end = line_end + 1 if line_end >= start else end
            smtp.send(_LEADING_DOT.sub(b"..", view[start:end]))
            start = end
        smtp.send(b".\r\n" if msg.endswith(_CRLF) else b"\r\n.\r\n")
        return smtp.getreply()


_LEADING_DOT = re.compile(rb"(?m)^\.")


def return_large_buffers_to_the_system() -> None:
    """Have glibc's malloc map every block over 128 KiB on its own and unmap it when freed.

    By default glibc raises that threshold to the largest block freed so far (up to
    32 MiB), after which attachment-sized blocks come from the heap and their freed
    space is kept, which raises the peak (`bench delivery-memory`; figures in
    bench/RESULTS.md). Elsewhere (musl, macOS) this does nothing.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):
        return


_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


def _write_part(out: _Measure, part: Message, policy: Policy[Any]) -> None:
    if isinstance(part, Base64Attachment) and part.data is not None:
        out.add(_headers(part, policy))
        out.add_base64(part.data)
        return
    if not _is_base64_text(part):
        out.add(_part_bytes(part, policy))
        return
    payload = part.get_payload()
    assert isinstance(payload, str)  # as _is_base64_text checked
    out.add(_headers(part, policy))
    for start in range(0, len(payload), _SLICE):
        out.add(payload[start : start + _SLICE].encode("ascii"))


def _is_base64_text(part: Message) -> bool:
    """A base64 part whose lines already end in CRLF (see `base64_lines`): the generator
    would write it unchanged, so it is copied as it is."""
    if isinstance(part, Base64Attachment) and part.data is not None:
        return True
    payload = part.get_payload()
    return (
        isinstance(payload, str)
        and part.get("Content-Transfer-Encoding") == "base64"
        and payload.count("\n") == payload.count("\r\n") == payload.count("\r")
    )


def _part_bytes(part: Message, policy: Policy[Any]) -> bytes:
    buffer = BytesIO()
    BytesGenerator(buffer, policy=policy).flatten(part, linesep="\r\n")
    return buffer.getvalue()


def _headers(msg: Message, policy: Policy[Any]) -> bytes:
    fold = policy.fold_binary
    return b"".join(fold(name, value) for name, value in msg.raw_items()) + _CRLF


def _boundary_for(parts: list[Message], policy: Policy[Any]) -> str:
    """A boundary no part contains, chosen as the generator chooses it. Only the text
    parts are searched: base64 text has no "-" and cannot hold a boundary line."""
    text = b"".join(_part_bytes(part, policy) for part in parts if not _is_base64_text(part))
    # The generator's own (private, not in typeshed) choice, so the bytes match as_bytes.
    boundary: str = BytesGenerator._make_boundary(text)  # type: ignore[attr-defined]
    return boundary


def _ascii(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii", "surrogateescape")
