"""Each screen and widget keeps its styles in a `.tcss` file next to its module."""

from __future__ import annotations

from pathlib import Path


def tcss_next_to(module_file: str) -> str:
    """The text of `<module>.tcss`, for a widget's DEFAULT_CSS (widgets have no CSS_PATH)."""
    return Path(module_file).with_suffix(".tcss").read_text(encoding="utf-8")
