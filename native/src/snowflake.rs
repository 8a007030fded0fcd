//! Discord snowflakes: `ms since 2015-01-01 << 22 | worker << 17 | process << 12 | increment`.
//!
//! A generator keeps the last id it issued as one packed `u64` (`ms << 12 | increment`) in an
//! atomic, so many threads share it without a lock. Adding one to the packed value moves to the
//! next increment and, past 4095, carries into the next millisecond. The rules:
//! - a new millisecond starts again at increment 0;
//! - within the current millisecond the increment counts up; once all 4096 are used the generator
//!   waits for the clock to tick (the only wait, and the one the format imposes);
//! - when the clock reads earlier than the last id (it was stepped back, or the generator was told
//!   to start after an id from the future) ids keep counting up from the last one, borrowing the
//!   next millisecond when needed, so ids never repeat, never go backwards and never stall.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds of 2015-01-01T00:00:00Z, the first second of Discord's epoch.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// The largest worker or process id: each has 5 bits.
pub const MAX_NODE_ID: u64 = 31;
/// Ids one millisecond can hold per worker/process pair: the increment has 12 bits.
pub const IDS_PER_MS: u64 = 4096;
/// The largest batch one call may ask for: 16 ms of ids at the format's cap, so one call
/// never holds a thread for long.
pub const MAX_BATCH: usize = 65_536;
/// The last millisecond (since the Discord epoch) whose ids still fit a signed 64-bit
/// integer, which is what the `bigint` of `PostgreSQL` stores: 41 bits, about the year 2084.
pub const MAX_TIMESTAMP_MS: u64 = (1 << 41) - 1;

const INCREMENT_BITS: u32 = 12;
const INCREMENT_MASK: u64 = IDS_PER_MS - 1;
const PROCESS_SHIFT: u32 = 12;
const WORKER_SHIFT: u32 = 17;
const TIMESTAMP_SHIFT: u32 = 22;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnowflakeError {
    #[error("{field} {value} is out of range (0 to {MAX_NODE_ID})")]
    NodeIdOutOfRange { field: &'static str, value: u64 },
    #[error("the clock reads {unix_ms} ms, before the Discord epoch ({DISCORD_EPOCH_MS})")]
    ClockBeforeEpoch { unix_ms: u64 },
    #[error(
        "snowflake timestamp {epoch_ms} ms is past the last one a signed 64-bit id can hold \
         ({MAX_TIMESTAMP_MS})"
    )]
    TimestampOverflow { epoch_ms: u64 },
    #[error("a batch of {requested} ids is over the limit of {MAX_BATCH}")]
    BatchTooLarge { requested: usize },
}

/// A source of wall-clock time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_unix_ms(&self) -> u64;
}

/// The system's wall clock: Discord ids carry wall time, so clients can read creation dates.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> u64 {
        // A clock before 1970 reads as 0, which `epoch_ms_now` reports as before the epoch.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            })
    }
}

/// The parts of a snowflake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    pub unix_ms: u64,
    pub worker_id: u64,
    pub process_id: u64,
    pub increment: u64,
}

/// Splits a snowflake into its Unix timestamp (ms), worker, process and increment.
#[must_use]
pub fn decode(snowflake: u64) -> Decoded {
    Decoded {
        unix_ms: (snowflake >> TIMESTAMP_SHIFT) + DISCORD_EPOCH_MS,
        worker_id: (snowflake >> WORKER_SHIFT) & MAX_NODE_ID,
        process_id: (snowflake >> PROCESS_SHIFT) & MAX_NODE_ID,
        increment: snowflake & INCREMENT_MASK,
    }
}

/// Issues strictly increasing snowflakes for one worker/process pair. Shared by reference
/// between threads; every method takes `&self`.
#[derive(Debug)]
pub struct Generator<C: Clock = SystemClock> {
    clock: C,
    node_bits: u64,
    /// The last id issued, packed as `ms since the Discord epoch << 12 | increment`.
    last: AtomicU64,
}

/// What the generator may do next, given the clock and the last id.
enum Step {
    /// Issue ids from this packed value.
    Issue(u64),
    /// All 4096 ids of the current millisecond are used: wait for the clock to tick.
    Wait,
}

impl Generator<SystemClock> {
    /// A generator on the system clock.
    ///
    /// # Errors
    /// A worker or process id over 31.
    pub fn new(worker_id: u64, process_id: u64, after: u64) -> Result<Self, SnowflakeError> {
        Self::with_clock(SystemClock, worker_id, process_id, after)
    }
}

