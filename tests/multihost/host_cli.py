"""`python host_cli.py ARGS...`: the real `metrika-tui` command as a host of its own.

$MULTIHOST_ID stands for the machine's id (`processes.host_id`): processes started with
different ids judge each other's leases the way processes on different machines do, by the
heartbeat alone (a holder on another host cannot be looked up by its pid), while two started
with one id are one host. With $METRIKA_SOURCE_ADDRESS (127.0.0.2, .3, ...) each is also
another client address to the API: on one machine, the hosts of a deployment.
"""

from __future__ import annotations

import os
import sys

from metrika_tui import processes
from metrika_tui.cli import main

if __name__ == "__main__":
    host = os.environ["MULTIHOST_ID"]
    processes.host_id = lambda: host
    sys.exit(main(sys.argv[1:]))
