"""Where every benchmark writes the figures people compare: one JSON file per benchmark, with its
name and the machine it ran on (the scripts import this from their own folder)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def write_results(path: str | os.PathLike[str], benchmark: str, payload: dict[str, Any]) -> Path:
    """Write ``{"benchmark": ..., "machine": ..., **payload}`` to ``path`` and say where."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    out.write_text(json.dumps({"benchmark": benchmark, "machine": machine, **payload}, indent=2) + "\n")
    print(f"results written to {out}")
    return out
