"""The engine and the headless path never load the UI (design: Textual only in tui/)."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENGINE_MODULES = [
    "metrika_tui.headless",
    "metrika_tui.engine.runtime",
    "metrika_tui.engine.scheduler",
    "metrika_tui.engine.service",
    "metrika_tui.store",
    "metrika_tui.metrika.client",
    "metrika_tui.simulator",
    "metrika_tui.cli",
]


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_module_does_not_import_textual_or_rich(module):
    code = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')); "
        "print(','.join(leaked))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulled in {out.stdout.strip()}"
