"""The intake's workers: a job that fails in any way is counted and its worker goes on (a
worker that ended would leave its queue unworked and every drain waiting for good); a drain
that cannot end says so, with what is open, instead of hanging."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.app import App
from bot.intake.queue import Intake


@dataclass
class _Job:
    name: str
    update_id: str | None = None
    enqueued: float = 0.0

    @property
    def key(self) -> str:
        return "one user"  # every job on the same queue, in order

    def pack(self) -> bytes:
        return self.name.encode()


def _intake(app: App, work: object) -> Intake[_Job]:
    return Intake(app.engine, "test", work=work,  # type: ignore[arg-type]
                  unpack=lambda b: _Job(b.decode()), lease=timedelta(seconds=15),
                  enabled=False, shards=1)


async def test_a_job_cancelled_from_inside_fails_and_its_worker_goes_on(app: App) -> None:
    done: list[str] = []

    async def work(job: _Job) -> None:
        if job.name == "cancelled inside":
            waiting = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.01, waiting.cancel)
            await waiting  # raises CancelledError in this job, not a stop of the worker
        if job.name == "broken":
            raise ValueError("broken")
        done.append(job.name)

    intake = _intake(app, work)
    intake.start()
    try:
        for name in ("first", "cancelled inside", "broken", "after"):
            intake.submit(_Job(name))
        await intake.drain(timeout=10)
        assert done == ["first", "after"]
        assert (intake.stats.received, intake.stats.done, intake.stats.failed) == (4, 2, 2)
        assert all(not t.done() for t in intake._workers)
    finally:
        await intake.stop()
    assert all(t.done() for t in intake._workers) or intake._workers == []


async def test_a_drain_that_cannot_end_says_what_is_open(app: App) -> None:
    async def work(job: _Job) -> None:
        await asyncio.Event().wait()  # never done

    intake = _intake(app, work)
    intake.start()
    try:
        intake.submit(_Job("stuck"))
        with pytest.raises(TimeoutError, match=r"received 1, done 0, failed 0.*running"):
            await intake.drain(timeout=0.2)
    finally:
        await intake.stop()
