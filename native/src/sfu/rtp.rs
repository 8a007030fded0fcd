//! What arrives on the voice UDP port, told apart without trusting a byte of it: IP discovery
//! requests, keep-alives, RTCP, and RTP v2 in Discord's `*_rtpsize` layout.
//!
//! The layout, as @discordjs/voice (`VoiceReceiver`) and discord.py (`voice_client.py`) build and
//! read it: the RTP header (12 bytes + 4 per CSRC), then, with the X bit, the 4-byte extension
//! preamble (profile, length) in the clear; together they are the AEAD's associated data. Then the
//! ciphertext (the extension body, if any, and the Opus frame), the 16-byte tag, and the 4-byte
//! big-endian counter that opens the nonce.

use std::net::SocketAddrV4;

/// Opus, the only payload type Discord's clients send audio with.
pub const OPUS_PAYLOAD_TYPE: u8 = 120;
/// The AEAD tag both modes append.
pub const TAG_BYTES: usize = 16;
/// The counter after the tag: the nonce's first 4 bytes, the rest zero.
pub const COUNTER_BYTES: usize = 4;
/// An IP discovery request and its response: type, length, SSRC, address, port.
pub const DISCOVERY_BYTES: usize = 74;
/// What the length field of a discovery packet says: the bytes after it.
const DISCOVERY_LENGTH: u16 = 70;
const DISCOVERY_REQUEST: u16 = 1;
const DISCOVERY_RESPONSE: u16 = 2;
/// Where the address ends: the port takes the last 2 bytes.
const DISCOVERY_ADDRESS_END: usize = DISCOVERY_BYTES - 2;
const DISCOVERY_ADDRESS_START: usize = 8;
/// @discordjs/voice's keep-alive: a little-endian u32 counter and 4 zero bytes, every 5 s.
const KEEPALIVE_BYTES: usize = 8;
/// RTCP packet types 192–223 read as RTP payload types 64–95 (RFC 5761 4); Discord's
/// clients send sender and receiver reports (200, 201) among them.
const RTCP_PAYLOAD_TYPES: std::ops::RangeInclusive<u8> = 64..=95;
const RTP_HEADER_BYTES: usize = 12;

/// One datagram, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram {
    Discovery {
        ssrc: u32,
    },
    Rtp(Rtp),
    KeepAlive,
    Rtcp,
    /// RTP v2 with a payload type other than Opus.
    NotOpus,
    /// Anything else: short, truncated, not RTP v2, a discovery packet that is not a request.
    Malformed,
}

/// Where the parts of an RTP packet are; the packet itself stays in its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtp {
    pub ssrc: u32,
    /// The associated data: header, CSRCs and extension preamble.
    pub header_bytes: usize,
    /// The ciphertext after the header (extension body and Opus frame), before the tag.
    pub sealed_bytes: usize,
    /// The nonce's counter.
    pub counter: u32,
}

impl Rtp {
    /// Where the tag starts.
    #[must_use]
    pub fn tag_start(&self) -> usize {
        self.header_bytes + self.sealed_bytes
    }

    /// The whole packet's length.
    #[must_use]
    pub fn total_bytes(&self) -> usize {
        self.tag_start() + TAG_BYTES + COUNTER_BYTES
    }
}

fn be_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at + 2)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at + 4)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// Tells what `data` is. Total: every byte string gets an answer.
#[must_use]
pub fn classify(data: &[u8]) -> Datagram {
    if data.len() == KEEPALIVE_BYTES {
        return Datagram::KeepAlive;
    }
    let Some(&first) = data.first() else {
        return Datagram::Malformed;
    };
    if first >> 6 != 2 {
        return discovery(data);
    }
    let Some(&second) = data.get(1) else {
        return Datagram::Malformed;
    };
    let payload_type = second & 0x7f;
    if RTCP_PAYLOAD_TYPES.contains(&payload_type) {
        return Datagram::Rtcp;
    }
    if payload_type != OPUS_PAYLOAD_TYPE {
        return Datagram::NotOpus;
    }
    rtp(data, first).map_or(Datagram::Malformed, Datagram::Rtp)
}

