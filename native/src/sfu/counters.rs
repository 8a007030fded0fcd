//! What the media thread did, counted: read from any thread while it runs.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a datagram (or one copy of it) was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not RTP v2, a discovery packet of the wrong shape, or too short for its header.
    Malformed,
    /// No participant has this SSRC.
    UnknownSsrc,
    /// Not from the address the SSRC is bound to (or it has none yet), and not the key
    /// holder's fresh packet either (that would have rebound it).
    WrongAddress,
    /// The sender has no key yet.
    NotKeyed,
    /// The counter was seen, or is older than the replay window.
    Replayed,
    /// The tag did not authenticate it with the sender's key.
    BadTag,
    /// The sender may not speak (muted, self-muted, suppressed).
    Muted,
    Rtcp,
    KeepAlive,
    NotOpus,
    /// One copy the kernel refused (a full socket buffer, an unreachable listener).
    SendFailed,
    /// One copy not sent because the listener's counter ran out: sending more would reuse
    /// nonces under its key.
    CounterExhausted,
}

impl Dropped {
    pub const ALL: [Self; 12] = [
        Self::Malformed,
        Self::UnknownSsrc,
        Self::WrongAddress,
        Self::NotKeyed,
        Self::Replayed,
        Self::BadTag,
        Self::Muted,
        Self::Rtcp,
        Self::KeepAlive,
        Self::NotOpus,
        Self::SendFailed,
        Self::CounterExhausted,
    ];

    /// Its counter's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "dropped_malformed",
            Self::UnknownSsrc => "dropped_unknown_ssrc",
            Self::WrongAddress => "dropped_wrong_address",
            Self::NotKeyed => "dropped_not_keyed",
            Self::Replayed => "dropped_replayed",
            Self::BadTag => "dropped_bad_tag",
            Self::Muted => "dropped_muted",
            Self::Rtcp => "dropped_rtcp",
            Self::KeepAlive => "dropped_keepalive",
            Self::NotOpus => "dropped_not_opus",
            Self::SendFailed => "dropped_send_failed",
            Self::CounterExhausted => "dropped_counter_exhausted",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counts of one batch, kept locally and published together once the batch is sent.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub discovery_answers: u64,
    /// SSRCs moved to another address by a packet that authenticated from it.
    pub rebinds: u64,
    /// Receive errors other than "nothing waiting" (see `media.rs`).
    pub io_errors: u64,
    dropped: [u64; Dropped::ALL.len()],
}

impl Tally {
    pub fn drop(&mut self, reason: Dropped) {
        if let Some(count) = self.dropped.get_mut(reason.index()) {
            *count += 1;
        }
    }

    #[must_use]
    pub fn dropped(&self, reason: Dropped) -> u64 {
        self.dropped
            .get(reason.index())
            .copied()
            .unwrap_or_default()
    }
}

/// The running totals.
#[derive(Debug, Default)]
pub struct Counters {
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    discovery_answers: AtomicU64,
    rebinds: AtomicU64,
    io_errors: AtomicU64,
    dropped: [AtomicU64; Dropped::ALL.len()],
}

impl Counters {
    /// Adds a finished batch. `packets_in` goes last, and `snapshot` reads it first: whoever
    /// sees a datagram counted in also sees everything it caused.
    pub fn publish(&self, tally: &Tally) {
        let add = |counter: &AtomicU64, value: u64| {
            if value > 0 {
                counter.fetch_add(value, Ordering::Relaxed);
            }
        };
        add(&self.bytes_in, tally.bytes_in);
        add(&self.packets_out, tally.packets_out);
        add(&self.bytes_out, tally.bytes_out);
        add(&self.discovery_answers, tally.discovery_answers);
        add(&self.rebinds, tally.rebinds);
        add(&self.io_errors, tally.io_errors);
        for (counter, value) in self.dropped.iter().zip(tally.dropped) {
            add(counter, value);
        }
        self.packets_in
            .fetch_add(tally.packets_in, Ordering::Release);
    }

    /// Every counter by name.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let packets_in = self.packets_in.load(Ordering::Acquire);
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut all = vec![
            ("packets_in", packets_in),
            ("bytes_in", read(&self.bytes_in)),
            ("packets_out", read(&self.packets_out)),
            ("bytes_out", read(&self.bytes_out)),
            ("discovery_answers", read(&self.discovery_answers)),
            ("rebinds", read(&self.rebinds)),
            ("io_errors", read(&self.io_errors)),
        ];
        all.extend(
            Dropped::ALL
                .iter()
                .zip(&self.dropped)
                .map(|(reason, counter)| (reason.name(), read(counter))),
        );
        all
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter() {
        let counters = Counters::default();
        let mut tally = Tally {
            packets_in: 3,
            bytes_out: 10,
            ..Tally::default()
        };
        for (times, reason) in Dropped::ALL.iter().enumerate() {
            for _ in 0..=times {
                tally.drop(*reason);
            }
        }
        counters.publish(&tally);
        counters.publish(&tally);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot[0], ("packets_in", 6));
        assert_eq!(snapshot[3], ("bytes_out", 20));
        for (times, reason) in Dropped::ALL.iter().enumerate() {
            let found = snapshot.iter().find(|(name, _)| *name == reason.name());
            assert_eq!(found, Some(&(reason.name(), 2 * (times as u64 + 1))));
        }
    }
}
