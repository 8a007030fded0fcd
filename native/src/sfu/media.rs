//! The media thread: waits on the socket and the wake-up eventfd, applies routing commands,
//! and forwards each batch of datagrams. Python is never on this path.

use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::EventFd;

use super::batch::{Inbox, Outbox, RECEIVE_BATCH};
use super::counters::{Counters, Dropped, Tally};
use super::crypto::Cipher;
use super::routes::{Command, Routes};
use super::rtp::{self, Datagram, Rtp, COUNTER_BYTES, TAG_BYTES};

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
        while self.apply_commands() {
            match inbox.receive(&self.socket) {
                // Commands queued before these datagrams were sent apply to them: take them
                // again now that the datagrams are in.
                Ok(count) => {
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
                Err(Errno::EAGAIN) => self.wait(),
                // EINTR, or an error the socket reported once: read on.
                Err(_) => {}
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

    /// Sleeps until a datagram or a command arrives.
    fn wait(&self) {
        let mut fds = [
            PollFd::new(self.socket.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
        ];
        if poll(&mut fds, PollTimeout::NONE).is_ok()
            && fds
                .get(1)
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
    let (aad, rest) = target.split_at_mut_checked(rtp.header_bytes)?;
    let (data, trailer) = rest.split_at_mut_checked(rtp.sealed_bytes)?;
    aad.copy_from_slice(opened.get(..rtp.header_bytes)?);
    data.copy_from_slice(opened.get(rtp.header_bytes..rtp.tag_start())?);
    let tag = cipher.seal(counter, aad, data)?;
    let (tag_bytes, counter_bytes) = trailer.split_at_mut_checked(TAG_BYTES)?;
    tag_bytes.copy_from_slice(&tag);
    counter_bytes
        .get_mut(..COUNTER_BYTES)?
        .copy_from_slice(&counter.to_be_bytes());
    Some(total)
}
