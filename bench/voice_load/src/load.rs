//! The two halves of a run: speakers sending sealed, stamped packets at a paced total rate (or
//! as fast as they can), and listeners opening what the server forwards to them, counting it
//! per speaker and timing it from its stamp.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::histogram::Histogram;
use crate::net::{self, Poller, Receiver, MAX_DATAGRAM};
use crate::packet::{self, Cipher, PacketError, Stamp, Stream};

const MIN_SLEEP: Duration = Duration::from_micros(250); // a paced sender's shortest nap
const MAX_BURST: usize = 64; // a paced sender that fell behind catches up this many at a time
const RECEIVE_BATCH: usize = 64;
const POLL_MS: i32 = 20; // how often the receiver looks at the stop flag when idle
const INTERVAL_NS: u64 = 250_000_000; // received-packets series resolution
const WINDOW: u64 = 128; // packets behind the newest that duplicates are told from late ones

pub struct Speaker {
    pub socket: UdpSocket,
    pub cipher: Cipher,
    pub stream: Stream,
}

/// What a listener knows of a speaker: its channel and SSRC.
#[derive(Clone, Copy)]
pub struct Source {
    pub channel: u64,
    pub ssrc: u32,
}

pub struct Listener {
    pub socket: UdpSocket,
    pub cipher: Cipher,
    pub channel: u64,
}

#[derive(Clone, Copy)]
pub struct Pace {
    pub rate_per_s: f64, // all speakers together; 0: as fast as they can
    pub duration: Duration,
    pub payload_bytes: usize,
    pub batch: usize, // unpaced: packets per sendmmsg per speaker
}

pub struct Sent {
    pub per_speaker: Vec<u64>,
    pub errors: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    pub cpu_s: f64,
}

/// Sends until `pace.duration` has passed; `start` is the clock every stamp counts from.
pub fn send(speakers: &mut [Speaker], pace: Pace, run: u32, start: Instant) -> Sent {
    let count = speakers.len().max(1) as u64;
    let mut sent = Sent {
        per_speaker: vec![0; speakers.len()],
        errors: 0,
        first_ns: elapsed_ns(start),
        last_ns: 0,
        cpu_s: 0.0,
    };
    let mut buffers: Vec<Vec<u8>> = (0..pace.batch.max(MAX_BURST))
        .map(|_| vec![0u8; MAX_DATAGRAM])
        .collect();
    let mut lengths = Vec::with_capacity(buffers.len());
    let mut numbered = vec![0u64; speakers.len()]; // packets sealed: each stamp's number is new
    let began = Instant::now();
    let mut total: u64 = 0;
    while began.elapsed() < pace.duration {
        let mut burst = vec![0u64; speakers.len()];
        if pace.rate_per_s > 0.0 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let due = (began.elapsed().as_secs_f64() * pace.rate_per_s) as u64 + 1;
            if due <= total {
                // Wake for a few packets at a time (at least MIN_SLEEP's worth), not for each.
                #[allow(clippy::cast_precision_loss)]
                let next = Duration::from_secs_f64(total as f64 / pace.rate_per_s)
                    .max(MIN_SLEEP + Duration::from_secs_f64(due as f64 / pace.rate_per_s));
                // Sleep, never spin: the listeners' receiver shares this core, and a spinning
                // sender took half of it, so their latencies measured the generator. A late
                // wake-up only sends the next packets together (voice clients send in 20 ms
                // steps anyway), each stamped when it really leaves.
                thread::sleep(next.saturating_sub(began.elapsed()));
                continue;
            }
            for k in total..total + (due - total).min(MAX_BURST as u64) {
                if let Some(n) = usize::try_from(k % count)
                    .ok()
                    .and_then(|i| burst.get_mut(i))
                {
                    *n += 1;
                }
            }
        } else {
            burst.fill(pace.batch as u64);
        }
        for (index, (speaker, n)) in speakers.iter_mut().zip(&burst).enumerate() {
            if *n == 0 {
                continue;
            }
            lengths.clear();
            let Some(number) = numbered.get_mut(index) else {
                continue;
            };
            let packets = buffers
                .get_mut(..usize::try_from(*n).unwrap_or(0))
                .unwrap_or_default();
            for (offset, buffer) in packets.iter_mut().enumerate() {
                let stamp = Stamp {
                    run,
                    speaker: u32::try_from(index).unwrap_or(u32::MAX),
                    number: *number + offset as u64,
                    sent_ns: elapsed_ns(start),
                };
                match speaker
                    .stream
                    .seal(&speaker.cipher, stamp, pace.payload_bytes, buffer)
                {
                    Ok(length) => lengths.push(length),
                    Err(_) => sent.errors += 1,
                }
            }
            *number += packets.len() as u64;
            let (out, errors) = net::send_all(&speaker.socket, packets, &lengths);
            if let Some(total_of) = sent.per_speaker.get_mut(index) {
                *total_of += out as u64;
            }
            sent.errors += errors as u64;
            total += *n;
        }
    }
    sent.last_ns = elapsed_ns(start);
    sent.cpu_s = net::thread_cpu_s();
    sent
}

/// What one listener got.
#[derive(Default, Clone)]
pub struct Heard {
    pub received: u64, // opened and stamped by a speaker of its channel, each once
    pub duplicates: u64,
    pub out_of_order: u64,
    pub bad_tag: u64,
    pub not_ours: u64,
    pub stale: u64,      // sent by an earlier run (the server's backlog)
    pub misrouted: u64,  // a speaker of another channel
    pub wrong_ssrc: u64, // the header does not carry its speaker's SSRC
}

