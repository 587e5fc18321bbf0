"""What an empty database shows instead of an empty table: what to do next."""

from __future__ import annotations

from textual.widgets import Static

from metrika_tui.tui.css import tcss_next_to

WELCOME = """\
[b]No accounts yet.[/b]

Add a Yandex Metrika account: press [b]a[/b] and paste its OAuth token (hidden, stored masked),
or from a shell:

    [b]metrika-tui accounts add[/b]

Its counters are discovered at once; sync them with [b]s[/b] here, or wait for the schedule.
To rediscover later:  [b]metrika-tui counters discover[/b]

Just looking? Try everything against the bundled simulator:

    [b]metrika-tui --demo[/b]

Press [b]?[/b] for every key, [b]q[/b] to quit."""


class Welcome(Static):
    DEFAULT_CSS = tcss_next_to(__file__)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(WELCOME, id=id)
