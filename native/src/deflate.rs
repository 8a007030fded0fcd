//! zlib-stream without a deflate context per connection.
//!
//! Discord's zlib-stream is one zlib stream per connection, each message ending in a sync
//! flush (`00 00 ff ff`). A decoder only needs every message to continue the stream validly,
//! and a run of non-final deflate blocks that starts on a byte boundary, ends in a sync flush
//! and never refers back to earlier output is valid at any such point of any stream. So a
//! dispatch's shared part (`"t":…,"d":…}`) is deflated once, with a fresh context, for every
//! recipient; each recipient adds only the zlib header (first message only) and its own
//! prefix (`{"op":0,"s":<seq>,`) as a stored block. A connection's zlib state is then one
//! flag, where a streaming context cost 18-37 KB (ARCHITECTURE.md, "zlib-stream cost").

use std::cell::RefCell;

use flate2::{Compress, Compression, FlushCompress, Status};

/// The zlib header a connection's first message starts with: deflate, a 32 KB window (the
/// most any part refers back), "fastest" level. Its Adler-32 trailer never comes: the stream
/// never ends.
pub const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];

/// Level 1: a few µs for a ~300-byte payload, and a part is deflated once per dispatch
/// however many recipients share it.
const LEVEL: u32 = 1;
const WINDOW_BITS: u8 = 15;

/// A stored block holds at most this many bytes (its LEN field is 16 bits).
const MAX_STORED: usize = 0xffff;