impl<C: Clock> Generator<C> {
    /// A generator whose ids all fall in a later millisecond than the id `after` (0 for none),
    /// whatever the clock says: a restarted process passes the last id it issued.
    ///
    /// # Errors
    /// A worker or process id over 31.
    pub fn with_clock(
        clock: C,
        worker_id: u64,
        process_id: u64,
        after: u64,
    ) -> Result<Self, SnowflakeError> {
        if worker_id > MAX_NODE_ID {
            return Err(SnowflakeError::NodeIdOutOfRange {
                field: "worker id",
                value: worker_id,
            });
        }
        if process_id > MAX_NODE_ID {
            return Err(SnowflakeError::NodeIdOutOfRange {
                field: "process id",
                value: process_id,
            });
        }
        // The last increment of `after`'s millisecond: the next id moves to a later one, so it
        // is above `after` whatever worker and process `after` came from.
        let last = if after == 0 {
            0
        } else {
            ((after >> TIMESTAMP_SHIFT) << INCREMENT_BITS) | INCREMENT_MASK
        };
        Ok(Self {
            clock,
            node_bits: (worker_id << WORKER_SHIFT) | (process_id << PROCESS_SHIFT),
            last: AtomicU64::new(last),
        })
    }

    #[must_use]
    pub fn worker_id(&self) -> u64 {
        (self.node_bits >> WORKER_SHIFT) & MAX_NODE_ID
    }

    #[must_use]
    pub fn process_id(&self) -> u64 {
        (self.node_bits >> PROCESS_SHIFT) & MAX_NODE_ID
    }

