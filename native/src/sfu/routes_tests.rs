use super::*;
use crate::sfu::crypto::Mode;
use crate::sfu::rtp::{classify, Datagram};
use std::net::Ipv4Addr;

const AES: &str = Mode::NAMES[0];
const XCHACHA: &str = Mode::NAMES[1];

pub(super) fn at(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
}

pub(super) fn key(ssrc: u32) -> [u8; 32] {
    [u8::try_from(ssrc % 251).unwrap(); 32]
}

pub(super) fn mode(ssrc: u32) -> &'static str {
    if ssrc % 2 == 0 {
        AES
    } else {
        XCHACHA
    }
}

/// A routing table where each SSRC is added, keyed (mode by parity) and bound to port SSRC
/// (discovered from it, then declared, as a client does).
pub(super) fn routes(members: &[(u32, u64)]) -> Routes {
    let mut routes = Routes::default();
    for &(ssrc, channel) in members {
        routes.apply(Command::Add {
            ssrc,
            channel,
            speaks: true,
            hears: true,
        });
        routes.apply(set_key(ssrc, key(ssrc)));
        discover_and_bind(&mut routes, ssrc);
    }
    routes
}

pub(super) fn discover_and_bind(routes: &mut Routes, ssrc: u32) {
    routes.discover(ssrc, at(port(ssrc))).unwrap();
    routes.apply(bind(ssrc, at(port(ssrc))));
}

pub(super) fn bind(ssrc: u32, declared: SocketAddrV4) -> Command {
    Command::Bind {
        ssrc,
        declared: Some(declared),
    }
}

pub(super) fn bound(routes: &Routes, ssrc: u32) -> Option<SocketAddrV4> {
    routes.addresses.lock().unwrap().get(&ssrc).copied()
}

pub(super) fn port(ssrc: u32) -> u16 {
    u16::try_from(ssrc).unwrap()
}

pub(super) fn set_key(ssrc: u32, bytes: [u8; 32]) -> Command {
    Command::SetKey {
        ssrc,
        cipher: Cipher::new(mode(ssrc), &bytes).unwrap(),
        key: bytes,
    }
}

/// A packet from `ssrc` as its client seals it.
pub(super) fn packet(ssrc: u32, counter: u32, opus: &[u8]) -> Vec<u8> {
    sealed_with(key(ssrc), ssrc, counter, opus)
}

/// A packet naming `ssrc`, sealed with `bytes` (a stranger's key, unless it is the SSRC's).
pub(super) fn sealed_with(bytes: [u8; 32], ssrc: u32, counter: u32, opus: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x80, 0x78, 0, 1, 0, 0, 0, 2];
    packet.extend(ssrc.to_be_bytes());
    let mut sealed = opus.to_vec();
    let cipher = Cipher::new(mode(ssrc), &bytes).unwrap();
    let tag = cipher.seal(counter, &packet.clone(), &mut sealed).unwrap();
    packet.extend(sealed);
    packet.extend(tag);
    packet.extend(counter.to_be_bytes());
    packet
}

pub(super) fn open(
    routes: &mut Routes,
    packet: Vec<u8>,
    from: SocketAddrV4,
) -> Result<u64, Dropped> {
    counted_open(routes, packet, from).0
}

/// The outcome, and how many rebinds it made.
pub(super) fn counted_open(
    routes: &mut Routes,
    mut packet: Vec<u8>,
    from: SocketAddrV4,
) -> (Result<u64, Dropped>, u64) {
    let Datagram::Rtp(rtp) = classify(&packet) else {
        panic!("not rtp")
    };
    let mut tally = Tally::default();
    let opened = routes.open(&rtp, from, &mut packet, &mut tally);
    (opened, tally.rebinds)
}

pub(super) fn listeners(routes: &mut Routes, sender: u32, channel: u64) -> Vec<(u16, u32)> {
    let mut found = Vec::new();
    routes.for_each_listener(sender, channel, |listener| {
        let listener = listener.unwrap();
        found.push((listener.address.port(), listener.counter));
    });
    found
}

#[test]
fn a_packet_reaches_the_others_of_its_channel_only() {
    let mut routes = routes(&[(1, 10), (2, 10), (3, 10), (4, 20)]);
    assert_eq!(open(&mut routes, packet(1, 0, b"opus"), at(1)), Ok(10));
    let first = FIRST_SERVER_COUNTER;
    assert_eq!(listeners(&mut routes, 1, 10), [(2, first), (3, first)]);
    assert_eq!(
        listeners(&mut routes, 1, 10),
        [(2, first + 1), (3, first + 1)]
    );
    assert_eq!(listeners(&mut routes, 3, 10), [(1, first), (2, first + 2)]);
    assert_eq!(listeners(&mut routes, 4, 20), []);
}

