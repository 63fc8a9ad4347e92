"""The processes that parse feeds: forked once, with the models and the rules already loaded.

Parsing and normalising are CPU-bound pure Python, so polls hand them to a process pool
and use every core. Workers are forked, not spawned: they inherit what the parent has
loaded (the language model, the lexicon, the compiled rules of the active matcher),
which ten thousand rules could never be pickled per task.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor

from monitor.app.signals import default
from monitor.libc import die_with_parent

ORPHAN_CHECK = 0.25  # seconds between a worker's looks at its parent


def warm() -> None:
    """Load what workers need before forking them, so each does not pay for it again."""
    from monitor.documents.normalise import detect_language
    from monitor.rules.lemmas import warm as load_lemmas
    from monitor.rules.matcher import active

    detect_language("Warm-up sentence for the language model, long enough to classify.")
    matcher = active()
    if matcher is not None and matcher.ruleset.rules:
        load_lemmas()  # lemma dictionaries, only when there are rules to match
    # What is loaded now (models, lexicon, compiled rules) lives as long as the process: keep
    # it out of every garbage collection, and out of the pages a forked worker would copy.
    gc.collect()
    gc.freeze()


def _started(_: int) -> int:
    return os.getpid()


def _worker_init(parent: int) -> None:
    """A worker's first act: the default signals back, and no life beyond its parent's.

    However the daemon ends (SIGKILL, the OOM killer, a crash), its workers must not live
    on as orphans holding memory. Linux kills them with the parent (PR_SET_PDEATHSIG, sent
    when the forking thread ends: the daemon forks from its main thread); everywhere, a
    watcher thread also ends the worker once its parent is gone (it is re-parented, so
    ``getppid`` changes), within ORPHAN_CHECK.
    """
    default()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="orphan-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK)
    os._exit(1)


def start_pool(feeds: int, workers: int | None = None) -> ProcessPoolExecutor | None:
    """A process pool for parsing when there is more than one feed and more than one core.

    ``workers`` caps the pool (None: one per core; 0 or 1: parse in this process, which
    saves each worker's private memory at the cost of using one core).

    Call it before any thread starts (or while none holds a lock): workers are forked, and
    they inherit what is loaded now (models, lexicon, the active matcher).
    """
    workers = min(os.cpu_count() or 1, feeds, workers if workers is not None else feeds)
    if workers < 2:
        return None
    warm()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # A worker takes the default signal handling back (a stop meant for the daemon must not
    # be held, or woken on, by a child the daemon will stop itself) and dies with the daemon.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    # Start every worker now, before the event loop starts any thread.
    list(pool.map(_started, range(workers)))
    return pool


@contextlib.contextmanager
def parse_pool(feeds: int, workers: int | None = None) -> Iterator[Executor | None]:
    pool = start_pool(feeds, workers)
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
