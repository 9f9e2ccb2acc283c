"""Command-line value types shared by several stages."""

from __future__ import annotations

import argparse
from typing import Tuple


def batch_by_length(text: str) -> Tuple[Tuple[int, int], ...]:
    """``"1x5,3x19"`` -> ``((1, 5), (3, 19))``: the batch x sequence shapes of random check inputs."""
    shapes = []
    for part in text.split(","):
        try:
            batch, length = (int(v) for v in part.strip().lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not BATCHxLENGTH (e.g. 3x19)") from None
        if batch < 1 or length < 1:
            raise argparse.ArgumentTypeError(f"{part!r} needs a positive batch and length")
        shapes.append((batch, length))
    return tuple(shapes)
