"""Lazy torch import and the choice of device, mixed precision and CPU threads.

This module owns every decision about *where* the neural scorer runs: ``device="auto"`` picks CUDA
when ``torch.cuda.is_available()`` and the CPU otherwise; ``amp`` picks bf16 autocast on CUDA.
torch is imported only when one of these functions is called, so ``import ihomer.neural`` works
without torch installed. It must not know about labels, features or training.
"""

from __future__ import annotations

from typing import Any

__all__ = ["import_torch", "resolve_device", "resolve_amp", "apply_threads", "AMP_CHOICES"]

AMP_CHOICES = ("auto", "bf16", "off")


def import_torch() -> Any:
    """Import and return the ``torch`` module, or raise an ImportError saying how to get it."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover - torch is installed in the test env
        raise ImportError(
            "ihomer.neural needs PyTorch: install the extra with `pip install ihomer[neural]` "
            "(or pick a torch build for your platform from pytorch.org)"
        ) from e
    return torch


def resolve_device(device: Any) -> Any:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device`` into a device.

    ``"auto"`` means CUDA when available, else CPU. Asking for CUDA where there is none raises
    ValueError (no silent fallback: the caller asked for it by name).

    Examples
    --------
    >>> resolve_device("cpu").type
    'cpu'
    """
    torch = import_torch()
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device={device!r} is not a torch device: {e}") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but torch.cuda.is_available() is False")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: only 'cpu' and 'cuda' devices are supported")
    return dev


def resolve_amp(amp: str, device: Any) -> Any:
    """The autocast dtype for ``amp`` on ``device`` (``None`` means plain float32).

    ``"auto"``: bf16 on a CUDA device that supports it, float32 elsewhere. ``"bf16"``: bf16 on CUDA,
    ValueError on the CPU (CPU bf16 autocast is slower than float32 on most CPUs). ``"off"``:
    float32 everywhere.
    """
    torch = import_torch()
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp={amp!r}: expected one of {AMP_CHOICES}")
    if amp == "off":
        return None
    on_cuda = device.type == "cuda"
    if amp == "bf16":
        if not on_cuda:
            raise ValueError(f"amp='bf16' is only supported on CUDA, device is {device}")
        return torch.bfloat16
    if on_cuda and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def apply_threads(threads: int | None, device: Any) -> None:
    """Set torch's CPU thread count (process-wide) when running on the CPU and it differs."""
    if threads is None or device.type != "cpu":
        return
    torch = import_torch()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
