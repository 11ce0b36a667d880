//! Link impairments with the kernel's netem queueing discipline: delay, jitter, loss,
//! corruption and a rate limit on what an interface sends (containerlab's `tools netem`).

use std::{fmt, time::Duration};

use nix::errno::Errno;
use rtnetlink::packet_core::{DefaultNla, Emitable};
use rtnetlink::packet_route::{
    RouteNetlinkMessage,
    tc::{TcAttribute, TcHandle, TcMessage},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Op, Result},
    handle::{Create, Handle},
};

/// A share of packets, in millionths (1% is 10 000), so that impairments compare exactly.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Percent(u32);

impl Percent {
    /// Everything.
    pub const ALL: Percent = Percent(1_000_000);

    /// Reads a percentage (`1.5`, `1.5%`, 0 to 100, to a millionth), naming `argument` on error.
    pub fn parse(argument: &str, text: &str) -> Result<Self> {
        let number = text.trim().trim_end_matches('%');
        let value: f64 = number
            .parse()
            .ok()
            .filter(|value: &f64| value.is_finite())
            .ok_or_else(|| Error::invalid(argument, text, "is not a percentage (like 1.5)"))?;
        if !(0.0..=100.0).contains(&value) {
            return Err(Error::invalid(argument, text, "is not between 0 and 100 percent"));
        }
        Ok(Percent((value * 10_000.0).round() as u32))
    }

    /// The share in the kernel's scale, where `u32::MAX` is every packet.
    fn probability(self) -> u32 {
        (u64::from(self.0) * u64::from(u32::MAX) / 1_000_000) as u32
    }

    /// Whether it is no packet at all.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", f64::from(self.0) / 10_000.0)
    }
}

/// What netem does to the packets an interface sends; the default impairs nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Netem {
    /// Added delay, in microseconds.
    pub delay_us: u64,
    /// Random variation of the delay (plus or minus), in microseconds.
    #[serde(default)]
    pub jitter_us: u64,
    /// Packets dropped at random.
    #[serde(default)]
    pub loss: Percent,
    /// Packets with a random bit flipped.
    #[serde(default)]
    pub corruption: Percent,
    /// The most it sends, in kbit/s; unlimited when `None`.
    #[serde(default)]
    pub rate_kbit: Option<u64>,
}

/// The queue length netem keeps, in packets (tc's default).
const LIMIT: u32 = 1000;
/// The kernel's scheduler ticks are 64 ns (PSCHED_SHIFT).
const NS_PER_TICK: u64 = 64;

// Attributes inside netem's TCA_OPTIONS (linux/pkt_sched.h).
const TCA_OPTIONS: u16 = 2;
const TCA_NETEM_CORRUPT: u16 = 4;
const TCA_NETEM_RATE: u16 = 6;
const TCA_NETEM_RATE64: u16 = 8;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;

impl Netem {
    /// Checks that the impairments make sense together, naming `argument` on error.
    pub fn validate(&self, argument: &str) -> Result<()> {
        if self.jitter_us > 0 && self.delay_us == 0 {
            return Err(Error::invalid(
                argument,
                format!("jitter {} us", self.jitter_us),
                "jitter varies a delay: give a delay too",
            ));
        }
        if self.rate_kbit == Some(0) {
            return Err(Error::invalid(argument, "rate 0", "a rate is at least 1 kbit/s"));
        }
        Ok(())
    }

    /// netem's TCA_OPTIONS: `struct tc_netem_qopt` followed by its own attributes.
    fn options(&self) -> Vec<u8> {
        let delay_ns = self.delay_us.saturating_mul(1000);
        let jitter_ns = self.jitter_us.saturating_mul(1000);
        let ticks = |ns: u64| u32::try_from(ns / NS_PER_TICK).unwrap_or(u32::MAX);
        let mut bytes = Vec::with_capacity(96);
        for field in [ticks(delay_ns), LIMIT, self.loss.probability(), 0, 0, ticks(jitter_ns)] {
            bytes.extend_from_slice(&field.to_ne_bytes());
        }
        let mut attributes = vec![
            DefaultNla::new(TCA_NETEM_LATENCY64, (delay_ns as i64).to_ne_bytes().to_vec()),
            DefaultNla::new(TCA_NETEM_JITTER64, (jitter_ns as i64).to_ne_bytes().to_vec()),
        ];
        let words = |values: &[u32]| values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        if !self.corruption.is_zero() {
            attributes.push(DefaultNla::new(
                TCA_NETEM_CORRUPT,
                words(&[self.corruption.probability(), 0]),
            ));
        }
        if let Some(kbit) = self.rate_kbit {
            let bytes_per_second = kbit.saturating_mul(1000) / 8;
            let rate = u32::try_from(bytes_per_second).unwrap_or(u32::MAX);
            attributes.push(DefaultNla::new(TCA_NETEM_RATE, words(&[rate, 0, 0, 0])));
            if rate == u32::MAX {
                attributes.push(DefaultNla::new(
                    TCA_NETEM_RATE64,
                    bytes_per_second.to_ne_bytes().to_vec(),
                ));
            }
        }
        let start = bytes.len();
        bytes.resize(start + attributes.as_slice().buffer_len(), 0);
        attributes.as_slice().emit(&mut bytes[start..]);
        bytes
    }
}

