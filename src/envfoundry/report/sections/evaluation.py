"""Before and after: held-out pass rate per environment and level for each evaluation of the run (a
train run's base model, after the warm-up and after GRPO; an evolve run's stage 0 and last stage; an
engineer run's first and last stage, on its fixed validation configurations;
evaluation files in name order), the share of replies with an answer block beside it, the change
from first to last, and some failing replies with the verifier's reason and the reference."""

from __future__ import annotations

from envfoundry.report.html import Markup, esc, level_key, note, percent, table
from envfoundry.report.model import Evaluation, Run

ID = "evaluation"
TITLE = "Evaluation: before and after"
MAX_EXAMPLES = 60  # failing replies shown per evaluation


def compared(run: Run) -> list[Evaluation]:
    """The evaluations the table compares: an evolve or engineer run's first and last stage, else all of them."""
    if run.kind in ("evolve", "engineer") and len(run.evaluations) > 2:
        return [run.evaluations[0], run.evaluations[-1]]
    return run.evaluations


def render(run: Run) -> str:
    evaluations = compared(run)
    if not evaluations:
        why = {"train": "the run has no held-out evaluation (--eval-seeds 0, or it did not finish)",
               "archive": "synthesis and conversion do not evaluate a model (`envfoundry eval --suite ...` does)",
               "eval": "the evaluation holds no results", "evolve": "no stage has been evaluated yet",
               "engineer": "no stage has been evaluated yet (or --validation-levels was empty)"}[run.kind]  # fmt: skip
        return note(f"No evaluation in {run.described}: {why}.")
    cells = sorted({(env, level) for e in evaluations for env, curve in e.pass_rates.items() for level in curve},
                   key=lambda cell: (cell[0], level_key(cell[1])))  # fmt: skip
    if len(evaluations) == 1:
        table_html = _single(evaluations[0], cells)
    else:
        table_html = _compared(evaluations, cells)
    parts = [table_html]
    for evaluation in evaluations:
        parts.append(_examples(evaluation))
    return "\n".join(part for part in parts if part)


def _cell(evaluation: Evaluation, env: str, level: str) -> str:
    rate = evaluation.pass_rates.get(env, {}).get(level)
    answered = evaluation.format_rates.get(env, {}).get(level)
    return percent(rate) + (f" ({percent(answered)})" if answered is not None else "")


def _compared(evaluations: list[Evaluation], cells: list[tuple[str, str]]) -> str:
    first, last = evaluations[0], evaluations[-1]
    rows = [["all", "", *(percent(e.overall, 1) for e in evaluations), _delta(first.overall, last.overall)]]
    for env, level in cells:
        change = _delta(first.pass_rates.get(env, {}).get(level), last.pass_rates.get(env, {}).get(level))
        rows.append([env, level, *(_cell(e, env, level) for e in evaluations), change])
    headers = ["environment", "level", *(e.label for e in evaluations), f"change ({last.label} − {first.label})"]
    caption = "<p>Pass rate, with the share of replies that had an answer block in brackets.</p>"
    return caption + table(headers, rows, numeric=tuple(range(1, len(headers))), css="evaluation")


def _single(evaluation: Evaluation, cells: list[tuple[str, str]]) -> str:
    def get(field: dict, env: str, level: str, text=str) -> str:
        value = field.get(env, {}).get(level)
        return "–" if value is None else text(value)

    rows = [["all", "", percent(evaluation.overall, 1), "", "", "", ""]]
    for env, level in cells:
        rows.append([env, level, percent(evaluation.pass_rates[env].get(level)),
                     get(evaluation.format_rates, env, level, percent),
                     get(evaluation.mean_rewards, env, level, lambda v: f"{v:.3f}"),
                     get(evaluation.counts, env, level), get(evaluation.errors, env, level)])  # fmt: skip
    headers = ["environment", "level", "pass rate", "answer-block rate", "mean reward", "instances", "errors"]
    return f"<p>{esc(evaluation.label)}</p>" + table(headers, rows, numeric=(1, 2, 3, 4, 5, 6), css="evaluation")


def _delta(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "–"
    return f"{(last - first) * 100:+.0f} pts"


def _examples(evaluation: Evaluation) -> str:
    rows = []
    for env in sorted(evaluation.examples):
        for level in sorted(evaluation.examples[env], key=level_key):
            for example in evaluation.examples[env][level]:
                reply = Markup(f"<pre>{esc(example.get('reply', ''))}</pre>")
                reference = Markup(f"<pre>{esc(example.get('reference', '–'))}</pre>")
                rows.append([env, level, example.get("seed", "?"), example.get("reason", ""), reply, reference])
    if not rows:
        return ""
    shown = rows[:MAX_EXAMPLES]
    more = f", the first {MAX_EXAMPLES}" if len(rows) > MAX_EXAMPLES else ""
    return (f"<details><summary>Failing replies: {esc(evaluation.label)} ({len(rows)}{more})</summary>"
            + table(["environment", "level", "seed", "reason", "reply", "reference"], shown, numeric=(2,), css="examples")
            + "</details>")  # fmt: skip