fn discovery(data: &[u8]) -> Datagram {
    let request = data.len() == DISCOVERY_BYTES
        && be_u16(data, 0) == Some(DISCOVERY_REQUEST)
        && be_u16(data, 2) == Some(DISCOVERY_LENGTH);
    match be_u32(data, 4) {
        Some(ssrc) if request => Datagram::Discovery { ssrc },
        _ => Datagram::Malformed,
    }
}

fn rtp(data: &[u8], first: u8) -> Option<Rtp> {
    let csrc_count = usize::from(first & 0x0f);
    let extension = first & 0x10 != 0;
    let header_bytes = RTP_HEADER_BYTES + 4 * csrc_count + if extension { 4 } else { 0 };
    let sealed_bytes = data
        .len()
        .checked_sub(header_bytes + TAG_BYTES + COUNTER_BYTES)?;
    Some(Rtp {
        ssrc: be_u32(data, 8)?,
        header_bytes,
        sealed_bytes,
        counter: be_u32(data, data.len() - COUNTER_BYTES)?,
    })
}

/// The response to a discovery request from `from`: type 2, length 70, the SSRC, the sender's
/// IPv4 address as a NUL-terminated string in 64 bytes, and its port, big-endian.
#[must_use]
pub fn discovery_response(ssrc: u32, from: SocketAddrV4) -> [u8; DISCOVERY_BYTES] {
    let mut response = [0; DISCOVERY_BYTES];
    let mut writer = Writer {
        into: &mut response,
        at: 0,
    };
    writer.put(&DISCOVERY_RESPONSE.to_be_bytes());
    writer.put(&DISCOVERY_LENGTH.to_be_bytes());
    writer.put(&ssrc.to_be_bytes());
    // At most 15 characters ("255.255.255.255"): the NUL after it always fits.
    let mut address = [0_u8; 16];
    let text = ip_text(from, &mut address);
    writer.put(text);
    writer.at = DISCOVERY_ADDRESS_END;
    writer.put(&from.port().to_be_bytes());
    debug_assert!(DISCOVERY_ADDRESS_START + text.len() < DISCOVERY_ADDRESS_END);
    response
}

/// The dotted quad of `from`, written without allocating.
fn ip_text(from: SocketAddrV4, into: &mut [u8; 16]) -> &[u8] {
    let mut writer = Writer { into, at: 0 };
    for (index, octet) in from.ip().octets().iter().enumerate() {
        if index > 0 {
            writer.put(b".");
        }
        let mut digits = itoa::Buffer::new();
        writer.put(digits.format(*octet).as_bytes());
    }
    let end = writer.at;
    into.get(..end).unwrap_or_default()
}

