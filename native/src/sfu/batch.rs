//! Datagrams in and out in batches: one `recvmmsg` fills up to `RECEIVE_BATCH` preallocated
//! buffers, one `sendmmsg` sends up to `SEND_BATCH` prepared copies, packed in one buffer.
//! Nothing here allocates per datagram.

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddrV4;
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrIn};

use super::counters::{Dropped, Tally};

/// Datagrams read per `recvmmsg`.
pub const RECEIVE_BATCH: usize = 32;
/// Copies sent per `sendmmsg`: a whole batch of 32 voice packets to 16 listeners each.
pub const SEND_BATCH: usize = 512;
/// Copies sent as soon as this many wait, between received packets: one `sendmmsg` per 64
/// copies costs about what one per 512 does, and the first packet of a full receive batch
/// (32 packets × 16 listeners) no longer waits for the whole batch to be sealed.
pub const FLUSH_AT: usize = 64;
/// The largest datagram taken whole: far more than an Opus frame (at most 1275 bytes) with
/// its RTP header needs; a longer one is truncated and dropped as malformed.
pub const SLOT_BYTES: usize = 2048;
/// How long a full send buffer may hold the thread before the copies waiting are dropped.
const SEND_WAIT_MS: u16 = 5;

/// One datagram read.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub bytes: usize,
    /// None: not an IPv4 sender (cannot happen on an IPv4 socket).
    pub from: Option<SocketAddrV4>,
    pub truncated: bool,
}

pub struct Inbox {
    buffers: Vec<u8>,
    headers: MultiHeaders<SockaddrIn>,
    received: Vec<Received>,
}

impl Default for Inbox {
    fn default() -> Self {
        Self {
            buffers: vec![0; RECEIVE_BATCH * SLOT_BYTES],
            headers: MultiHeaders::preallocate(RECEIVE_BATCH, None),
            received: Vec::with_capacity(RECEIVE_BATCH),
        }
    }
}

impl Inbox {
    /// Reads what is waiting, without waiting; returns how many datagrams.
    ///
    /// # Errors
    /// `EAGAIN` when nothing is waiting, or the socket's error.
    pub fn receive(&mut self, socket: &impl AsFd) -> nix::Result<usize> {
        self.received.clear();
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
            .buffers
            .chunks_exact_mut(SLOT_BYTES)
            .map(|slot| [IoSliceMut::new(slot)])
            .collect();
        let results = recvmmsg(
            socket.as_fd().as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        for message in results {
            self.received.push(Received {
                bytes: message.bytes,
                from: message.address.map(SocketAddrV4::from),
                truncated: message.flags.contains(MsgFlags::MSG_TRUNC),
            });
        }
        Ok(self.received.len())
    }

    /// The `index`th datagram of the last `receive`, and its buffer cut to its length.
    pub fn get_mut(&mut self, index: usize) -> Option<(Received, &mut [u8])> {
        let received = *self.received.get(index)?;
        let start = index * SLOT_BYTES;
        let packet = self
            .buffers
            .get_mut(start..start + received.bytes.min(SLOT_BYTES))?;
        Some((received, packet))
    }
}

/// Copies queued one after another in one buffer, each at a 64-byte boundary: a batch of
/// voice packets spans a few dozen pages, not a 2 KiB slot each, for the kernel to copy from.
pub struct Outbox {
    buffer: Vec<u8>,
    /// Where the next copy goes.
    used: usize,
    /// Each queued copy's start in `buffer` and length.
    queued: Vec<(usize, usize)>,
    addresses: Vec<Option<SockaddrIn>>,
    headers: MultiHeaders<SockaddrIn>,
}

/// Room for `SEND_BATCH` copies of a voice packet (an Opus frame is rarely past 200 bytes);
/// larger ones fill it sooner and are sent in more calls.
const OUTBOX_BYTES: usize = SEND_BATCH * 256 + SLOT_BYTES;
const ALIGN: usize = 64;

impl Default for Outbox {
    fn default() -> Self {
        Self {
            buffer: vec![0; OUTBOX_BYTES],
            used: 0,
            queued: Vec::with_capacity(SEND_BATCH),
            addresses: Vec::with_capacity(SEND_BATCH),
            headers: MultiHeaders::preallocate(SEND_BATCH, None),
        }
    }
}

impl Outbox {
    /// Copies waiting to be sent.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Whether a copy may not fit: flush first.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.queued.len() >= SEND_BATCH || self.used + SLOT_BYTES > self.buffer.len()
    }

