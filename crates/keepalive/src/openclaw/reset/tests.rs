//! Time: reset boundaries (UTC, fixed offsets, DST), staleness and when a
//! session goes stale.

use jiff::civil::DateTime;
use jiff::tz::{TimeZone, offset};

use crate::openclaw::release::test_releases::{sqlite, v1, v2};
use crate::openclaw::reset::{
    Clock, Mode, ResetRule, Rule, Times, daily_timestamp, defaults, goes_stale_at, idle_timestamp,
    last_boundary, next_boundary_after, stale_reason,
};

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;

/// Local civil time `s` in `tz`, as ms (compatible disambiguation).
fn at(tz: &TimeZone, s: &str) -> u64 {
    let dt: DateTime = s.parse().expect("civil datetime");
    let ts = tz.to_timestamp(dt).expect("in range");
    u64::try_from(ts.as_millisecond()).expect("after 1970")
}

fn utc(s: &str) -> u64 {
    at(&TimeZone::UTC, s)
}

fn clock(tz: &TimeZone, now: u64) -> Clock {
    Clock {
        now_ms: now,
        tz: tz.clone(),
    }
}

fn new_york() -> TimeZone {
    TimeZone::get("America/New_York").expect("tzdata for America/New_York")
}

fn rule(mode: Mode, at_hour: u8, idle_minutes: u64) -> ResetRule {
    ResetRule {
        mode,
        at_hour,
        idle_minutes,
        source: "test".into(),
    }
}

fn updated(t: u64) -> Times {
    Times {
        updated_at: Some(t),
        ..Times::default()
    }
}

#[test]
fn last_boundary_in_utc() {
    let z = TimeZone::UTC;
    let lb = |now: &str| last_boundary(4, &clock(&z, utc(now)));
    assert_eq!(lb("2026-05-10T03:59:59.999"), utc("2026-05-09T04:00"));
    assert_eq!(lb("2026-05-10T04:00"), utc("2026-05-10T04:00"));
    assert_eq!(lb("2026-05-10T04:00:00.001"), utc("2026-05-10T04:00"));
    assert_eq!(lb("2026-05-10T23:59"), utc("2026-05-10T04:00"));
    // Around midnight with atHour 0, and across a month end.
    let lb0 = |now: &str| last_boundary(0, &clock(&z, utc(now)));
    assert_eq!(lb0("2026-05-31T23:59:59.999"), utc("2026-05-31T00:00"));
    assert_eq!(lb0("2026-06-01T00:00"), utc("2026-06-01T00:00"));
    assert_eq!(lb0("2026-06-01T00:00:00.001"), utc("2026-06-01T00:00"));
}

#[test]
fn last_boundary_in_fixed_offsets() {
    // UTC-5: local 04:00 is 09:00Z.
    let west = TimeZone::fixed(offset(-5));
    let lb = |now: u64| last_boundary(4, &clock(&west, now));
    assert_eq!(lb(utc("2026-05-10T08:59:59.999")), utc("2026-05-09T09:00"));
    assert_eq!(lb(utc("2026-05-10T09:00")), utc("2026-05-10T09:00"));
    // UTC+9: local 04:00 on the 11th is 19:00Z on the 10th.
    let east = TimeZone::fixed(offset(9));
    let lb = |now: u64| last_boundary(4, &clock(&east, now));
    assert_eq!(lb(utc("2026-05-10T18:59")), utc("2026-05-09T19:00"));
    assert_eq!(lb(utc("2026-05-10T19:00")), utc("2026-05-10T19:00"));
    // Local midnight in UTC+9 is 15:00Z the day before.
    let lb0 = |now: u64| last_boundary(0, &clock(&east, now));
    assert_eq!(lb0(at(&east, "2026-05-11T00:00")), utc("2026-05-10T15:00"));
    assert_eq!(
        lb0(at(&east, "2026-05-10T23:59:59.999")),
        utc("2026-05-09T15:00")
    );
}

