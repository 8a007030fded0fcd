//! Discord's `*_rtpsize` voice packets, as a client sends and receives them: the RTP header in
//! the clear but authenticated (the 12 fixed bytes, the CSRCs, and the 4-byte extension
//! preamble when X is set), then the extension body and the Opus payload encrypted, the
//! 16-byte tag, and last the 4-byte big-endian counter the nonce is made from (AES-GCM: the
//! counter and 8 zero bytes; `XChaCha20`: the counter and 20 zero bytes).
//!
//! The generator's payload starts with a stamp (who sent it, its number, when) so that a
//! listener can count and time every packet it decrypts.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;

pub const HEADER_BYTES: usize = 12;
pub const TAG_BYTES: usize = 16;
pub const COUNTER_BYTES: usize = 4;
pub const STAMP_BYTES: usize = 28;
pub const OPUS_PAYLOAD_TYPE: u8 = 0x78; // 120, as discord.py and discord.js send
const STAMP_MAGIC: [u8; 4] = *b"TXVB";
const SAMPLES_PER_FRAME: u32 = 960; // 20 ms at 48 kHz

#[derive(Debug, PartialEq, Eq)]
pub enum PacketError {
    TooShort,
    NotRtp,
    BadTag,
    NotOurs,
}

/// One side's cipher: a speaker seals with its key, a listener opens with its own.
pub enum Cipher {
    AesGcm(Box<Aes256Gcm>),
    XChaCha(Box<XChaCha20Poly1305>),
}

impl Cipher {
    /// The cipher of `mode` (Discord's name) with a 32-byte `key`; None for anything else.
    pub fn new(mode: &str, key: &[u8]) -> Option<Cipher> {
        match mode {
            "aead_aes256_gcm_rtpsize" => Aes256Gcm::new_from_slice(key)
                .ok()
                .map(|c| Cipher::AesGcm(Box::new(c))),
            "aead_xchacha20_poly1305_rtpsize" => XChaCha20Poly1305::new_from_slice(key)
                .ok()
                .map(|c| Cipher::XChaCha(Box::new(c))),
            _ => None,
        }
    }

    fn seal_in_place(
        &self,
        counter: u32,
        aad: &[u8],
        body: &mut [u8],
    ) -> Result<[u8; TAG_BYTES], PacketError> {
        let mut nonce = [0u8; 24];
        if let Some(head) = nonce.get_mut(..COUNTER_BYTES) {
            head.copy_from_slice(&counter.to_be_bytes());
        }
        let tag = match self {
            Cipher::AesGcm(cipher) => {
                let short: [u8; 12] = nonce_prefix(&nonce);
                cipher.encrypt_in_place_detached(&short.into(), aad, body)
            }
            Cipher::XChaCha(cipher) => cipher.encrypt_in_place_detached(&nonce.into(), aad, body),
        };
        tag.map(Into::into).map_err(|_| PacketError::TooShort)
    }

    fn open_in_place(
        &self,
        counter: u32,
        aad: &[u8],
        body: &mut [u8],
        tag: [u8; TAG_BYTES],
    ) -> Result<(), PacketError> {
        let mut nonce = [0u8; 24];
        if let Some(head) = nonce.get_mut(..COUNTER_BYTES) {
            head.copy_from_slice(&counter.to_be_bytes());
        }
        let opened = match self {
            Cipher::AesGcm(cipher) => {
                let short: [u8; 12] = nonce_prefix(&nonce);
                cipher.decrypt_in_place_detached(&short.into(), aad, body, &tag.into())
            }
            Cipher::XChaCha(cipher) => {
                cipher.decrypt_in_place_detached(&nonce.into(), aad, body, &tag.into())
            }
        };
        opened.map_err(|_| PacketError::BadTag)
    }
}

fn nonce_prefix(nonce: &[u8; 24]) -> [u8; 12] {
    let mut short = [0u8; 12];
    short.copy_from_slice(nonce.get(..12).unwrap_or(&[0u8; 12]));
    short
}

/// What a packet's payload says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub run: u32, // which generator run sent it: a server's backlog from the last is told apart
    pub speaker: u32, // the speaker's index in the generator's input
    pub number: u64, // the speaker's packet number, from 0 for each run
    pub sent_ns: u64, // nanoseconds since the generator started
}

/// A speaker's RTP state: sequence, timestamp and the nonce counter, carried from run to run
/// (the server drops a counter it has seen).
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
    pub counter: u32,
}

