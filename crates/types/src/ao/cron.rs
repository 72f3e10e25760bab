//! `Cron-Interval` and `Cron-Tag-*` (spec §2.8).

use std::fmt;

use crate::{Error, Tag};

/// How often a cron fires.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CronInterval {
    /// Every n blocks.
    Blocks(u64),
    /// Every n seconds (time units are floored to whole seconds; the CU ticks per second).
    Seconds(u64),
}

impl CronInterval {
    /// Parses `<n>-<unit>`: `block(s)`, or a unit the `ms` library reads (ms, s, m, h, d, w, y
    /// and their long forms). At least one second or one block.
    ///
    /// # Errors
    /// [`Error::InvalidTag`] for anything else (including `month`, which `ms` does not read).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let bad = |reason| Error::InvalidTag {
            name: "Cron-Interval".into(),
            value: value.to_owned(),
            reason,
        };
        let (number, unit) = value.split_once('-').ok_or(bad("expected <n>-<unit>"))?;
        let (number, unit) = (number.trim(), unit.trim().to_ascii_lowercase());
        if unit == "block" || unit == "blocks" {
            let n: u64 = number
                .parse()
                .map_err(|_| bad("block count is not an integer"))?;
            return if n == 0 {
                Err(bad("interval must be at least 1 block"))
            } else {
                Ok(Self::Blocks(n))
            };
        }
        let ms_per_unit: f64 = match unit.as_str() {
            "years" | "year" | "yrs" | "yr" | "y" => 31_557_600_000.0,
            "weeks" | "week" | "w" => 604_800_000.0,
            "days" | "day" | "d" => 86_400_000.0,
            "hours" | "hour" | "hrs" | "hr" | "h" => 3_600_000.0,
            "minutes" | "minute" | "mins" | "min" | "m" => 60_000.0,
            "seconds" | "second" | "secs" | "sec" | "s" => 1_000.0,
            "milliseconds" | "millisecond" | "msecs" | "msec" | "ms" => 1.0,
            _ => return Err(bad("unknown unit")),
        };
        let n: f64 = number.parse().map_err(|_| bad("not a number"))?;
        let seconds = (n * ms_per_unit / 1000.0).floor();
        if !(1.0..u64::MAX as f64).contains(&seconds) {
            return Err(bad("interval must be at least 1 second"));
        }
        Ok(Self::Seconds(seconds as u64))
    }
}

impl fmt::Display for CronInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blocks(n) => write!(f, "{n}-blocks"),
            Self::Seconds(n) => write!(f, "{n}-seconds"),
        }
    }
}

/// One cron of a process: its interval, its original text and the tags its messages carry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cron {
    /// The parsed interval.
    pub interval: CronInterval,
    /// The `Cron-Interval` value as written (the CU names crons `<index>-<text>`).
    pub text: String,
    /// Tags from the `Cron-Tag-<Name>` tags that follow, with the prefix removed.
    pub tags: Vec<Tag>,
}

impl Cron {
    /// Reads every `Cron-Interval` with the `Cron-Tag-*` tags that follow it, in tag order.
    ///
    /// # Errors
    /// [`Error::InvalidTag`] for a bad interval or a `Cron-Tag-*` before any interval.
    pub fn read_all(tags: &[Tag]) -> Result<Vec<Self>, Error> {
        let mut crons: Vec<Self> = Vec::new();
        for tag in tags {
            if tag.name == "Cron-Interval" {
                crons.push(Self {
                    interval: CronInterval::parse(&tag.value)?,
                    text: tag.value.clone(),
                    tags: Vec::new(),
                });
            } else if let Some(name) = tag.name.strip_prefix("Cron-Tag-") {
                let cron = crons.last_mut().ok_or_else(|| Error::InvalidTag {
                    name: tag.name.clone(),
                    value: tag.value.clone(),
                    reason: "Cron-Tag-* before any Cron-Interval",
                })?;
                cron.tags.push(Tag::new(name, tag.value.clone()));
            }
        }
        Ok(crons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Intervals in the forms processes use, converted by hand.
    fn intervals() {
        let cases = [
            ("1-minute", CronInterval::Seconds(60)),
            ("5-minutes", CronInterval::Seconds(300)),
            ("10-seconds", CronInterval::Seconds(10)),
            ("1-second", CronInterval::Seconds(1)),
            ("2-hours", CronInterval::Seconds(7_200)),
            ("1-day", CronInterval::Seconds(86_400)),
            ("1-week", CronInterval::Seconds(604_800)),
            ("1-year", CronInterval::Seconds(31_557_600)),
            ("1500-ms", CronInterval::Seconds(1)),
            ("1-block", CronInterval::Blocks(1)),
            ("10-blocks", CronInterval::Blocks(10)),
        ];
        for (text, want) in cases {
            assert_eq!(CronInterval::parse(text).ok(), Some(want), "{text}");
        }
        for bad in [
            "1-month",
            "500-ms",
            "0-blocks",
            "x-minutes",
            "minutes",
            "1.5-blocks",
        ] {
            assert!(CronInterval::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    /// Cron-Tag-* bind to the latest interval; one before any interval is an error.
    fn tags_bind_to_latest_interval() {
        let tags = [
            Tag::new("Cron-Interval", "1-minute"),
            Tag::new("Cron-Tag-Action", "Tick"),
            Tag::new("Other", "x"),
            Tag::new("Cron-Interval", "2-blocks"),
            Tag::new("Cron-Tag-Action", "Block"),
            Tag::new("Cron-Tag-Foo", "bar"),
        ];
        let crons = Cron::read_all(&tags).expect("parses");
        assert_eq!(crons.len(), 2);
        assert_eq!(crons[0].tags, vec![Tag::new("Action", "Tick")]);
        assert_eq!(crons[1].interval, CronInterval::Blocks(2));
        assert_eq!(crons[1].text, "2-blocks");
        assert_eq!(
            crons[1].tags,
            vec![Tag::new("Action", "Block"), Tag::new("Foo", "bar")]
        );
        let orphan = [
            Tag::new("Cron-Tag-Action", "x"),
            Tag::new("Cron-Interval", "1-s"),
        ];
        assert!(Cron::read_all(&orphan).is_err());
    }
}
