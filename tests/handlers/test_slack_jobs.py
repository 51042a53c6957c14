"""A Slack request as a job: whatever JSON a broken or forged payload carries where Slack
sends a string, the job holds a string (or nothing), so nothing downstream gets a dict as a
chat id (the engine's per-chat lock once raised 'unhashable type: dict')."""

from __future__ import annotations

from typing import Any

import pytest

from bot.handlers.slack_jobs import Job, button_job, form_job, mention_job, message_job

WRONG: list[Any] = [{"x": 1}, [1, "a"], 7, 2.5, True, None]


@pytest.mark.parametrize("wrong", WRONG)
def test_a_message_with_wrong_fields_makes_a_job_of_strings(wrong: Any) -> None:
    event = {"channel_type": "im", "channel": wrong, "user": wrong, "text": wrong,
             "files": wrong}
    job = message_job({"team_id": wrong, "event_id": wrong}, event)
    assert job is not None
    assert (job.channel, job.user, job.team, job.text) == ("", "", "", "")
    assert job.files == [] and job.update_id is None
    assert job.external_id == ":"


@pytest.mark.parametrize("wrong", WRONG)
def test_buttons_forms_and_mentions_with_wrong_fields(wrong: Any) -> None:
    job = button_job({"user": {"id": "U1", "team_id": "T1"}, "channel": {"id": wrong},
                      "container": {"message_ts": wrong}, "message": {"blocks": wrong}},
                     {"value": wrong, "text": {"text": wrong}})
    assert job.channel == "" and job.payload == "" and job.label == ""
    assert job.message_ts is None and job.message_blocks == [] and not job.is_group
    form = form_job({"user": {"id": "U1"}}, {"id": "V1", "hash": "h"},
                    {"c": wrong, "p": wrong, "ts": wrong}, {"f": "x"})
    assert form.channel == "" and form.payload == "" and form.message_ts is None
    mention = mention_job({"team_id": "T1"}, {"channel": wrong, "user": "U1", "text": "hi"})
    assert mention is not None and mention.channel == "" and mention.is_group


def test_a_good_job_is_kept_as_it_is_and_survives_the_inbox() -> None:
    job = message_job({"team_id": "T1", "event_id": "Ev1"},
                      {"channel_type": "im", "channel": "D1", "user": "U1", "text": "hi",
                       "files": [{"id": "F1"}, "junk"]})
    assert job is not None
    assert (job.channel, job.user, job.team, job.text, job.update_id) == (
        "D1", "U1", "T1", "hi", "Ev1")
    assert job.files == [{"id": "F1"}]
    assert Job.unpack(job.pack()) == job
