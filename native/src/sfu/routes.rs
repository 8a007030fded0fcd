//! Who may send to whom: the participants of each channel, their keys, flags and addresses,
//! changed by commands and consulted for every packet. Owned by the media thread alone.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex, PoisonError};

use super::counters::Dropped;
use super::crypto::{Cipher, KEY_BYTES};
use super::replay::ReplayWindow;
use super::rtp::{Rtp, TAG_BYTES};

/// Where the server's counter for each listener starts: clients count up from 0 (discord.py)
/// or 1 (@discordjs/voice) under the same key, and never get this far.
pub const FIRST_SERVER_COUNTER: u32 = 1 << 31;

/// A change to the routing table, applied between batches.
pub enum Command {
    /// A new participant (or a fresh start for a known SSRC): no key, no address yet.
    Add {
        ssrc: u32,
        channel: u64,
        speaks: bool,
        hears: bool,
    },
    SetKey {
        ssrc: u32,
        cipher: Cipher,
        key: [u8; KEY_BYTES],
    },
    SetFlags {
        ssrc: u32,
        speaks: bool,
        hears: bool,
    },
    Move {
        ssrc: u32,
        channel: u64,
    },
    Remove {
        ssrc: u32,
    },
}

/// SSRC → the address its discovery bound, for readers outside the media thread.
pub type Addresses = Arc<Mutex<HashMap<u32, SocketAddrV4>>>;

struct Key {
    cipher: Cipher,
    bytes: [u8; KEY_BYTES],
}

struct Participant {
    channel: u64,
    speaks: bool,
    hears: bool,
    address: Option<SocketAddrV4>,
    key: Option<Key>,
    window: ReplayWindow,
    /// The server's next counter towards this participant; None once all are used.
    next_counter: Option<u32>,
}

/// One copy to send: seal with `cipher` and `counter`, send to `address`.
pub struct Listener<'r> {
    pub cipher: &'r Cipher,
    pub counter: u32,
    pub address: SocketAddrV4,
}

#[derive(Default)]
pub struct Routes {
    participants: HashMap<u32, Participant>,
    channels: HashMap<u64, Vec<u32>>,
    addresses: Addresses,
}

