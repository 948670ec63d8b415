"""Series rules: every episode of a series on a channel, new ones only or all, keeping at most N.

A rule records by itself: when it is made and after every guide import of its channel, each
episode on the guide it does not hold yet is scheduled as an ordinary recording (one stored
copy per episode, shared with everyone recording it), checked against the rights and the
quota then (a series counts as it records); an episode that does not fit is skipped and
counted. Services take ``db_session`` and never commit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.guide import service as guide
from entitlements.accounts.schemas import Principal
from infra.db import new_id, utc
from infra.errors import SmartGoError
from infra.runtime import Runtime
from recorder import service
from recorder.errors import (
    RecordingExists,
    SeriesNotFound,
    SeriesRuleExists,
    SeriesRuleNotFound,
)
from recorder.models import Recording, SeriesRule
from recorder.schemas import (
    RecordingCreate,
    SeriesRuleCreate,
    SeriesRuleRead,
    SeriesRuleUpdate,
)


def create_rule(rt: Runtime, *, db_session: Session, principal: Principal,
                body: SeriesRuleCreate) -> tuple[SeriesRule, int]:
    """Make a series rule and record what it matches now; return it and the episodes skipped for quota."""
    if body.programme_id is not None:
        p = guide.get_programme(db_session=db_session, programme_id=body.programme_id)
        if not p.series_id:
            raise SeriesNotFound("this programme is not part of a series", programme_id=p.id)
        channel_id, series_id = p.channel_id, p.series_id
    else:
        channel_id, series_id = body.channel_id, body.series_id
    episodes = guide.series_episodes(db_session=db_session, channel_id=channel_id, series_id=series_id, limit=1)
    if not episodes:
        raise SeriesNotFound("no programme of the channel's guide belongs to that series",
                             channel_id=channel_id, series_id=series_id)
    service.check_recording(rt, db_session=db_session, principal=principal, kind="channel", content_id=channel_id)
    if db_session.scalar(select(SeriesRule.id).where(SeriesRule.subscriber_id == principal.subscriber_id,
                                                     SeriesRule.channel_id == channel_id,
                                                     SeriesRule.series_id == series_id)):
        raise SeriesRuleExists("this series is already being recorded", series_id=series_id)
    settings = rt.settings
    rule = SeriesRule(id=new_id(), subscriber_id=principal.subscriber_id, channel_id=channel_id,
                      series_id=series_id, title=episodes[0].title, scope=body.scope, keep_at_most=body.keep_at_most,
                      pad_before_s=body.pad_before_s if body.pad_before_s is not None else settings.catchup_pad_before_s,
                      pad_after_s=body.pad_after_s if body.pad_after_s is not None else settings.catchup_pad_after_s)
    db_session.add(rule)
    db_session.flush()
    return rule, apply_rule(rt, db_session=db_session, rule=rule)


def apply_rule(rt: Runtime, *, db_session: Session, rule: SeriesRule) -> int:
    """Schedule the rule's episodes it does not hold yet, then keep at most N; return how many
    episodes were skipped for lack of quota."""
    now = dt.datetime.now(dt.UTC)
    held = set(db_session.scalars(select(Recording.programme_id).where(
        Recording.subscriber_id == rule.subscriber_id, Recording.programme_id.is_not(None))))
    principal = Principal(rule.subscriber_id, "", "")
    since = utc(rule.created_at) or now
    skipped = 0
    for p in guide.series_episodes(db_session=db_session, channel_id=rule.channel_id, series_id=rule.series_id):
        if p.id in held:
            continue
        # "new": what starts after the rule was made; "all": also what aired and is still kept.
        if rule.scope == "new" and utc(p.start_at) < since:
            continue
        try:
            with db_session.begin_nested():
                rec = service.schedule(rt, db_session=db_session, principal=principal, body=RecordingCreate(
                    programme_id=p.id, pad_before_s=rule.pad_before_s, pad_after_s=rule.pad_after_s))
                rec.series_rule_id = rule.id
                db_session.flush()
        except RecordingExists:
            continue
        except SmartGoError as err:
            if err.code == "QUOTA_EXCEEDED":
                skipped += 1
            continue
    keep_at_most(db_session=db_session, rule=rule)
    return skipped


def keep_at_most(*, db_session: Session, rule: SeriesRule) -> int:
    """Delete the rule's oldest recordings beyond its limit; return how many went."""
    if not rule.keep_at_most:
        return 0
    rows = list(db_session.scalars(select(Recording).where(
        Recording.series_rule_id == rule.id, Recording.deleted_at.is_(None)).order_by(Recording.start_at.desc())))
    for rec in rows[rule.keep_at_most:]:
        service.delete_recording(db_session=db_session, subscriber_id=rule.subscriber_id, recording_id=rec.id)
    return max(0, len(rows) - rule.keep_at_most)


