"""`gpufleet doctor`: preflight checks against the cloud APIs before either phase runs."""