#[test]
fn boundaries_across_dst_in_new_york() {
    let ny = new_york();
    // Spring forward, 2026-03-08: 02:00 EST -> 03:00 EDT.
    let c = |now: u64| clock(&ny, now);
    assert_eq!(
        last_boundary(4, &c(utc("2026-03-08T07:59"))),
        utc("2026-03-07T09:00")
    );
    assert_eq!(
        last_boundary(4, &c(utc("2026-03-08T08:00"))),
        utc("2026-03-08T08:00")
    );
    assert_eq!(
        next_boundary_after(4, utc("2026-03-07T09:00"), &ny),
        utc("2026-03-08T08:00")
    );
    // 02:00 does not exist that day: it resolves to 03:00 EDT (07:00Z).
    assert_eq!(
        last_boundary(2, &c(utc("2026-03-08T07:00"))),
        utc("2026-03-08T07:00")
    );
    assert_eq!(
        last_boundary(2, &c(utc("2026-03-08T06:59:59.999"))),
        utc("2026-03-07T07:00")
    );
    assert_eq!(
        next_boundary_after(2, utc("2026-03-07T07:00"), &ny),
        utc("2026-03-08T07:00")
    );
    // Fall back, 2026-11-01: 01:00-02:00 happens twice; the first counts.
    assert_eq!(
        last_boundary(1, &c(utc("2026-11-01T05:30"))),
        utc("2026-11-01T05:00")
    );
    assert_eq!(
        last_boundary(1, &c(utc("2026-11-01T06:30"))),
        utc("2026-11-01T05:00")
    );
    assert_eq!(
        next_boundary_after(4, utc("2026-10-31T08:00"), &ny),
        utc("2026-11-01T09:00")
    );
}

#[test]
fn next_boundary_is_strictly_after() {
    let z = TimeZone::UTC;
    assert_eq!(
        next_boundary_after(4, utc("2026-05-10T04:00"), &z),
        utc("2026-05-11T04:00")
    );
    assert_eq!(
        next_boundary_after(4, utc("2026-05-10T03:59:59.999"), &z),
        utc("2026-05-10T04:00")
    );
    assert_eq!(
        next_boundary_after(23, utc("2026-12-31T23:30"), &z),
        utc("2027-01-01T23:00")
    );
}

#[test]
fn timestamps_each_generation_reads() {
    let now = utc("2026-05-10T12:00");
    let t = Times {
        updated_at: Some(now - 5 * MIN),
        last_interaction_at: Some(now - 10 * MIN),
        session_started_at: Some(now - 20 * HOUR),
        transcript_started_at: None,
    };
    assert_eq!(idle_timestamp(&v1(), &t, now), t.updated_at);
    assert_eq!(daily_timestamp(&v1(), &t, now), t.updated_at);
    assert_eq!(idle_timestamp(&v1(), &t, now), t.updated_at);
    assert_eq!(idle_timestamp(&v2(), &t, now), t.last_interaction_at);
    assert_eq!(daily_timestamp(&v2(), &t, now), t.session_started_at);
    assert_eq!(daily_timestamp(&sqlite(), &t, now), t.session_started_at);
    // Fallbacks to updatedAt.
    let only = updated(now - MIN);
    assert_eq!(idle_timestamp(&v2(), &only, now), Some(now - MIN));
    assert_eq!(daily_timestamp(&v2(), &only, now), Some(now - MIN));
    // Future values: skipped by v2, read by v1.
    let fut = Times {
        updated_at: Some(now - MIN),
        last_interaction_at: Some(now + HOUR),
        session_started_at: Some(now + 1),
        transcript_started_at: None,
    };
    assert_eq!(idle_timestamp(&v2(), &fut, now), Some(now - MIN));
    assert_eq!(daily_timestamp(&v2(), &fut, now), Some(now - MIN));
    assert_eq!(
        idle_timestamp(&v1(), &updated(now + HOUR), now),
        Some(now + HOUR)
    );
    // Nothing usable: from 2026.4.25 the gateway falls back to 0.
    assert_eq!(idle_timestamp(&v2(), &updated(now + 1), now), Some(0));
    assert_eq!(idle_timestamp(&v2(), &updated(now), now), Some(now));
    assert_eq!(idle_timestamp(&v1(), &Times::default(), now), None);
}

