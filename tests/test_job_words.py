"""The job words written into the store's SQL (kept as text where SQLite's partial indexes
need them word for word) are the words of `jobs.JobStatus`: a renamed status cannot leave a
query filtering on a word nothing writes."""

from __future__ import annotations

import re
from pathlib import Path

import metrika_tui.store
from metrika_tui.jobs import LIVE, JobStatus

STORE = Path(metrika_tui.store.__file__).parent
#: `status = 'queued'`, `j.status IN ('queued', 'running')`
FILTER = re.compile(r"status\s*(?:=|!=|IN)\s*(\([^)]*\)|'[^']*')", re.IGNORECASE)


def status_words() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(STORE.glob("*.py")):
        for match in FILTER.finditer(path.read_text()):
            found.setdefault(path.name, set()).update(re.findall(r"'([^']*)'", match.group(1)))
    return found


def test_every_status_in_the_stores_sql_is_a_job_status():
    found = status_words()
    assert {"queue.py", "store.py", "schema.py"} <= found.keys()  # the scan sees the queries
    words = set().union(*found.values())
    assert words <= {s.value for s in JobStatus}, words - {s.value for s in JobStatus}
    assert {s.value for s in LIVE} <= words


def test_the_scan_catches_a_stray_word():
    assert re.findall(r"'([^']*)'", FILTER.search("WHERE j.status IN ('queued', 'runing')").group(1)) == [
        "queued",
        "runing",
    ]
