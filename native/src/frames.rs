//! RFC 6455 client frames in, whole messages and control frames out: what the gateway reads
//! from every connection, so it is parsed and unmasked here rather than in Python.
//!
//! Refuses, with the close code RFC 6455 gives (section 7.4.1): reserved bits, unmasked
//! frames, unknown opcodes, long or fragmented control frames, a continuation without a
//! message or a new message inside one (1002); and a message over the limit (1009) as soon
//! as its header says so, before any of its payload is kept. After an error the parser
//! keeps refusing: the connection is closing.

/// A frame's opcode (RFC 6455, section 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

impl Opcode {
    #[must_use]
    pub fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    #[must_use]
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A whole data message (text or binary), or a control frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub opcode: Opcode,
    pub payload: Vec<u8>,
}

/// Why the client's frames were refused; `code()` is the close code to answer with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("reserved bits set")]
    ReservedBits,
    #[error("client frames must be masked")]
    Unmasked,
    #[error("unknown opcode")]
    UnknownOpcode,
    #[error("control frames are short and whole")]
    BadControlFrame,
    #[error("messages are at most {max_bytes} bytes")]
    TooBig { max_bytes: usize },
    #[error("continuation without a message")]
    OrphanContinuation,
    #[error("a new message inside a fragmented one")]
    Interleaved,
}

impl FrameError {
    /// The WebSocket close code: 1009 (message too big) or 1002 (protocol error).
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            Self::TooBig { .. } => 1009,
            _ => 1002,
        }
    }
}

const MAX_CONTROL_BYTES: u64 = 125;

/// One connection's incoming frames. Holds at most one unfinished frame (its header and what
/// has come of its payload, never more than the limit) and one unfinished message.
#[derive(Debug)]
pub struct FrameParser {
    max_bytes: usize,
    buffer: Vec<u8>,
    fragments: Vec<u8>,
    fragment_opcode: Option<Opcode>,
    failed: Option<FrameError>,
}

/// What the start of the input holds.
enum Parsed {
    /// Not a whole frame yet.
    Partial,
    /// A frame of `size` bytes, taken; a message if it completed one.
    Frame(usize, Option<Message>),
}