    /// Queues one datagram to `to`, written by `write` into a slot of `SLOT_BYTES` (it returns
    /// the length it wrote, or None to take nothing); false when nothing was queued (full:
    /// flush first).
    pub fn push(
        &mut self,
        to: SocketAddrV4,
        write: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> bool {
        if self.queued.len() >= SEND_BATCH {
            return false;
        }
        let start = self.used;
        let Some(slot) = self.buffer.get_mut(start..start + SLOT_BYTES) else {
            return false;
        };
        let Some(length) = write(slot) else {
            return false;
        };
        let length = length.min(SLOT_BYTES);
        self.queued.push((start, length));
        self.used = (start + length).next_multiple_of(ALIGN);
        self.addresses.push(Some(SockaddrIn::from(to)));
        true
    }

    /// Sends every queued datagram, counting each as sent or `SendFailed`, and empties the
    /// outbox. A datagram the kernel refuses is skipped and the rest still go; a full send
    /// buffer gets `SEND_WAIT_MS` to drain before what waits is dropped.
    pub fn flush(&mut self, socket: &impl AsFd, tally: &mut Tally) {
        let mut start = 0;
        while start < self.queued.len() {
            match self.send_from(socket, start) {
                Ok(sent) => {
                    let sent_ones = self.queued.get(start..start + sent).unwrap_or_default();
                    tally.packets_out += sent as u64;
                    tally.bytes_out +=
                        sent_ones.iter().map(|&(_, length)| length).sum::<usize>() as u64;
                    start += sent.max(1);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) if writable_soon(socket) => {}
                Err(Errno::EAGAIN) => {
                    for _ in start..self.queued.len() {
                        tally.drop(Dropped::SendFailed);
                    }
                    break;
                }
                // The error is the first datagram's (an unreachable or refused address).
                Err(_) => {
                    tally.drop(Dropped::SendFailed);
                    start += 1;
                }
            }
        }
        self.queued.clear();
        self.used = 0;
        self.addresses.clear();
    }

    fn send_from(&mut self, socket: &impl AsFd, start: usize) -> nix::Result<usize> {
        let buffer = &self.buffer;
        let slices: Vec<[IoSlice<'_>; 1]> = self
            .queued
            .iter()
            .skip(start)
            .map(|&(at, length)| {
                [IoSlice::new(
                    buffer.get(at..at + length).unwrap_or_default(),
                )]
            })
            .collect();
        let addresses = self.addresses.get(start..).unwrap_or_default();
        let results = sendmmsg(
            socket.as_fd().as_raw_fd(),
            &mut self.headers,
            &slices,
            addresses,
            [],
            MsgFlags::MSG_DONTWAIT,
        )?;
        Ok(results.count())
    }
}

fn writable_soon(socket: &impl AsFd) -> bool {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
    matches!(poll(&mut fds, PollTimeout::from(SEND_WAIT_MS)), Ok(1..))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, UdpSocket};

    fn socket() -> UdpSocket {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket.set_nonblocking(true).unwrap();
        socket
    }

    fn address(socket: &UdpSocket) -> SocketAddrV4 {
        match socket.local_addr().unwrap() {
            std::net::SocketAddr::V4(address) => address,
            std::net::SocketAddr::V6(_) => panic!("not ipv4"),
        }
    }

    #[test]
    fn a_refused_copy_does_not_stop_the_others() {
        let (sender, first, second) = (socket(), socket(), socket());
        let mut outbox = Outbox::default();
        // Broadcast without SO_BROADCAST: the kernel refuses this one copy (EACCES).
        let refused = SocketAddrV4::new(Ipv4Addr::BROADCAST, 9);
        for (to, byte) in [(address(&first), 1), (refused, 2), (address(&second), 3)] {
            assert!(outbox.push(to, |slot| {
                slot[..3].fill(byte);
                Some(3)
            }));
        }
        let mut tally = Tally::default();
        outbox.flush(&sender, &mut tally);
        assert_eq!((tally.packets_out, tally.bytes_out), (2, 6));
        assert_eq!(tally.dropped(Dropped::SendFailed), 1);
        let mut buffer = [0; 8];
        assert_eq!(first.recv(&mut buffer).unwrap(), 3);
        assert_eq!(buffer[..3], [1; 3]);
        assert_eq!(second.recv(&mut buffer).unwrap(), 3);
        assert_eq!(buffer[..3], [3; 3]);
        assert!(!outbox.is_full());
    }

    #[test]
    fn copies_of_any_size_go_out_whole_and_a_full_outbox_says_so() {
        let (sender, receiver) = (socket(), socket());
        // Room for every copy: a default buffer would drop some.
        nix::sys::socket::setsockopt(&receiver, nix::sys::socket::sockopt::RcvBuf, &(4 << 20))
            .unwrap();
        let mut outbox = Outbox::default();
        let mut queued = 0;
        while !outbox.is_full() {
            let size = [1, 160, SLOT_BYTES][queued % 3];
            assert!(outbox.push(address(&receiver), |slot| {
                slot[..size].fill(queued as u8);
                Some(size)
            }));
            queued += 1;
        }
        assert!(queued < SEND_BATCH, "the bytes ran out first");
        let mut tally = Tally::default();
        outbox.flush(&sender, &mut tally);
        assert_eq!(tally.packets_out, queued as u64);
        let mut buffer = vec![0; SLOT_BYTES + 1];
        for index in 0..queued {
            let size = [1, 160, SLOT_BYTES][index % 3];
            assert_eq!(receiver.recv(&mut buffer).unwrap(), size);
            assert!(buffer[..size].iter().all(|&byte| byte == index as u8));
        }
        assert!(!outbox.is_full());
    }

    #[test]
    fn a_batch_is_read_whole_with_its_senders() {
        let (server, sender) = (socket(), socket());
        let mut inbox = Inbox::default();
        assert_eq!(inbox.receive(&server), Err(Errno::EAGAIN));
        for size in [0, 5, SLOT_BYTES + 1] {
            sender.send_to(&vec![7; size], address(&server)).unwrap();
        }
        assert_eq!(inbox.receive(&server), Ok(3));
        let sizes: Vec<_> = (0..3)
            .map(|index| {
                let (received, packet) = inbox.get_mut(index).unwrap();
                assert_eq!(received.from, Some(address(&sender)));
                (packet.len(), received.truncated)
            })
            .collect();
        assert_eq!(sizes, [(0, false), (5, false), (SLOT_BYTES, true)]);
        assert!(inbox.get_mut(3).is_none());
    }
}
