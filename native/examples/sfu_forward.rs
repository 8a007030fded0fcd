//! A measuring harness for the SFU's media loop (not shipped): the voice bench's shape on
//! loopback — speakers of both modes, each with 16 listeners of both modes in its channel,
//! 160-byte packets — driven through the public `Sfu` from pre-sealed packets, so that what the
//! process spends past set-up is the media thread's forwarding.
//!
//!     cargo run --release --example sfu_forward -- [packets] [speakers] [listeners] [read]
//!
//! prints packets in and out and the media thread's CPU per forwarded packet. With `read` 1 a
//! thread drains the listeners' sockets through epoll, as the bench's generator does; with 2 it
//! busy-polls them without waiting (no wake-ups for the server to pay), as `udp_sink` does;
//! with 0 they only hold what arrives, as the C floor's sink does in the bench. Under
//! `valgrind --tool=callgrind --toggle-collect='trioxide_native::sfu::media::Media::run'` only the media thread is counted:
//! divide its instructions by the packets out printed.

// A harness: its numbers are small and its casts are for printing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss
)]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use trioxide_native::sfu::crypto::{Cipher, Mode};
use trioxide_native::sfu::Sfu;

const PAYLOAD_BYTES: usize = 128;
const HEADER_BYTES: usize = 12;

fn v4(socket: &UdpSocket) -> SocketAddrV4 {
    match socket.local_addr().unwrap() {
        SocketAddr::V4(address) => address,
        SocketAddr::V6(_) => panic!("not ipv4"),
    }
}

fn key_of(ssrc: u32) -> [u8; 32] {
    let mut key = [0; 32];
    for (at, byte) in key.iter_mut().enumerate() {
        *byte = (ssrc as u8).wrapping_mul(31).wrapping_add(at as u8);
    }
    key
}

/// Joins `ssrc` from `socket`: discovery, its answer, the declared address, the key.
fn join(sfu: &Sfu, server: SocketAddrV4, socket: &UdpSocket, ssrc: u32, mode: &str) {
    let mut request = vec![0, 1, 0, 70];
    request.extend(ssrc.to_be_bytes());
    request.resize(74, 0);
    socket.send_to(&request, server).unwrap();
    let mut answer = [0; 74];
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    socket.recv(&mut answer).unwrap();
    sfu.bind(ssrc, Some(v4(socket)));
    sfu.set_key(ssrc, mode, &key_of(ssrc)).unwrap();
}

fn packet(cipher: &Cipher, ssrc: u32, number: u32) -> Vec<u8> {
    let mut packet = vec![0; HEADER_BYTES + PAYLOAD_BYTES + 16 + 4];
    packet[..2].copy_from_slice(&[0x80, 120]);
    packet[2..4].copy_from_slice(&(number as u16).to_be_bytes());
    packet[4..8].copy_from_slice(&(number * 960).to_be_bytes());
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
    let (aad, rest) = packet.split_at_mut(HEADER_BYTES);
    let (data, trailer) = rest.split_at_mut(PAYLOAD_BYTES);
    data.fill(number as u8);
    let tag = cipher.seal(number, aad, data).unwrap();
    trailer[..16].copy_from_slice(&tag);
    trailer[16..].copy_from_slice(&number.to_be_bytes());
    packet
}

/// User and system CPU seconds of this process's thread named `name`.
fn thread_cpu(name: &str) -> Option<(f64, f64)> {
    let ticks = 100.0; // USER_HZ
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).ok()?;
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
        let user: f64 = fields.get(11)?.parse().ok()?;
        let system: f64 = fields.get(12)?.parse().ok()?;
        return Some((user / ticks, system / ticks));
    }
    None
}

