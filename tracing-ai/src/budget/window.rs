//! The windows a budget's spend is counted over: a calendar day or month in UTC, or a rolling
//! duration kept as at most 60 buckets.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY: u64 = 86_400;
/// A rolling window is counted in at most this many buckets: a debit leaves it up to one
/// bucket (about 1/60 of the window) late, never early.
pub(crate) const BUCKETS: u64 = 60;

/// The time a [`Budget`](super::Budget)'s spend is counted over.
///
/// ```
/// use std::time::Duration;
/// use tracing_ai::budget::Window;
///
/// assert_eq!("day".parse::<Window>()?, Window::Day);
/// assert_eq!("1h".parse::<Window>()?, Window::Rolling(Duration::from_secs(3600)));
/// # Ok::<(), tracing_ai::budget::BudgetError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Window {
    /// The calendar day in UTC: spend starts again from zero at midnight UTC.
    Day,
    /// The calendar month in UTC.
    Month,
    /// The last `duration`, kept in at most 60 buckets of `duration / 60` rounded up to a
    /// whole second: a cost is counted for at least `duration` after it was made, and leaves
    /// the window up to one bucket after that (two when `duration` is not a whole number of
    /// buckets).
    Rolling(Duration),
}

/// Where `now` is in a window: the calendar period, or the rolling window's bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) index: u64,
    /// When the period (for a rolling window: the oldest bucket still counted) ends.
    pub(crate) ends: SystemTime,
}

/// Whole seconds since 1970-01-01 UTC.
pub(crate) fn epoch_secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

impl Window {
    /// The index of the period (or rolling bucket) `secs` (since the epoch) is in: what
    /// [`period`](Self::period) gives, without its end.
    pub(crate) fn index_at(&self, secs: u64) -> u64 {
        match self {
            Window::Day => secs / DAY,
            Window::Month => {
                let (year, month) = year_month(secs / DAY);
                year * 12 + (month - 1)
            }
            Window::Rolling(_) => secs / self.bucket_secs(),
        }
    }

    pub(crate) fn period(&self, now: SystemTime) -> Period {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        match self {
            Window::Day => {
                let day = secs / DAY;
                Period {
                    index: day,
                    ends: at((day + 1) * DAY),
                }
            }
            Window::Month => {
                let (year, month) = year_month(secs / DAY);
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                Period {
                    index: year * 12 + (month - 1),
                    ends: at(days_from_civil(next_year, next_month) * DAY),
                }
            }
            Window::Rolling(_) => {
                let bucket = self.bucket_secs();
                let index = secs / bucket;
                Period {
                    index,
                    ends: at((index + 1) * bucket),
                }
            }
        }
    }

    /// The length of one bucket of a rolling window.
    pub(crate) fn bucket_secs(&self) -> u64 {
        match self {
            // Rounded up, so that 60 buckets hold the whole window (90 s is 45 of 2 s).
            Window::Rolling(duration) => duration.as_secs().div_ceil(BUCKETS).max(1),
            Window::Day | Window::Month => 0,
        }
    }

    /// The oldest period (or bucket) counted when the newest is `index`: the period itself,
    /// or, for a rolling window, its buckets and the one it started in (so that a cost is
    /// counted for the whole window after it, and at most one bucket longer).
    pub(crate) fn oldest_counted(&self, index: u64) -> u64 {
        match self {
            Window::Rolling(_) => index.saturating_sub(self.buckets()),
            Window::Day | Window::Month => index,
        }
    }

