//! `HChaCha20` (draft-irtf-cfrg-xchacha 2.2), the per-packet cost of XChaCha20-Poly1305: every
//! packet's counter makes a new nonce, so a new subkey, for each copy sealed and each packet
//! opened. On `x86_64` a round's four quarter-rounds go at once in SSE2 registers (always
//! there: `safe_arch` calls its intrinsics safely): ~500 instructions where the word-by-word
//! version (`chacha20::hchacha`) took ~1100.

/// "expand 32-byte k", little-endian.
const CONSTANTS: Row = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];
const DOUBLE_ROUNDS: usize = 10;

type Row = [u32; 4];

/// A key as `HChaCha20` reads it: eight little-endian words.
pub type KeyWords = [u32; 8];

#[must_use]
pub fn key_words(key: &[u8; 32]) -> KeyWords {
    let mut words = [0; 8];
    for (word, bytes) in words.iter_mut().zip(key.chunks_exact(4)) {
        let mut le = [0; 4];
        le.copy_from_slice(bytes);
        *word = u32::from_le_bytes(le);
    }
    words
}

/// The subkey of `key` and the 16-byte `input` (the nonce's first 16 bytes) as 4 LE words.
#[must_use]
pub fn hchacha20(key: &KeyWords, input: Row) -> [u8; 32] {
    let (first, last) = rounds(key, input);
    let mut subkey = [0; 32];
    for (bytes, word) in subkey.chunks_exact_mut(4).zip(first.iter().chain(&last)) {
        bytes.copy_from_slice(&word.to_le_bytes());
    }
    subkey
}

/// The 20 rounds in SSE2 registers, a row in each: a round's four quarter-rounds are one
/// instruction per step, the diagonals are lane shuffles.
#[cfg(target_arch = "x86_64")]
fn rounds(key: &KeyWords, input: Row) -> (Row, Row) {
    use safe_arch::{
        add_i32_m128i, bitor_m128i, bitxor_m128i, m128i, shl_imm_u32_m128i, shr_imm_u32_m128i,
        shuffle_ai_f32_all_m128i as shuffle_lanes, shuffle_ai_i16_h64all_m128i,
        shuffle_ai_i16_l64all_m128i,
    };

    fn rotate_16(x: m128i) -> m128i {
        shuffle_ai_i16_h64all_m128i::<0xb1>(shuffle_ai_i16_l64all_m128i::<0xb1>(x))
    }
    fn rotate_12(x: m128i) -> m128i {
        bitor_m128i(shl_imm_u32_m128i::<12>(x), shr_imm_u32_m128i::<20>(x))
    }
    fn rotate_8(x: m128i) -> m128i {
        bitor_m128i(shl_imm_u32_m128i::<8>(x), shr_imm_u32_m128i::<24>(x))
    }
    fn rotate_7(x: m128i) -> m128i {
        bitor_m128i(shl_imm_u32_m128i::<7>(x), shr_imm_u32_m128i::<25>(x))
    }
    fn quarter_rounds(a: &mut m128i, b: &mut m128i, c: &mut m128i, d: &mut m128i) {
        *a = add_i32_m128i(*a, *b);
        *d = rotate_16(bitxor_m128i(*d, *a));
        *c = add_i32_m128i(*c, *d);
        *b = rotate_12(bitxor_m128i(*b, *c));
        *a = add_i32_m128i(*a, *b);
        *d = rotate_8(bitxor_m128i(*d, *a));
        *c = add_i32_m128i(*c, *d);
        *b = rotate_7(bitxor_m128i(*b, *c));
    }

    let [k0, k1, k2, k3, k4, k5, k6, k7] = *key;
    let (mut a, mut b) = (m128i::from(CONSTANTS), m128i::from([k0, k1, k2, k3]));
    let (mut c, mut d) = (m128i::from([k4, k5, k6, k7]), m128i::from(input));
    for _ in 0..DOUBLE_ROUNDS {
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        // The diagonals into columns: word i of row r moves to lane i - r.
        b = shuffle_lanes::<0x39>(b);
        c = shuffle_lanes::<0x4e>(c);
        d = shuffle_lanes::<0x93>(d);
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        b = shuffle_lanes::<0x93>(b);
        c = shuffle_lanes::<0x4e>(c);
        d = shuffle_lanes::<0x39>(d);
    }
    (a.into(), d.into())
}

/// The same rounds word by word, row by row, elsewhere.
#[cfg(not(target_arch = "x86_64"))]
fn rounds(key: &KeyWords, input: Row) -> (Row, Row) {
    let [k0, k1, k2, k3, k4, k5, k6, k7] = *key;
    let (mut a, mut b, mut c, mut d) = (CONSTANTS, [k0, k1, k2, k3], [k4, k5, k6, k7], input);
    for _ in 0..DOUBLE_ROUNDS {
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        b.rotate_left(1);
        c.rotate_left(2);
        d.rotate_left(3);
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        b.rotate_left(3);
        c.rotate_left(2);
        d.rotate_left(1);
    }
    (a, d)
}

#[cfg(not(target_arch = "x86_64"))]
fn quarter_rounds(a: &mut Row, b: &mut Row, c: &mut Row, d: &mut Row) {
    fn step(x: &mut Row, y: &Row, z: &mut Row, bits: u32) {
        for ((x, y), z) in x.iter_mut().zip(y).zip(z.iter_mut()) {
            *x = x.wrapping_add(*y);
            *z = (*z ^ *x).rotate_left(bits);
        }
    }
    step(a, b, d, 16);
    step(c, d, b, 12);
    step(a, b, d, 8);
    step(c, d, b, 7);
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;
    use chacha20::cipher::consts::U10;

    fn words(bytes: [u8; 16]) -> Row {
        let mut row = [0; 4];
        for (word, chunk) in row.iter_mut().zip(bytes.chunks_exact(4)) {
            *word = u32::from_le_bytes(chunk.try_into().unwrap());
        }
        row
    }

    /// draft-irtf-cfrg-xchacha-03 2.2.1.
    #[test]
    fn the_draft_test_vector() {
        let key: [u8; 32] = std::array::from_fn(|at| at as u8);
        let input = [
            0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0, 0x31, 0x41, 0x59, 0x27,
        ];
        let expected = "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc";
        let subkey = hchacha20(&key_words(&key), words(input));
        let expected: Vec<u8> = (0..64)
            .step_by(2)
            .map(|at| u8::from_str_radix(&expected[at..at + 2], 16).unwrap())
            .collect();
        assert_eq!(subkey.as_slice(), expected);
    }

    #[test]
    fn it_matches_the_word_by_word_version() {
        for seed in 0_u32..64 {
            let key: [u8; 32] = std::array::from_fn(|at| (seed * 37 + at as u32 * 11) as u8);
            let input: [u8; 16] = std::array::from_fn(|at| (seed * 5 + at as u32 * 3) as u8);
            let theirs = chacha20::hchacha::<U10>(&key.into(), &input.into());
            assert_eq!(hchacha20(&key_words(&key), words(input)), theirs.as_slice());
        }
    }
}