#[test]
fn idle_rule() {
    let z = TimeZone::UTC;
    let now = utc("2026-05-10T12:00");
    let c = clock(&z, now);
    let r = rule(Mode::Idle, 4, 60);
    let g = &v1();
    // Exactly 60 minutes is still fresh: the gateway tests now > ts + window.
    assert_eq!(stale_reason(&r, g, &updated(now - HOUR), &c), None);
    assert_eq!(
        goes_stale_at(&r, g, &updated(now - HOUR), &c),
        Some((now + 1, Rule::Idle))
    );
    assert_eq!(
        stale_reason(&r, g, &updated(now - HOUR - 1), &c),
        Some(Rule::Idle)
    );
    assert_eq!(
        goes_stale_at(&r, g, &updated(now - HOUR - 1), &c),
        Some((now, Rule::Idle))
    );
    // Idle mode ignores the daily boundary.
    let yesterday = utc("2026-05-09T23:30");
    assert_eq!(
        stale_reason(&rule(Mode::Idle, 4, 900), g, &updated(yesterday), &c),
        None
    );
    // A resolved rule with idle minutes 0 has no idle expiry (releases up
    // to 2026.3.13 resolve a missing or 0 idleMinutes to 60 or 1 before).
    let r0 = rule(Mode::Idle, 4, 0);
    assert_eq!(stale_reason(&r0, g, &updated(now - 61 * MIN), &c), None);
    assert_eq!(goes_stale_at(&r0, g, &updated(now - 30 * MIN), &c), None);
}

#[test]
fn daily_rule() {
    let z = TimeZone::UTC;
    let c = clock(&z, utc("2026-05-10T04:30"));
    let r = rule(Mode::Daily, 4, 0);
    let g = &v2();
    let before = updated(utc("2026-05-10T03:59:59.999"));
    assert_eq!(stale_reason(&r, g, &before, &c), Some(Rule::Daily));
    assert_eq!(
        goes_stale_at(&r, g, &before, &c),
        Some((utc("2026-05-10T04:00"), Rule::Daily))
    );
    let on = updated(utc("2026-05-10T04:00"));
    assert_eq!(stale_reason(&r, g, &on, &c), None);
    assert_eq!(
        goes_stale_at(&r, g, &on, &c),
        Some((utc("2026-05-11T04:00"), Rule::Daily))
    );
    // A day-old session has no idle rule under v2's defaults.
    let old = updated(utc("2026-05-10T04:10"));
    let c = clock(&z, utc("2026-05-11T03:59"));
    assert_eq!(stale_reason(&defaults(g), g, &old, &c), None);
}

#[test]
fn daily_and_idle_together() {
    let z = TimeZone::UTC;
    let now = utc("2026-05-10T12:00");
    let c = clock(&z, now);
    let r = rule(Mode::Daily, 4, 60);
    let g = &v1();
    assert_eq!(stale_reason(&r, g, &updated(now - 30 * MIN), &c), None);
    assert_eq!(
        goes_stale_at(&r, g, &updated(now - 30 * MIN), &c),
        Some((now + 30 * MIN + 1, Rule::Idle))
    );
    assert_eq!(
        stale_reason(&r, g, &updated(now - 2 * HOUR), &c),
        Some(Rule::Idle)
    );
    // Both apply: daily is named.
    let y = updated(utc("2026-05-09T12:00"));
    assert_eq!(stale_reason(&r, g, &y, &c), Some(Rule::Daily));
    // Just before the boundary, the boundary comes first.
    let c = clock(&z, utc("2026-05-11T03:50"));
    let t = updated(utc("2026-05-11T03:40"));
    assert_eq!(
        goes_stale_at(&r, g, &t, &c),
        Some((utc("2026-05-11T04:00"), Rule::Daily))
    );
}

#[test]
fn mode_none_never_goes_stale() {
    let z = TimeZone::UTC;
    let c = clock(&z, utc("2026-05-10T12:00"));
    let r = defaults(&sqlite());
    let ancient = updated(utc("2020-01-01T00:00"));
    assert_eq!(stale_reason(&r, &sqlite(), &ancient, &c), None);
    assert_eq!(goes_stale_at(&r, &sqlite(), &ancient, &c), None);
    let r = rule(Mode::None, 4, 30);
    assert_eq!(goes_stale_at(&r, &v1(), &ancient, &c), None);
}