/// Copies into a fixed buffer; what would not fit is left out (callers size it to fit).
struct Writer<'b> {
    into: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        if let Some(target) = self.into.get_mut(self.at..end) {
            target.copy_from_slice(bytes);
            self.at = end;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn request(ssrc: u32) -> Vec<u8> {
        let mut packet = vec![0, 1, 0, 70];
        packet.extend(ssrc.to_be_bytes());
        packet.resize(DISCOVERY_BYTES, 0);
        packet
    }

    #[test]
    fn a_discovery_request_is_read() {
        assert_eq!(
            classify(&request(0xdead_beef)),
            Datagram::Discovery { ssrc: 0xdead_beef }
        );
    }

    #[test]
    fn a_discovery_packet_of_another_shape_is_malformed() {
        let mut short = request(1);
        short.pop();
        let mut response = request(1);
        response[1] = 2;
        let mut length = request(1);
        length[3] = 69;
        for packet in [short, response, length] {
            assert_eq!(classify(&packet), Datagram::Malformed);
        }
    }

    #[test]
    fn the_discovery_response_is_exact() {
        let from = SocketAddrV4::new(Ipv4Addr::new(192, 168, 100, 255), 50_004);
        let response = discovery_response(0x0102_0304, from);
        let mut expected = vec![0, 2, 0, 70, 1, 2, 3, 4];
        expected.extend(b"192.168.100.255");
        expected.resize(72, 0);
        expected.extend(50_004_u16.to_be_bytes());
        assert_eq!(response.to_vec(), expected);
        let widest = discovery_response(7, SocketAddrV4::new(Ipv4Addr::BROADCAST, 1));
        assert_eq!(&widest[8..24], b"255.255.255.255\0");
    }

    #[test]
    fn keepalives_rtcp_and_junk_are_told_apart() {
        assert_eq!(classify(&[0x80, 0, 0, 0, 0, 0, 0, 0]), Datagram::KeepAlive);
        let mut report = vec![0x80, 200];
        report.resize(40, 0);
        assert_eq!(classify(&report), Datagram::Rtcp);
        report[1] = 0x80 + 111;
        assert_eq!(classify(&report), Datagram::NotOpus);
        assert_eq!(classify(&[]), Datagram::Malformed);
        assert_eq!(
            classify(b"\x40hello world, this is not rtp at all"),
            Datagram::Malformed
        );
    }

    #[test]
    fn rtp_parts_are_located() {
        let mut packet = vec![0x80, 0x78, 0, 1, 0, 0, 0, 2, 0, 0, 0, 9];
        packet.extend([0xaa; 3]); // sealed
        packet.extend([0xbb; TAG_BYTES]);
        packet.extend(7_u32.to_be_bytes());
        let Datagram::Rtp(rtp) = classify(&packet) else {
            panic!("not rtp")
        };
        assert_eq!(
            rtp,
            Rtp {
                ssrc: 9,
                header_bytes: 12,
                sealed_bytes: 3,
                counter: 7
            }
        );
        assert_eq!(rtp.total_bytes(), packet.len());
    }

    #[test]
    fn csrcs_and_the_extension_preamble_belong_to_the_header() {
        let mut packet = vec![0x92, 0xf8, 0, 1, 0, 0, 0, 2, 0, 0, 0, 9];
        packet.extend([0; 8]); // 2 CSRCs
        packet.extend([0xbe, 0xde, 0, 1]); // extension preamble
        packet.extend([0; TAG_BYTES + COUNTER_BYTES]);
        let Datagram::Rtp(rtp) = classify(&packet) else {
            panic!("not rtp")
        };
        assert_eq!((rtp.header_bytes, rtp.sealed_bytes), (24, 0));
        packet.truncate(packet.len() - 1);
        assert_eq!(classify(&packet), Datagram::Malformed);
    }

    proptest! {
        #[test]
        fn any_bytes_classify_without_panicking(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Datagram::Rtp(rtp) = classify(&data) {
                prop_assert_eq!(rtp.total_bytes(), data.len());
            }
        }

        #[test]
        fn any_rtp_shaped_bytes_classify_without_panicking(
            first in 0x80_u8..0xc0, second in any::<u8>(),
            rest in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let mut data = vec![first, second];
            data.extend(rest);
            if let Datagram::Rtp(rtp) = classify(&data) {
                prop_assert!(rtp.header_bytes <= rtp.tag_start());
                prop_assert_eq!(rtp.total_bytes(), data.len());
            }
        }

        #[test]
        fn any_discovery_shaped_bytes_classify_without_panicking(
            head in proptest::collection::vec(any::<u8>(), 0..8),
            rest in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let mut data = head;
            data.extend(rest);
            let _ = classify(&data);
        }

        #[test]
        fn any_address_fits_the_response(ip in any::<u32>(), port in any::<u16>(), ssrc in any::<u32>()) {
            let from = SocketAddrV4::new(Ipv4Addr::from(ip), port);
            let response = discovery_response(ssrc, from);
            let text = from.ip().to_string();
            prop_assert_eq!(&response[8..8 + text.len()], text.as_bytes());
            prop_assert_eq!(response[8 + text.len()], 0);
            prop_assert_eq!(u16::from_be_bytes([response[72], response[73]]), port);
        }
    }
}