impl fmt::Display for Netem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let duration = |us: u64| format!("{:?}", Duration::from_micros(us));
        let mut parts = vec![format!("delay {}", duration(self.delay_us))];
        if self.jitter_us > 0 {
            parts.push(format!("jitter {}", duration(self.jitter_us)));
        }
        if !self.loss.is_zero() {
            parts.push(format!("loss {}", self.loss));
        }
        if !self.corruption.is_zero() {
            parts.push(format!("corrupt {}", self.corruption));
        }
        if let Some(kbit) = self.rate_kbit {
            parts.push(format!("rate {kbit}kbit"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// Reads a duration such as `10ms`, `1.5s`, `250us` (Go's units, as containerlab writes them),
/// to the microsecond, naming `argument` on error.
pub fn parse_duration_us(argument: &str, text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "us" | "µs" => 1.0,
        "ms" => 1_000.0,
        "s" => 1_000_000.0,
        _ => {
            return Err(Error::invalid(
                argument,
                text,
                "is not a duration with a unit of us, ms or s (like 10ms)",
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| Error::invalid(argument, text, "is not a duration (like 10ms)"))?;
    let us = value * scale;
    if us > 3_600_000_000.0 {
        return Err(Error::invalid(argument, text, "is over an hour"));
    }
    Ok(us.round() as u64)
}

impl Handle {
    /// Makes netem the root queueing discipline of the link with index `index`, replacing the
    /// one there.
    ///
    /// Equivalent to: `tc qdisc replace dev IF root netem delay D J loss L corrupt C rate R`.
    pub fn netem_set(&self, index: u32, netem: &Netem) -> Result<()> {
        let mut message = TcMessage::with_index(index as i32);
        message.header.parent = TcHandle::ROOT;
        message.attributes.push(TcAttribute::Kind("netem".into()));
        message.attributes.push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, netem.options())));
        let object = format!("netem on link {index}");
        self.change(
            RouteNetlinkMessage::NewQueueDiscipline(message),
            Create::Replace,
            Op::QdiscSet,
            &object,
        )
        .map_err(|err| match err.errno() {
            // The kernel answers an unknown qdisc kind with ENOENT.
            Errno::ENOENT => Error::Unsupported {
                op: Op::QdiscSet,
                object: format!("{object} in {}", self.namespace()),
                reason: "this kernel has no netem queueing discipline (CONFIG_NET_SCH_NETEM, module sch_netem), which link impairments need".into(),
            },
            _ => err,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_read_to_a_millionth_and_refuse_what_is_not_one() {
        assert_eq!(Percent::parse("loss", "1.5").unwrap(), Percent(15_000));
        assert_eq!(Percent::parse("loss", "100%").unwrap(), Percent::ALL);
        assert_eq!(Percent::ALL.probability(), u32::MAX);
        assert_eq!(Percent::parse("loss", "0").unwrap().probability(), 0);
        assert_eq!(Percent(15_000).to_string(), "1.5%");
        for bad in ["-1", "101", "many", "NaN", "inf"] {
            let err = Percent::parse("loss", bad).unwrap_err().to_string();
            assert!(err.contains("loss") && err.contains(bad), "{err}");
        }
    }

    #[test]
    fn durations_read_with_go_units() {
        assert_eq!(parse_duration_us("delay", "10ms").unwrap(), 10_000);
        assert_eq!(parse_duration_us("delay", "1.5s").unwrap(), 1_500_000);
        assert_eq!(parse_duration_us("delay", "250us").unwrap(), 250);
        for bad in ["10", "ms", "10 min", "2h", "-1ms", "99999s"] {
            let err = parse_duration_us("delay", bad).unwrap_err().to_string();
            assert!(err.contains("delay"), "{err}");
        }
    }

    #[test]
    fn options_are_the_qopt_struct_then_aligned_attributes() {
        let netem = Netem {
            delay_us: 10_000,
            jitter_us: 1_000,
            loss: Percent::ALL,
            corruption: Percent(0),
            rate_kbit: Some(8),
        };
        let bytes = netem.options();
        let word = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(word(0), 10_000_000 / 64, "latency in ticks");
        assert_eq!(word(4), LIMIT);
        assert_eq!(word(8), u32::MAX, "every packet lost");
        assert_eq!(word(20), 1_000_000 / 64, "jitter in ticks");
        // LATENCY64 (12 bytes), JITTER64 (12), RATE (20): no CORRUPT, no RATE64.
        assert_eq!(bytes.len(), 24 + 12 + 12 + 20);
        assert_eq!((word(24) & 0xffff, word(24) >> 16), (12, u32::from(TCA_NETEM_LATENCY64)));
        assert_eq!(i64::from_ne_bytes(bytes[28..36].try_into().unwrap()), 10_000_000);
        assert_eq!(word(48) >> 16, u32::from(TCA_NETEM_RATE));
        assert_eq!(word(52), 1000, "8 kbit/s is 1000 bytes/s");
    }

    #[test]
    fn jitter_needs_a_delay() {
        let netem = Netem { jitter_us: 5, ..Default::default() };
        assert!(netem.validate("netem").unwrap_err().to_string().contains("give a delay"));
        assert!(Netem { delay_us: 5, jitter_us: 5, ..Default::default() }.validate("n").is_ok());
    }
}
