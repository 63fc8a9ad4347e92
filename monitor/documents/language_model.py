"""py3langid's model, compiled once into a file that every process maps instead of loading.

Loading the model from py3langid's compressed pickle costs about a second and 106 MB at
its peak (76 MB kept) in every process that identifies a language: each command, the
daemon, each `run --once`. Compiled once into the cache folder (:mod:`monitor.cache`) as
raw arrays, it is mapped read-only in a few milliseconds: only the pages a text walks are
read in, they are the kernel's file pages (shared by every process and forked worker that
maps the file, and given back under memory pressure, not anonymous memory each one owns),
and nothing is decompressed. A file that cannot be written or read costs a log line, and
the model is then loaded the old way.

Layout: a JSON header (labels, shapes, offsets) after ``MAGIC`` and its length, then each
array at an 8-byte aligned offset in native byte order.
"""

from __future__ import annotations

import array
import json
import logging
import mmap
import struct
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from monitor.cache import cache_folder, save_bytes

log = logging.getLogger("monitor.language")
MAGIC = b"monitor-langid\n"
FORMAT = 1
_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class Tables:
    """The model's tables, as the classifier reads them."""

    nextmove: Sequence[int]  # state * 256 + byte -> next state
    rowbase: Sequence[int]  # state -> offset of its row in nextmove
    output: Sequence[int]  # state -> feature id, or -1
    weights: npt.NDArray[np.float16]  # feature x column log-probabilities
    prior: npt.NDArray[np.float32]  # column log-priors
    columns: tuple[str, ...]  # column -> model label


def tables() -> Tables:
    """The model, mapped from the cache folder (compiled there on first use)."""
    path = cache_folder() / f"langid-{_key()}.bin"
    try:
        return _mapped(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError) as error:
        log.warning("language model %s unreadable (%s): compiling it again", path, error)
    loaded = _from_package()
    if save_bytes(path, _compiled(loaded), "langid-*.bin", "the language model"):
        try:
            return _mapped(path)
        except (OSError, ValueError, KeyError) as error:
            log.warning("language model %s unreadable (%s)", path, error)
    return loaded


def _key() -> str:
    return f"{metadata.version('py3langid')}-{FORMAT}-{sys.byteorder}"


def _from_package() -> Tables:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    # Arrays, not lists of ints: a forked worker reading a list's ints bumps their reference
    # counts and so copies their pages; and not numpy arrays, whose items are slow to index.
    return Tables(
        nextmove=array.array("I", identifier.tk_nextmove),
        rowbase=array.array("q", (row << 8 for row in identifier.tk_row)),
        output=array.array("i", identifier.tk_output),
        weights=np.ascontiguousarray(identifier.nb_ptc, dtype=np.float16),
        prior=np.asarray(identifier.nb_pc, dtype=np.float32),
        columns=tuple(identifier.nb_classes),
    )


_ARRAYS = {
    "nextmove": np.uint32,
    "rowbase": np.int64,
    "output": np.int32,
    "weights": np.float16,
    "prior": np.float32,
}


def _compiled(model: Tables) -> Iterator[bytes]:
    """The file's bytes, an array at a time (one copy of the model in memory is enough)."""
    arrays = {name: np.asarray(getattr(model, name), dtype=d) for name, d in _ARRAYS.items()}
    header: dict[str, Any] = {"columns": list(model.columns), "arrays": {}}
    offset = 0
    for name, table in arrays.items():
        header["arrays"][name] = {"offset": offset, "shape": list(table.shape)}
        offset += table.nbytes + (-table.nbytes % 8)
    header["size"] = offset
    encoded = json.dumps(header).encode()
    encoded += b" " * (-(len(MAGIC) + _LENGTH.size + len(encoded)) % 8)
    yield MAGIC + _LENGTH.pack(len(encoded)) + encoded
    for table in arrays.values():
        yield np.ascontiguousarray(table).tobytes() + b"\0" * (-table.nbytes % 8)


def _mapped(path: Path) -> Tables:
    with path.open("rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    if mapped[: len(MAGIC)] != MAGIC:
        raise ValueError("not a compiled language model")
    (length,) = _LENGTH.unpack_from(mapped, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    header = json.loads(mapped[start : start + length])
    base = start + length
    if len(mapped) != base + header["size"]:
        raise ValueError(f"{len(mapped)} bytes, not {base + header['size']}")
    arrays = {}
    for name, dtype in _ARRAYS.items():
        where = header["arrays"][name]
        count = int(np.prod(where["shape"]))
        array = np.frombuffer(mapped, dtype=dtype, count=count, offset=base + where["offset"])
        arrays[name] = array.reshape(where["shape"])
    view = memoryview(mapped)

    def items(name: str, code: Literal["I", "i", "q"]) -> memoryview[int]:
        # memoryviews for the walk: indexing one gives a Python int as fast as an array's.
        where = header["arrays"][name]
        size = int(np.prod(where["shape"])) * np.dtype(_ARRAYS[name]).itemsize
        return view[base + where["offset"] : base + where["offset"] + size].cast(code)

    return Tables(
        nextmove=items("nextmove", "I"),
        rowbase=items("rowbase", "q"),
        output=items("output", "i"),
        weights=arrays["weights"],
        prior=arrays["prior"],
        columns=tuple(header["columns"]),
    )