/// Reads the listeners' sockets as they become readable (`epoll`), or all in turn, until `stop`;
/// returns packets read.
fn drain(sockets: &[UdpSocket], stop: &std::sync::atomic::AtomicBool, epoll: bool) -> u64 {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
    let mut buffer = [0; 2048];
    let mut read = 0;
    for socket in sockets {
        socket.set_nonblocking(true).unwrap();
    }
    if !epoll {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for socket in sockets {
                while socket.recv(&mut buffer).is_ok() {
                    read += 1;
                }
            }
        }
        return read;
    }
    let epoll = Epoll::new(EpollCreateFlags::empty()).unwrap();
    for (index, socket) in sockets.iter().enumerate() {
        epoll
            .add(socket, EpollEvent::new(EpollFlags::EPOLLIN, index as u64))
            .unwrap();
    }
    let mut events = vec![EpollEvent::empty(); 64];
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let ready = epoll
            .wait(&mut events, EpollTimeout::from(20_u16))
            .unwrap_or(0);
        for event in &events[..ready] {
            let socket = &sockets[event.data() as usize];
            while socket.recv(&mut buffer).is_ok() {
                read += 1;
            }
        }
    }
    read
}

fn main() {
    let arguments: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let packets = arguments.first().copied().unwrap_or(20_000);
    let speakers = arguments.get(1).copied().unwrap_or(8);
    let listeners = arguments.get(2).copied().unwrap_or(16);
    let read = arguments.get(3).copied().unwrap_or(0);

    let sfu = Sfu::start(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
    let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, sfu.port());
    let mut senders = Vec::new();
    let mut held = Vec::new();
    let mut ssrc = 1;
    for channel in 0..speakers {
        for seat in 0..=listeners {
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            let mode = Mode::NAMES[(channel + seat) % 2];
            sfu.add(ssrc, channel as u64, seat == 0, seat != 0);
            join(&sfu, server, &socket, ssrc, mode);
            if seat == 0 {
                senders.push((socket, ssrc, Cipher::new(mode, &key_of(ssrc)).unwrap()));
            } else {
                held.push(socket);
            }
            ssrc += 1;
        }
    }
    // Sealed before the clock starts: the sender costs the media thread nothing but the queue.
    let per_speaker = packets.div_ceil(speakers);
    let mut queue = Vec::with_capacity(per_speaker * speakers);
    for number in 0..per_speaker {
        for (index, (_, ssrc, cipher)) in senders.iter().enumerate() {
            queue.push((index, packet(cipher, *ssrc, number as u32 + 1)));
        }
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = (read > 0).then(|| {
        let stop = std::sync::Arc::clone(&stop);
        let sockets: Vec<UdpSocket> = held.iter().map(|s| s.try_clone().unwrap()).collect();
        std::thread::spawn(move || drain(&sockets, &stop, read == 1))
    });
    let cpu_before = thread_cpu("trioxide-sfu").unwrap_or_default();
    let started = Instant::now();
    let sender = std::thread::spawn(move || {
        for (index, packet) in &queue {
            let socket = &senders[*index].0;
            // A full socket buffer: wait for the media thread rather than lose the packet.
            while socket.send_to(packet, server).is_err() {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        senders
    });
    // The server's queue may still drop some (its buffer full): wait until nothing moves.
    let mut last = (0, Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let seen = sfu.counters()["packets_in"];
        if seen != last.0 {
            last = (seen, Instant::now());
        } else if sender.is_finished() && last.1.elapsed() > Duration::from_millis(500) {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64() - 0.5;
    let cpu_after = thread_cpu("trioxide-sfu").unwrap_or_default();
    drop(sender.join().unwrap());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let drained = reader.map(|reader| reader.join().unwrap());
    let counters = sfu.counters();
    sfu.close();
    sfu.join().unwrap();
    let (user, system) = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    let out = counters["packets_out"] as f64;
    println!(
        "{{\"sent\":{},\"in\":{},\"out\":{},\"elapsed_s\":{:.3},\"cpu_user_s\":{:.3},\"cpu_sys_s\":{:.3},\
         \"us_per_out\":{:.3},\"us_user_per_out\":{:.3},\"us_sys_per_out\":{:.3},\"drained\":{},\"dropped\":{:?}}}",
        per_speaker * speakers,
        counters["packets_in"],
        counters["packets_out"],
        elapsed,
        user,
        system,
        (user + system) * 1e6 / out,
        user * 1e6 / out,
        system * 1e6 / out,
        drained.map_or(-1, |d| d as i64),
        counters
            .iter()
            .filter(|(name, value)| name.starts_with("dropped") && **value > 0)
            .collect::<Vec<_>>(),
    );
    drop(held);
}
