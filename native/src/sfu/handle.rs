//! The SFU as its owner sees it: bind, start the media thread, send it commands, read its
//! counters, stop and join it.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{setsockopt, sockopt};

use super::counters::Counters;
use super::crypto::{Cipher, KeyError, KEY_BYTES};
use super::media::{Media, Message};
use super::routes::{Addresses, Command, Routes};

/// The socket buffers asked for: a burst of a few thousand voice packets waits in the
/// kernel instead of being dropped while the thread is busy.
const SOCKET_BUFFER_BYTES: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
#[error("the media thread panicked: a bug")]
pub struct Panicked;

/// The running SFU. Every change is queued for the media thread, which applies it before it
/// forwards the next datagram that arrived after the change was made.
pub struct Sfu {
    port: u16,
    messages: Sender<Message>,
    wake: Arc<EventFd>,
    /// Readable once the media thread has ended, however it ended.
    ended: Arc<EventFd>,
    counters: Arc<Counters>,
    addresses: Addresses,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Signals `ended` when dropped: at the thread's end, by returning or by unwinding a panic.
struct Ending(Arc<EventFd>);

impl Drop for Ending {
    fn drop(&mut self) {
        // Fails only if the count would overflow: then it is readable already.
        let _ = self.0.write(1);
    }
}

impl Sfu {
    /// Binds UDP `address` (port 0: any free one) and starts the media thread.
    ///
    /// # Errors
    /// The socket, the eventfd or the thread could not be made.
    pub fn start(address: SocketAddrV4) -> io::Result<Self> {
        let socket = UdpSocket::bind(address)?;
        socket.set_nonblocking(true)?;
        enlarge_buffers(&socket);
        let port = socket.local_addr()?.port();
        let flags = EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC;
        let wake = Arc::new(EventFd::from_flags(flags)?);
        let ended = Arc::new(EventFd::from_flags(flags)?);
        let ending = Ending(Arc::clone(&ended));
        let counters = Arc::new(Counters::default());
        let addresses = Addresses::default();
        let (messages, inbox) = mpsc::channel();
        let media = Media {
            socket,
            wake: Arc::clone(&wake),
            messages: inbox,
            routes: Routes::new(Arc::clone(&addresses)),
            counters: Arc::clone(&counters),
        };
        let thread = std::thread::Builder::new()
            .name("trioxide-sfu".into())
            .spawn(move || {
                let _ending = ending;
                media.run();
            })?;
        Ok(Self {
            port,
            messages,
            wake,
            ended,
            counters,
            addresses,
            thread: Mutex::new(Some(thread)),
        })
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    fn send(&self, message: Message) {
        // After the thread ended there is nothing left to change: dropping is right.
        if self.messages.send(message).is_ok() {
            // Only fails if the count would overflow: then the thread is awake anyway.
            let _ = self.wake.write(1);
        }
    }

    /// A participant (replacing one with this SSRC), unkeyed and unbound.
    pub fn add(&self, ssrc: u32, channel: u64, speaks: bool, hears: bool) {
        self.send(Message::Route(Command::Add {
            ssrc,
            channel,
            speaks,
            hears,
        }));
    }

    /// The participant's mode and key; the cipher is built here, off the media thread.
    ///
    /// # Errors
    /// An unknown mode or a key that is not 32 bytes; nothing changes.
    pub fn set_key(&self, ssrc: u32, mode: &str, key: &[u8]) -> Result<(), KeyError> {
        let cipher = Cipher::new(mode, key)?;
        let key: [u8; KEY_BYTES] = key.try_into().map_err(|_| KeyError::KeyLength(key.len()))?;
        self.send(Message::Route(Command::SetKey { ssrc, cipher, key }));
        Ok(())
    }

    pub fn set_flags(&self, ssrc: u32, speaks: bool, hears: bool) {
        self.send(Message::Route(Command::SetFlags {
            ssrc,
            speaks,
            hears,
        }));
    }

    pub fn move_to(&self, ssrc: u32, channel: u64) {
        self.send(Message::Route(Command::Move { ssrc, channel }));
    }

    pub fn remove(&self, ssrc: u32) {
        self.send(Message::Route(Command::Remove { ssrc }));
    }

    /// The address the client declared at `SELECT_PROTOCOL` (None: not a usable one): binds
    /// the SSRC to one of its discovery sources (see `Binding::declare`).
    pub fn bind(&self, ssrc: u32, declared: Option<SocketAddrV4>) {
        self.send(Message::Route(Command::Bind { ssrc, declared }));
    }

    /// The SSRC's bound address, once the media thread has bound it.
    #[must_use]
    pub fn address(&self, ssrc: u32) -> Option<SocketAddrV4> {
        let addresses = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        addresses.get(&ssrc).copied()
    }

    #[must_use]
    pub fn counters(&self) -> HashMap<&'static str, u64> {
        self.counters.snapshot().into_iter().collect()
    }

    /// Tells the media thread to stop after the batch in hand.
    pub fn close(&self) {
        self.send(Message::Stop);
    }

    /// Waits for the media thread to end (`close` first). Later calls return at once.
    ///
    /// # Errors
    /// `Panicked` if the thread ended in a panic.
    pub fn join(&self) -> Result<(), Panicked> {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match thread {
            Some(thread) => thread.join().map_err(|_| Panicked),
            None => Ok(()),
        }
    }

    /// A descriptor that becomes readable once the media thread has ended (for any reason:
    /// `close`, or a panic), so an event loop can wait for that. Valid as long as `self`.
    #[must_use]
    pub fn ended_fd(&self) -> BorrowedFd<'_> {
        self.ended.as_fd()
    }

    /// Whether the media thread still runs.
    #[must_use]
    pub fn running(&self) -> bool {
        self.thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }
}

impl Drop for Sfu {
    /// No thread outlives its handle: stop it and wait (one batch at most).
    fn drop(&mut self) {
        self.close();
        let _ = self.join();
    }
}

/// Large buffers where allowed: past the system's limit with `CAP_NET_ADMIN`, else up to it.
fn enlarge_buffers(socket: &UdpSocket) {
    let size = SOCKET_BUFFER_BYTES;
    if setsockopt(socket, sockopt::RcvBufForce, &size).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &size);
    }
    if setsockopt(socket, sockopt::SndBufForce, &size).is_err() {
        let _ = setsockopt(socket, sockopt::SndBuf, &size);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::net::Ipv4Addr;

    fn readable(fd: BorrowedFd<'_>) -> bool {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).unwrap() == 1
    }

    #[test]
    fn the_end_is_signalled_after_a_close() {
        let sfu = Sfu::start(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        assert!(!readable(sfu.ended_fd()));
        assert!(sfu.running());
        sfu.close();
        sfu.join().unwrap();
        assert!(readable(sfu.ended_fd()));
        assert!(!sfu.running());
    }

    #[test]
    fn the_end_is_signalled_after_a_panic_too() {
        let ended = Arc::new(EventFd::from_flags(EfdFlags::EFD_NONBLOCK).unwrap());
        let ending = Ending(Arc::clone(&ended));
        let thread = std::thread::spawn(move || {
            let _ending = ending;
            panic!("a bug in the media thread");
        });
        assert!(thread.join().is_err());
        assert!(readable(ended.as_fd()));
    }
}
