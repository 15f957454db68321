"""Default session names: a readable stem from the image, made unique among your sessions."""

from __future__ import annotations

import re

# Room for a replica suffix (`-1000`) and a uniqueness counter inside a 63-character DNS label.
NAME_STEM_LIMIT = 40


def name_from_image(image: str) -> str:
    """A readable name from an image: images.canfar.net/skaha/terminal:1.1.1 -> terminal."""
    last = image.rsplit("/", 1)[-1]
    last = last.split("@", 1)[0].split(":", 1)[0]
    stem = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")[:NAME_STEM_LIMIT].strip("-")
    return stem or "session"


def unique_name(stem: str, taken: set[str], replicas: int) -> str:
    """`stem`, else `stem-2`, `stem-3`, …: the first whose names (replica suffixes too) are free."""

    def names(base: str) -> list[str]:
        if replicas == 1:
            return [base]
        return [f"{base}-{index}" for index in range(1, replicas + 1)]

    candidate, counter = stem, 1
    while any(name in taken for name in names(candidate)):
        counter += 1
        candidate = f"{stem}-{counter}"
    return candidate
