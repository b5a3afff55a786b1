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
    """E.g. "CPU AMD EPYC x86_64 (AVX512 kernels), 2 cores, 2 torch threads" or "NVIDIA H100 x2"."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} x{processes}"
    cpu = platform.processor() or platform.machine()
    model, kernels = cpu_model(), torch.backends.cpu.get_cpu_capability()
    procs = f" x{processes} processes" if processes > 1 else ""
    threads = torch.get_num_threads()
    return (f"CPU {model + ' ' if model else ''}{cpu} ({kernels} kernels), {os.cpu_count()} cores, "
            f"{threads} torch thread{'s' if threads != 1 else ''}{procs}")  # fmt: skip


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("" elsewhere). Float results of long attack paths (RAR's) differ
    between CPUs through the vector kernels torch picks, so the reports record which one they ran on."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


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