#[test]
fn the_packet_is_decrypted_in_place() {
    let mut routes = routes(&[(1, 10), (2, 10)]);
    for sender in [1, 2] {
        let mut sealed = packet(sender, 0, b"opus frame");
        let Datagram::Rtp(rtp) = classify(&sealed) else {
            panic!("not rtp")
        };
        let mut tally = Tally::default();
        routes
            .open(&rtp, at(port(sender)), &mut sealed, &mut tally)
            .unwrap();
        assert_eq!(&sealed[12..22], b"opus frame");
    }
}

#[test]
fn each_check_drops_with_its_reason() {
    let mut routes = routes(&[(1, 10), (2, 10)]);
    assert_eq!(
        open(&mut routes, packet(9, 0, b"x"), at(9)),
        Err(Dropped::UnknownSsrc)
    );
    assert_eq!(
        open(&mut routes, sealed_with([0xaa; 32], 1, 0, b"x"), at(2)),
        Err(Dropped::WrongAddress)
    );
    let mut forged = packet(1, 0, b"x");
    forged[12] ^= 1;
    assert_eq!(open(&mut routes, forged, at(1)), Err(Dropped::BadTag));
    assert_eq!(open(&mut routes, packet(1, 0, b"x"), at(1)), Ok(10));
    assert_eq!(
        open(&mut routes, packet(1, 0, b"x"), at(1)),
        Err(Dropped::Replayed)
    );
    routes.apply(Command::SetFlags {
        ssrc: 1,
        speaks: false,
        hears: true,
    });
    assert_eq!(
        open(&mut routes, packet(1, 1, b"x"), at(1)),
        Err(Dropped::Muted)
    );
    routes.apply(Command::Add {
        ssrc: 3,
        channel: 10,
        speaks: true,
        hears: true,
    });
    routes.discover(3, at(3)).unwrap();
    assert_eq!(
        open(&mut routes, packet(3, 0, b"x"), at(3)),
        Err(Dropped::NotKeyed)
    );
    assert_eq!(routes.discover(9, at(9)), Err(Dropped::UnknownSsrc));
}

pub(super) fn add(routes: &mut Routes, ssrc: u32) {
    routes.apply(Command::Add {
        ssrc,
        channel: 10,
        speaks: true,
        hears: true,
    });
}

#[test]
fn listeners_must_hear_be_keyed_and_bound() {
    let mut routes = routes(&[(1, 10), (2, 10), (3, 10)]);
    routes.apply(Command::SetFlags {
        ssrc: 2,
        speaks: true,
        hears: false,
    });
    routes.apply(Command::Add {
        ssrc: 4,
        channel: 10,
        speaks: true,
        hears: true,
    });
    discover_and_bind(&mut routes, 4); // bound, no key
    routes.apply(Command::Add {
        ssrc: 5,
        channel: 10,
        speaks: true,
        hears: true,
    });
    routes.apply(set_key(5, key(5))); // keyed, not bound
    let found: Vec<u16> = listeners(&mut routes, 1, 10).iter().map(|l| l.0).collect();
    assert_eq!(found, [3]);
}

#[test]
fn moves_and_removals_change_who_hears() {
    let mut routes = routes(&[(1, 10), (2, 10), (3, 20)]);
    routes.apply(Command::Move {
        ssrc: 2,
        channel: 20,
    });
    assert_eq!(listeners(&mut routes, 1, 10), []);
    assert_eq!(open(&mut routes, packet(2, 0, b"x"), at(2)), Ok(20));
    assert_eq!(listeners(&mut routes, 2, 20).len(), 1);
    routes.apply(Command::Remove { ssrc: 3 });
    assert_eq!(listeners(&mut routes, 2, 20), []);
    assert_eq!(
        open(&mut routes, packet(3, 0, b"x"), at(3)),
        Err(Dropped::UnknownSsrc)
    );
    // Unknown SSRCs are no-ops.
    routes.apply(Command::Remove { ssrc: 99 });
    routes.apply(Command::Move {
        ssrc: 99,
        channel: 1,
    });
    routes.apply(set_key(99, key(99)));
    let mut channels: Vec<_> = routes
        .channels
        .iter()
        .map(|(c, m)| (*c, m.clone()))
        .collect();
    channels.sort_unstable();
    assert_eq!(channels, [(10, vec![1]), (20, vec![2])]);
}

