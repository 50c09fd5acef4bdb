"""Synthesis: a model proposes environment modules; staged validation admits the ones whose reward
can be trusted into the archive.

``proposer`` asks a model for a candidate (new, or a repair of a rejected one); ``pipeline`` runs
the stages (``stages/``: static, execution, novelty, review, calibration; each returns a report
and never raises on a bad candidate); ``synthesize`` runs rounds and archives every outcome.
"""
