"""The threads the routes' blocking calls run on (``api.handoff``).

A call's result or exception comes back to the coroutine that awaits it, in the
caller's context (the request id goes along); calls beyond the pool's threads wait
and all run; a thread finished with a call serves the next one.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from api.handoff import Handoff

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def _whoami(wait: float = 0.0) -> tuple[str, str]:
    time.sleep(wait)
    return request_id.get(), str(threading.get_ident())


def test_a_call_returns_on_another_thread_in_the_callers_context() -> None:
    async def main() -> tuple[str, str]:
        request_id.set("req-1")
        return await Handoff().run(_whoami)

    seen, thread = asyncio.run(main())
    assert seen == "req-1"
    assert thread != str(threading.get_ident())


def test_an_exception_reaches_the_caller() -> None:
    def fail() -> None:
        raise LookupError("nothing there")

    async def main() -> None:
        await Handoff().run(fail)

    with pytest.raises(LookupError, match="nothing there"):
        asyncio.run(main())


def test_calls_beyond_the_threads_wait_and_all_run() -> None:
    pool = Handoff(most=2)

    async def one(n: int) -> tuple[str, str]:
        request_id.set(f"req-{n}")
        return await pool.run(_whoami, 0.02)

    async def main() -> list[tuple[str, str]]:
        return await asyncio.gather(*(one(n) for n in range(7)))

    results = asyncio.run(main())
    assert [seen for seen, _ in results] == [f"req-{n}" for n in range(7)]
    assert len({thread for _, thread in results}) == 2


def test_a_thread_serves_one_call_after_another() -> None:
    pool = Handoff()

    async def main() -> set[str]:
        threads = set()
        for _ in range(5):
            threads.add((await pool.run(_whoami))[1])
        return threads

    assert len(asyncio.run(main())) == 1
