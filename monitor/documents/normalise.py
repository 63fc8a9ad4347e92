"""From what a source delivered to a document: clean text, canonical URL, id.

Pure: no I/O, no clock (the fetch time is an argument). Every pattern is
compiled at import because this runs once per feed entry, and the whole of
:func:`normalise_entry` must cost a fraction of parsing the feed.

Identity, in order of preference: the entry's guid (only unique within one
feed, hence ids are namespaced by source), its canonical URL, or the hash of
its title and text. The content hash covers title and text only, so a URL
that gained a tracking parameter or a re-dated copy is not a revision.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from html import unescape
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from monitor.documents.dates import parse_published
from monitor.documents.language import detect_language
from monitor.documents.shapes import Document, RawEntry

__all__ = [
    "canonical_url",
    "clean_text",
    "clean_title",
    "content_hash",
    "detect_language",
    "document_id",
    "html_to_text",
    "normalise_entry",
    "parse_published",
    "title_from_text",
]

# ---------------------------------------------------------------- text

# One alternation, tried left to right at each "<": comments and CDATA first so
# that markup inside them is not taken for tags; elements whose content is not
# text (script, style...) swallow everything up to their end tag (to the end of
# the input when it is missing, as browsers do); then ordinary tags, with a
# fallback for attributes whose quotes never close. A "<" that starts none of
# these ("a < b", "<3") stays text.
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<!\[CDATA\[(?P<cdata>.*?)(?:\]\]>|\Z)"
    r"|<[!?][^>]*(?:>|\Z)"
    r"|<(?P<skip>script|style|template|noscript|title|textarea)\b"
    r"""(?:"[^"]*"|'[^']*'|[^'">])*(?:>.*?(?:</(?P=skip)\s*>|\Z)|\Z)"""
    r"""|<(?P<close>/)?(?P<name>[A-Za-z][^\s/>]*)(?:(?:"[^"]*"|'[^']*'|[^'">])*(?:>|\Z)|[^>]*(?:>|\Z))""",
    re.DOTALL | re.IGNORECASE,
)
# Blocks are paragraphs (a blank line around them); line-level elements start a
# new line only when they open, so consecutive list items are not double-spaced.
# The trafilatura XML names (head, list, quote, item, row, lb) are here because
# seeds pass its output through this same function.
_PARAGRAPH_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "div", "dl",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "ul", "head", "list", "quote",
})  # fmt: skip
_LINE_TAGS = frozenset({"li", "dt", "dd", "tr", "caption", "option", "item", "row"})
_BREAK_TAGS = frozenset({"br", "lb"})
_CELL_TAGS = frozenset({"td", "th", "cell"})

# clean_text runs on every entry, so the common case (only spaces and "\n")
# takes plain string methods; the regexes run only when unusual characters
# are there: other line breaks, spaces and invisible or control characters
# (soft hyphen, zero-width space, word joiner and BOM split words for matching).
_UNUSUAL = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\xa0\xad\u061c\u1680\u2000-\u200b\u200e\u200f\u2028\u2029"
    r"\u202a-\u202f\u205f\u2060-\u2064\u2066-\u2069\u3000\ufeff]"
)
_LINE_ENDS = re.compile(r"[\v\f\x85\u2028]")
# Controls, soft hyphens, zero-width spaces and every bidi control (embeddings, overrides,
# isolates, marks: a title can use them to show text other than it holds). ZWNJ and ZWJ
# (U+200C, U+200D) stay: Persian, Indic scripts and emoji need them inside words.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\xad\u061c\u200b\u200e\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACES = re.compile(r"[\t\xa0\u1680\u2000-\u200a\u202f\u205f\u3000 ]+")
_RUNS_OF_SPACES = re.compile(r"  +")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment or document, paragraphs kept.

    Blocks are separated by a blank line, ``<br>`` and list items by a line
    break; script, style, template, noscript, title and textarea contents and
    comments are dropped; entities are unescaped. Text without any markup keeps
    its line breaks (feeds put plain text in HTML fields).
    """
    parts: list[str] = []
    position = 0
    in_pre = 0
    for token in _TOKEN.finditer(html):
        if token.start() > position:
            parts.append(_html_text(html[position : token.start()], in_pre > 0))
        position = token.end()
        name = token.group("name")
        if name is not None:
            name = name.lower()
            parts.append(_tag_text(name, closing=token.group("close") is not None))
            if name == "pre":
                in_pre = max(0, in_pre + (-1 if token.group("close") else 1))
        elif token.group("cdata") is not None:
            parts.append(token.group("cdata"))
    if position == 0:
        return clean_text(unescape(html))
    parts.append(_html_text(html[position:], in_pre > 0))
    return clean_text("".join(parts))


