"""Validation stages, one file each: static, execution, novelty, review, calibration."""
