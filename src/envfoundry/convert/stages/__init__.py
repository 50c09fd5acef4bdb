"""SCALER's admission checks for converted problems, one file each (the usual stages follow them)."""
