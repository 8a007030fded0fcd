//! The two transport encryption modes Trioxide offers, sealing and opening packets in place.
//!
//! Both are AEADs keyed by the session's 32-byte `secret_key`, with the packet's 4-byte
//! counter as the first bytes of the nonce and zeros after it: 12 bytes for AES-256-GCM, 24 for
//! XChaCha20-Poly1305 (discord.py `_encrypt_aead_xchacha20_poly1305_rtpsize`, @discordjs/voice
//! `encryptOpusPacket` and `VoiceReceiver.decrypt`).
//!
//! ring does the AEADs: on a portable (non `target-cpu=native`) build its assembly dispatches
//! at run time, while `RustCrypto`'s `aes-gcm` took 4x and `chacha20poly1305` 7x as long per
//! voice packet here. XChaCha20-Poly1305 is `HChaCha20` for a subkey from
//! the nonce's first 16 bytes (sfu/hchacha.rs), then IETF ChaCha20-Poly1305 with the last 8 bytes, zero-led
//! (draft-irtf-cfrg-xchacha 2.3): here, subkey from `counter ‖ 0¹²` and an all-zero nonce.

use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM, CHACHA20_POLY1305};

use super::hchacha::{hchacha20, key_words, KeyWords};
use super::rtp::TAG_BYTES;

pub const KEY_BYTES: usize = 32;

/// A transport encryption mode, by its Discord name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Aes256Gcm,
    XChaCha20Poly1305,
}

impl Mode {
    pub const NAMES: [&'static str; 2] =
        ["aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize"];

    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "aead_aes256_gcm_rtpsize" => Some(Self::Aes256Gcm),
            "aead_xchacha20_poly1305_rtpsize" => Some(Self::XChaCha20Poly1305),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("unknown encryption mode {0:?}: expected one of {names:?}", names = Mode::NAMES)]
    UnknownMode(String),
    #[error("a secret key has {KEY_BYTES} bytes, not {0}")]
    KeyLength(usize),
}

/// The tag did not match: wrong key, or bytes changed on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTag;

/// A key for one mode, prepared once per key.
pub enum Cipher {
    // Boxed: the AES key schedule is 17 times the size of a ChaCha key.
    Aes256Gcm(Box<LessSafeKey>),
    /// The session key: each packet's ChaCha20-Poly1305 key is derived from it and its counter.
    XChaCha20Poly1305(KeyWords),
}

impl Cipher {
    /// A cipher for `mode` (a Discord mode name) with this key.
    ///
    /// # Errors
    /// An unknown mode, or a key that is not 32 bytes.
    pub fn new(mode: &str, key: &[u8]) -> Result<Self, KeyError> {
        let mode = Mode::from_name(mode).ok_or_else(|| KeyError::UnknownMode(mode.to_owned()))?;
        let key: [u8; KEY_BYTES] = key.try_into().map_err(|_| KeyError::KeyLength(key.len()))?;
        Ok(match mode {
            Mode::Aes256Gcm => Self::Aes256Gcm(Box::new(
                aead_key(&AES_256_GCM, &key).ok_or(KeyError::KeyLength(KEY_BYTES))?,
            )),
            Mode::XChaCha20Poly1305 => Self::XChaCha20Poly1305(key_words(&key)),
        })
    }

    #[must_use]
    pub fn mode(&self) -> Mode {
        match self {
            Self::Aes256Gcm(_) => Mode::Aes256Gcm,
            Self::XChaCha20Poly1305(_) => Mode::XChaCha20Poly1305,
        }
    }

    /// Runs `use_key` with the AEAD key and 12-byte nonce for this counter. The derived
    /// `ChaCha20` key is used where it is built: ring's keys are large enough (an enum sized
    /// for AES-GCM's tables) that returning one costs a copy of it per packet.
    fn with_key<R>(
        &self,
        counter: u32,
        use_key: impl FnOnce(&LessSafeKey, Nonce) -> R,
    ) -> Option<R> {
        let [a, b, c, d] = counter.to_be_bytes();
        match self {
            Self::Aes256Gcm(key) => Some(use_key(
                key,
                Nonce::assume_unique_for_key([a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0]),
            )),
            Self::XChaCha20Poly1305(key) => {
                // The nonce's first 16 bytes, `counter ‖ 0¹²`, as little-endian words.
                let subkey = hchacha20(key, [u32::from_le_bytes([a, b, c, d]), 0, 0, 0]);
                let key = aead_key(&CHACHA20_POLY1305, &subkey)?;
                Some(use_key(&key, Nonce::assume_unique_for_key([0; 12])))
            }
        }
    }

