//! The two transport encryption modes Trioxide offers, sealing and opening packets in place.
//!
//! Both are AEADs keyed by the session's 32-byte `secret_key`, with the packet's 4-byte
//! counter as the first bytes of the nonce and zeros after it: 12 bytes for AES-256-GCM, 24 for
//! XChaCha20-Poly1305 (discord.py `_encrypt_aead_xchacha20_poly1305_rtpsize`, @discordjs/voice
//! `encryptOpusPacket` and `VoiceReceiver.decrypt`).

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use chacha20poly1305::XChaCha20Poly1305;

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

/// A key schedule for one mode, built once per key.
pub enum Cipher {
    // Boxed: the AES key schedule is ten times the size of the ChaCha key.
    Aes256Gcm(Box<Aes256Gcm>),
    XChaCha20Poly1305(XChaCha20Poly1305),
}

impl Cipher {
    /// A cipher for `mode` (a Discord mode name) with this key.
    ///
    /// # Errors
    /// An unknown mode, or a key that is not 32 bytes.
    pub fn new(mode: &str, key: &[u8]) -> Result<Self, KeyError> {
        let mode = Mode::from_name(mode).ok_or_else(|| KeyError::UnknownMode(mode.to_owned()))?;
        let key: [u8; KEY_BYTES] = key.try_into().map_err(|_| KeyError::KeyLength(key.len()))?;
        let key = GenericArray::from(key);
        Ok(match mode {
            Mode::Aes256Gcm => Self::Aes256Gcm(Box::new(Aes256Gcm::new(&key))),
            Mode::XChaCha20Poly1305 => Self::XChaCha20Poly1305(XChaCha20Poly1305::new(&key)),
        })
    }

    #[must_use]
    pub fn mode(&self) -> Mode {
        match self {
            Self::Aes256Gcm(_) => Mode::Aes256Gcm,
            Self::XChaCha20Poly1305(_) => Mode::XChaCha20Poly1305,
        }
    }

    /// Encrypts `data` in place, authenticating `aad` with it; returns the tag.
    #[must_use]
    pub fn seal(&self, counter: u32, aad: &[u8], data: &mut [u8]) -> [u8; TAG_BYTES] {
        let sealed = match self {
            Self::Aes256Gcm(cipher) => {
                cipher.encrypt_in_place_detached(&short_nonce(counter), aad, data)
            }
            Self::XChaCha20Poly1305(cipher) => {
                cipher.encrypt_in_place_detached(&long_nonce(counter), aad, data)
            }
        };
        // Sealing fails only for data past the mode's limit (64 GiB), never for a datagram.
        sealed.map(Into::into).unwrap_or_default()
    }

    /// Decrypts `data` in place if `tag` authenticates it and `aad`; leaves it as it was if not.
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
        let tag = GenericArray::from(tag);
        match self {
            Self::Aes256Gcm(cipher) => {
                cipher.decrypt_in_place_detached(&short_nonce(counter), aad, data, &tag)
            }
            Self::XChaCha20Poly1305(cipher) => {
                cipher.decrypt_in_place_detached(&long_nonce(counter), aad, data, &tag)
            }
        }
        .map_err(|_| BadTag)
    }
}

fn short_nonce(counter: u32) -> GenericArray<u8, aes_gcm::aead::consts::U12> {
    let [a, b, c, d] = counter.to_be_bytes();
    GenericArray::from([a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0])
}

fn long_nonce(counter: u32) -> GenericArray<u8, aes_gcm::aead::consts::U24> {
    let [a, b, c, d] = counter.to_be_bytes();
    let mut nonce = [0; 24];
    for (into, byte) in nonce.iter_mut().zip([a, b, c, d]) {
        *into = byte;
    }
    GenericArray::from(nonce)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn each_mode() -> [Cipher; 2] {
        Mode::NAMES.map(|name| Cipher::new(name, &KEY).unwrap())
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
            let tag = cipher.seal(5, b"header", &mut data);
            assert_ne!(&data, b"opus frame");
            cipher.open(5, b"header", &mut data, tag).unwrap();
            assert_eq!(&data, b"opus frame");
        }
    }

    #[test]
    fn another_counter_header_key_or_tag_does_not_open() {
        for cipher in each_mode() {
            let mut sealed = *b"opus frame";
            let tag = cipher.seal(5, b"header", &mut sealed);
            let other_key = Cipher::new(
                match cipher.mode() {
                    Mode::Aes256Gcm => Mode::NAMES[0],
                    Mode::XChaCha20Poly1305 => Mode::NAMES[1],
                },
                &[8; 32],
            )
            .unwrap();
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
                assert_eq!(data, sealed, "a failed open leaves the data as it was");
            }
        }
    }

    #[test]
    fn the_nonce_is_the_counter_then_zeros() {
        // Sealed by hand with the nonce spelled out, as the clients do.
        let aes = Aes256Gcm::new(&GenericArray::from(KEY));
        let mut nonce = [0_u8; 12];
        nonce[..4].copy_from_slice(&0x0102_0304_u32.to_be_bytes());
        let mut expected = *b"frame";
        let expected_tag = aes
            .encrypt_in_place_detached(&GenericArray::from(nonce), b"aad", &mut expected)
            .unwrap();
        let mut data = *b"frame";
        let tag = Cipher::new(Mode::NAMES[0], &KEY)
            .unwrap()
            .seal(0x0102_0304, b"aad", &mut data);
        assert_eq!((data, tag), (expected, expected_tag.into()));
    }
}
