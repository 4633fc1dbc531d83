"""Keep freed memory in the process for reuse, instead of handing it back to the system, where the C library
allows it.

A training step allocates and frees the same few hundred large tensors every step (the stride-2 logits of a
batch alone are 185 MB). glibc's malloc serves each allocation over its mmap threshold (32 MB at most) with a
fresh ``mmap`` and returns it with ``munmap`` when freed, so every step the kernel maps those pages again and
zero-fills them on first touch: about 310,000 page faults a whole-network step of 24 crops of 176 px, a fifth
of its time on this 2-core machine (``benchmarks/allocator.py``). With mmap off (``M_MMAP_MAX`` 0) large
blocks come from the heap, and with a high trim threshold the freed heap is kept, so after a few steps each
step reuses the pages of the last: a whole-network step 1.22x faster, a ``--coarse-only`` one 1.09x.
(PyTorch's own huge pages, ``THP_MEM_ALLOC_ENABLE=1``, cut a whole-network step's faults 17-fold but not its
time: measured, not adopted.) It holds for allocations on the main thread, where a training step makes them; in
other threads glibc's arenas still mmap blocks over 64 MB.

Why not a library: jemalloc or tcmalloc do the same only when preloaded (``LD_PRELOAD``) before Python starts,
an extra system package and a step a user would have to know about; PyTorch has no CPU caching allocator that
Python can turn on. ``mallopt`` is glibc's own knob, set from inside the process with ctypes. On other C
libraries (musl, macOS, Windows) this does nothing, nor with ``COLOURISER_KEEP_FREED_MEMORY=0`` in the
environment.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_MAX = -4
ENV = "COLOURISER_KEEP_FREED_MEMORY"
KEEP_BYTES = 1 << 30  # freed memory at the top of the heap kept for reuse, up to this much


def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and keep freed memory for reuse (up to ``KEEP_BYTES`` at the top of the
    heap; freed blocks below a live one are kept whatever their size), for the rest of the process; True if the C
    library took the settings (glibc), False where it has no ``mallopt`` or ``COLOURISER_KEEP_FREED_MEMORY`` is
    ``0``.

    The cost is memory: over the 7 steps of ``benchmarks/allocator.py`` in a fresh process the peak resident memory
    was 0.3-0.5 GB higher (a whole run, with validation and checkpoints, was not measured apart)."""
    if os.environ.get(ENV, "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
