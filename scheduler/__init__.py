"""The scheduler: periodic sweeps (APScheduler), due-notice claims and the outbox drain."""

from scheduler.outbox import NoticeRenderer
from scheduler.pacing import Pacer, PlatformLimits
from scheduler.service import Scheduler, SchedulerConfig, TickReport

__all__ = ["NoticeRenderer", "Pacer", "PlatformLimits", "Scheduler", "SchedulerConfig",
           "TickReport"]
