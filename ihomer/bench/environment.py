"""What a benchmark result was measured on: versions, CPU, memory, git commit, command.

This module owns :func:`environment`. It reads the system; it never changes anything.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["environment", "PACKAGES"]

#: Packages whose versions are recorded (those not installed are left out).
PACKAGES = ("ihomer", "river", "numpy", "scipy", "capymoa", "jpype1", "matplotlib", "torch")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def _run(cmd: list[str], cwd: str | None = None) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if done.returncode == 0 and text else None


def environment() -> dict:
    """Versions, CPU, memory, OS, Java and git commit of this machine and checkout.

    Examples
    --------
    >>> env = environment()
    >>> sorted(env)[:3], "river" in env["packages"]
    (['cpu', 'git_commit', 'java'], True)
    """
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    java = None
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=10)
        java = (done.stderr or done.stdout).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    repo = str(Path(__file__).resolve().parents[2])
    return {
        "cpu": _cpu(),
        "git_commit": _run(["git", "rev-parse", "--short", "HEAD"], cwd=repo),
        "java": java,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "memory_gib": _memory_gib(),
        "n_cpus": os.cpu_count(),
        "os": platform.platform(),
        "packages": packages,
        "python": sys.version.split()[0],
    }
