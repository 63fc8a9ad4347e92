"""Which language a document is written in: ISO 639-1, or ``und``.

The model is py3langid's (a naive Bayes classifier over byte n-grams that
ships with the package, so nothing is downloaded). We walk its n-gram
automaton and score with its weights ourselves instead of calling
``LanguageIdentifier.classify``: that method multiplies a float16 matrix,
which numpy does without BLAS and which cost ~350 µs for a 1 KB sample,
more than the whole normalisation budget. The same weights as float32 give
the same answer in a fraction of the time (a test checks they agree). The
model is compiled once into the cache folder and mapped from there
(:mod:`monitor.documents.language_model`), on first use or by :func:`load_model`.

Declared languages (``<language>`` in RSS, ``xml:lang``, ``<html lang>``)
are hints: publishers often declare one language for a multilingual feed,
so the classifier wins whenever there is enough text to judge.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.documents.language_model import Tables

UNDETERMINED = "und"

# A prefix is enough to recognise a language; classifying more only costs time.
SAMPLE_CHARS = 1000
# Below this many letters the classifier's guess is noise unless it is very sure.
MIN_LETTERS = 40
MIN_CONFIDENCE_SHORT = 0.9
# Classify the first bytes first: almost every text is settled by then, and the
# rest of the sample is only walked when the answer is still close.
FIRST_PASS_BYTES = 320
SETTLED_CONFIDENCE = 0.999

_NON_LETTERS = re.compile(r"[\W\d_]+")
_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9-_]*)?")

# Labels of the model that are not ISO 639-1 codes, folded into the language a
# news reader would file them under; any other such label becomes "und".
_MODEL_LABELS = {
    "ary": "ar",  # Moroccan Arabic
    "arz": "ar",  # Egyptian Arabic
    "fuv": "ff",  # Nigerian Fulfulde
    "grc": "el",  # Ancient Greek: in news, modern Greek the model misfiled
    "gug": "gn",  # Paraguayan Guarani
    "hbo": "he",  # Ancient Hebrew
    "kik": "ki",  # Kikuyu
    "pcm": "en",  # Nigerian Pidgin, English-lexified
    "sdh": "ku",  # Southern Kurdish
    "uzs": "uz",  # Southern Uzbek
    "wuu": "zh",  # Wu Chinese
    "yue": "zh",  # Cantonese
    "zxx": UNDETERMINED,  # "no linguistic content"
}

# Three-letter (ISO 639-2/3) and retired codes that publishers put in hints.
_HINT_CODES = {
    "ara": "ar", "aze": "az", "bel": "be", "bul": "bg", "ces": "cs", "cze": "cs",
    "chi": "zh", "dan": "da", "deu": "de", "dut": "nl", "ell": "el", "eng": "en",
    "est": "et", "fas": "fa", "per": "fa", "fin": "fi", "fra": "fr", "fre": "fr",
    "geo": "ka", "ger": "de", "gre": "el", "heb": "he", "hrv": "hr", "hun": "hu",
    "hye": "hy", "arm": "hy", "ita": "it", "jpn": "ja", "kat": "ka", "kaz": "kk",
    "kor": "ko", "lav": "lv", "lit": "lt", "nld": "nl", "nob": "no", "nor": "no",
    "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru", "slk": "sk",
    "slo": "sk", "slv": "sl", "spa": "es", "srp": "sr", "swe": "sv", "tur": "tr",
    "ukr": "uk", "zho": "zh",
    "nb": "no", "iw": "he", "in": "id", "ji": "yi", "jw": "jv",
}  # fmt: skip


def language_tag(tag: str | None) -> str | None:
    """The ISO 639-1 code of a declared language (``en-US`` → ``en``), or None."""
    if not tag:
        return None
    match = _TAG.fullmatch(tag.strip())
    if match is None:
        return None
    code = match.group(1).lower()
    code = _HINT_CODES.get(code, code)
    return code if len(code) == 2 else None


def detect_language(text: str, hint: str | None = None) -> str:
    """ISO 639-1 code of ``text``'s language, or ``und`` when it cannot be told.

    Only the first ``SAMPLE_CHARS`` characters are read. A text with fewer than
    ``MIN_LETTERS`` letters is too short to judge: the declared ``hint`` is
    trusted then, and without one the classifier must be confident.
    """
    sample = text[:SAMPLE_CHARS]
    declared = language_tag(hint)
    short = _is_short(sample)
    if short and declared:
        return declared
    language, confidence = _model().classify(sample)
    if short and confidence < MIN_CONFIDENCE_SHORT:
        return UNDETERMINED
    if language == UNDETERMINED and declared:
        return declared
    return language


def _is_short(sample: str) -> bool:
    # Counting letters over the whole sample costs more than classifying it, and
    # almost every text has enough of them in its first few lines.
    head = sample[: MIN_LETTERS * 4]
    if len(_NON_LETTERS.sub("", head)) >= MIN_LETTERS:
        return False
    return len(head) == len(sample) or len(_NON_LETTERS.sub("", sample)) < MIN_LETTERS


def load_model() -> None:
    """Load the language model now rather than on the first document."""
    _model()


@dataclass(frozen=True, slots=True)
class _Model:
    tables: Tables  # py3langid's, mapped from the cache folder
    column_label: npt.NDArray[np.intp]  # column -> index into labels
    labels: tuple[str, ...]

    @classmethod
    def of(cls, tables: Tables) -> _Model:
        columns = [_label(name) for name in tables.columns]
        labels = tuple(dict.fromkeys(columns))
        return cls(tables, np.asarray([labels.index(c) for c in columns], dtype=np.intp), labels)

    def classify(self, sample: str) -> tuple[str, float]:
        """The most likely label and its probability."""
        if sample.isupper():  # the model was trained on mixed case, as py3langid does
            sample = sample.lower()
        data = sample.encode("utf-8", "ignore")
        features: list[int] = []
        state = self._walk(data[:FIRST_PASS_BYTES], 0, features)
        label, confidence = self._decide(features, min(len(data), FIRST_PASS_BYTES))
        if len(data) > FIRST_PASS_BYTES and confidence < SETTLED_CONFIDENCE:
            self._walk(data[FIRST_PASS_BYTES:], state, features)
            label, confidence = self._decide(features, len(data))
        return label, confidence

    def _walk(self, data: bytes, state: int, features: list[int]) -> int:
        # The hot loop: locals only, one list append per n-gram found.
        tables = self.tables
        nextmove, rowbase, output = tables.nextmove, tables.rowbase, tables.output
        append = features.append
        for byte in data:
            state = nextmove[rowbase[state] + byte]
            feature = output[state]
            if feature >= 0:
                append(feature)
        return state

    def _decide(self, features: list[int], length: int) -> tuple[str, float]:
        if not features:
            return UNDETERMINED, 0.0
        ids, counts = np.unique(np.asarray(features, dtype=np.intp), return_counts=True)
        # The weights stay in the model's float16 (28 MB, not 57): only the few rows a
        # sample uses are widened to float32.
        rows = self.tables.weights[ids].astype(np.float32)
        scores = np.log1p(counts.astype(np.float32)) @ rows + self.tables.prior
        # py3langid's calibration: a softmax at temperature sqrt(bytes).
        scores *= 1.0 / math.sqrt(length)
        np.exp(scores - scores.max(), out=scores)
        probabilities = np.bincount(self.column_label, weights=scores, minlength=len(self.labels))
        best = int(probabilities.argmax())
        label = self.labels[best]
        confidence = min(1.0, float(probabilities[best] / scores.sum()))  # rounding
        return (label if len(label) == 2 else UNDETERMINED), confidence


_lock = threading.Lock()
_loaded: list[_Model] = []


def _model() -> _Model:
    if not _loaded:
        with _lock:
            if not _loaded:
                _loaded.append(_load())
    return _loaded[0]


def _load() -> _Model:
    from monitor.documents.language_model import tables

    return _Model.of(tables())


def _label(name: str) -> str:
    # Unmapped labels stay apart (summed into one "und" they would outvote real
    # languages on short texts) and are reported as "und" only when they win.
    return _MODEL_LABELS.get(name, name)
