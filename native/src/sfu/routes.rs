//! Who may send to whom: the participants of each channel, their keys, flags and addresses,
//! changed by commands and consulted for every packet. Owned by the media thread alone.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex, PoisonError};

use super::binding::Binding;
use super::counters::{Dropped, Tally};
use super::crypto::{Cipher, KEY_BYTES};
use super::keyhash::KeyMap;
use super::replay::ReplayWindow;
use super::rtp::{Rtp, TAG_BYTES};

/// Where the server's counter for each listener starts under each key: clients count up from
/// 0 (discord.py) or 1 (@discordjs/voice) under the same key, and never get this far.
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
    /// The address the client declared at `SELECT_PROTOCOL` (None: not a usable IPv4 address
    /// and port); see `Binding::declare`.
    Bind {
        ssrc: u32,
        declared: Option<SocketAddrV4>,
    },
}

/// SSRC → its bound address, for readers outside the media thread.
pub type Addresses = Arc<Mutex<HashMap<u32, SocketAddrV4>>>;

/// A participant's key and what was counted under it. Both counters belong to the key: a new
/// key (or mode) starts them afresh, since nonces used under the old one are harmless under
/// it; the same key again (a resume) carries on, so no nonce is reused and no old packet
/// replayed. Keys are fresh random ones at each `SELECT_PROTOCOL`: one that came back after
/// another would count as new, but does not happen.
struct Key {
    cipher: Cipher,
    bytes: [u8; KEY_BYTES],
    /// The counters it sent that were taken.
    window: ReplayWindow,
    /// The server's next counter towards it; None once all are used.
    next_counter: Option<u32>,
}

impl Key {
    fn is(&self, cipher: &Cipher, bytes: &[u8; KEY_BYTES]) -> bool {
        self.bytes == *bytes && self.cipher.mode() == cipher.mode()
    }
}

struct Participant {
    channel: u64,
    speaks: bool,
    hears: bool,
    binding: Binding,
    key: Option<Key>,
    /// The key it had before it was added again (it sends and hears nothing until
    /// `set_key`): kept to carry on counting if `set_key` brings the same key back.
    earlier: Option<Key>,
}

/// One copy to send: seal with `cipher` and `counter`, send to `address`.
pub struct Listener<'r> {
    pub cipher: &'r Cipher,
    pub counter: u32,
    pub address: SocketAddrV4,
}

pub struct Routes {
    participants: KeyMap<u32, Participant>,
    channels: KeyMap<u64, Vec<u32>>,
    addresses: Addresses,
    /// `FIRST_SERVER_COUNTER`, but for tests of the counters' end.
    first_counter: u32,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new(Addresses::default())
    }
}

impl Routes {
    #[must_use]
    pub fn new(addresses: Addresses) -> Self {
        Self {
            participants: KeyMap::default(),
            channels: KeyMap::default(),
            addresses,
            first_counter: FIRST_SERVER_COUNTER,
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
                let earlier = self.leave(ssrc).and_then(|old| old.key.or(old.earlier));
                self.participants.insert(
                    ssrc,
                    Participant {
                        channel,
                        speaks,
                        hears,
                        binding: Binding::default(),
                        key: None,
                        earlier,
                    },
                );
                self.channels.entry(channel).or_default().push(ssrc);
            }
            Command::SetKey { ssrc, cipher, key } => {
                let first_counter = self.first_counter;
                if let Some(participant) = self.participants.get_mut(&ssrc) {
                    let previous = participant.key.take().or(participant.earlier.take());
                    participant.key = Some(match previous {
                        Some(same) if same.is(&cipher, &key) => same,
                        _ => Key {
                            cipher,
                            bytes: key,
                            window: ReplayWindow::default(),
                            next_counter: Some(first_counter),
                        },
                    });
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
            Command::Remove { ssrc } => {
                self.leave(ssrc);
            }
            Command::Bind { ssrc, declared } => {
                if let Some(participant) = self.participants.get_mut(&ssrc) {
                    if participant.binding.declare(declared) {
                        let bound = participant.binding.bound();
                        self.publish(ssrc, bound);
                    }
                }
            }
        }
    }

    fn leave(&mut self, ssrc: u32) -> Option<Participant> {
        let old = self.participants.remove(&ssrc)?;
        self.remove_member(old.channel, ssrc);
        if old.binding.bound().is_some() {
            self.publish(ssrc, None);
        }
        Some(old)
    }

    fn remove_member(&mut self, channel: u64, ssrc: u32) {
        if let Some(members) = self.channels.get_mut(&channel) {
            members.retain(|&member| member != ssrc);
            if members.is_empty() {
                self.channels.remove(&channel);
            }
        }
    }

    fn publish(&self, ssrc: u32, address: Option<SocketAddrV4>) {
        // The map holds plain data: a panic elsewhere while holding it leaves nothing torn.
        let mut published = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match address {
            Some(address) => published.insert(ssrc, address),
            None => published.remove(&ssrc),
        };
    }

    /// An IP discovery request for `ssrc` from `from`: answered if the SSRC is known, and
    /// `from` becomes one of its candidates (it binds only an awaited declared address).
    ///
    /// # Errors
    /// `UnknownSsrc`: not answered.
    pub fn discover(&mut self, ssrc: u32, from: SocketAddrV4) -> Result<(), Dropped> {
        let participant = self
            .participants
            .get_mut(&ssrc)
            .ok_or(Dropped::UnknownSsrc)?;
        if participant.binding.discovered(from) {
            self.publish(ssrc, Some(from));
        }
        Ok(())
    }

    /// Checks a packet from `from` against its sender and decrypts it in place; returns the
    /// sender's channel, to forward to. A packet that authenticates from another address than
    /// the bound one (fresh counter, the sender's key) rebinds the sender there, counted in
    /// `tally`: only the key holder can, and its NAT mapping may have changed.
    ///
    /// # Errors
    /// Why the packet must be dropped; `WrongAddress` for anything from another address that
    /// does not authenticate.
    pub fn open(
        &mut self,
        rtp: &Rtp,
        from: SocketAddrV4,
        packet: &mut [u8],
        tally: &mut Tally,
    ) -> Result<u64, Dropped> {
        let sender = self
            .participants
            .get_mut(&rtp.ssrc)
            .ok_or(Dropped::UnknownSsrc)?;
        let key = sender.key.as_mut().ok_or(Dropped::NotKeyed)?;
        let elsewhere = sender.binding.bound() != Some(from);
        let refused = |reason| {
            if elsewhere {
                Dropped::WrongAddress
            } else {
                reason
            }
        };
        // From its own address a muted sender's packet needs no decrypting; from another it
        // may still have to rebind the sender, who keeps hearing.
        if !sender.speaks && !elsewhere {
            return Err(Dropped::Muted);
        }
        if !key.window.allows(rtp.counter) {
            return Err(refused(Dropped::Replayed));
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
            .map_err(|_| refused(Dropped::BadTag))?;
        key.window.accept(rtp.counter);
        let (channel, speaks) = (sender.channel, sender.speaks);
        if elsewhere && sender.binding.rebind(from) {
            tally.rebinds += 1;
            self.publish(rtp.ssrc, Some(from));
        }
        if speaks {
            Ok(channel)
        } else {
            Err(Dropped::Muted)
        }
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
            let address = listener.binding.bound();
            let (true, Some(key), Some(address)) = (listener.hears, listener.key.as_mut(), address)
            else {
                continue;
            };
            match key.next_counter {
                Some(counter) => {
                    key.next_counter = counter.checked_add(1);
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
#[path = "routes_binding_tests.rs"]
mod binding_tests;
