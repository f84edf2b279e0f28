"""Deterministic randomness: one generator per (global seed, scene, purpose), independent of scheduling.

Seeds come from a cryptographic hash of the names, not Python's `hash`, so they are the same in every
process, on every machine and in every run.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(seed: int, *names: str) -> int:
    digest = hashlib.blake2b(repr((int(seed), *names)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def rng_for(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *names))
