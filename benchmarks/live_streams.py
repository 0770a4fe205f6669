"""Idle live streams for ``benchmarks/live.py``, held by a process of their own.

1,000 streams read by the load generator's own process would take its CPU (and its GIL)
from the devices it drives, on the same machine as the server: the throughput with streams
open would measure the client. Here a separate process holds them with raw asyncio sockets
that count pokes and discard every byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys

from benchmarks.common import ROOT

PREFIX = "/api/v1/sync/"


class IdleStreams:
    """``count`` streams held by a process of their own (:func:`hold_streams`), so that
    holding them costs the load generator's process nothing: raw asyncio sockets that
    count pokes and discard every byte."""

    def __init__(self, port: int, tokens: list[str], count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.live_streams", str(port), str(count)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(tokens) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()  # "READY n" (or nothing: it failed)
        if line.split()[:2] != ["READY", str(count)]:
            self.process.kill()
            raise RuntimeError(f"only {line!r} of {count} idle streams are ready")
        self.pokes = 0

    def close(self) -> None:
        """Close every stream; :attr:`pokes`: how many they received."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        out = self.process.stdout.read()
        self.pokes = int(out.split()[-1]) if out.startswith("POKES") else -1


def hold_streams(port: int, count: int) -> None:
    """``python -m benchmarks.live_streams PORT COUNT``: open COUNT streams with the tokens
    read from stdin (a JSON list, used in turn), print ``READY n`` once all are, hold them
    until stdin closes, then print ``POKES n``."""
    tokens: list[str] = json.loads(sys.stdin.readline())
    counts = {"ready": 0, "pokes": 0}

    async def hold(token: str, ready_all: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET {PREFIX}stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}"
            "\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        head = b""
        try:
            while b"event: ready" not in head:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                head += chunk
            counts["ready"] += 1
            if counts["ready"] == count:
                ready_all.set()
            counts["pokes"] += head.count(b"event: poke")
            while chunk := await reader.read(65536):
                counts["pokes"] += chunk.count(b"event: poke")
        finally:
            writer.close()

    async def hold_all() -> None:
        ready_all = asyncio.Event()
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(hold(tokens[i % len(tokens)], ready_all)))
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready_all.wait(), 120)
        print(f"READY {counts['ready']}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        print(f"POKES {counts['pokes']}", flush=True)

    asyncio.run(hold_all())


if __name__ == "__main__":
    hold_streams(int(sys.argv[1]), int(sys.argv[2]))
