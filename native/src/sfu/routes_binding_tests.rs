//! The routing table's address binding: discovery, declaration, and rebinding by a packet.

use super::tests::{
    add, at, bind, bound, counted_open, key, listeners, open, packet, routes, sealed_with, set_key,
};
use super::*;

#[test]
fn discovery_alone_binds_nothing_the_declaration_does() {
    let mut routes = Routes::default();
    add(&mut routes, 1);
    routes.apply(set_key(1, key(1)));
    routes.discover(1, at(1)).unwrap();
    assert_eq!(bound(&routes, 1), None);
    routes.apply(bind(1, at(1)));
    assert_eq!(bound(&routes, 1), Some(at(1)));
    assert_eq!(open(&mut routes, packet(1, 0, b"x"), at(1)), Ok(10));
    routes.apply(Command::Remove { ssrc: 1 });
    assert!(routes.addresses.lock().unwrap().is_empty());
    // Unknown SSRCs: a no-op.
    routes.apply(bind(1, at(1)));
    assert_eq!(bound(&routes, 1), None);
}

#[test]
fn a_strangers_discovery_before_or_after_does_not_capture_the_ssrc() {
    let (victim, thief) = (at(1), at(666));
    for order in [[thief, victim], [victim, thief]] {
        let mut routes = routes(&[(2, 10)]);
        add(&mut routes, 1);
        routes.apply(set_key(1, key(1)));
        for from in order {
            routes.discover(1, from).unwrap();
        }
        routes.apply(bind(1, victim));
        assert_eq!(bound(&routes, 1), Some(victim));
        assert_eq!(listeners(&mut routes, 2, 10), [(1, FIRST_SERVER_COUNTER)]);
        assert_eq!(
            open(&mut routes, sealed_with([0xaa; 32], 1, 0, b"x"), thief),
            Err(Dropped::WrongAddress)
        );
        assert_eq!(open(&mut routes, packet(1, 0, b"x"), victim), Ok(10));
    }
}

#[test]
fn a_declaration_before_any_discovery_awaits_that_address() {
    let mut routes = Routes::default();
    add(&mut routes, 1);
    routes.apply(bind(1, at(1)));
    routes.discover(1, at(666)).unwrap();
    assert_eq!(bound(&routes, 1), None);
    routes.discover(1, at(1)).unwrap();
    assert_eq!(bound(&routes, 1), Some(at(1)));
}

#[test]
fn an_authenticated_packet_from_elsewhere_rebinds_and_nothing_else_does() {
    let mut routes = routes(&[(1, 10), (2, 10)]);
    let moved = at(5001);
    assert_eq!(open(&mut routes, packet(1, 7, b"x"), at(1)), Ok(10));
    let forged = sealed_with([0xaa; 32], 1, 8, b"x");
    assert_eq!(
        counted_open(&mut routes, forged, moved),
        (Err(Dropped::WrongAddress), 0)
    );
    assert_eq!(
        counted_open(&mut routes, packet(1, 7, b"x"), moved),
        (Err(Dropped::WrongAddress), 0),
        "a replay is not fresh"
    );
    assert_eq!(bound(&routes, 1), Some(at(1)));
    assert_eq!(
        counted_open(&mut routes, packet(1, 8, b"x"), moved),
        (Ok(10), 1)
    );
    assert_eq!(bound(&routes, 1), Some(moved));
    assert_eq!(
        listeners(&mut routes, 2, 10),
        [(5001, FIRST_SERVER_COUNTER)]
    );
    // The old address is now the stranger.
    assert_eq!(
        open(&mut routes, sealed_with([0xaa; 32], 1, 9, b"x"), at(1)),
        Err(Dropped::WrongAddress)
    );
    assert_eq!(
        counted_open(&mut routes, packet(1, 9, b"x"), moved),
        (Ok(10), 0)
    );
}

#[test]
fn a_muted_sender_still_rebinds_but_is_not_forwarded() {
    let mut routes = routes(&[(1, 10), (2, 10)]);
    routes.apply(Command::SetFlags {
        ssrc: 1,
        speaks: false,
        hears: true,
    });
    assert_eq!(
        counted_open(&mut routes, packet(1, 0, b"x"), at(5001)),
        (Err(Dropped::Muted), 1)
    );
    assert_eq!(bound(&routes, 1), Some(at(5001)));
    assert_eq!(
        open(&mut routes, packet(1, 1, b"x"), at(5001)),
        Err(Dropped::Muted)
    );
}

#[test]
fn an_unbound_keyed_sender_is_bound_by_its_first_authenticated_packet() {
    let mut routes = Routes::default();
    add(&mut routes, 1);
    routes.apply(set_key(1, key(1)));
    assert_eq!(
        counted_open(&mut routes, packet(1, 0, b"x"), at(1)),
        (Ok(10), 1)
    );
    assert_eq!(bound(&routes, 1), Some(at(1)));
}
