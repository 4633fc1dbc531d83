"""Training: data, degradation, the loop and its validation."""
