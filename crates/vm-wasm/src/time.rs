//! Calendar arithmetic for the emscripten time imports, always in UTC: a process sees the
//! message's Timestamp and no time zone, so every CU formats the same instant the same way.

/// The fields of C's `struct tm` for one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tm {
    pub sec: i32,
    pub min: i32,
    pub hour: i32,
    pub mday: i32,
    /// 0–11.
    pub mon: i32,
    /// Years since 1900.
    pub year: i32,
    /// 0 = Sunday.
    pub wday: i32,
    /// 0–365.
    pub yday: i32,
}

fn leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days from 1970-01-01 to `year`-`month`-`day` (proleptic Gregorian; month 1–12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC calendar fields of `seconds` since the epoch.
pub fn gmtime(seconds: i64) -> Tm {
    let days = seconds.div_euclid(86_400);
    let rem = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let yday = days - days_from_civil(year, 1, 1);
    Tm {
        sec: (rem % 60) as i32,
        min: (rem / 60 % 60) as i32,
        hour: (rem / 3600) as i32,
        mday: day as i32,
        mon: (month - 1) as i32,
        year: (year - 1900) as i32,
        wday: (days + 4).rem_euclid(7) as i32,
        yday: yday as i32,
    }
}

/// Seconds since the epoch of the (possibly out-of-range, as `mktime` allows) fields.
pub fn timegm(tm: &Tm) -> i64 {
    let months = i64::from(tm.year) * 12 + i64::from(tm.mon);
    let year = 1900 + months.div_euclid(12);
    let month = months.rem_euclid(12) + 1;
    let days = days_from_civil(year, month, 1) + i64::from(tm.mday) - 1;
    days * 86_400 + i64::from(tm.hour) * 3600 + i64::from(tm.min) * 60 + i64::from(tm.sec)
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// C `strftime` in the C locale and UTC.
pub fn strftime(format: &[u8], tm: &Tm) -> Vec<u8> {
    let mut out = Vec::new();
    let day = DAYS[tm.wday.rem_euclid(7) as usize];
    let month = MONTHS[tm.mon.rem_euclid(12) as usize];
    let year = i64::from(tm.year) + 1900;
    let hour12 = match tm.hour % 12 {
        0 => 12,
        h => h,
    };
    let mut i = 0;
    while i < format.len() {
        let c = format[i];
        i += 1;
        if c != b'%' || i >= format.len() {
            out.push(c);
            continue;
        }
        // Skip the E and O modifiers (same output in the C locale).
        let mut spec = format[i];
        i += 1;
        if (spec == b'E' || spec == b'O') && i < format.len() {
            spec = format[i];
            i += 1;
        }
        let piece = match spec {
            b'a' => day[..3].to_string(),
            b'A' => day.to_string(),
            b'b' | b'h' => month[..3].to_string(),
            b'B' => month.to_string(),
            b'c' => format!(
                "{} {} {:>2} {:02}:{:02}:{:02} {year}",
                &day[..3],
                &month[..3],
                tm.mday,
                tm.hour,
                tm.min,
                tm.sec
            ),
            b'C' => format!("{:02}", year.div_euclid(100)),
            b'd' => format!("{:02}", tm.mday),
            b'D' | b'x' => format!("{:02}/{:02}/{:02}", tm.mon + 1, tm.mday, year % 100),
            b'e' => format!("{:>2}", tm.mday),
            b'F' => format!("{year}-{:02}-{:02}", tm.mon + 1, tm.mday),
            b'g' => format!("{:02}", iso_year(tm) % 100),
            b'G' => iso_year(tm).to_string(),
            b'H' => format!("{:02}", tm.hour),
            b'I' => format!("{hour12:02}"),
            b'j' => format!("{:03}", tm.yday + 1),
            b'm' => format!("{:02}", tm.mon + 1),
            b'M' => format!("{:02}", tm.min),
            b'n' => "\n".into(),
            b'p' => if tm.hour < 12 { "AM" } else { "PM" }.into(),
            b'r' => format!(
                "{hour12:02}:{:02}:{:02} {}",
                tm.min,
                tm.sec,
                if tm.hour < 12 { "AM" } else { "PM" }
            ),
            b'R' => format!("{:02}:{:02}", tm.hour, tm.min),
            b's' => timegm(tm).to_string(),
            b'S' => format!("{:02}", tm.sec),
            b't' => "\t".into(),
            b'T' | b'X' => format!("{:02}:{:02}:{:02}", tm.hour, tm.min, tm.sec),
            b'u' => (if tm.wday == 0 { 7 } else { tm.wday }).to_string(),
            b'U' => format!("{:02}", (tm.yday + 7 - tm.wday) / 7),
            b'V' => format!("{:02}", iso_week(tm)),
            b'w' => tm.wday.to_string(),
            b'W' => format!("{:02}", (tm.yday + 7 - (tm.wday + 6) % 7) / 7),
            b'y' => format!("{:02}", year.rem_euclid(100)),
            b'Y' => year.to_string(),
            b'z' => "+0000".into(),
            b'Z' => "GMT".into(),
            b'%' => "%".into(),
            other => format!("%{}", other as char),
        };
        out.extend_from_slice(piece.as_bytes());
    }
    out
}

/// ISO 8601 week number (1–53).
fn iso_week(tm: &Tm) -> i32 {
    let wday = (tm.wday + 6) % 7; // Monday = 0
    let week = (tm.yday - wday + 10) / 7;
    let year = i64::from(tm.year) + 1900;
    if week < 1 {
        let prev = year - 1;
        let prev_days = if leap(prev) { 366 } else { 365 };
        return iso_week(&Tm {
            yday: tm.yday + prev_days,
            year: tm.year - 1,
            ..*tm
        });
    }
    let days = if leap(year) { 366 } else { 365 };
    if week == 53 && tm.yday - wday + 3 >= days {
        return 1;
    }
    week
}

fn iso_year(tm: &Tm) -> i64 {
    let year = i64::from(tm.year) + 1900;
    let week = iso_week(tm);
    if week >= 52 && tm.mon == 0 {
        year - 1
    } else if week == 1 && tm.mon == 11 {
        year + 1
    } else {
        year
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmtime_and_timegm_agree_with_known_dates() {
        // 2000-02-29T12:34:56Z, a Tuesday, day 60 of a leap year.
        let t = gmtime(951_827_696);
        assert_eq!(
            t,
            Tm {
                sec: 56,
                min: 34,
                hour: 12,
                mday: 29,
                mon: 1,
                year: 100,
                wday: 2,
                yday: 59
            }
        );
        assert_eq!(timegm(&t), 951_827_696);
        assert_eq!(gmtime(0).wday, 4);
        assert_eq!(gmtime(-1).year, 69);
        for s in [0i64, 1, 86_399, 1_700_000_000, 4_102_444_800, -86_400 * 400] {
            assert_eq!(timegm(&gmtime(s)), s);
        }
        // mktime normalises overflowing fields.
        let mut over = gmtime(0);
        over.mon = 13;
        assert_eq!(gmtime(timegm(&over)).mon, 1);
    }

    #[test]
    fn strftime_formats_in_the_c_locale() {
        let t = gmtime(951_827_696);
        assert_eq!(
            strftime(b"%Y-%m-%d %H:%M:%S %a %b %j %p %%", &t),
            b"2000-02-29 12:34:56 Tue Feb 060 PM %".to_vec()
        );
        assert_eq!(strftime(b"%c", &t), b"Tue Feb 29 12:34:56 2000".to_vec());
        // 2021-01-01 is in ISO week 53 of 2020.
        let t = gmtime(1_609_459_200);
        assert_eq!(strftime(b"%G-W%V", &t), b"2020-W53".to_vec());
    }
}
