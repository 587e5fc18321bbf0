"""One process of test_host_pace's host: requests through a real MetrikaClient, as fast as
its pacer lets. Not a test (pytest collects test_*.py only).

    python pace_child.py URL PACE_FILE REQUESTS COUNTER_ID   (the token on stdin)

Prints "ready" once its client is made, starts on a line from stdin, and ends with a JSON
line: when its first request was paced and its last answered (monotonic), its retries.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from metrika_tui.metrika import MetrikaClient, RetryPolicy
from metrika_tui.tokens import Token


async def main(url: str, pace_file: str, requests: int, counter_id: int) -> None:
    token = Token(sys.stdin.readline().strip())
    async with MetrikaClient(
        url, pace_file=Path(pace_file), retry=RetryPolicy(attempts=8, initial_wait=0.05)
    ) as client:
        print("ready", flush=True)
        sys.stdin.readline()
        first = time.monotonic()
        todo = iter(range(requests))

        async def work() -> None:
            for _ in todo:
                await client.get_counter(token, counter_id)

        await asyncio.gather(*(work() for _ in range(6)))  # 3 in flight (the token's limit), 3 queued
        print(json.dumps({"first": first, "last": time.monotonic(), "retries": client.stats().retries}), flush=True)


if __name__ == "__main__":
    url, pace_file, requests, counter_id = sys.argv[1:]
    asyncio.run(main(url, pace_file, int(requests), int(counter_id)))
