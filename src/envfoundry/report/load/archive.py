"""An archive directory, which ``synthesize``, ``convert`` and ``archive add`` write into: the
funnel of each run (``Archive.funnel``), every candidate with its lineage, and the solver's
pass-rate curve recorded when each environment was admitted (the calibration stage)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from envfoundry.archive import Archive
from envfoundry.report.load.files import rates
from envfoundry.report.model import Candidate, Funnel, Run

MAX_FUNNELS = 12  # the newest runs; an archive grown over months has many


def run_label(run: dict[str, Any]) -> str:
    """``convert stdio, 2024-05-01 12:00 UTC (run 1a2b3c4d)`` and alike."""
    config = run.get("config") if isinstance(run.get("config"), dict) else {}
    if config.get("command") == "convert":
        what = f"convert {config.get('source', '?')}"
    elif "rounds" in config:
        what = f"synthesize, {config['rounds']} round(s) x {config.get('candidates', '?')} candidates"
        if config.get("generator"):
            what += f" by {config['generator']}"
    else:
        what = str(config.get("command") or "run")
    if config.get("stage") is not None:
        what = f"stage {config['stage']}: {what}"
    started = run.get("started_at")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)) if isinstance(started, (int, float)) else "?"
    return f"{what}, {when} (run {str(run.get('id'))[:8]})"


def read_archive(root: Path, run: Run, funnels: bool = True) -> None:
    """Fill ``run`` with the archive at ``root``: candidates, calibration curves, facts, and (with
    ``funnels``) one funnel per run, newest first, plus the whole archive's where candidates came
    from more than one run or from none (``archive add``)."""
    with Archive(root) as archive:
        records = sorted(archive.candidates(), key=lambda record: record.id)
        environments = archive.environments()
        runs = archive.runs()
        if funnels:
            for entry in runs[:MAX_FUNNELS]:
                run.funnels.append(Funnel(run_label(entry), archive.funnel(entry["id"])))
            outside = sum(record.run_id is None for record in records)
            if len(runs) > MAX_FUNNELS:
                run.notes.append(f"the funnels of the {len(runs) - MAX_FUNNELS} oldest runs are left out")
            if records and (outside or len(runs) > 1):
                label = "the whole archive" + (f" ({outside} candidate(s) outside any run: `archive add`, `check`)"
                                               if outside else "")  # fmt: skip
                run.funnels.append(Funnel(label, archive.funnel()))
    for record in records:
        lineage = record.lineage if isinstance(record.lineage, dict) else {}
        parents = lineage.get("parents") if isinstance(lineage.get("parents"), list) else []
        run.candidates.append(Candidate(record.id, record.env_name, record.admitted, record.failed_stage, record.reason,
                                        str(lineage.get("mode") or "?"), [str(p) for p in parents], record.run_id,
                                        record.source_hash))  # fmt: skip
    for env in environments:
        calibration = env.calibration if isinstance(env.calibration, dict) else {}
        curve = rates({env.name: calibration.get("curve")})
        run.calibration.update(curve)
    commands = Counter(str((entry.get("config") or {}).get("command") or "synthesize") for entry in runs)
    admitted = sum(record.admitted for record in records)
    run.facts += [
        ("archive", str(root)),
        ("candidates", f"{len(records)}: {admitted} admitted, {len(records) - admitted} rejected"),
        ("runs", ", ".join(f"{n} {command}" for command, n in sorted(commands.items())) or "none"),
        ("admitted environments", ", ".join(env.name for env in environments[:30])
                                  + (f", ... ({len(environments)} in all)" if len(environments) > 30 else "") or "none"),
    ]  # fmt: skip


def load_archive(root: Path) -> Run:
    run = Run("archive", root)
    read_archive(root, run)
    return run
