"""Mail header values that are plain text whatever they hold (feed titles in subjects)."""

from __future__ import annotations

import email.header
import email.policy
import re

PLAIN_HEADER = re.compile(r"[ -~]*")


class TextHeader(str):
    """A header value that is plain text, whatever it holds: written by us as RFC 2047
    encoded words whenever it is not plain printable ASCII.

    Given a string, the email library parses it as a header, so an encoded word inside a
    feed's title is decoded, and Python before 3.11.10 writes what it decodes out as it is,
    line breaks included: one title could add headers or change what the subject says.
    A value with a ``name`` is a header object to the library, stored and folded as is.
    """

    name: str

    def __new__(cls, name: str, text: str) -> TextHeader:
        header = super().__new__(cls, text)
        header.name = name
        return header

    def fold(self, *, policy: email.policy.EmailPolicy) -> str:
        limit = policy.max_line_length or 78
        text = str(self)
        if PLAIN_HEADER.fullmatch(text) and "=?" not in text and len(text) + len(self.name) < limit:
            return f"{self.name}: {text}{policy.linesep}"
        # Encoded as a whole: a reader's program decodes each word once, and what it shows
        # is the text, an encoded word that was in it included, as literal characters.
        encoded = email.header.Header(text, "utf-8", header_name=self.name)
        return f"{self.name}: {encoded.encode(linesep=policy.linesep, maxlinelen=limit)}{policy.linesep}"