    /// Encrypts `data` in place, authenticating `aad` with it; returns the tag. None only
    /// for data past the mode's limit (gigabytes), never for a datagram.
    #[must_use]
    pub fn seal(&self, counter: u32, aad: &[u8], data: &mut [u8]) -> Option<[u8; TAG_BYTES]> {
        let tag = self
            .with_key(counter, |key, nonce| {
                key.seal_in_place_separate_tag(nonce, Aad::from(aad), data)
            })?
            .ok()?;
        tag.as_ref().try_into().ok()
    }

    /// Decrypts `data` in place if `tag` authenticates it and `aad`. On `BadTag` the data is
    /// garbage: drop it.
    ///
    /// # Errors
    /// `BadTag` when the tag does not match.
    pub fn open(
        &self,
        counter: u32,
        aad: &[u8],
        data: &mut [u8],
        tag: [u8; TAG_BYTES],
    ) -> Result<(), BadTag> {
        self.with_key(counter, |key, nonce| {
            key.open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(tag), data, 0..)
                .map(|_| ())
        })
        .ok_or(BadTag)?
        .map_err(|_| BadTag)
    }
}

fn aead_key(algorithm: &'static ring::aead::Algorithm, key: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(algorithm, key).ok().map(LessSafeKey::new)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn each_mode() -> [Cipher; 2] {
        Mode::NAMES.map(|name| Cipher::new(name, &KEY).unwrap())
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn modes_and_keys_are_checked() {
        assert_eq!(
            Cipher::new("xsalsa20_poly1305", &KEY).err(),
            Some(KeyError::UnknownMode("xsalsa20_poly1305".into()))
        );
        assert_eq!(
            Cipher::new(Mode::NAMES[0], &[0; 31]).err(),
            Some(KeyError::KeyLength(31))
        );
        let modes = each_mode().map(|cipher| cipher.mode());
        assert_eq!(modes, [Mode::Aes256Gcm, Mode::XChaCha20Poly1305]);
    }

    #[test]
    fn a_sealed_packet_opens_in_both_modes() {
        for cipher in each_mode() {
            let mut data = *b"opus frame";
            let tag = cipher.seal(5, b"header", &mut data).unwrap();
            assert_ne!(&data, b"opus frame");
            cipher.open(5, b"header", &mut data, tag).unwrap();
            assert_eq!(&data, b"opus frame");
        }
    }

    #[test]
    fn another_counter_header_key_or_tag_does_not_open() {
        for cipher in each_mode() {
            let mut sealed = *b"opus frame";
            let tag = cipher.seal(5, b"header", &mut sealed).unwrap();
            let name = match cipher.mode() {
                Mode::Aes256Gcm => Mode::NAMES[0],
                Mode::XChaCha20Poly1305 => Mode::NAMES[1],
            };
            let other_key = Cipher::new(name, &[8; 32]).unwrap();
            let mut bad_tag = tag;
            bad_tag[0] ^= 1;
            let tries: [(&Cipher, u32, &[u8], [u8; 16]); 4] = [
                (&cipher, 6, b"header", tag),
                (&cipher, 5, b"headex", tag),
                (&other_key, 5, b"header", tag),
                (&cipher, 5, b"header", bad_tag),
            ];
            for (key, counter, aad, tag) in tries {
                let mut data = sealed;
                assert_eq!(key.open(counter, aad, &mut data, tag), Err(BadTag));
            }
        }
    }

    /// draft-irtf-cfrg-xchacha-03 A.3.1: the subkey and inner nonce this module builds give
    /// the draft's ciphertext, so XChaCha20-Poly1305 is the real thing.
    #[test]
    fn xchacha_matches_the_draft_test_vector() {
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let nonce = hex("404142434445464748494a4b4c4d4e4f5051525354555657");
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let mut data = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec();
        let first: [u8; 16] = nonce[..16].try_into().unwrap();
        let input = std::array::from_fn(|at| {
            u32::from_le_bytes(first[4 * at..4 * at + 4].try_into().unwrap())
        });
        let subkey = hchacha20(&key_words(&key), input);
        let mut inner = [0; 12];
        inner[4..].copy_from_slice(&nonce[16..]);
        let tag = aead_key(&CHACHA20_POLY1305, &subkey)
            .unwrap()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(inner),
                Aad::from(&aad),
                &mut data,
            )
            .unwrap();
        assert_eq!(&data[..8], hex("bd6d179d3e83d43b").as_slice());
        assert_eq!(
            tag.as_ref(),
            hex("c0875924c1c7987947deafd8780acf49").as_slice()
        );
    }
}