def _html_text(chunk: str, preformatted: bool) -> str:
    text = unescape(chunk)
    if preformatted:
        return text
    # Line breaks in HTML source are spaces; only markup breaks lines.
    return text.replace("\r", " ").replace("\n", " ")


def _tag_text(name: str, *, closing: bool) -> str:
    if name in _PARAGRAPH_TAGS:
        return "\n\n"
    if name in _BREAK_TAGS or (name in _LINE_TAGS and not closing):
        return "\n"
    if name in _CELL_TAGS:
        return " "
    return ""


def clean_text(text: str) -> str:
    """Plain text tidied: NFC, one space between words, at most one blank line.

    Line endings become ``\\n``; invisible and control characters go; spaces
    and tabs collapse and are trimmed at line ends. Entities stay as written.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _UNUSUAL.search(text):
        text = _LINE_ENDS.sub("\n", text).replace("\u2029", "\n\n")
        text = _SPACES.sub(" ", _INVISIBLE.sub("", text))
    elif "  " in text:
        text = _RUNS_OF_SPACES.sub(" ", text)
    text = text.replace(" \n", "\n").replace("\n ", "\n")
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return unicodedata.normalize("NFC", text.strip())


def clean_title(title: str | None) -> str:
    """A title as one line of plain text (feeds put HTML and scripts in titles)."""
    if not title:
        return ""
    return _RUNS_OF_SPACES.sub(" ", html_to_text(title).replace("\n", " "))


# A full stop closes the first sentence only past the first few characters,
# so that "U.S." or "Dr." at the start does not make a two-letter title.
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019\u00bb)\]]*(?=\s|$)")
_SENTENCE_MIN = 20
TITLE_MAX = 160


def title_from_text(text: str) -> str:
    """The first sentence of ``text``, cut at a word to ``TITLE_MAX`` with "…"."""
    first_line = text.lstrip().split("\n", 1)[0]
    end = _SENTENCE_END.search(first_line, min(_SENTENCE_MIN, len(first_line)))
    sentence = first_line[: end.end()] if end else first_line
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1]
    if len(sentence) <= TITLE_MAX:
        return sentence
    cut = sentence[: TITLE_MAX - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-\u2013\u2014") + "…"


# ---------------------------------------------------------------- URLs

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Click and campaign ids: they name the visit, not the page.
_TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid", "yclid",
    "igshid", "twclid", "ttclid", "li_fat_id", "srsltid", "_hsenc", "_hsmi", "__hstc", "__hssc",
    "__hsfp", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "_ga", "_gl",
})  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_")
# WHATWG URL parsing removes these wherever they are; feeds wrap long links.
_URL_WHITESPACE = re.compile(r"[\t\n\r]")
_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/%:@!$&'()*+,;=._~?-]")
# "%2f" and "%2F" are the same byte; one spelling keeps one id per page.
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_HOST = re.compile(r"[a-z0-9._-]+|\[[0-9a-f:.]+\]")


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The URL in one spelling per page, or None when it is not absolute http(s).

    Scheme and host are lowercased (international hosts become punycode), the
    default port, user info, fragment and tracking parameters (``utm_*``,
    ``fbclid``, ``gclid``...) are dropped, other parameters keep their order,
    and characters that must be escaped are. ``base`` resolves relative URLs;
    without one a scheme-relative ``//host/path`` is taken as https.
    """
    if url is None:
        return None
    url = _URL_WHITESPACE.sub("", url.strip())
    if not url:
        return None
    if base:
        url = urljoin(base, url)
    elif url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range, or brackets that do not close
        return None
    scheme = parts.scheme.lower()
    host = _canonical_host(parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or host is None:
        return None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _escape(parts.path) or "/"
    return urlunsplit((scheme, netloc, path, _without_tracking(parts.query), ""))


@lru_cache(maxsize=4096)
def _canonical_host(host: str) -> str | None:
    host = host.rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:  # beyond IDNA 2003 (emoji, long labels): keep it lowercased
            return host.lower()
    return host if _HOST.fullmatch(host) else None


def _escape(component: str) -> str:
    if _NEEDS_QUOTING.search(component):
        component = quote(component, safe="/%:@!$&'()*+,;=._~?-")
    if "%" in component:
        component = _ESCAPE.sub(lambda escape: escape.group().upper(), component)
    return component


def _without_tracking(query: str) -> str:
    if not query:
        return ""
    kept = []
    for pair in query.split("&"):
        name = pair.split("=", 1)[0].lower()
        if pair and name not in _TRACKING_PARAMS and not name.startswith(_TRACKING_PREFIXES):
            kept.append(pair)
    return _escape("&".join(kept))


# ---------------------------------------------------------------- identity


def document_id(source: str, identity: str) -> str:
    """16 hex digits naming a document within everything the daemon stores."""
    digest = hashlib.sha256(f"{source}\x1f{identity}".encode())
    return digest.hexdigest()[:16]


def content_hash(title: str, text: str) -> str:
    """SHA-256 (hex) of a normalised title and text: what a revision changes."""
    return hashlib.sha256(f"{title}\x1f{text}".encode()).hexdigest()


# Caps per entry (a hostile feed may send one 9 MB description): a title is cut at
# TITLE_CAP characters, the text at TEXT_CAP (a long article is about 30,000), each ending
# with CUT_MARK where it was cut; HTML is cut at CONTENT_CAP before it is read at all.
TITLE_CAP = 300
TEXT_CAP = 100_000
CONTENT_CAP = 4 * TEXT_CAP
CUT_MARK = " [\u2026]"


def capped(text: str, limit: int, *, cut: bool = False) -> str:
    """``text`` within ``limit`` characters, cut at a space where one is near and marked."""
    if len(text) <= limit and not cut:
        return text
    kept = text[: limit - len(CUT_MARK)]
    space = kept.rfind(" ", len(kept) - 40)
    return (kept[:space] if space > 0 else kept).rstrip() + CUT_MARK


def normalise_entry(raw: RawEntry, *, source: str, fetched_at: datetime) -> Document:
    """Turn what ``source`` delivered into a document ready for the log."""
    content = raw.content or ""
    cut = len(content) > CONTENT_CAP
    content = content[:CONTENT_CAP]
    text = html_to_text(content) if raw.content_is_html else clean_text(content)
    text = capped(text, TEXT_CAP, cut=cut)
    given_title = clean_title(raw.title[: 4 * TITLE_CAP] if raw.title else raw.title)
    given_title = capped(given_title, TITLE_CAP)
    title = given_title or title_from_text(text)
    url = canonical_url(raw.url)
    digest = content_hash(title, text)
    guid = raw.guid.strip() if raw.guid else ""
    if guid:
        identity = "guid:" + guid
    elif url:
        identity = "url:" + url
    else:
        identity = "hash:" + digest
    sample = f"{given_title}\n{text}" if given_title else text
    author = clean_title(raw.author) or None
    return Document(
        document_id=document_id(source, identity),
        identity=identity,
        source=source,
        url=url,
        title=title,
        text=text,
        language=detect_language(sample, raw.language),
        published=parse_published(raw.published, raw.published_parsed, fetched_at),
        content_hash=digest,
        author=author,
    )
