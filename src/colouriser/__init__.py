"""colouriser: plausible colour for black-and-white photographs, on a CPU."""

__version__ = "0.1.0"