impl Routes {
    #[must_use]
    pub fn new(addresses: Addresses) -> Self {
        Self {
            addresses,
            ..Self::default()
        }
    }

    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Add {
                ssrc,
                channel,
                speaks,
                hears,
            } => {
                // The counter carries on: the same key may come back for this SSRC.
                let next_counter = self
                    .participants
                    .get(&ssrc)
                    .map_or(Some(FIRST_SERVER_COUNTER), |old| old.next_counter);
                self.leave(ssrc);
                self.participants.insert(
                    ssrc,
                    Participant {
                        channel,
                        speaks,
                        hears,
                        address: None,
                        key: None,
                        window: ReplayWindow::default(),
                        next_counter,
                    },
                );
                self.channels.entry(channel).or_default().push(ssrc);
            }
            Command::SetKey { ssrc, cipher, key } => {
                if let Some(participant) = self.participants.get_mut(&ssrc) {
                    // A new key starts a new counter space; the same key again (a resume)
                    // keeps the window, so old packets cannot be replayed through it.
                    let same = participant
                        .key
                        .as_ref()
                        .is_some_and(|old| old.bytes == key && old.cipher.mode() == cipher.mode());
                    if !same {
                        participant.window = ReplayWindow::default();
                    }
                    participant.key = Some(Key { cipher, bytes: key });
                }
            }
            Command::SetFlags {
                ssrc,
                speaks,
                hears,
            } => {
                if let Some(participant) = self.participants.get_mut(&ssrc) {
                    participant.speaks = speaks;
                    participant.hears = hears;
                }
            }
            Command::Move { ssrc, channel } => {
                let Some(participant) = self.participants.get_mut(&ssrc) else {
                    return;
                };
                let old = std::mem::replace(&mut participant.channel, channel);
                if old != channel {
                    self.remove_member(old, ssrc);
                    self.channels.entry(channel).or_default().push(ssrc);
                }
            }
            Command::Remove { ssrc } => self.leave(ssrc),
        }
    }

    fn leave(&mut self, ssrc: u32) {
        if let Some(old) = self.participants.remove(&ssrc) {
            self.remove_member(old.channel, ssrc);
            if old.address.is_some() {
                self.published().remove(&ssrc);
            }
        }
    }

    fn remove_member(&mut self, channel: u64, ssrc: u32) {
        if let Some(members) = self.channels.get_mut(&channel) {
            members.retain(|&member| member != ssrc);
            if members.is_empty() {
                self.channels.remove(&channel);
            }
        }
    }

    fn published(&self) -> std::sync::MutexGuard<'_, HashMap<u32, SocketAddrV4>> {
        // The map holds plain data: a panic elsewhere while holding it leaves nothing torn.
        self.addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// An IP discovery request for `ssrc` from `from`: answered if the SSRC is known; its
    /// first one binds the SSRC to `from`.
    ///
    /// # Errors
    /// `UnknownSsrc`: not answered.
    pub fn discover(&mut self, ssrc: u32, from: SocketAddrV4) -> Result<(), Dropped> {
        let participant = self
            .participants
            .get_mut(&ssrc)
            .ok_or(Dropped::UnknownSsrc)?;
        if participant.address.is_none() {
            participant.address = Some(from);
            self.published().insert(ssrc, from);
        }
        Ok(())
    }

    /// Checks a packet from `from` against its sender and decrypts it in place; returns the
    /// sender's channel, to forward to.
    ///
    /// # Errors
    /// Why the packet must be dropped.
    pub fn open(
        &mut self,
        rtp: &Rtp,
        from: SocketAddrV4,
        packet: &mut [u8],
    ) -> Result<u64, Dropped> {
        let sender = self
            .participants
            .get_mut(&rtp.ssrc)
            .ok_or(Dropped::UnknownSsrc)?;
        if sender.address != Some(from) {
            return Err(Dropped::WrongAddress);
        }
        let key = sender.key.as_ref().ok_or(Dropped::NotKeyed)?;
        if !sender.speaks {
            return Err(Dropped::Muted);
        }
        if !sender.window.allows(rtp.counter) {
            return Err(Dropped::Replayed);
        }
        let (aad, rest) = packet
            .split_at_mut_checked(rtp.header_bytes)
            .ok_or(Dropped::Malformed)?;
        let (sealed, rest) = rest
            .split_at_mut_checked(rtp.sealed_bytes)
            .ok_or(Dropped::Malformed)?;
        let tag: [u8; TAG_BYTES] = rest
            .get(..TAG_BYTES)
            .and_then(|tag| tag.try_into().ok())
            .ok_or(Dropped::Malformed)?;
        key.cipher
            .open(rtp.counter, aad, sealed, tag)
            .map_err(|_| Dropped::BadTag)?;
        sender.window.accept(rtp.counter);
        Ok(sender.channel)
    }

    /// Calls `send` for each participant of `channel` but `sender` who hears, has a key and
    /// an address, with the next counter of each; `Err` for one whose counters ran out.
    pub fn for_each_listener(
        &mut self,
        sender: u32,
        channel: u64,
        mut send: impl FnMut(Result<Listener<'_>, Dropped>),
    ) {
        let Some(members) = self.channels.get(&channel) else {
            return;
        };
        for &member in members {
            if member == sender {
                continue;
            }
            let Some(listener) = self.participants.get_mut(&member) else {
                continue;
            };
            let (true, Some(key), Some(address)) =
                (listener.hears, listener.key.as_ref(), listener.address)
            else {
                continue;
            };
            match listener.next_counter {
                Some(counter) => {
                    listener.next_counter = counter.checked_add(1);
                    send(Ok(Listener {
                        cipher: &key.cipher,
                        counter,
                        address,
                    }));
                }
                None => send(Err(Dropped::CounterExhausted)),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
#[path = "routes_tests.rs"]
mod tests;
