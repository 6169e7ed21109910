"""The page's word diff is the one ``diff`` prints: it lives in ``review/words.py``."""

from __future__ import annotations

from ..words import word_diff

__all__ = ["word_diff"]
