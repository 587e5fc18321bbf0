from metrika_tui.cli import main

raise SystemExit(main())