impl FrameParser {
    /// A parser refusing data messages over `max_bytes` (all fragments together).
    #[must_use]
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            buffer: Vec::new(),
            fragments: Vec::new(),
            fragment_opcode: None,
            failed: None,
        }
    }

    /// Bytes held for a frame not yet whole, and of a fragmented message not yet finished.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buffer.len() + self.fragments.len()
    }

    /// Takes `data` and returns the messages and control frames it completed, in order.
    ///
    /// # Errors
    /// When the frames break RFC 6455 or the size limit; then, and for every later call,
    /// the same error (what completed before it in `data` is dropped: the connection closes).
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Message>, FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let mut found = Vec::new();
        let result = if self.buffer.is_empty() {
            // The common case: whole frames straight from the read, nothing copied twice.
            self.parse_all(data, &mut found).map(|taken| {
                self.buffer
                    .extend_from_slice(data.get(taken..).unwrap_or_default());
            })
        } else {
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.extend_from_slice(data);
            self.parse_all(&buffer, &mut found).map(|taken| {
                buffer.drain(..taken.min(buffer.len()));
                self.buffer = buffer;
            })
        };
        match result {
            Ok(()) => Ok(found),
            Err(error) => {
                self.buffer = Vec::new();
                self.fragments = Vec::new();
                self.fragment_opcode = None;
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Parses whole frames from the start of `input`; returns how many bytes they took.
    fn parse_all(&mut self, input: &[u8], found: &mut Vec<Message>) -> Result<usize, FrameError> {
        let mut taken = 0;
        loop {
            match self.parse(input.get(taken..).unwrap_or_default())? {
                Parsed::Partial => return Ok(taken),
                Parsed::Frame(size, message) => {
                    taken += size;
                    found.extend(message);
                }
            }
        }
    }

    fn parse(&mut self, input: &[u8]) -> Result<Parsed, FrameError> {
        let [first, second, ..] = *input else {
            return Ok(Parsed::Partial);
        };
        if first & 0x70 != 0 {
            return Err(FrameError::ReservedBits);
        }
        if second & 0x80 == 0 {
            return Err(FrameError::Unmasked);
        }
        let fin = first & 0x80 != 0;
        let opcode = Opcode::from_bits(first & 0x0f).ok_or(FrameError::UnknownOpcode)?;
        let (size, offset) = match second & 0x7f {
            126 => match input.get(2..4) {
                Some(&[high, low]) => (u64::from(u16::from_be_bytes([high, low])), 4),
                _ => return Ok(Parsed::Partial),
            },
            127 => match input.get(2..10).map(<[u8; 8]>::try_from) {
                Some(Ok(bytes)) => (u64::from_be_bytes(bytes), 10),
                _ => return Ok(Parsed::Partial),
            },
            short => (u64::from(short), 2),
        };
        let control = opcode.is_control();
        if control && (size > MAX_CONTROL_BYTES || !fin) {
            return Err(FrameError::BadControlFrame);
        }
        // Refused on its header, before any payload is kept; counted with the fragments so
        // far, so a message split into many frames is held to the same limit.
        let too_big = FrameError::TooBig {
            max_bytes: self.max_bytes,
        };
        let size = usize::try_from(size).map_err(|_| too_big.clone())?;
        if !control && self.fragments.len().saturating_add(size) > self.max_bytes {
            return Err(too_big);
        }
        let Some(mask) = input.get(offset..offset + 4) else {
            return Ok(Parsed::Partial);
        };
        let mask = <[u8; 4]>::try_from(mask).unwrap_or_default();
        let start = offset + 4;
        let Some(masked) = input.get(start..start + size) else {
            return Ok(Parsed::Partial);
        };
        let frame_size = start + size;
        if control {
            return Ok(Parsed::Frame(
                frame_size,
                Some(Message {
                    opcode,
                    payload: unmasked(masked, mask, Vec::with_capacity(size)),
                }),
            ));
        }
        let message_opcode = match (opcode, self.fragment_opcode) {
            (Opcode::Continuation, None) => return Err(FrameError::OrphanContinuation),
            (Opcode::Continuation, Some(first)) => first,
            (_, Some(_)) => return Err(FrameError::Interleaved),
            (opcode, None) => opcode,
        };
        if fin && self.fragment_opcode.is_none() {
            // A whole message in one frame: unmasked straight into its own buffer.
            let payload = unmasked(masked, mask, Vec::with_capacity(size));
            return Ok(Parsed::Frame(
                frame_size,
                Some(Message {
                    opcode: message_opcode,
                    payload,
                }),
            ));
        }
        self.fragments = unmasked(masked, mask, std::mem::take(&mut self.fragments));
        if !fin {
            self.fragment_opcode = Some(message_opcode);
            return Ok(Parsed::Frame(frame_size, None));
        }
        self.fragment_opcode = None;
        let payload = std::mem::take(&mut self.fragments);
        Ok(Parsed::Frame(
            frame_size,
            Some(Message {
                opcode: message_opcode,
                payload,
            }),
        ))
    }
}

/// `masked` unmasked (each byte xor the repeating four-byte `mask`, RFC 6455 section 5.3),
/// appended to `out`, eight bytes at a time.
fn unmasked(masked: &[u8], mask: [u8; 4], mut out: Vec<u8>) -> Vec<u8> {
    out.reserve(masked.len());
    let [a, b, c, d] = mask;
    let key = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut words = masked.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_ne_bytes(<[u8; 8]>::try_from(word).unwrap_or_default()) ^ key;
        out.extend_from_slice(&word.to_ne_bytes());
    }
    // Eight is a multiple of four: the rest starts the mask afresh.
    out.extend(
        words
            .remainder()
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, m)| byte ^ m),
    );
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 4096;

    /// The reference encoder: a client frame as RFC 6455 section 5.2 lays it out, shortest
    /// length form, masked with `mask`.
    fn frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | u8::try_from(n).unwrap()),
            n @ 126..=0xffff => {
                out.push(0x80 | 0x7e);
                out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
            }
            n => {
                out.push(0x80 | 0x7f);
                out.extend_from_slice(&u64::try_from(n).unwrap().to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    /// A header alone claiming `size` bytes, with a given length form (7, 16 or 64 bits).
    fn header(first: u8, size: u64, form: u8) -> Vec<u8> {
        let mut out = vec![first];
        match form {
            7 => out.push(0x80 | u8::try_from(size).unwrap()),
            16 => {
                out.push(0x80 | 0x7e);
                out.extend_from_slice(&u16::try_from(size).unwrap().to_be_bytes());
            }
            _ => {
                out.push(0x80 | 0x7f);
                out.extend_from_slice(&size.to_be_bytes());
            }
        }
        out
    }

    fn message(opcode: Opcode, payload: &[u8]) -> Message {
        Message {
            opcode,
            payload: payload.to_vec(),
        }
    }

    fn feed_all(chunks: &[&[u8]]) -> Result<Vec<Message>, FrameError> {
        let mut parser = FrameParser::new(MAX);
        let mut found = Vec::new();
        for chunk in chunks {
            found.extend(parser.feed(chunk)?);
        }
        Ok(found)
    }

    const M: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn each_refusal_has_its_close_code() {
        let unmasked_text = {
            let mut f = frame(true, 0x1, b"hi", M);
            f[1] &= 0x7f;
            f.drain(2..6);
            f
        };
        let cases: Vec<(&str, Vec<u8>, FrameError, u16)> = vec![
            (
                "rsv1",
                frame(true, 0x41, b"x", M),
                FrameError::ReservedBits,
                1002,
            ),
            (
                "rsv3",
                frame(true, 0x11, b"x", M),
                FrameError::ReservedBits,
                1002,
            ),
            ("unmasked", unmasked_text, FrameError::Unmasked, 1002),
            (
                "opcode 3",
                frame(true, 0x3, b"x", M),
                FrameError::UnknownOpcode,
                1002,
            ),
            (
                "opcode 0xb",
                frame(true, 0xb, b"", M),
                FrameError::UnknownOpcode,
                1002,
            ),
            (
                "ping over 125",
                frame(true, 0x9, &[0; 126], M),
                FrameError::BadControlFrame,
                1002,
            ),
            (
                "fragmented close",
                frame(false, 0x8, b"", M),
                FrameError::BadControlFrame,
                1002,
            ),
            (
                "text over the limit",
                frame(true, 0x1, &[b'a'; MAX + 1], M),
                FrameError::TooBig { max_bytes: MAX },
                1009,
            ),
            (
                "fragments over the limit",
                [
                    frame(false, 0x1, &[b'a'; MAX], M),
                    frame(true, 0x0, b"a", M),
                ]
                .concat(),
                FrameError::TooBig { max_bytes: MAX },
                1009,
            ),
            (
                "continuation first",
                frame(true, 0x0, b"x", M),
                FrameError::OrphanContinuation,
                1002,
            ),
            (
                "text inside a fragmented text",
                [frame(false, 0x1, b"a", M), frame(true, 0x1, b"b", M)].concat(),
                FrameError::Interleaved,
                1002,
            ),
        ];
        for (name, wire, error, code) in cases {
            let mut parser = FrameParser::new(MAX);
            assert_eq!(parser.feed(&wire), Err(error.clone()), "{name}");
            assert_eq!(error.code(), code, "{name}");
            // The parser stays refused, and holds nothing.
            assert_eq!(
                parser.feed(&frame(true, 0x1, b"ok", M)),
                Err(error),
                "{name}"
            );
            assert_eq!(parser.buffered(), 0, "{name}");
        }
    }

    #[test]
    fn the_limit_is_inclusive_and_stated() {
        let wire = frame(true, 0x1, &[b'a'; MAX], M);
        assert_eq!(
            feed_all(&[&wire]).unwrap(),
            vec![message(Opcode::Text, &[b'a'; MAX])]
        );
        assert_eq!(
            FrameError::TooBig { max_bytes: MAX }.to_string(),
            "messages are at most 4096 bytes"
        );
    }

    #[test]
    fn control_frames_pass_between_fragments() {
        let wire = [
            frame(false, 0x1, b"hel", M),
            frame(true, 0x9, b"are you there", M),
            frame(false, 0x0, b"lo ", M),
            frame(true, 0xa, b"", M),
            frame(true, 0x0, b"world", M),
            frame(true, 0x2, &[0, 1, 2], M),
            frame(true, 0x8, &[0x03, 0xe8], M),
        ]
        .concat();
        assert_eq!(
            feed_all(&[&wire]).unwrap(),
            vec![
                message(Opcode::Ping, b"are you there"),
                message(Opcode::Pong, b""),
                message(Opcode::Text, b"hello world"),
                message(Opcode::Binary, &[0, 1, 2]),
                message(Opcode::Close, &[0x03, 0xe8]),
            ]
        );
    }

    #[test]
    fn an_empty_text_message_is_a_message() {
        let wire = [frame(true, 0x1, b"", M), frame(false, 0x2, b"", M)].concat();
        assert_eq!(
            feed_all(&[&wire, &frame(true, 0x0, b"", M)]).unwrap(),
            vec![message(Opcode::Text, b""), message(Opcode::Binary, b"")]
        );
    }

    #[test]
    fn a_64_bit_length_past_usize_or_the_limit_is_refused_on_its_header() {
        for size in [u64::MAX, 1 << 63, u64::try_from(MAX).unwrap() + 1] {
            let mut parser = FrameParser::new(MAX);
            assert_eq!(
                parser.feed(&header(0x81, size, 64)),
                Err(FrameError::TooBig { max_bytes: MAX })
            );
        }
    }

    /// A frame or other bytes, for the properties: mostly valid frames, some junk.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let opcode = prop::sample::select(vec![0x0_u8, 0x1, 0x2, 0x8, 0x9, 0xa, 0x3]);
        let payload = prop::collection::vec(any::<u8>(), 0..300);
        prop_oneof![
            8 => (any::<bool>(), opcode, payload, any::<[u8; 4]>())
                .prop_map(|(fin, op, p, mask)| frame(fin, op, &p, mask)),
            1 => prop::collection::vec(any::<u8>(), 0..40),
        ]
    }

    fn split(wire: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for point in points.into_iter().chain([wire.len()]) {
            chunks.push(wire[at..point].to_vec());
            at = point;
        }
        chunks
    }

    /// Messages up to the first error, and that error: what a connection acts on.
    fn outcome(chunks: &[Vec<u8>], max: usize) -> (Vec<Message>, Option<FrameError>) {
        let mut parser = FrameParser::new(max);
        let mut found = Vec::new();
        for chunk in chunks {
            match parser.feed(chunk) {
                Ok(messages) => found.extend(messages),
                Err(error) => return (found, Some(error)),
            }
            // At most one unfinished frame (a control frame may come amid a full message).
            assert!(parser.buffered() <= max + 14 + 125);
        }
        (found, None)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_split_anywhere_parse_as_fed_whole(
            bytes in prop::collection::vec(any::<u8>(), 0..400),
            cuts in prop::collection::vec(any::<usize>(), 0..8),
        ) {
            let whole = outcome(std::slice::from_ref(&bytes), 64);
            let pieces = outcome(&split(&bytes, &cuts), 64);
            // Fed whole, an error drops what came before it in the same call; split, the
            // earlier messages arrive first. Either way the messages before the error agree.
            prop_assert_eq!(&whole.1, &pieces.1);
            if whole.1.is_none() {
                prop_assert_eq!(whole.0, pieces.0);
            } else {
                prop_assert!(pieces.0.starts_with(&whole.0));
            }
        }

        #[test]
        fn frames_split_anywhere_parse_as_fed_whole(
            pieces in prop::collection::vec(piece(), 0..12),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let wire = pieces.concat();
            let one_at_a_time: Vec<Vec<u8>> = wire.iter().map(|b| vec![*b]).collect();
            let whole = outcome(std::slice::from_ref(&wire), 1000);
            let (split_found, split_error) = outcome(&split(&wire, &cuts), 1000);
            let (bytes_found, bytes_error) = outcome(&one_at_a_time, 1000);
            prop_assert_eq!(&split_error, &whole.1);
            prop_assert_eq!(&bytes_error, &whole.1);
            if whole.1.is_none() {
                prop_assert_eq!(&whole.0, &split_found);
                prop_assert_eq!(&whole.0, &bytes_found);
            } else {
                // An error drops what its own call completed: fed a byte at a time, nothing
                // is dropped, so any split finds a prefix of that.
                prop_assert!(bytes_found.starts_with(&split_found));
                prop_assert!(bytes_found.starts_with(&whole.0));
            }
        }

    }

    proptest! {
        // Fewer cases: each is up to 15 KB of frames, unmasked byte by byte in the reference.
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn encoded_messages_round_trip(
            messages in prop::collection::vec(
                (any::<bool>(), prop::collection::vec(any::<u8>(), 0..3000), 1_usize..5),
                1..6,
            ),
            pings in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..=125), 0..4),
            masks in prop::collection::vec(any::<[u8; 4]>(), 1..8),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
        ) {
            // Each message fragmented into `parts` frames, a ping after each message's first
            // fragment, each frame masked with its own key.
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            let mut key = masks.iter().cycle();
            for (index, (text, payload, parts)) in messages.iter().enumerate() {
                let step = payload.len().div_ceil(*parts).max(1);
                let mut chunks: Vec<&[u8]> = payload.chunks(step).collect();
                if chunks.is_empty() {
                    chunks.push(&[]);
                }
                let ping = pings.get(index);
                for (n, chunk) in chunks.iter().enumerate() {
                    let opcode = match (n, text) { (0, true) => 0x1, (0, false) => 0x2, _ => 0x0 };
                    let fin = n + 1 == chunks.len();
                    wire.extend(frame(fin, opcode, chunk, *key.next().unwrap()));
                    if fin {
                        let opcode = if *text { Opcode::Text } else { Opcode::Binary };
                        expected.push(message(opcode, payload));
                    }
                    if let (0, Some(ping)) = (n, ping) {
                        wire.extend(frame(true, 0x9, ping, *key.next().unwrap()));
                        expected.push(message(Opcode::Ping, ping));
                    }
                }
            }
            let (found, error) = outcome(&split(&wire, &cuts), MAX);
            prop_assert_eq!(error, None);
            prop_assert_eq!(found, expected);
        }

        #[test]
        fn a_message_over_the_limit_is_refused_on_its_header(
            max in 0_usize..70_000,
            over in 1_u64..100_000,
            form in prop::sample::select(vec![7_u8, 16, 64]),
            opcode in prop::sample::select(vec![0x1_u8, 0x2]),
            fin in any::<bool>(),
            before in 0_usize..3,
        ) {
            // Earlier fragments of the same message count towards the limit.
            let mut parser = FrameParser::new(max);
            let mut kept = 0_u64;
            let mut first = opcode;
            for _ in 0..before {
                let room = u64::try_from(max).unwrap() - kept;
                let size = usize::try_from(room.min(over)).unwrap() / 2;
                prop_assert_eq!(parser.feed(&frame(false, first, &vec![b'a'; size], M)), Ok(vec![]));
                kept += u64::try_from(size).unwrap();
                first = 0x0;
            }
            let size = u64::try_from(max).unwrap() - kept + over;
            let form = match (form, size) {
                (7, 0..=125) => 7,
                (7 | 16, 0..=0xffff) => 16,
                _ => 64,
            };
            let head = header((u8::from(fin) << 7) | first, size, form);
            prop_assert_eq!(parser.feed(&head), Err(FrameError::TooBig { max_bytes: max }));
            prop_assert_eq!(parser.buffered(), 0);
        }
    }
}
