//! trioxide-bench's voice load generator.
//!
//! The bench does the signalling (main gateway, voice gateway, IP discovery) from UDP sockets
//! it then hands to this process as inherited descriptors, with the keys, SSRCs and modes as
//! one JSON object on stdin:
//!
//! ```json
//! {"rate_per_s": 10000, "duration_s": 5, "drain_s": 0.3, "payload_bytes": 120, "batch": 32,
//!  "latency_samples": 20000,
//!  "speakers": [{"fd": 5, "ssrc": 1, "mode": "aead_aes256_gcm_rtpsize", "key": "<64 hex>",
//!                "channel": 0, "sequence": 0, "timestamp": 0, "counter": 0}],
//!  "listeners": [{"fd": 6, "ssrc": 2, "mode": "...", "key": "...", "channel": 0}]}
//! ```
//!
//! Speakers' sockets must be connected to the server. One thread sends, one receives (epoll,
//! recvmmsg); on stdout one JSON object: what was sent (and each speaker's RTP state, to carry
//! into the next run), what each listener opened, the latencies, and the CPU each thread used.

mod histogram;
mod load;
mod net;
mod packet;

use std::io::Read;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::load::{Listener, Pace, Source, Speaker};
use crate::packet::{Cipher, Stream, COUNTER_BYTES, HEADER_BYTES, STAMP_BYTES, TAG_BYTES};

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("voice-load: cannot read stdin: {error}");
        return ExitCode::from(2);
    }
    match run(&input) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("voice-load: {error}");
            ExitCode::from(2)
        }
    }
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value, String> {
    value
        .get(name)
        .ok_or_else(|| format!("`{name}` is missing"))
}

fn number(value: &Value, name: &str) -> Result<f64, String> {
    field(value, name)?
        .as_f64()
        .ok_or_else(|| format!("`{name}` is not a number"))
}

fn integer(value: &Value, name: &str) -> Result<u64, String> {
    field(value, name)?
        .as_u64()
        .ok_or_else(|| format!("`{name}` is not a whole number"))
}

fn narrow<T: TryFrom<u64>>(value: &Value, name: &str) -> Result<T, String> {
    T::try_from(integer(value, name)?).map_err(|_| format!("`{name}` is out of range"))
}

fn cipher(value: &Value) -> Result<Cipher, String> {
    let mode = field(value, "mode")?
        .as_str()
        .ok_or("`mode` is not a string")?;
    let hex = field(value, "key")?
        .as_str()
        .ok_or("`key` is not a string")?;
    let key: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|at| {
            hex.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<_>>()
        .ok_or("`key` is not hex")?;
    Cipher::new(mode, &key).ok_or_else(|| format!("mode {mode:?} with a {}-byte key", key.len()))
}

fn list<'a>(value: &'a Value, name: &str) -> Result<&'a Vec<Value>, String> {
    field(value, name)?
        .as_array()
        .ok_or_else(|| format!("`{name}` is not a list"))
}

fn run(input: &str) -> Result<Value, String> {
    let plan: Value = serde_json::from_str(input).map_err(|e| format!("stdin is not JSON: {e}"))?;
    let payload_bytes: usize = narrow(&plan, "payload_bytes")?;
    let largest = net::MAX_DATAGRAM - HEADER_BYTES - TAG_BYTES - COUNTER_BYTES;
    if !(STAMP_BYTES..=largest).contains(&payload_bytes) {
        return Err(format!("payload_bytes must be {STAMP_BYTES} to {largest}"));
    }
    let rate_per_s = number(&plan, "rate_per_s")?;
    let duration_s = number(&plan, "duration_s")?;
    let drain_s = number(&plan, "drain_s")?;
    if !(rate_per_s >= 0.0
        && (0.0..=3600.0).contains(&duration_s)
        && (0.0..=60.0).contains(&drain_s))
    {
        return Err("rate_per_s, duration_s (≤ 3600) or drain_s (≤ 60) out of range".into());
    }
    let pace = Pace {
        rate_per_s,
        duration: Duration::from_secs_f64(duration_s),
        payload_bytes,
        batch: narrow::<usize>(&plan, "batch")?.clamp(1, 64),
    };
    let max_samples: usize = narrow(&plan, "latency_samples")?;
    let mut speakers = Vec::new();
    let mut sources = Vec::new();
    for each in list(&plan, "speakers")? {
        let socket = net::adopt(narrow(each, "fd")?).map_err(|e| format!("speaker socket: {e}"))?;
        let stream = Stream {
            ssrc: narrow(each, "ssrc")?,
            sequence: narrow(each, "sequence")?,
            timestamp: narrow(each, "timestamp")?,
            counter: narrow(each, "counter")?,
        };
        sources.push(Source {
            channel: integer(each, "channel")?,
            ssrc: stream.ssrc,
        });
        speakers.push(Speaker {
            socket,
            cipher: cipher(each)?,
            stream,
        });
    }
    let mut listeners = Vec::new();
    for each in list(&plan, "listeners")? {
        let socket =
            net::adopt(narrow(each, "fd")?).map_err(|e| format!("listener socket: {e}"))?;
        listeners.push(Listener {
            socket,
            cipher: cipher(each)?,
            channel: integer(each, "channel")?,
        });
    }
    let start = Instant::now();
    // Any number that differs from the last run's does: the clock's nanoseconds.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |since| since.subsec_nanos() | 1);
    let stop = AtomicBool::new(false);
    let (sent, received) = thread::scope(|scope| {
        let receiver =
            scope.spawn(|| load::receive(&listeners, &sources, run, max_samples, start, &stop));
        let sent = load::send(&mut speakers, pace, run, start);
        thread::sleep(Duration::from_secs_f64(drain_s));
        stop.store(true, Ordering::Relaxed);
        (sent, receiver.join())
    });
    let received = received
        .map_err(|_| "the receiving thread failed".to_string())?
        .map_err(|e| format!("receiving: {e}"))?;
    Ok(report(&sent, &received, &speakers, &listeners, &sources))
}