#[test]
fn v2_reads_its_own_fields_and_skips_the_future() {
    let z = TimeZone::UTC;
    let now = utc("2026-05-10T12:00");
    let c = clock(&z, now);
    let r = rule(Mode::Daily, 4, 60);
    // updatedAt is fresh, but the session started before today's 04:00.
    let t = Times {
        updated_at: Some(now - MIN),
        last_interaction_at: Some(now - MIN),
        session_started_at: Some(utc("2026-05-10T03:00")),
        transcript_started_at: None,
    };
    assert_eq!(stale_reason(&r, &v2(), &t, &c), Some(Rule::Daily));
    assert_eq!(stale_reason(&r, &v1(), &t, &c), None);
    // lastInteractionAt is old while updatedAt is fresh: idle-stale on v2.
    let t = Times {
        updated_at: Some(now - MIN),
        last_interaction_at: Some(now - 2 * HOUR),
        session_started_at: Some(utc("2026-05-10T05:00")),
        transcript_started_at: None,
    };
    assert_eq!(stale_reason(&r, &v2(), &t, &c), Some(Rule::Idle));
    // A future lastInteractionAt is ignored: updatedAt decides.
    let t = Times {
        updated_at: Some(now - 2 * HOUR),
        last_interaction_at: Some(now + HOUR),
        session_started_at: Some(utc("2026-05-10T05:00")),
        transcript_started_at: None,
    };
    assert_eq!(stale_reason(&r, &v2(), &t, &c), Some(Rule::Idle));
    // All in the future: nothing usable, so the gateway reads 0: stale.
    let fut = Times {
        updated_at: Some(now + 1),
        last_interaction_at: Some(now + 1),
        session_started_at: Some(now + 1),
        transcript_started_at: None,
    };
    assert!(stale_reason(&r, &v2(), &fut, &c).is_some());
    assert!(goes_stale_at(&r, &v2(), &fut, &c).is_some_and(|(at, _)| at <= now));
    // v1 reads a future updatedAt as is: fresh, stale only later.
    let future = updated(now + HOUR);
    assert_eq!(stale_reason(&r, &v1(), &future, &c), None);
    assert_eq!(
        goes_stale_at(&r, &v1(), &future, &c),
        Some((now + 2 * HOUR + 1, Rule::Idle))
    );
    // No timestamps at all.
    assert_eq!(stale_reason(&r, &v1(), &Times::default(), &c), None);
    assert_eq!(goes_stale_at(&r, &v1(), &Times::default(), &c), None);
}

#[test]
fn goes_stale_at_agrees_with_stale_reason() {
    // Sweep a session's timestamp across two days around the spring DST
    // change and check the invariant the scheduler relies on.
    let ny = new_york();
    let now = utc("2026-03-08T12:00");
    let c = clock(&ny, now);
    let rules = [
        rule(Mode::Daily, 4, 0),
        rule(Mode::Daily, 2, 90),
        rule(Mode::Idle, 4, 45),
        rule(Mode::None, 4, 0),
    ];
    let start = now - 48 * HOUR;
    for r in &rules {
        for step in 0..=200u64 {
            let t = updated(start + step * 15 * MIN);
            let stale = stale_reason(r, &v1(), &t, &c).is_some();
            let at = goes_stale_at(r, &v1(), &t, &c);
            assert_eq!(
                at.is_some_and(|(ms, _)| ms <= now),
                stale,
                "{r:?} step {step}"
            );
        }
    }
}

/// Before 2026.9 the gateway's yesterday-boundary is today's moved back a
/// calendar day: on a spring-forward day whose gap swallows the boundary hour,
/// from local midnight it lands an hour late, after a session bumped just
/// past the real boundary. Both the verdict and the prediction follow it.
#[test]
fn the_pre_2026_9_dst_quirk_is_predicted_too() {
    let ny = new_york();
    let r = rule(Mode::Daily, 2, 0);
    let ts = utc("2026-03-07T07:00:30"); // 02:00:30 EST, just after the boundary
    let midnight = at(&ny, "2026-03-08T00:00"); // 2026-03-08 is the spring-forward day
    let t = updated(ts);
    assert_eq!(stale_reason(&r, &v1(), &t, &clock(&ny, midnight - 1)), None);
    assert_eq!(
        stale_reason(&r, &v1(), &t, &clock(&ny, midnight)),
        Some(Rule::Daily)
    );
    assert_eq!(
        goes_stale_at(&r, &v1(), &t, &clock(&ny, ts)),
        Some((midnight, Rule::Daily))
    );
    // 2026.9 fixed it: yesterday at the hour, so this session is fresh until the next boundary.
    let fixed =
        super::super::release::ReleaseRules::of(super::super::release::Release::new(2026, 9, 6));
    assert_eq!(stale_reason(&r, &fixed, &t, &clock(&ny, midnight)), None);
}