def channel_rule_ids(*, db_session: Session, channel_id: str) -> list[str]:
    """Return the ids of a channel's series rules."""
    return list(db_session.scalars(select(SeriesRule.id).where(SeriesRule.channel_id == channel_id)
                                   .order_by(SeriesRule.created_at)))


def channels_with_rules(*, db_session: Session) -> list[str]:
    """Return the channels that have series rules."""
    return list(db_session.scalars(select(SeriesRule.channel_id).distinct().order_by(SeriesRule.channel_id)))


def apply_rule_by_id(rt: Runtime, *, db_session: Session, rule_id: str) -> int:
    """Apply a series rule if it still exists; return how many episodes were skipped for quota."""
    rule = db_session.get(SeriesRule, rule_id)
    return apply_rule(rt, db_session=db_session, rule=rule) if rule is not None else 0


def get_rule(*, db_session: Session, subscriber_id: str, rule_id: str) -> SeriesRule:
    """Return one of the subscriber's series rules."""
    rule = db_session.get(SeriesRule, rule_id)
    if rule is None or rule.subscriber_id != subscriber_id:
        raise SeriesRuleNotFound("no such series rule on this account", rule_id=rule_id)
    return rule


def list_rules(*, db_session: Session, subscriber_id: str) -> list[SeriesRule]:
    """Return the subscriber's series rules."""
    return list(db_session.scalars(select(SeriesRule).where(SeriesRule.subscriber_id == subscriber_id)
                                   .order_by(SeriesRule.created_at, SeriesRule.id)))


def update_rule(rt: Runtime, *, db_session: Session, subscriber_id: str, rule_id: str,
                body: SeriesRuleUpdate) -> SeriesRule:
    """Change a rule's scope, limit or padding (future episodes get the new padding)."""
    rule = get_rule(db_session=db_session, subscriber_id=subscriber_id, rule_id=rule_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        if value is not None or key == "keep_at_most":
            setattr(rule, key, value)
    db_session.flush()
    apply_rule(rt, db_session=db_session, rule=rule)
    return rule


def delete_rule(*, db_session: Session, subscriber_id: str, rule_id: str) -> None:
    """Delete a rule and the episodes it had scheduled but not begun; what it recorded stays."""
    rule = get_rule(db_session=db_session, subscriber_id=subscriber_id, rule_id=rule_id)
    for rec in db_session.scalars(select(Recording).where(Recording.series_rule_id == rule.id,
                                                          Recording.state == "scheduled",
                                                          Recording.deleted_at.is_(None))):
        service.delete_recording(db_session=db_session, subscriber_id=subscriber_id, recording_id=rec.id)
    db_session.delete(rule)
    db_session.flush()


def to_read(*, db_session: Session, rule: SeriesRule, skipped: int = 0) -> SeriesRuleRead:
    """Return the API view of a rule."""
    count = db_session.scalar(select(func.count()).select_from(Recording).where(
        Recording.series_rule_id == rule.id, Recording.deleted_at.is_(None))) or 0
    return SeriesRuleRead(id=rule.id, channel_id=rule.channel_id, series_id=rule.series_id, title=rule.title,
                          scope=rule.scope, keep_at_most=rule.keep_at_most, pad_before_s=rule.pad_before_s,
                          pad_after_s=rule.pad_after_s, recordings=count, skipped_for_quota=skipped)