#[test]
fn a_new_key_resets_the_window_and_the_same_key_keeps_it() {
    let mut routes = routes(&[(1, 10)]);
    assert_eq!(open(&mut routes, packet(1, 5, b"x"), at(1)), Ok(10));
    routes.apply(set_key(1, key(1)));
    assert_eq!(
        open(&mut routes, packet(1, 5, b"x"), at(1)),
        Err(Dropped::Replayed)
    );
    routes.apply(set_key(1, [0xee; 32]));
    // Sealed with the old key: the counter is free again, the tag is not.
    assert_eq!(
        open(&mut routes, packet(1, 5, b"x"), at(1)),
        Err(Dropped::BadTag)
    );
}

#[test]
fn a_re_add_starts_fresh_but_keeps_counting() {
    let mut routes = routes(&[(1, 10), (2, 10)]);
    assert_eq!(listeners(&mut routes, 1, 10), [(2, FIRST_SERVER_COUNTER)]);
    routes.apply(Command::Add {
        ssrc: 2,
        channel: 10,
        speaks: true,
        hears: true,
    });
    assert_eq!(listeners(&mut routes, 1, 10), [], "no key nor address yet");
    routes.apply(set_key(2, key(2)));
    discover_and_bind(&mut routes, 2);
    assert_eq!(
        listeners(&mut routes, 1, 10),
        [(2, FIRST_SERVER_COUNTER + 1)]
    );
    assert_eq!(routes.channels[&10], [1, 2]);
}

/// `routes(&[(1, 10), (2, 10)])` whose counters start at `u32::MAX - 1`: two copies each.
fn near_the_end() -> Routes {
    let mut routes = Routes {
        first_counter: u32::MAX - 1,
        ..Routes::default()
    };
    for ssrc in [1, 2] {
        add(&mut routes, ssrc);
        routes.apply(set_key(ssrc, key(ssrc)));
        discover_and_bind(&mut routes, ssrc);
    }
    routes
}

fn outcomes(routes: &mut Routes) -> Vec<Result<u32, Dropped>> {
    let mut found = Vec::new();
    routes.for_each_listener(1, 10, |listener| {
        found.push(listener.map(|listener| listener.counter));
    });
    found
}

#[test]
fn an_exhausted_listener_gets_nothing_more_until_a_new_key() {
    let mut routes = near_the_end();
    assert_eq!(outcomes(&mut routes), [Ok(u32::MAX - 1)]);
    assert_eq!(outcomes(&mut routes), [Ok(u32::MAX)]);
    assert_eq!(outcomes(&mut routes), [Err(Dropped::CounterExhausted)]);
    // The same key again (a resume): its nonces are used up.
    routes.apply(set_key(2, key(2)));
    assert_eq!(outcomes(&mut routes), [Err(Dropped::CounterExhausted)]);
    // A new key makes the old nonces harmless: counting starts over.
    routes.apply(set_key(2, [0xee; 32]));
    assert_eq!(outcomes(&mut routes), [Ok(u32::MAX - 1)]);
}

#[test]
fn a_new_mode_with_the_same_key_bytes_counts_afresh_too() {
    let mut routes = near_the_end();
    assert_eq!(outcomes(&mut routes), [Ok(u32::MAX - 1)]);
    assert_eq!(outcomes(&mut routes), [Ok(u32::MAX)]);
    routes.apply(Command::SetKey {
        ssrc: 2,
        cipher: Cipher::new(XCHACHA, &key(2)).unwrap(),
        key: key(2),
    });
    assert_ne!(mode(2), XCHACHA);
    assert_eq!(outcomes(&mut routes), [Ok(u32::MAX - 1)]);
}

#[test]
fn a_re_add_with_the_same_key_carries_both_counters_on() {
    let mut routes = routes(&[(1, 10), (2, 10)]);
    assert_eq!(open(&mut routes, packet(2, 5, b"x"), at(2)), Ok(10));
    assert_eq!(listeners(&mut routes, 1, 10), [(2, FIRST_SERVER_COUNTER)]);
    add(&mut routes, 2);
    add(&mut routes, 2); // twice: the earlier key is still the one kept
    routes.apply(set_key(2, key(2)));
    discover_and_bind(&mut routes, 2);
    assert_eq!(
        open(&mut routes, packet(2, 5, b"x"), at(2)),
        Err(Dropped::Replayed)
    );
    assert_eq!(
        listeners(&mut routes, 1, 10),
        [(2, FIRST_SERVER_COUNTER + 1)]
    );
    // Added again with a new key: both start over.
    add(&mut routes, 2);
    routes.apply(set_key(2, [0xee; 32]));
    discover_and_bind(&mut routes, 2);
    assert_eq!(listeners(&mut routes, 1, 10), [(2, FIRST_SERVER_COUNTER)]);
}
