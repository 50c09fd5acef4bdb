"""Programming problems become environments (SCALER's conversion): ``envfoundry convert``."""