#[derive(Debug, thiserror::Error)]
pub enum DeflateError {
    #[error("deflate failed: {0}")]
    Compress(#[from] flate2::CompressError),
    #[error("deflate made no progress with room to write")]
    Stalled,
}

thread_local! {
    // One context per thread, reset before each part: no allocation per dispatch, and no
    // part ever refers back to another's data.
    static CONTEXT: RefCell<Compress> =
        RefCell::new(Compress::new_with_window_bits(Compression::new(LEVEL), false, WINDOW_BITS));
}

/// Appends `data` to `out` as raw deflate blocks that refer to nothing before them, ending
/// in a sync flush (`00 00 ff ff`): valid at any byte-aligned point of a zlib stream.
///
/// # Errors
/// When deflate reports a failure (it does not for well-formed input and enough memory).
pub fn compress_part(data: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
    CONTEXT.with(|context| {
        let mut deflate = context.borrow_mut();
        deflate.reset();
        let mut rest = data;
        // Deflate's worst case is a few bytes per 16 KB stored block, plus the flush.
        out.reserve(data.len() + data.len() / 1024 + 64);
        loop {
            let before_in = deflate.total_in();
            let before_out = deflate.total_out();
            let status = deflate.compress_vec(rest, out, FlushCompress::Sync)?;
            let taken = usize::try_from(deflate.total_in() - before_in).unwrap_or(usize::MAX);
            rest = rest.get(taken..).unwrap_or_default();
            // A sync flush is whole once deflate stops short of filling the output.
            if rest.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
            if status == Status::BufError
                && taken == 0
                && deflate.total_out() == before_out
                && out.len() < out.capacity()
            {
                return Err(DeflateError::Stalled);
            }
            out.reserve(rest.len() + 64);
        }
    })
}

/// Appends `data` to `out` as non-final stored blocks, byte-aligned: 5 bytes each of
/// overhead. For a per-recipient prefix of a dozen bytes, cheaper than any deflate.
pub fn stored(data: &[u8], out: &mut Vec<u8>) {
    let mut chunks = data.chunks(MAX_STORED).peekable();
    if chunks.peek().is_none() {
        return;
    }
    for chunk in chunks {
        // BFINAL 0, BTYPE 00, padded to the byte: 0x00; then LEN and its complement.
        let size = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.push(0);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(!size).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn part(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        compress_part(data, &mut out).unwrap();
        out
    }

    /// Inflates `message` with the stream's decoder, as a client does on arrival.
    fn inflate(decoder: &mut Decompress, message: &[u8]) -> Vec<u8> {
        let mut plain = Vec::with_capacity(message.len() * 4 + 1024);
        let mut rest = message;
        loop {
            let before = decoder.total_in();
            decoder
                .decompress_vec(rest, &mut plain, FlushDecompress::Sync)
                .unwrap();
            let taken = usize::try_from(decoder.total_in() - before).unwrap();
            rest = &rest[taken..];
            if rest.is_empty() && plain.len() < plain.capacity() {
                return plain;
            }
            plain.reserve(plain.len() + 1024);
        }
    }

    /// What fanout sends one recipient: header once, its prefix stored, the shared part.
    fn message(first: bool, prefix: &[u8], shared: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if first {
            out.extend_from_slice(&ZLIB_HEADER);
        }
        stored(prefix, &mut out);
        out.extend_from_slice(shared);
        out
    }

    /// A small deterministic generator: payloads with repeats (so deflate refers back).
    fn payload(seed: u64, size: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let words: [&[u8]; 6] = [b"content", b"\"id\":", b"12345", b"guild", b" ", b"{}"];
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let pick = usize::try_from(state >> 61).unwrap();
            if pick < words.len() {
                out.extend_from_slice(words[pick]);
            } else {
                out.push(u8::try_from(state >> 56).unwrap());
            }
        }
        out.truncate(size);
        out
    }

    #[test]
    fn the_zlib_header_is_valid() {
        let header = u16::from_be_bytes(ZLIB_HEADER);
        assert_eq!(header % 31, 0);
        assert_eq!(ZLIB_HEADER[0] & 0x0f, 8); // deflate
        assert!(ZLIB_HEADER[0] >> 4 <= 7); // a window of at most 32 KB
    }

    #[test]
    fn parts_end_in_a_sync_flush() {
        for size in [0, 1, 300, 70_000] {
            assert!(
                part(&payload(1, size)).ends_with(&[0, 0, 0xff, 0xff]),
                "{size}"
            );
        }
    }

    #[test]
    fn shared_parts_decode_in_any_order_on_one_stream() {
        // Three dispatches, each deflated once, sent to several connections in different
        // orders and interleaved with standalone messages: every connection's one streaming
        // decoder gets each message whole, on arrival.
        let dispatches: Vec<Vec<u8>> = [300, 5_000, 100_000]
            .iter()
            .zip(1..)
            .map(|(&size, seed)| payload(seed, size))
            .collect();
        let shared: Vec<Vec<u8>> = dispatches.iter().map(|d| part(d)).collect();
        let orders: [&[usize]; 4] = [&[0, 1, 2, 0, 1], &[2, 1, 0, 2], &[1, 1, 1], &[0, 2, 0, 2]];
        for order in orders {
            let mut decoder = Decompress::new(true);
            for (seq, &which) in order.iter().enumerate() {
                let prefix = format!("{{\"op\":0,\"s\":{},", seq + 1);
                let wire = message(seq == 0, prefix.as_bytes(), &shared[which]);
                assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
                let mut expected = prefix.into_bytes();
                expected.extend_from_slice(&dispatches[which]);
                assert_eq!(inflate(&mut decoder, &wire), expected);
                // A message compressed on its own (a heartbeat ACK) between dispatches.
                let ack = br#"{"op":11,"d":null,"s":null,"t":null}"#;
                assert_eq!(inflate(&mut decoder, &part(ack)), ack);
            }
        }
    }

    #[test]
    fn a_prefix_over_a_stored_blocks_limit_takes_several() {
        let prefix = payload(9, 150_000);
        let mut decoder = Decompress::new(true);
        let wire = message(true, &prefix, &part(b"}"));
        let mut expected = prefix;
        expected.push(b'}');
        assert_eq!(inflate(&mut decoder, &wire), expected);
    }
}
