"""Provenance strings: the hardware a number was measured on names the CPU and the kernels torch picked for it."""

from __future__ import annotations

import os

import torch

from explainlab.provenance import cpu_model, hardware


def test_cpu_hardware_names_model_kernels_cores_and_threads() -> None:
    text = hardware(torch.device("cpu"), processes=2)
    assert text.startswith("CPU ") and f"({torch.backends.cpu.get_cpu_capability()} kernels)" in text
    assert f"{os.cpu_count()} cores" in text and f"{torch.get_num_threads()} torch thread" in text
    assert text.endswith("x2 processes") and "processes" not in hardware(torch.device("cpu"))
    assert cpu_model() in text  # "" where /proc/cpuinfo has no model name (e.g. some ARM machines)