    /// The next id, or `None` when it would have to wait for the clock to tick.
    ///
    /// # Errors
    /// The clock is before the Discord epoch, or past what a signed 64-bit id can hold.
    pub fn try_next(&self) -> Result<Option<u64>, SnowflakeError> {
        loop {
            let last = self.last.load(Ordering::Acquire);
            let Step::Issue(next) = self.step(last)? else {
                return Ok(None);
            };
            if self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(Some(self.compose(next)));
            }
        }
    }

    /// The next id, waiting for the clock to tick if this millisecond's ids are used up.
    ///
    /// # Errors
    /// As [`Generator::try_next`].
    pub fn next(&self) -> Result<u64, SnowflakeError> {
        loop {
            if let Some(id) = self.try_next()? {
                return Ok(id);
            }
            std::thread::yield_now();
        }
    }

    /// `count` strictly increasing ids. Each millisecond's run is reserved with one atomic
    /// step, so a batch runs at the format's cap of 4096 ids per millisecond.
    ///
    /// # Errors
    /// More than [`MAX_BATCH`] ids, or a clock error as in [`Generator::try_next`].
    pub fn next_batch(&self, count: usize) -> Result<Vec<u64>, SnowflakeError> {
        if count > MAX_BATCH {
            return Err(SnowflakeError::BatchTooLarge { requested: count });
        }
        let mut ids = Vec::with_capacity(count);
        while ids.len() < count {
            let last = self.last.load(Ordering::Acquire);
            let Step::Issue(first) = self.step(last)? else {
                std::thread::yield_now();
                continue;
            };
            let room_in_ms = IDS_PER_MS - (first & INCREMENT_MASK);
            let wanted = u64::try_from(count - ids.len()).unwrap_or(u64::MAX);
            let end = first + room_in_ms.min(wanted) - 1;
            if self
                .last
                .compare_exchange_weak(last, end, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                ids.extend((first..=end).map(|packed| self.compose(packed)));
            }
        }
        Ok(ids)
    }

    fn step(&self, last: u64) -> Result<Step, SnowflakeError> {
        let now_ms = self.epoch_ms_now()?;
        let last_ms = last >> INCREMENT_BITS;
        let next = if now_ms > last_ms {
            now_ms << INCREMENT_BITS
        } else if now_ms == last_ms && last & INCREMENT_MASK == INCREMENT_MASK {
            return Ok(Step::Wait);
        } else {
            // Same millisecond with increments left, or the clock is behind the last id: count
            // on from it (the carry borrows the next millisecond).
            last + 1
        };
        let next_ms = next >> INCREMENT_BITS;
        if next_ms > MAX_TIMESTAMP_MS {
            return Err(SnowflakeError::TimestampOverflow { epoch_ms: next_ms });
        }
        Ok(Step::Issue(next))
    }

    fn epoch_ms_now(&self) -> Result<u64, SnowflakeError> {
        let unix_ms = self.clock.now_unix_ms();
        unix_ms
            .checked_sub(DISCORD_EPOCH_MS)
            .ok_or(SnowflakeError::ClockBeforeEpoch { unix_ms })
    }

    fn compose(&self, packed: u64) -> u64 {
        ((packed >> INCREMENT_BITS) << TIMESTAMP_SHIFT) | self.node_bits | (packed & INCREMENT_MASK)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    /// A clock the test sets by hand; `tick_after` advances it by 1 ms every N reads, so a
    /// waiting generator sees time pass.
    #[derive(Debug, Default)]
    struct ManualClock {
        unix_ms: AtomicU64,
        reads: AtomicU64,
        tick_after: u64,
    }

    impl ManualClock {
        fn at(unix_ms: u64) -> Self {
            Self {
                unix_ms: AtomicU64::new(unix_ms),
                ..Self::default()
            }
        }
        fn set(&self, unix_ms: u64) {
            self.unix_ms.store(unix_ms, Ordering::SeqCst);
        }
    }

    impl Clock for Arc<ManualClock> {
        fn now_unix_ms(&self) -> u64 {
            let reads = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
            if self.tick_after > 0 && reads % self.tick_after == 0 {
                self.unix_ms.fetch_add(1, Ordering::SeqCst);
            }
            self.unix_ms.load(Ordering::SeqCst)
        }
    }

    const T0: u64 = DISCORD_EPOCH_MS + 1_000_000;

    fn generator(clock: &Arc<ManualClock>) -> Generator<Arc<ManualClock>> {
        Generator::with_clock(Arc::clone(clock), 3, 7, 0).unwrap()
    }

    #[test]
    fn layout_matches_discord_docs_example() {
        // The example in Discord's "Snowflakes" reference.
        let parts = decode(175_928_847_299_117_063);
        assert_eq!(
            parts,
            Decoded {
                unix_ms: 1_462_015_105_796,
                worker_id: 1,
                process_id: 0,
                increment: 7
            }
        );
    }

    #[test]
    fn ids_carry_clock_worker_process_and_count() {
        let clock = Arc::new(ManualClock::at(T0));
        let ids = generator(&clock);
        let first = decode(ids.next().unwrap());
        let second = decode(ids.next().unwrap());
        assert_eq!(
            first,
            Decoded {
                unix_ms: T0,
                worker_id: 3,
                process_id: 7,
                increment: 0
            }
        );
        assert_eq!(second.increment, 1);
        clock.set(T0 + 5);
        assert_eq!(
            decode(ids.next().unwrap()),
            Decoded {
                unix_ms: T0 + 5,
                increment: 0,
                ..first
            }
        );
    }

    #[test]
    fn exhausted_millisecond_waits_for_the_clock() {
        let clock = Arc::new(ManualClock::at(T0));
        let ids = generator(&clock);
        let batch = ids.next_batch(4096).unwrap();
        assert_eq!(decode(batch[4095]).increment, 4095);
        assert_eq!(ids.try_next().unwrap(), None);
        clock.set(T0 + 1);
        assert_eq!(decode(ids.try_next().unwrap().unwrap()).unix_ms, T0 + 1);
    }

    #[test]
    fn clock_going_backwards_never_repeats_or_stalls() {
        let clock = Arc::new(ManualClock::at(T0));
        let ids = generator(&clock);
        let before = ids.next_batch(10).unwrap();
        clock.set(T0 - 60_000);
        let after = ids.next_batch(10_000).unwrap();
        let all: Vec<u64> = before.iter().chain(&after).copied().collect();
        assert!(all.windows(2).all(|pair| pair[0] < pair[1]));
        // 10,000 ids after the step back borrowed two milliseconds rather than waiting.
        assert_eq!(decode(*all.last().unwrap()).unix_ms, T0 + 2);
    }

    #[test]
    fn after_puts_every_id_in_a_later_millisecond() {
        let clock = Arc::new(ManualClock::at(T0));
        let foreign = (5_000_u64 << TIMESTAMP_SHIFT) | (31 << WORKER_SHIFT) | 0xFA0;
        let future = ((T0 - DISCORD_EPOCH_MS + 10) << TIMESTAMP_SHIFT) | (31 << WORKER_SHIFT);
        for after in [foreign, future] {
            let ids = Generator::with_clock(Arc::clone(&clock), 0, 0, after).unwrap();
            let next = ids.next().unwrap();
            assert!(next > after);
            assert!(decode(next).unix_ms > decode(after).unix_ms);
        }
    }

    #[test]
    fn batch_spanning_milliseconds_is_strictly_increasing_and_full() {
        let clock = Arc::new(ManualClock {
            tick_after: 3,
            ..ManualClock::at(T0)
        });
        let ids = generator(&clock);
        let batch = ids.next_batch(MAX_BATCH).unwrap();
        assert_eq!(batch.len(), MAX_BATCH);
        assert!(batch.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn threads_share_one_generator_without_duplicates() {
        let ids = Arc::new(Generator::new(1, 2, 0).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let ids = Arc::clone(&ids);
                std::thread::spawn(move || {
                    (0..20_000).map(|_| ids.next().unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let issued = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), issued);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(
            Generator::new(32, 0, 0).unwrap_err().to_string(),
            "worker id 32 is out of range (0 to 31)"
        );
        assert!(matches!(
            Generator::new(0, 99, 0),
            Err(SnowflakeError::NodeIdOutOfRange {
                field: "process id",
                value: 99
            })
        ));
        let before_epoch = Arc::new(ManualClock::at(DISCORD_EPOCH_MS - 1));
        assert!(matches!(
            generator(&before_epoch).next(),
            Err(SnowflakeError::ClockBeforeEpoch { .. })
        ));
        let far_future = Arc::new(ManualClock::at(DISCORD_EPOCH_MS + MAX_TIMESTAMP_MS + 1));
        assert!(matches!(
            generator(&far_future).next(),
            Err(SnowflakeError::TimestampOverflow { .. })
        ));
        assert!(matches!(
            generator(&Arc::new(ManualClock::at(T0))).next_batch(MAX_BATCH + 1),
            Err(SnowflakeError::BatchTooLarge { .. })
        ));
    }
}
