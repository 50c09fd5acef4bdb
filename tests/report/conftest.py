"""The runs the report tests build reports of (``report_runs``), made once per session."""

from report_runs import archive_run, eval_file, evolve_run, train_run

__all__ = ["archive_run", "eval_file", "evolve_run", "train_run"]
