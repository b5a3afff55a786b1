"""Process-wide runtime settings every entry point applies first: the allocator fix and 2 torch threads."""

from __future__ import annotations

import ctypes
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_configured = False


def configure_runtime(threads: int | None = None) -> None:
    """Keep large buffers in glibc's heap (1.2-1.5x on torch CPU work) and pin the torch thread count.

    Threads default to ``EXPLAINLAB_THREADS`` or 2 (environment.md: 1 thread is 1.4-1.8x slower, more thrash),
    divided among the processes torchrun starts on this machine.
    """
    global _configured
    if _configured:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    except OSError:  # not glibc (macOS, musl): nothing to fix
        pass
    import torch

    if threads is None:
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))  # torchrun: share the cores
        threads = max(1, int(os.environ.get("EXPLAINLAB_THREADS", "2")) // local_processes)
    torch.set_num_threads(threads)
    _configured = True