    /// How long a rolling window is in buckets (60, or fewer for a window under a minute).
    pub(crate) fn buckets(&self) -> u64 {
        match self {
            Window::Rolling(duration) => duration.as_secs().div_ceil(self.bucket_secs()).max(1),
            Window::Day | Window::Month => 1,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        match self {
            Window::Rolling(duration) if duration.as_secs() == 0 => Err(format!(
                "a rolling window of {duration:?} is shorter than a second; give at least \"1s\""
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Day => f.write_str("this UTC day"),
            Window::Month => f.write_str("this UTC month"),
            Window::Rolling(duration) => {
                let secs = duration.as_secs();
                let (amount, unit) = [(DAY, "d"), (3600, "h"), (60, "m")]
                    .into_iter()
                    .find(|(unit, _)| secs % unit == 0)
                    .map_or((secs, "s"), |(size, unit)| (secs / size, unit));
                write!(f, "the last {amount}{unit}")
            }
        }
    }
}

impl std::str::FromStr for Window {
    type Err = super::BudgetError;

    /// `day`, `month`, or a rolling duration: a whole number and a unit, `s`, `m`, `h` or `d`
    /// (`90s`, `30m`, `1h`, `7d`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            super::BudgetError::new(format!(
                "window {text:?} is not one: write \"day\" or \"month\" (UTC), or a rolling \
                 duration such as \"30m\", \"1h\" or \"7d\""
            ))
        };
        match text.trim() {
            "day" => return Ok(Window::Day),
            "month" => return Ok(Window::Month),
            _ => {}
        }
        let text = text.trim();
        let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (amount, unit) = text.split_at(unit_at);
        let amount: u64 = amount.parse().map_err(|_| bad())?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => DAY,
            _ => return Err(bad()),
        };
        let secs = amount
            .checked_mul(scale)
            .filter(|secs| *secs > 0)
            .ok_or_else(bad)?;
        Ok(Window::Rolling(Duration::from_secs(secs)))
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The year and month (1-12) of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn year_month(days: u64) -> (u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month)
}

/// The day, counted from 1970-01-01, on which `month` (1-12) of `year` starts.
fn days_from_civil(year: u64, month: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(secs: u64) -> SystemTime {
        at(secs)
    }

    #[test]
    fn a_day_ends_at_midnight_utc() {
        // 2026-12-04T20:00:00Z
        let now = utc(1_796_414_400);
        let period = Window::Day.period(now);
        assert_eq!(period.ends, utc(1_796_428_800), "2026-12-05T00:00:00Z");
        assert_ne!(Window::Day.period(period.ends).index, period.index);
        assert_eq!(
            Window::Day
                .period(period.ends - Duration::from_secs(1))
                .index,
            period.index
        );
    }

    #[test]
    fn a_month_ends_on_the_first_of_the_next_in_utc() {
        // 2026-12-04T20:00:00Z: December ends at 2027-01-01T00:00:00Z
        let period = Window::Month.period(utc(1_796_414_400));
        assert_eq!(period.ends, utc(1_798_761_600));
        // 2028-02-29 (leap year) is in February; March starts 2028-03-01
        let february = Window::Month.period(utc(1_835_395_200));
        assert_eq!(february.ends, utc(1_835_481_600));
        assert_eq!(
            february.index + 1,
            Window::Month.period(february.ends).index
        );
    }

    #[test]
    fn windows_parse_from_their_names_and_durations() {
        assert_eq!("month".parse::<Window>().ok(), Some(Window::Month));
        assert_eq!(
            "90s".parse::<Window>().ok(),
            Some(Window::Rolling(Duration::from_secs(90)))
        );
        assert_eq!(
            "7d".parse::<Window>().ok(),
            Some(Window::Rolling(Duration::from_secs(7 * DAY)))
        );
        for bad in [
            "",
            "week",
            "0h",
            "1.5h",
            "h",
            "-1h",
            "99999999999999999999d",
        ] {
            let error = bad.parse::<Window>().expect_err(bad).to_string();
            assert!(error.contains("\"30m\""), "{bad}: {error}");
        }
        assert_eq!(
            Window::Rolling(Duration::from_secs(3600)).to_string(),
            "the last 1h"
        );
    }

    #[test]
    fn a_rolling_window_is_sixty_buckets_or_fewer() {
        let hour = Window::Rolling(Duration::from_secs(3600));
        assert_eq!((hour.bucket_secs(), hour.buckets()), (60, 60));
        let short = Window::Rolling(Duration::from_secs(10));
        assert_eq!((short.bucket_secs(), short.buckets()), (1, 10));
        // Not 60 buckets of 1 s: that would count 60 s of a 90 s window.
        let odd = Window::Rolling(Duration::from_secs(90));
        assert_eq!((odd.bucket_secs(), odd.buckets()), (2, 45));
        let uneven = Window::Rolling(Duration::from_secs(3630));
        assert_eq!((uneven.bucket_secs(), uneven.buckets()), (61, 60));
        for secs in [1, 59, 61, 90, 119, 3_599, 3_630, 86_400, 7 * 86_400] {
            let window = Window::Rolling(Duration::from_secs(secs));
            assert!(window.buckets() <= BUCKETS, "{secs}");
            assert!(window.buckets() * window.bucket_secs() >= secs, "{secs}");
        }
    }
}
