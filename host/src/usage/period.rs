//! Quota periods in UTC: a day from a given hour, a week from a given weekday, a month from
//! a given day of the month.

use crate::config::Period;

const DAY_MS: i64 = 86_400_000;

/// The period holding `now_ms` (Unix milliseconds): its start and end.
pub fn bounds(now_ms: u64, period: Period, offset: u32) -> (u64, u64) {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let offset = i64::from(offset.min(period.max_offset()));
    let (start, end) = match period {
        Period::Day => {
            let shift = offset * 3_600_000;
            let start = (now - shift).div_euclid(DAY_MS) * DAY_MS + shift;
            (start, start + DAY_MS)
        }
        Period::Week => {
            let day = now.div_euclid(DAY_MS);
            // 1970-01-01 was a Thursday (weekday 4, counting from Sunday = 0).
            let weekday = (day + 4).rem_euclid(7);
            let start_day = day - (weekday - offset).rem_euclid(7);
            (start_day * DAY_MS, (start_day + 7) * DAY_MS)
        }
        Period::Month => {
            let day = now.div_euclid(DAY_MS);
            let (mut y, mut m, d) = civil_from_days(day);
            if d <= offset {
                (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
            }
            let start = days_from_civil(y, m, 1) + offset;
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let end = days_from_civil(ny, nm, 1) + offset;
            (start * DAY_MS, end * DAY_MS)
        }
    };
    (start.max(0) as u64, end.max(0) as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1-12, day 1-31) of a day number since 1970-01-01.
pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix ms of a UTC date and hour.
    fn at(y: i64, m: i64, d: i64, h: i64) -> u64 {
        (days_from_civil(y, m, d) * DAY_MS + h * 3_600_000) as u64
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(
            civil_from_days(days_from_civil(2026, 11, 25)),
            (2026, 11, 25)
        );
    }

    #[test]
    fn days_start_at_the_offset_hour() {
        let now = at(2026, 11, 25, 10);
        assert_eq!(
            bounds(now, Period::Day, 0),
            (at(2026, 11, 25, 0), at(2026, 11, 26, 0))
        );
        assert_eq!(
            bounds(now, Period::Day, 12),
            (at(2026, 11, 24, 12), at(2026, 11, 25, 12))
        );
        // The last millisecond of a day and the first of the next fall in different periods.
        let end = at(2026, 11, 26, 0);
        assert_eq!(bounds(end - 1, Period::Day, 0).1, end);
        assert_eq!(bounds(end, Period::Day, 0).0, end);
    }

    #[test]
    fn weeks_start_on_the_offset_weekday() {
        // 2026-11-25 is a Wednesday.
        let now = at(2026, 11, 25, 10);
        assert_eq!(
            bounds(now, Period::Week, 0),
            (at(2026, 11, 22, 0), at(2026, 11, 29, 0))
        );
        assert_eq!(
            bounds(now, Period::Week, 1),
            (at(2026, 11, 23, 0), at(2026, 11, 30, 0))
        );
        assert_eq!(
            bounds(now, Period::Week, 3),
            (at(2026, 11, 25, 0), at(2026, 12, 2, 0))
        );
        assert_eq!(
            bounds(now, Period::Week, 4),
            (at(2026, 11, 19, 0), at(2026, 11, 26, 0))
        );
    }

    #[test]
    fn months_start_on_the_offset_day() {
        let now = at(2026, 11, 25, 10);
        assert_eq!(
            bounds(now, Period::Month, 0),
            (at(2026, 11, 1, 0), at(2026, 12, 1, 0))
        );
        assert_eq!(
            bounds(now, Period::Month, 24),
            (at(2026, 11, 25, 0), at(2026, 12, 25, 0))
        );
        assert_eq!(
            bounds(now, Period::Month, 25),
            (at(2026, 10, 26, 0), at(2026, 11, 26, 0))
        );
        // Across the year end.
        let jan = at(2027, 1, 3, 0);
        assert_eq!(
            bounds(jan, Period::Month, 4),
            (at(2026, 12, 5, 0), at(2027, 1, 5, 0))
        );
        assert_eq!(
            bounds(at(2026, 12, 31, 23), Period::Month, 0).1,
            at(2027, 1, 1, 0)
        );
    }
}
