"""`metrika-tui simulator`: serve the Metrika API simulator on loopback until interrupted."""

from __future__ import annotations

import sys

from metrika_tui.cli.errors import CommandError


def run_simulator(args) -> int:
    import dataclasses

    from metrika_tui.simulator import DEMO_TOKENS, HostileConfig, SimulatorConfig, World, run_forever

    if not 0 <= args.fault_rate <= 1:
        raise CommandError("--fault-rate is a share of answers, between 0 and 1", 2)
    if not args.latency_ms >= 0:  # negative, or nan
        raise CommandError("--latency-ms is a number of milliseconds, 0 or more", 2)
    if args.seed is None:
        world = World.demo()
    else:
        world = World.generate(seed=args.seed, accounts=args.accounts, counters_per_account=args.counters_per_account)
    config = SimulatorConfig.from_cli(latency_ms=args.latency_ms, fault_rate=args.fault_rate)
    try:
        hostile = HostileConfig.everywhere(*filter(None, (t.strip() for t in args.hostile.split(","))))
    except ValueError as exc:
        raise CommandError(f"--hostile: {exc}", 2) from None
    config = dataclasses.replace(config, hostile=hostile)
    tokens = DEMO_TOKENS if args.seed is None else world.tokens
    print(f"Metrika simulator on http://{args.host}:{args.port}  ({len(world.tokens)} tokens)", file=sys.stderr)
    print("Tokens:", ", ".join(tokens[:5]) + (" ..." if len(tokens) > 5 else ""), file=sys.stderr)
    print(f"Point metrika-tui at it: METRIKA_API_URL=http://{args.host}:{args.port}", file=sys.stderr)
    print(
        f"Yandex ID too (accounts login): METRIKA_OAUTH_URL and METRIKA_LOGIN_URL=http://{args.host}:{args.port},"
        f" METRIKA_CLIENT_ID={config.oauth.client_id}; its secret: METRIKA_CLIENT_SECRET={config.oauth.client_secret}"
        " (a demo app's, not a real one); approve a code with POST /simulator/device/approve",
        file=sys.stderr,
    )
    try:
        run_forever(args.host, args.port, world, config)
    except OSError as exc:
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc.strerror}") from None
    return 0
