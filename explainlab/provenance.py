"""Where a result came from: the device it ran on, the hardware in words, the code commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

from explainlab.errors import IncompatibleError


def resolve_device(choice: str) -> torch.device:
    """ "auto" -> CUDA when present (this process's local rank under torchrun), else the CPU."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise IncompatibleError("device = 'cuda' but CUDA is not available here (use 'auto' or 'cpu')")
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def hardware(device: torch.device, processes: int = 1) -> str:
    """E.g. "CPU x86_64, 2 cores, 2 torch threads" or "NVIDIA H100 x2"."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} x{processes}"
    cpu = platform.processor() or platform.machine()
    procs = f" x{processes} processes" if processes > 1 else ""
    threads = torch.get_num_threads()
    return f"CPU {cpu}, {os.cpu_count()} cores, {threads} torch thread{'s' if threads != 1 else ''}{procs}"


def code_commit() -> str:
    """Short commit of the checkout this package runs from ("" outside git)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5,
        )  # fmt: skip
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""
