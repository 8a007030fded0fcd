//! The media thread: waits on the socket and the wake-up eventfd, applies routing commands,
//! and forwards each batch of datagrams. Python is never on this path.

use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::EventFd;

use super::batch::{Inbox, Outbox, FLUSH_AT, RECEIVE_BATCH};
use super::counters::{Counters, Dropped, Tally};
use super::crypto::Cipher;
use super::routes::{Command, Routes};
use super::rtp::{self, Datagram, Rtp, COUNTER_BYTES, TAG_BYTES};

/// After a receive error (not `EAGAIN`) that repeats, the thread waits before it reads again:
/// this long after the second in a row, doubling up to `ERROR_WAIT_MAX_MS`. A persistent
/// error is retried at that pace instead of spun on; commands still wake it.
const ERROR_WAIT_FIRST_MS: u16 = 1;
const ERROR_WAIT_MAX_MS: u16 = 1000;

/// What the handle tells the media thread.
pub enum Message {
    Route(Command),
    Stop,
}

pub struct Media {
    pub socket: UdpSocket,
    pub wake: Arc<EventFd>,
    pub messages: Receiver<Message>,
    pub routes: Routes,
    pub counters: Arc<Counters>,
}

impl Media {
    /// Forwards until told to stop or the handle is gone.
    pub fn run(mut self) {
        let mut inbox = Inbox::default();
        let mut outbox = Outbox::default();
        let mut answers = Vec::with_capacity(RECEIVE_BATCH);
        let mut errors_in_a_row: u32 = 0;
        while self.apply_commands() {
            match inbox.receive(&self.socket) {
                // Commands queued before these datagrams were sent apply to them: take them
                // again now that the datagrams are in.
                Ok(count) => {
                    errors_in_a_row = 0;
                    if !self.apply_commands() {
                        return;
                    }
                    let mut tally = Tally::default();
                    for index in 0..count {
                        self.handle(&mut inbox, index, &mut outbox, &mut answers, &mut tally);
                    }
                    outbox.flush(&self.socket, &mut tally);
                    self.counters.publish(&tally);
                    self.answer(&mut answers);
                }
                Err(Errno::EAGAIN) => {
                    errors_in_a_row = 0;
                    self.wait(true, PollTimeout::NONE);
                }
                Err(Errno::EINTR) => {}
                // An error the socket reported once is read past at once; one that repeats
                // (the socket would look readable to poll: only commands end the wait) is
                // retried ever more slowly.
                Err(_) => {
                    let mut tally = Tally::default();
                    tally.io_errors = 1;
                    self.counters.publish(&tally);
                    errors_in_a_row = errors_in_a_row.saturating_add(1);
                    if let Some(wait) = error_wait_ms(errors_in_a_row) {
                        self.wait(false, PollTimeout::from(wait));
                    }
                }
            }
        }
    }

