//! The system calls the generator batches on: sendmmsg on a connected UDP socket, recvmmsg
//! without waiting, epoll over the listeners' sockets, and a thread's own CPU time. The
//! sockets are the ones the bench set up (signalling and IP discovery were done from them),
//! handed over as inherited file descriptors.

use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

pub const MAX_DATAGRAM: usize = 2048;

/// Takes ownership of an inherited UDP socket.
pub fn adopt(fd: RawFd) -> io::Result<UdpSocket> {
    // SAFETY: fstat only reads the descriptor's metadata into a zeroed struct we own.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &raw mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd {fd} is not a socket"),
        ));
    }
    // SAFETY: the bench passed `fd` to this process (pass_fds) for it alone to use; nothing
    // else here owns it, so the UdpSocket may close it.
    Ok(unsafe { UdpSocket::from_raw_fd(fd) })
}

/// Sends every packet on the connected `socket`, several calls if the kernel takes fewer at
/// once. Returns how many went out; an error after some went out ends the batch early.
pub fn send_all(socket: &UdpSocket, packets: &mut [Vec<u8>], lengths: &[usize]) -> (usize, usize) {
    let count = packets.len().min(lengths.len());
    let mut iovecs: Vec<libc::iovec> = packets
        .iter_mut()
        .zip(lengths)
        .map(|(packet, length)| libc::iovec {
            iov_base: packet.as_mut_ptr().cast(),
            iov_len: (*length).min(packet.len()),
        })
        .collect();
    // SAFETY: an all-zero mmsghdr is a valid "no name, no control" header.
    let mut headers: Vec<libc::mmsghdr> =
        (0..count).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (header, iovec) in headers.iter_mut().zip(iovecs.iter_mut()) {
        header.msg_hdr.msg_iov = iovec;
        header.msg_hdr.msg_iovlen = 1;
    }
    let (mut sent, mut errors) = (0usize, 0usize);
    while sent < count {
        let rest = headers.get_mut(sent..).unwrap_or_default();
        // SAFETY: `rest` points at headers whose iovecs point into `packets`, all alive and
        // unaliased for the call; the length passed is the slice's.
        let done = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                rest.as_mut_ptr(),
                u32::try_from(rest.len()).unwrap_or(u32::MAX),
                0,
            )
        };
        if done <= 0 {
            let error = io::Error::last_os_error();
            match error.kind() {
                // A full send buffer (a non-blocking socket): wait for room, as a blocking
                // socket would.
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    std::thread::yield_now();
                    continue;
                }
                _ => {}
            }
            errors += count - sent;
            break;
        }
        sent += usize::try_from(done).unwrap_or(0);
    }
    (sent, errors)
}

/// Buffers for one recvmmsg call.
pub struct Receiver {
    buffers: Vec<Vec<u8>>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl Receiver {
    pub fn new(batch: usize) -> Receiver {
        let mut buffers: Vec<Vec<u8>> = (0..batch).map(|_| vec![0u8; MAX_DATAGRAM]).collect();
        let iovecs: Vec<libc::iovec> = buffers
            .iter_mut()
            .map(|buffer| libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: buffer.len(),
            })
            .collect();
        // SAFETY: an all-zero mmsghdr is a valid "no name, no control" header.
        let headers = (0..batch).map(|_| unsafe { std::mem::zeroed() }).collect();
        let mut receiver = Receiver {
            buffers,
            iovecs,
            headers,
        };
        for (header, iovec) in receiver.headers.iter_mut().zip(receiver.iovecs.iter_mut()) {
            header.msg_hdr.msg_iov = iovec;
            header.msg_hdr.msg_iovlen = 1;
        }
        receiver
    }

    /// What `socket` has queued, up to the batch, without waiting: each datagram's bytes, to
    /// be opened in place.
    pub fn receive(&mut self, socket: &UdpSocket) -> io::Result<Vec<&mut [u8]>> {
        // SAFETY: the headers point at this Receiver's iovecs and buffers (moved never: the
        // Vecs' heap storage stays put), which live as long as `self`; the count is theirs.
        let got = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                u32::try_from(self.headers.len()).unwrap_or(u32::MAX),
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(Vec::new()),
                _ => Err(error),
            };
        }
        let got = usize::try_from(got).unwrap_or(0);
        Ok(self
            .buffers
            .iter_mut()
            .zip(&self.headers)
            .take(got)
            .map(|(buffer, header)| {
                let length = usize::try_from(header.msg_len)
                    .unwrap_or(0)
                    .min(buffer.len());
                buffer.get_mut(..length).unwrap_or_default()
            })
            .collect())
    }
}

/// An epoll set over sockets, each known by its index.
pub struct Poller {
    fd: RawFd,
}

impl Poller {
    pub fn new(sockets: &[UdpSocket]) -> io::Result<Poller> {
        // SAFETY: plain system call; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let poller = Poller { fd };
        for (index, socket) in sockets.iter().enumerate() {
            let mut event = libc::epoll_event {
                events: u32::try_from(libc::EPOLLIN).unwrap_or(1),
                u64: index as u64,
            };
            // SAFETY: `event` is a valid epoll_event for the call's duration.
            let added = unsafe {
                libc::epoll_ctl(
                    poller.fd,
                    libc::EPOLL_CTL_ADD,
                    socket.as_raw_fd(),
                    &raw mut event,
                )
            };
            if added != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(poller)
    }

    /// The indexes of the sockets with something to read, waiting at most `timeout_ms`.
    pub fn wait(&self, ready: &mut Vec<usize>, timeout_ms: i32) -> io::Result<()> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 256];
        // SAFETY: `events` is writable for as many entries as we say.
        let got = unsafe { libc::epoll_wait(self.fd, events.as_mut_ptr(), 256, timeout_ms) };
        ready.clear();
        if got < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(error)
            };
        }
        let got = usize::try_from(got).unwrap_or(0);
        ready.extend(events.iter().take(got).map(|event| {
            let index = event.u64;
            usize::try_from(index).unwrap_or(usize::MAX)
        }));
        Ok(())
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        // SAFETY: we own the epoll descriptor and close it once.
        unsafe { libc::close(self.fd) };
    }
}

/// The calling thread's CPU time (user and system), in seconds.
pub fn thread_cpu_s() -> f64 {
    usage_s(libc::RUSAGE_THREAD)
}

/// The whole process's CPU time (user and system), in seconds.
pub fn process_cpu_s() -> f64 {
    usage_s(libc::RUSAGE_SELF)
}

fn usage_s(who: i32) -> f64 {
    // SAFETY: getrusage writes into a zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &raw mut usage) } != 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
