"""An article page's main text (pure): decode the page, keep what trafilatura takes for the article.

Comments, navigation and footers are left out. Nothing here raises for a page: a page
without an article ends as a :class:`FullText` whose ``text`` is None and whose ``error``
says why ("not HTML", "no main text").

Decoding, first that applies: a byte order mark; the charset of the Content-Type header;
the page's ``<meta>`` charset; trafilatura's detection (UTF-8, then charset_normalizer's
guess). A declared charset that does not decode the bytes is passed over rather than
trusted, since servers often send a default header whatever the page says.

This runs in a child process per page (:mod:`monitor.feeds.extraction_server`), where a
time limit can end it; call it directly only on pages of known size and origin.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from monitor.documents.normalise import html_to_text

# Shorter than this, what trafilatura found is a caption or a cookie notice,
# and the feed's own summary is the better text to match.
MIN_CHARS = 200

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Types servers put on anything; the body decides.
_VAGUE_TYPES = frozenset(
    {"", "text/plain", "application/octet-stream", "text/xml", "application/xml"}
)
# WHATWG's sniffing signatures (an XML declaration or comments may come first).
_HTML_START = re.compile(
    rb"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:!doctype\s+html|html|head|body|title|meta|script|style|iframe|h1|div|font|table"
    rb"|a|b|br|p)[\s/>]",
    re.IGNORECASE | re.DOTALL,
)
# Both <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">.
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_PARAM_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_PRESCAN = 4096
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels browsers read as another encoding (WHATWG Encoding): pages are written for browsers.
_BROWSER_ENCODING = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}


@dataclass(frozen=True, slots=True)
class FullText:
    """A page's main text, or (``text`` None) a one-line reason why there is none."""

    text: str | None
    error: str | None = None


def extract_main_text(html: bytes, url: str, *, content_type: str | None = None) -> str | None:
    """The article text of a page, paragraphs apart by a blank line; None when there is none.

    None when the body is not HTML, or when trafilatura (comments excluded,
    tables included, favouring precision) finds under ``MIN_CHARS``.
    """
    return extract_page(html, url, content_type).text


def extract_page(html: bytes, url: str, content_type: str | None) -> FullText:
    """What :func:`extract_main_text` finds, or why there is nothing."""
    if not is_html(html, content_type):
        return FullText(None, "not HTML")
    text = _main_text(decode_html(html, content_type), url)
    if text is None or len(text) < MIN_CHARS:
        return FullText(None, "no main text")
    return FullText(text)


def is_html(body: bytes, content_type: str | None) -> bool:
    """Whether ``body`` is an HTML page: by its declared type, or its first bytes when vague."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in _HTML_TYPES | _VAGUE_TYPES:
        return False
    head = body[:1024]
    if b"\x00" in head.removeprefix(codecs.BOM_UTF16_LE).removeprefix(codecs.BOM_UTF16_BE):
        return False  # binary (UTF-16 pages start with a BOM)
    if media_type in _HTML_TYPES:
        return True
    return _HTML_START.match(head.removeprefix(codecs.BOM_UTF8)) is not None


def decode_html(body: bytes, content_type: str | None) -> str:
    """``body`` as text: BOM, header charset, meta charset, then detection."""
    for bom, bom_encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_encoding, errors="replace")
    header = _PARAM_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:_PRESCAN])
    declared = [header.group(1)] if header else []
    if meta:
        declared.append(meta.group(1).decode("ascii"))
    for label in declared:
        encoding = _encoding(label)
        if encoding is not None:
            try:
                return body.decode(encoding)
            except UnicodeDecodeError:
                continue
    return _detected(body)


def _encoding(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # A page whose meta could be read as ASCII is not UTF-16, whatever it says.
    if name.startswith("utf-16") or name.startswith("utf-32"):
        return "utf-8"
    return _BROWSER_ENCODING.get(name, name)


def _detected(body: bytes) -> str:
    # trafilatura is imported on first use: it costs half a second, and most feeds never need it.
    from trafilatura.utils import detect_encoding

    for guess in detect_encoding(body):
        try:
            return body.decode(guess)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", errors="replace")


def _main_text(html: str, url: str) -> str | None:
    tree = _parse(html)
    if tree is None:
        return None
    from trafilatura import bare_extraction

    document = bare_extraction(
        tree,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        with_metadata=False,
    )
    if document is None or isinstance(document, dict) or document.body is None:
        return None
    import lxml.etree

    # Its XML keeps paragraphs apart (html_to_text knows its tag names); its text output would not.
    return html_to_text(lxml.etree.tostring(document.body, encoding="unicode"))


def _parse(html: str) -> Any:
    import lxml.etree
    import lxml.html

    # UTF-8 bytes with the encoding stated, so a <meta charset> in the page cannot re-decode it;
    # trafilatura's own parser settings otherwise.
    parser = lxml.html.HTMLParser(
        encoding="utf-8",
        collect_ids=False,
        default_doctype=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        return lxml.html.document_fromstring(html.encode(), parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return None
