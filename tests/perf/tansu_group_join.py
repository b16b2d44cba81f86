"""How long a consumer takes to join a group on Tansu after earlier members left (a script).

Plain aiokafka, no code of ours: each round starts four member processes in group `g`, lets
them settle, stops them (SIGTERM, a clean LeaveGroup) and times one new member's `start()`,
which returns once the group assigned it partitions. On Kafka that is a few seconds every
round. On the embedded Tansu it was ~18 s, and in one round of three the join did not finish
within 100 s — the same hang caption workers showed on start-up (`service.start_slow`, stage
`broker`). This is why the caption benchmark gives each configuration a fresh broker.

    .venv/bin/python tests/perf/tansu_group_join.py [--rounds 4] [--limit 100]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pix_stack.embedded import free_port, start_tansu

TOPIC, GROUP = "joins", "g"
MEMBER = f"""
import asyncio, signal, sys
from aiokafka import AIOKafkaConsumer

async def main():
    consumer = AIOKafkaConsumer(
        "{TOPIC}", bootstrap_servers=sys.argv[1], group_id="{GROUP}", **eval(sys.argv[2])
    )  # noqa: S307 - our own repr of the options
    await consumer.start()
    print("joined", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await consumer.stop()

asyncio.run(main())
"""


def member_options(options: dict[str, object], index: int) -> dict[str, object]:
    if options.get("static"):
        rest = {k: v for k, v in options.items() if k != "static"}
        return {**rest, "group_instance_id": f"member-{index}"}
    return options


async def rounds(count: int, limit: float, options: dict[str, object]) -> None:
    tansu = start_tansu(free_port())
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=tansu.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(TOPIC, 32, 1)])
        await admin.close()
        for n in range(1, count + 1):
            members = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        MEMBER,
                        tansu.bootstrap,
                        repr(member_options(options, i)),
                    ],
                    stdout=subprocess.PIPE,
                )
                for i in range(4)
            ]
            for member in members:
                assert member.stdout is not None
                member.stdout.readline()  # "joined"
            await asyncio.sleep(2)
            for member in members:
                member.send_signal(signal.SIGTERM)
            for member in members:
                member.wait()
            # The newcomer is member 0 restarted (with --static, under the same instance id).
            newcomer = AIOKafkaConsumer(
                TOPIC,
                bootstrap_servers=tansu.bootstrap,
                group_id=GROUP,
                **member_options(options, 0),
            )
            started = time.monotonic()
            try:
                await asyncio.wait_for(newcomer.start(), limit)
                result = f"{time.monotonic() - started:.1f} s"
            except TimeoutError:
                result = f"not joined after {limit:.0f} s"
            print(f"round {n}: four members left, a new one joined in {result}", flush=True)
            await newcomer.stop()
    finally:
        tansu.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--limit", type=float, default=100.0)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        help="a consumer setting, e.g. --option rebalance_timeout_ms=5000",
    )
    parser.add_argument(
        "--static", action="store_true", help="static membership (group_instance_id per member)"
    )
    args = parser.parse_args()
    options: dict[str, object] = {k: int(v) for k, v in (o.split("=", 1) for o in args.option)}
    if args.static:
        options["static"] = True
    asyncio.run(rounds(args.rounds, args.limit, options))


if __name__ == "__main__":
    main()