impl Stream {
    /// Writes one sealed packet of `payload_bytes` (at least `STAMP_BYTES`) into `out`, stamped
    /// `stamp`, and advances the stream. Returns the packet's length.
    pub fn seal(
        &mut self,
        cipher: &Cipher,
        stamp: Stamp,
        payload_bytes: usize,
        out: &mut [u8],
    ) -> Result<usize, PacketError> {
        let total = HEADER_BYTES + payload_bytes + TAG_BYTES + COUNTER_BYTES;
        let packet = out.get_mut(..total).ok_or(PacketError::TooShort)?;
        let (header, rest) = packet.split_at_mut(HEADER_BYTES);
        let (body, trailer) = rest.split_at_mut(payload_bytes);
        header.copy_from_slice(&self.header());
        write_stamp(body, stamp)?;
        let tag = cipher.seal_in_place(self.counter, header, body)?;
        let (tag_out, counter_out) = trailer.split_at_mut(TAG_BYTES);
        tag_out.copy_from_slice(&tag);
        counter_out.copy_from_slice(&self.counter.to_be_bytes());
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(SAMPLES_PER_FRAME);
        self.counter = self.counter.wrapping_add(1);
        Ok(total)
    }

    fn header(&self) -> [u8; HEADER_BYTES] {
        let mut header = [0u8; HEADER_BYTES];
        let (first, rest) = header.split_at_mut(2);
        first.copy_from_slice(&[0x80, OPUS_PAYLOAD_TYPE]);
        let (sequence, rest) = rest.split_at_mut(2);
        sequence.copy_from_slice(&self.sequence.to_be_bytes());
        let (timestamp, ssrc) = rest.split_at_mut(4);
        timestamp.copy_from_slice(&self.timestamp.to_be_bytes());
        ssrc.copy_from_slice(&self.ssrc.to_be_bytes());
        header
    }
}

fn write_stamp(body: &mut [u8], stamp: Stamp) -> Result<(), PacketError> {
    let head = body.get_mut(..STAMP_BYTES).ok_or(PacketError::TooShort)?;
    let (magic, rest) = head.split_at_mut(4);
    magic.copy_from_slice(&STAMP_MAGIC);
    let (run, rest) = rest.split_at_mut(4);
    run.copy_from_slice(&stamp.run.to_be_bytes());
    let (speaker, rest) = rest.split_at_mut(4);
    speaker.copy_from_slice(&stamp.speaker.to_be_bytes());
    let (number, sent) = rest.split_at_mut(8);
    number.copy_from_slice(&stamp.number.to_be_bytes());
    sent.copy_from_slice(&stamp.sent_ns.to_be_bytes());
    Ok(())
}

/// The authenticated part's length: the fixed header, the CSRCs, and the extension preamble.
pub fn aad_bytes(packet: &[u8]) -> Result<usize, PacketError> {
    let first = *packet.first().ok_or(PacketError::TooShort)?;
    if first >> 6 != 2 {
        return Err(PacketError::NotRtp);
    }
    let csrcs = usize::from(first & 0x0F);
    let extension = if first & 0x10 == 0 { 0 } else { 4 };
    Ok(HEADER_BYTES + 4 * csrcs + extension)
}

/// The SSRC in a packet's header.
pub fn ssrc(packet: &[u8]) -> Result<u32, PacketError> {
    let bytes: [u8; 4] = packet
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .ok_or(PacketError::TooShort)?;
    Ok(u32::from_be_bytes(bytes))
}

/// Opens a received packet in place with the listener's cipher and reads its stamp (after the
/// extension body, if the header announces one).
pub fn open(cipher: &Cipher, packet: &mut [u8]) -> Result<Stamp, PacketError> {
    let aad_len = aad_bytes(packet)?;
    let has_extension = packet.first().is_some_and(|b| b & 0x10 != 0);
    let extension_words = if has_extension {
        let words: [u8; 2] = packet
            .get(aad_len - 2..aad_len)
            .and_then(|b| b.try_into().ok())
            .ok_or(PacketError::TooShort)?;
        usize::from(u16::from_be_bytes(words))
    } else {
        0
    };
    let body_end = packet
        .len()
        .checked_sub(TAG_BYTES + COUNTER_BYTES)
        .filter(|end| *end >= aad_len)
        .ok_or(PacketError::TooShort)?;
    let (aad, rest) = packet.split_at_mut(aad_len);
    let (body, trailer) = rest.split_at_mut(body_end - aad_len);
    let (tag, counter) = trailer.split_at(TAG_BYTES);
    let tag: [u8; TAG_BYTES] = tag.try_into().map_err(|_| PacketError::TooShort)?;
    let counter: [u8; 4] = counter.try_into().map_err(|_| PacketError::TooShort)?;
    cipher.open_in_place(u32::from_be_bytes(counter), aad, body, tag)?;
    let stamp = body
        .get(4 * extension_words..4 * extension_words + STAMP_BYTES)
        .ok_or(PacketError::NotOurs)?;
    read_stamp(stamp)
}