    /// Applies every queued command; false when the thread must end.
    fn apply_commands(&mut self) -> bool {
        loop {
            match self.messages.try_recv() {
                Ok(Message::Route(command)) => self.routes.apply(command),
                Ok(Message::Stop) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    /// Sleeps until a command arrives, a datagram too if `socket`, or `timeout` passes.
    fn wait(&self, socket: bool, timeout: PollTimeout) {
        // Left out, the socket cannot end the wait: poll reports its errors even with no
        // events asked for.
        let mut fds = [
            PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.socket.as_fd(), PollFlags::POLLIN),
        ];
        let polled = if socket { &mut fds[..] } else { &mut fds[..1] };
        if poll(polled, timeout).is_ok()
            && polled
                .first()
                .and_then(PollFd::revents)
                .is_some_and(|events| events.contains(PollFlags::POLLIN))
        {
            // Non-blocking: resets the count; the commands themselves are in the channel.
            let _ = self.wake.read();
        }
    }

    fn handle(
        &mut self,
        inbox: &mut Inbox,
        index: usize,
        outbox: &mut Outbox,
        answers: &mut Vec<(u32, SocketAddrV4)>,
        tally: &mut Tally,
    ) {
        let Some((received, packet)) = inbox.get_mut(index) else {
            return;
        };
        tally.packets_in += 1;
        tally.bytes_in += received.bytes as u64;
        let Some(from) = received.from.filter(|_| !received.truncated) else {
            tally.drop(Dropped::Malformed);
            return;
        };
        match rtp::classify(packet) {
            Datagram::Discovery { ssrc } => match self.routes.discover(ssrc, from) {
                Ok(()) => {
                    answers.push((ssrc, from));
                    tally.discovery_answers += 1;
                }
                Err(reason) => tally.drop(reason),
            },
            Datagram::Rtp(rtp) => match self.routes.open(&rtp, from, packet, tally) {
                Ok(channel) => {
                    let socket = &self.socket;
                    self.routes
                        .for_each_listener(rtp.ssrc, channel, |listener| {
                            let listener = match listener {
                                Ok(listener) => listener,
                                Err(reason) => return tally.drop(reason),
                            };
                            if outbox.is_full() {
                                outbox.flush(socket, tally);
                            }
                            outbox.push(listener.address, |slot| {
                                reseal(slot, packet, &rtp, listener.cipher, listener.counter)
                            });
                        });
                    if outbox.queued() >= FLUSH_AT {
                        outbox.flush(socket, tally);
                    }
                }
                Err(reason) => tally.drop(reason),
            },
            Datagram::KeepAlive => tally.drop(Dropped::KeepAlive),
            Datagram::Rtcp => tally.drop(Dropped::Rtcp),
            Datagram::NotOpus => tally.drop(Dropped::NotOpus),
            Datagram::Malformed => tally.drop(Dropped::Malformed),
        }
    }

    /// Answers the batch's discovery requests, sent on their own (they are rare) and last:
    /// whoever gets an answer can read the counters of every datagram that came before it.
    fn answer(&self, answers: &mut Vec<(u32, SocketAddrV4)>) {
        let mut tally = Tally::default();
        for (ssrc, from) in answers.drain(..) {
            let response = rtp::discovery_response(ssrc, from);
            if self.socket.send_to(&response, from).is_err() {
                tally.drop(Dropped::SendFailed);
            }
        }
        if tally.dropped(Dropped::SendFailed) > 0 {
            self.counters.publish(&tally);
        }
    }
}

/// How long to wait after the `in_a_row`th receive error in a row; None: read again at once.
fn error_wait_ms(in_a_row: u32) -> Option<u16> {
    let doublings = in_a_row.checked_sub(2)?;
    let wait = u32::from(ERROR_WAIT_FIRST_MS)
        .checked_shl(doublings)
        .unwrap_or(u32::MAX);
    Some(u16::try_from(wait).map_or(ERROR_WAIT_MAX_MS, |w| w.min(ERROR_WAIT_MAX_MS)))
}

/// Writes into `slot` the packet `opened` (its header, then its plaintext) sealed for one
/// listener: the same header, the ciphertext under the listener's key and `counter`, the tag,
/// the counter. None if it cannot fit (it always does: the slot is as large as the inbox's).
fn reseal(
    slot: &mut [u8],
    opened: &[u8],
    rtp: &Rtp,
    cipher: &Cipher,
    counter: u32,
) -> Option<usize> {
    let total = rtp.total_bytes();
    let target = slot.get_mut(..total)?;
    let (head, trailer) = target.split_at_mut_checked(rtp.tag_start())?;
    head.copy_from_slice(opened.get(..rtp.tag_start())?);
    let (aad, data) = head.split_at_mut_checked(rtp.header_bytes)?;
    let tag = cipher.seal(counter, aad, data)?;
    let (tag_bytes, counter_bytes) = trailer.split_at_mut_checked(TAG_BYTES)?;
    tag_bytes.copy_from_slice(&tag);
    counter_bytes
        .get_mut(..COUNTER_BYTES)?
        .copy_from_slice(&counter.to_be_bytes());
    Some(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use nix::sys::eventfd::EfdFlags;
    use std::fs::File;
    use std::os::fd::OwnedFd;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    #[test]
    fn the_wait_after_errors_in_a_row_doubles_up_to_a_second() {
        let waits: Vec<_> = (1..=14).map(error_wait_ms).collect();
        assert_eq!(waits[..4], [None, Some(1), Some(2), Some(4)]);
        assert_eq!(waits[10..], [Some(512), Some(1000), Some(1000), Some(1000)]);
        assert_eq!(error_wait_ms(u32::MAX), Some(1000));
    }

    fn counted_errors(counters: &Counters) -> u64 {
        let snapshot = counters.snapshot();
        snapshot
            .iter()
            .find(|(name, _)| *name == "io_errors")
            .unwrap()
            .1
    }

    #[test]
    fn a_persistent_receive_error_is_counted_and_backed_off_not_spun_on() {
        // Not a socket: every recvmmsg fails (ENOTSOCK), and poll finds it always readable.
        let socket = UdpSocket::from(OwnedFd::from(File::open("/dev/null").unwrap()));
        let wake = Arc::new(EventFd::from_flags(EfdFlags::EFD_NONBLOCK).unwrap());
        let counters = Arc::new(Counters::default());
        let (messages, inbox) = mpsc::channel();
        let media = Media {
            socket,
            wake: Arc::clone(&wake),
            messages: inbox,
            routes: Routes::default(),
            counters: Arc::clone(&counters),
        };
        let started = Instant::now();
        let thread = std::thread::spawn(move || media.run());
        let deadline = started + Duration::from_secs(10);
        let errors_after = |count| {
            while counted_errors(&counters) < count {
                assert!(Instant::now() < deadline, "errors are not counted");
                std::thread::yield_now();
            }
            started.elapsed()
        };
        // Before the 7th error it waited 1 + 2 + 4 + 8 + 16 ms; spinning takes microseconds.
        assert!(errors_after(7) >= Duration::from_millis(31));
        // The 12th starts a wait of a second; a command ends it at once.
        assert!(errors_after(12) >= Duration::from_millis(1023));
        let stopping = Instant::now();
        messages.send(Message::Stop).unwrap();
        wake.write(1).unwrap();
        thread.join().unwrap();
        assert!(stopping.elapsed() < Duration::from_millis(500));
        assert_eq!(counted_errors(&counters), 12);
    }
}
