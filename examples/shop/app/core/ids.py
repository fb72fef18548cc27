"""Time-ordered UUIDs (version 7), so new rows sort after old ones."""

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    """Return a version 7 UUID: 48 bits of Unix milliseconds, then random bits."""
    value = (time.time_ns() // 1_000_000) << 80
    value |= int.from_bytes(os.urandom(10), "big")
    value &= ~(0xF << 76)
    value |= 0x7 << 76
    value &= ~(0x3 << 62)
    value |= 0x2 << 62
    return uuid.UUID(int=value)
