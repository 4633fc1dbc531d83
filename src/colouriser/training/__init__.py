"""Training: data, degradation, the loop and its validation."""

# The largest `train --rotate` (degrees) and `--stretch` (width against height): here, where the CLI can read them
# without importing torch, and TrainConfig checks them for every caller
MAX_ROTATE, MAX_STRETCH = 45.0, 2.0
