"""The scheduler: periodic sweeps (APScheduler), due-notice claims and the outbox drain."""

from scheduler.outbox import NoticeRenderFn
from scheduler.pacing import Pacer, PlatformLimits
from scheduler.service import Scheduler, SchedulerConfig, TickReport

__all__ = ["NoticeRenderFn", "Pacer", "PlatformLimits", "Scheduler", "SchedulerConfig",
           "TickReport"]