fn read_stamp(stamp: &[u8]) -> Result<Stamp, PacketError> {
    let field = |from: usize, to: usize| stamp.get(from..to).ok_or(PacketError::NotOurs);
    if field(0, 4)? != STAMP_MAGIC {
        return Err(PacketError::NotOurs);
    }
    let run: [u8; 4] = field(4, 8)?.try_into().map_err(|_| PacketError::NotOurs)?;
    let speaker: [u8; 4] = field(8, 12)?.try_into().map_err(|_| PacketError::NotOurs)?;
    let number: [u8; 8] = field(12, 20)?
        .try_into()
        .map_err(|_| PacketError::NotOurs)?;
    let sent: [u8; 8] = field(20, 28)?
        .try_into()
        .map_err(|_| PacketError::NotOurs)?;
    Ok(Stamp {
        run: u32::from_be_bytes(run),
        speaker: u32::from_be_bytes(speaker),
        number: u64::from_be_bytes(number),
        sent_ns: u64::from_be_bytes(sent),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const MODES: [&str; 2] = ["aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize"];

    #[test]
    fn a_sealed_packet_opens_with_the_same_key_and_not_another() {
        for mode in MODES {
            let cipher = Cipher::new(mode, &[7u8; 32]).unwrap();
            let other = Cipher::new(mode, &[8u8; 32]).unwrap();
            let mut stream = Stream {
                ssrc: 42,
                sequence: 65535,
                timestamp: 0,
                counter: 9,
            };
            let stamp = Stamp {
                run: 9,
                speaker: 3,
                number: 17,
                sent_ns: 123_456,
            };
            let mut out = [0u8; 2048];
            let len = stream.seal(&cipher, stamp, 120, &mut out).unwrap();
            assert_eq!(len, 12 + 120 + 16 + 4);
            assert_eq!(&out[len - 4..len], &9u32.to_be_bytes());
            assert_eq!(ssrc(&out[..len]).unwrap(), 42);
            assert_eq!(
                (stream.sequence, stream.timestamp, stream.counter),
                (0, 960, 10)
            );
            let mut copy = out;
            assert_eq!(open(&other, &mut copy[..len]), Err(PacketError::BadTag));
            assert_eq!(open(&cipher, &mut out[..len]).unwrap(), stamp);
        }
    }

    #[test]
    fn a_changed_header_fails_authentication() {
        let cipher = Cipher::new(MODES[0], &[1u8; 32]).unwrap();
        let mut stream = Stream {
            ssrc: 5,
            sequence: 0,
            timestamp: 0,
            counter: 0,
        };
        let mut out = [0u8; 256];
        let len = stream
            .seal(
                &cipher,
                Stamp {
                    run: 1,
                    speaker: 0,
                    number: 0,
                    sent_ns: 0,
                },
                40,
                &mut out,
            )
            .unwrap();
        out[3] ^= 1;
        assert_eq!(open(&cipher, &mut out[..len]), Err(PacketError::BadTag));
        assert_eq!(open(&cipher, &mut [0x00, 1, 2]), Err(PacketError::NotRtp));
        assert_eq!(open(&cipher, &mut [0x80; 20]), Err(PacketError::TooShort));
    }

    #[test]
    fn bad_modes_and_keys_are_refused() {
        assert!(Cipher::new("xsalsa20_poly1305", &[0u8; 32]).is_none());
        assert!(Cipher::new(MODES[1], &[0u8; 31]).is_none());
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss
)]
mod timing {
    use super::*;

    /// What sealing and opening cost here: `cargo test --release -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn seal_open_cost() {
        for mode in ["aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize"] {
            let cipher = Cipher::new(mode, &[7u8; 32]).unwrap();
            let mut stream = Stream {
                ssrc: 1,
                sequence: 0,
                timestamp: 0,
                counter: 0,
            };
            let mut out = [0u8; 2048];
            let n = 200_000;
            let t = std::time::Instant::now();
            for i in 0..n {
                let len = stream
                    .seal(
                        &cipher,
                        Stamp {
                            run: 1,
                            speaker: 0,
                            number: i,
                            sent_ns: 0,
                        },
                        128,
                        &mut out,
                    )
                    .unwrap();
                open(&cipher, &mut out[..len]).unwrap();
            }
            eprintln!(
                "{mode}: {:.0} ns per seal+open",
                t.elapsed().as_nanos() as f64 / n as f64
            );
        }
    }
}