#[allow(clippy::cast_precision_loss)]
fn report(
    sent: &load::Sent,
    received: &load::Received,
    speakers: &[Speaker],
    listeners: &[Listener],
    sources: &[Source],
) -> Value {
    let audience = |channel: u64| listeners.iter().filter(|l| l.channel == channel).count() as u64;
    let expected: u64 = sent
        .per_speaker
        .iter()
        .zip(sources)
        .map(|(n, source)| n * audience(source.channel))
        .sum();
    let heard = &received.listeners;
    let total = |pick: fn(&load::Heard) -> u64| heard.iter().map(pick).sum::<u64>();
    let unique = total(|h| h.received);
    let send_s = (sent.last_ns.saturating_sub(sent.first_ns)) as f64 / 1e9;
    let sent_total: u64 = sent.per_speaker.iter().sum();
    let latency = &received.timing.latency;
    let micros = |ns: u64| (ns as f64 / 1000.0 * 1000.0).round() / 1000.0;
    json!({
        "sent": sent_total,
        "send_errors": sent.errors,
        "send_s": send_s,
        "sent_per_s": if send_s > 0.0 { sent_total as f64 / send_s } else { 0.0 },
        "speakers": speakers.iter().zip(&sent.per_speaker).map(|(s, n)| json!({
            "ssrc": s.stream.ssrc, "sent": n, "sequence": s.stream.sequence,
            "timestamp": s.stream.timestamp, "counter": s.stream.counter,
        })).collect::<Vec<_>>(),
        "expected": expected,
        "received": unique,
        "lost": expected.saturating_sub(unique),
        "duplicates": total(|h| h.duplicates),
        "out_of_order": total(|h| h.out_of_order),
        "bad_tag": total(|h| h.bad_tag),
        "not_ours": total(|h| h.not_ours),
        "stale": total(|h| h.stale),
        "misrouted": total(|h| h.misrouted),
        "wrong_ssrc": total(|h| h.wrong_ssrc),
        "listeners": heard.iter().map(|h| json!({
            "received": h.received, "duplicates": h.duplicates, "out_of_order": h.out_of_order,
            "bad_tag": h.bad_tag, "not_ours": h.not_ours, "stale": h.stale, "misrouted": h.misrouted,
            "wrong_ssrc": h.wrong_ssrc,
        })).collect::<Vec<_>>(),
        "latency_us": {
            "p50": micros(latency.percentile(0.50)),
            "p90": micros(latency.percentile(0.90)),
            "p99": micros(latency.percentile(0.99)),
            "p999": micros(latency.percentile(0.999)),
            "max": micros(latency.max()),
            "mean": (latency.mean() / 1000.0 * 1000.0).round() / 1000.0,
            "count": latency.count(),
        },
        "latency_samples_us": received.timing.samples_us,
        "received_per_quarter_s": received.timing.per_interval,
        "cpu_s": {
            "sender": sent.cpu_s,
            "receiver": received.cpu_s,
            "process": net::process_cpu_s(),
        },
    })
}
