"""The engine and the headless path never load the UI (design: Textual only in tui/).

`rich` may still appear at run time: httpx imports its own command-line module (which uses
rich) whenever rich and click are installed. So the run-time check is for Textual, and a
static check makes sure none of our modules outside tui/ imports rich or textual itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import metrika_tui

PACKAGE = Path(metrika_tui.__file__).parent

ENGINE_MODULES = [
    "metrika_tui.headless",
    "metrika_tui.metrics",
    "metrika_tui.cli.health_cmd",
    "metrika_tui.cli.export_cmd",
    "metrika_tui.engine.runtime",
    "metrika_tui.engine.scheduler",
    "metrika_tui.engine.service",
    "metrika_tui.store",
    "metrika_tui.metrika.client",
    "metrika_tui.simulator",
    "metrika_tui.cli",
    "metrika_tui.cli.sync_cmd",
    "metrika_tui.cli.status_cmd",
]


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_module_does_not_load_textual(module):
    code = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulled in {out.stdout.strip()}"


def test_no_module_outside_tui_imports_the_ui():
    pattern = re.compile(r"^\s*(from|import)\s+(textual|rich)\b", re.MULTILINE)
    leaks = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "tui" not in path.relative_to(PACKAGE).parts[:1] and pattern.search(path.read_text())
    ]
    assert leaks == []
