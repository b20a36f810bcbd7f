//! Parsing and checking the tick interval (`90`, `90s`, `5m`, `1h`).

use std::time::Duration;

/// Shortest interval accepted: writing a store more often helps nobody.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest interval accepted: a day, the gateway's longest reset period.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses an interval. A bare number is seconds; otherwise humantime's
/// spelling (`90s`, `5m`, `1h30m`). Sub-second parts are refused rather
/// than silently rounded.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text
            .parse()
            .map_err(|_| format!("interval {text:?} is too large; the longest is 24h"))?;
        Duration::from_secs(secs)
    } else {
        humantime::parse_duration(text).map_err(|e| {
            format!("interval {text:?} is not a duration ({e}); use e.g. 90, 90s, 5m or 1h")
        })?
    };
    if duration.subsec_nanos() != 0 {
        return Err(format!(
            "interval {text:?} is not a whole number of seconds; use e.g. 90s"
        ));
    }
    check_interval_secs(duration.as_secs()).map(Duration::from_secs)
}

/// Checks an interval given in whole seconds against the accepted range.
pub fn check_interval_secs(secs: u64) -> Result<u64, String> {
    if secs < MIN_INTERVAL.as_secs() || secs > MAX_INTERVAL.as_secs() {
        return Err(format!(
            "interval {secs}s is out of range; choose between 1s and 24h (86400s)"
        ));
    }
    Ok(secs)
}

/// Longest activity window: a year. Longer is `all`.
pub const MAX_WINDOW_SECS: u64 = 366 * 24 * 60 * 60;

/// Checks an activity window in whole seconds.
pub fn check_window_secs(secs: u64) -> Result<u64, String> {
    if secs == 0 || secs > MAX_WINDOW_SECS {
        return Err(format!(
            "activity window {secs}s is out of range; choose between 1s and 366d, or `all` to keep every session"
        ));
    }
    Ok(secs)
}

/// Parses `--active-within`: a duration (`24h`, `90m`, `3600`) or `all`.
pub fn parse_window(text: &str) -> Result<crate::settings::ActiveWithin, String> {
    use crate::settings::ActiveWithin;
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok(ActiveWithin::All);
    }
    let secs = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>()
            .map_err(|_| format!("activity window {text:?} is too large"))?
    } else {
        let d = humantime::parse_duration(text).map_err(|e| {
            format!("activity window {text:?} is not a duration ({e}); use e.g. 24h, 90m or all")
        })?;
        d.as_secs()
    };
    check_window_secs(secs).map(ActiveWithin::Secs)
}

/// Parses `--since`: how far back to look (`90m`, `24h`, `7d`; a bare number is seconds).
pub fn parse_since(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("--since {text:?} is too large; use e.g. 24h, or 100y for all"))?
    } else {
        humantime::parse_duration(text).map_err(|e| {
            format!("--since {text:?} is not a duration ({e}); use e.g. 90m, 24h or 7d")
        })?
    };
    if duration.is_zero() {
        return Err("--since 0 would show nothing; use e.g. 24h".into());
    }
    Ok(duration)
}

/// Renders seconds the way people write them (`1m 30s`).
pub fn format_secs(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_spellings() {
        assert_eq!(parse_interval("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("24h"), Ok(MAX_INTERVAL));
    }

    #[test]
    fn refuses_out_of_range_and_garbage() {
        for bad in [
            "0",
            "0s",
            "25h",
            "500ms",
            "1.5s",
            "soon",
            "",
            "-5",
            "99999999999999999999999",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn since_accepts_durations_and_bare_seconds() {
        assert_eq!(parse_since("90m"), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(parse_since("24h"), Ok(Duration::from_secs(24 * 3600)));
        assert_eq!(parse_since("7d"), Ok(Duration::from_secs(7 * 24 * 3600)));
        assert_eq!(parse_since(" 3600 "), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_since("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_since("500ms"), Ok(Duration::from_millis(500)));
        // Longer than anything happened is everything, not an error.
        assert_eq!(
            parse_since("18446744073709551615"),
            Ok(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn since_refuses_garbage_with_a_message_that_names_it() {
        for (bad, says) in [
            ("", "is not a duration"),
            ("soon", "is not a duration"),
            ("-5m", "is not a duration"),
            ("99999999999999999999999s", "is not a duration"),
            ("5 parsecs", "is not a duration"),
            ("99999999999999999999999", "is too large"),
            ("0", "would show nothing"),
            ("0s", "would show nothing"),
        ] {
            let error = parse_since(bad).expect_err(bad);
            assert!(error.contains(says), "{bad:?}: {error}");
            assert!(error.contains("--since"), "{bad:?}: {error}");
            assert!(error.contains("24h"), "{bad:?} gives an example: {error}");
        }
    }
}
