"""Keep freed memory in the process for reuse, instead of handing it back to the system, where the C library
allows it.

A training step allocates and frees the same few hundred large tensors every step (the stride-2 logits of a
batch alone are 185 MB). glibc's malloc serves each allocation over its mmap threshold (32 MB at most) with a
fresh ``mmap`` and returns it with ``munmap`` when freed, so every step the kernel maps those pages again and
zero-fills them on first touch: about 310,000 page faults a whole-network step of 24 crops of 176 px, a fifth
of its time on this 2-core machine (``benchmarks/allocator.py``). With mmap off (``M_MMAP_MAX`` 0) large
blocks come from the heap, and with trimming off (``M_TRIM_THRESHOLD`` -1) the freed heap is kept, so after a few
steps each step reuses the pages of the last: a whole-network step 1.22x faster, a ``--coarse-only`` one 1.09x.
(PyTorch's own huge pages, ``THP_MEM_ALLOC_ENABLE=1``, cut a whole-network step's faults 17-fold but not its
time: measured, not adopted.) It holds for allocations on the main thread, where a training step makes them; in
other threads glibc's arenas still mmap blocks over 64 MB.

Session 13 handed the free top of the heap back whenever it reached 1 GB (the trim threshold it set). That held
over the benchmark's few steps (the speed-ups above were measured with it), but not in a long run: PyTorch asks for
64-byte-aligned blocks, which glibc 2.36 (this machine's) serves from a free block slightly larger than the block
asked for, so a freed block does not fit its own successor and the heap grows until freed neighbours merge. After
its first validation runs/s19 (session 14, ``--fine-only``) had a heap swinging between 1.1 and 2.2 GB, more than 1
GB handed back and faulted in again each step (about 160,000 page faults a second), and went from 20.8-25.2
images/s (steps 50-800) to 14.8-19.9 (steps 900-1,600); with trimming off, resumed, 0 faults a second at a steady
4.8 GB before and 5.0 GB after its next validation, and 23.5-26.6 images/s (steps 3,300-4,000, nothing else
running). Faults and memory were sampled from /proc every 10 s (``ps -o min_flt,rss``, the heap's extent in
/proc/PID/maps). The cost: the process stays at its high-water mark (its peak plus that fragmentation) until it
ends, which for a training run that reaches its peak every step is little more than it holds anyway.

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
NEVER_TRIM = -1  # man mallopt: M_TRIM_THRESHOLD -1 disables trimming


def keep_freed_memory(trim_threshold: int = NEVER_TRIM) -> bool:
    """Serve large allocations from the heap and keep all freed memory for reuse, for the rest of the process; True
    if the C library took the settings (glibc), False where it has no ``mallopt`` or
    ``COLOURISER_KEEP_FREED_MEMORY`` is ``0``. ``trim_threshold``: hand the free top of the heap back once it
    reaches this many bytes instead (under 2 GiB, a C int; session 13 set 1 GB; ``benchmarks/allocator.py``
    measures it).

    The cost is memory: over the 7 steps of ``benchmarks/allocator.py`` in a fresh process the peak resident memory
    was 0.3-0.5 GB higher, and the process never shrinks back from its high-water mark (see the module's note)."""
    if trim_threshold != NEVER_TRIM and not 0 <= trim_threshold < 1 << 31:  # mallopt takes a C int
        raise ValueError(f"trim_threshold must be {NEVER_TRIM} (never trim) or 0 to 2**31 - 1 bytes, "
                         f"not {trim_threshold}")
    if os.environ.get(ENV, "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
