"""metrika-tui: keep Yandex Metrika statistics in sync, and watch it happen."""

__version__ = "0.1.0"
