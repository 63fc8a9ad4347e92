"""Content-Encoding decoders that never produce more than a bounded piece at once.

httpx decodes gzip and brotli itself, but one network chunk goes through the
decompressor in a single call: a 1.6 kB brotli body of zeros inflates to
1 GiB before any size check can run. These decoders hand back their output in
pieces of about :data:`PIECE` bytes, so :mod:`monitor.feeds.fetch` can count the
decoded body and stop at its cap while memory stays bounded.

Only the encodings we advertise in ``Accept-Encoding`` are supported.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli

# Upper bound (give or take brotli's buffer growth, at most 2x) on one decoded piece.
PIECE = 1 << 20

SUPPORTED = ("gzip", "deflate", "br")

_GZIP_MAGIC = b"\x1f\x8b"


class DecompressionError(ValueError):
    """The body is not valid in its declared Content-Encoding."""


class Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip (several members allowed) or deflate (zlib-wrapped, or raw as some servers send it)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._gzip = name == "gzip"
        self._first = True
        self._ended = False  # the stream is complete; anything after it is ignored
        self._d = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> Iterator[bytes]:
        first, self._first = self._first, False
        produced = False
        try:
            for out in self._drain(data):
                produced = True
                yield out
        except zlib.error as exc:
            # A raw deflate stream fails the zlib header check on its very first bytes.
            if self._gzip or not first or produced:
                raise DecompressionError(f"invalid {self._name} body: {exc}") from None
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                yield from self._drain(data)
            except zlib.error as raw_exc:
                raise DecompressionError(f"invalid {self._name} body: {raw_exc}") from None

    def _drain(self, data: bytes) -> Iterator[bytes]:
        while not self._ended:
            out = self._d.decompress(data, PIECE)
            data = self._d.unconsumed_tail
            if out:
                yield out
            if self._d.eof:
                data = self._next_member()
            # A full piece may leave output buffered inside zlib even when the input is used up.
            if not data and len(out) < PIECE:
                return

    def _next_member(self) -> bytes:
        rest = self._d.unused_data
        if self._gzip and rest.startswith(_GZIP_MAGIC):
            self._d = zlib.decompressobj(zlib.MAX_WBITS | 16)
            return rest
        # Trailing bytes after the stream (padding some servers add) carry nothing.
        self._ended = True
        return b""

    def finish(self) -> Iterator[bytes]:
        if not self._first and not self._ended:
            raise DecompressionError(f"truncated {self._name} body")
        return iter(())


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        self._started = self._started or bool(data)
        if self._d.is_finished():
            return  # trailing bytes after the stream carry nothing
        try:
            out: bytes = self._d.process(data, output_buffer_limit=PIECE)
            if out:
                yield out
            # A full buffer may leave output pending, and until the decoder asks for
            # input again it must be called with none.
            while len(out) >= PIECE or not self._d.can_accept_more_data():
                out = self._d.process(b"", output_buffer_limit=PIECE)
                if not out and self._d.can_accept_more_data():
                    return
                yield out
        except brotli.error as exc:
            raise DecompressionError(f"invalid br body: {exc}") from None

    def finish(self) -> Iterator[bytes]:
        yield from self.decode(b"")
        if self._started and not self._d.is_finished():
            raise DecompressionError("truncated br body")


class _Chain:
    """Several codings, applied by the server in order, so undone in reverse."""

    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(1, self._decoders[0].decode(data))

    def finish(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            yield from self._through(index + 1, decoder.finish())

    def _through(self, index: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        if index == len(self._decoders):
            yield from pieces
            return
        for piece in pieces:
            yield from self._through(index + 1, self._decoders[index].decode(piece))


def decoder_for(content_encoding: str | None) -> Decoder:
    """The decoder for a Content-Encoding header value (``None`` or empty: identity)."""
    names = [n.strip().lower() for n in (content_encoding or "").split(",")]
    names = [n for n in names if n and n != "identity"]
    decoders: list[Decoder] = [_one(name) for name in reversed(names)]
    if not decoders:
        return _Identity()
    if len(decoders) == 1:
        return decoders[0]
    return _Chain(decoders)


def _one(name: str) -> Decoder:
    if name in ("gzip", "x-gzip"):
        return _Zlib("gzip")
    if name == "deflate":
        return _Zlib("deflate")
    if name == "br":
        return _Brotli()
    raise DecompressionError(f"unsupported Content-Encoding {name!r}")