pub struct Received {
    pub listeners: Vec<Heard>,
    pub timing: Timing,
    pub cpu_s: f64,
}

/// When packets arrived, and how long after they were sent.
pub struct Timing {
    pub latency: Histogram,
    pub samples_us: Vec<f64>, // a uniform sample, for the report's histogram
    pub per_interval: Vec<u64>, // packets received in each quarter second
    random: u64,
}

impl Timing {
    fn new(max_samples: usize) -> Timing {
        Timing {
            latency: Histogram::new(),
            samples_us: Vec::with_capacity(max_samples),
            per_interval: Vec::new(),
            random: 0x2545_F491_4F6C_DD1D,
        }
    }

    fn note(&mut self, sent_ns: u64, arrived_ns: u64) {
        let latency_ns = arrived_ns.saturating_sub(sent_ns);
        self.latency.record(latency_ns);
        #[allow(clippy::cast_precision_loss)]
        let micros = latency_ns as f64 / 1000.0;
        if self.samples_us.len() < self.samples_us.capacity() {
            self.samples_us.push(micros);
        } else {
            // Reservoir sampling, with xorshift64 to pick the sample to replace.
            self.random ^= self.random << 13;
            self.random ^= self.random >> 7;
            self.random ^= self.random << 17;
            let slot = self.random % self.latency.count().max(1);
            if let Some(kept) = usize::try_from(slot)
                .ok()
                .and_then(|i| self.samples_us.get_mut(i))
            {
                *kept = micros;
            }
        }
        let interval = usize::try_from(arrived_ns / INTERVAL_NS).unwrap_or(0);
        if self.per_interval.len() <= interval {
            self.per_interval.resize(interval + 1, 0);
        }
        if let Some(count) = self.per_interval.get_mut(interval) {
            *count += 1;
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Track {
    newest: Option<u64>,
    seen: u128, // bit d: newest - d was seen
}

impl Track {
    /// Notes packet `number`: (duplicate, out of order).
    fn note(&mut self, number: u64) -> (bool, bool) {
        let Some(newest) = self.newest else {
            self.newest = Some(number);
            self.seen = 1;
            return (false, false);
        };
        if number > newest {
            let shift = number - newest;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.newest = Some(number);
            return (false, false);
        }
        let behind = newest - number;
        if behind >= WINDOW {
            return (false, true);
        }
        let bit = 1u128 << behind;
        if self.seen & bit != 0 {
            return (true, false);
        }
        self.seen |= bit;
        (false, true)
    }
}

/// Receives on every listener until `stop` is set; `sources` describes each speaker.
pub fn receive(
    listeners: &[Listener],
    sources: &[Source],
    run: u32,
    max_samples: usize,
    start: Instant,
    stop: &AtomicBool,
) -> std::io::Result<Received> {
    let sockets: Vec<UdpSocket> = listeners
        .iter()
        .map(|l| l.socket.try_clone())
        .collect::<Result<_, _>>()?;
    let poller = Poller::new(&sockets)?;
    let mut receiver = Receiver::new(RECEIVE_BATCH);
    let mut heard_all = vec![Heard::default(); listeners.len()];
    let mut timing = Timing::new(max_samples);
    let mut tracks = vec![vec![Track::default(); sources.len()]; listeners.len()];
    let mut ready = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        poller.wait(&mut ready, POLL_MS)?;
        for &index in &ready {
            let (Some(listener), Some(heard), Some(track)) = (
                listeners.get(index),
                heard_all.get_mut(index),
                tracks.get_mut(index),
            ) else {
                continue;
            };
            let packets = receiver.receive(&listener.socket)?;
            let arrived_ns = elapsed_ns(start);
            for packet in packets {
                let ssrc = packet::ssrc(packet);
                let stamp = match packet::open(&listener.cipher, packet) {
                    Ok(stamp) => stamp,
                    Err(PacketError::BadTag) => {
                        heard.bad_tag += 1;
                        continue;
                    }
                    Err(_) => {
                        heard.not_ours += 1;
                        continue;
                    }
                };
                if stamp.run != run {
                    heard.stale += 1;
                    continue;
                }
                let speaker = usize::try_from(stamp.speaker).unwrap_or(usize::MAX);
                let (Some(source), Some(track)) = (sources.get(speaker), track.get_mut(speaker))
                else {
                    heard.not_ours += 1;
                    continue;
                };
                if source.channel != listener.channel {
                    heard.misrouted += 1;
                    continue;
                }
                if ssrc != Ok(source.ssrc) {
                    heard.wrong_ssrc += 1;
                }
                let (duplicate, late) = track.note(stamp.number);
                if duplicate {
                    heard.duplicates += 1;
                    continue;
                }
                heard.received += 1;
                heard.out_of_order += u64::from(late);
                timing.note(stamp.sent_ns, arrived_ns);
            }
        }
    }
    Ok(Received {
        listeners: heard_all,
        timing,
        cpu_s: net::thread_cpu_s(),
    })
}

pub fn elapsed_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn tracks_tell_duplicates_from_late_packets() {
        let mut track = Track::default();
        assert_eq!(track.note(5), (false, false));
        assert_eq!(track.note(7), (false, false));
        assert_eq!(track.note(6), (false, true));
        assert_eq!(track.note(6), (true, false));
        assert_eq!(track.note(7), (true, false));
        assert_eq!(track.note(500), (false, false));
        assert_eq!(track.note(7), (false, true)); // too far back to know
    }
}
