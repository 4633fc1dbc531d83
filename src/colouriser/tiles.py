"""Bands of rows: the full-resolution work is done a band at a time, so its temporaries stay small."""

from __future__ import annotations

from collections.abc import Iterator

BAND_PIXELS = 1 << 18  # ~262k pixels: each float plane of a band is 1 MiB, so a band's temporaries stay in cache


def row_bands(height: int, width: int, band_pixels: int = BAND_PIXELS) -> Iterator[tuple[int, int]]:
    """(top, bottom) row ranges that cover ``height`` rows, each about ``band_pixels`` pixels (at least 8 rows)."""
    rows = max(8, band_pixels // max(1, width))
    for top in range(0, height, rows):
        yield top, min(height, top + rows)
