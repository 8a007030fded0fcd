//! Which UDP address an SSRC's media comes from and goes to, and who may set it.
//!
//! Anyone can send an IP discovery request naming any SSRC, so discovery alone must not bind:
//! it only makes its source a *candidate*. The voice gateway then declares the address the
//! client named in `SELECT_PROTOCOL`, which binds a candidate. After that only the key holder
//! can move the binding, with a packet that authenticates (a NAT mapping that changed).

use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// Discovery sources remembered per SSRC: a client asks once, or a few times if answers are
/// lost; a stranger's requests push out the oldest, never the latest.
pub const CANDIDATES: usize = 4;

#[derive(Debug, Default)]
pub struct Binding {
    bound: Option<SocketAddrV4>,
    /// Distinct discovery sources, the most recent last.
    candidates: VecDeque<SocketAddrV4>,
    /// Declared before any discovery came: the first discovery from exactly it binds.
    awaited: Option<SocketAddrV4>,
}

impl Binding {
    #[must_use]
    pub fn bound(&self) -> Option<SocketAddrV4> {
        self.bound
    }

    /// A discovery request from `from`; true if it bound the SSRC (the awaited address).
    pub fn discovered(&mut self, from: SocketAddrV4) -> bool {
        self.candidates.retain(|&candidate| candidate != from);
        if self.candidates.len() >= CANDIDATES {
            self.candidates.pop_front();
        }
        self.candidates.push_back(from);
        if self.awaited == Some(from) {
            self.awaited = None;
            self.bound = Some(from);
            return true;
        }
        false
    }

    /// The address the client declared (None: none usable). Binds it if discovery saw it,
    /// else the most recent candidate (a client behind a NAT declares its local address, and
    /// its discovery came just before); with no candidate yet, awaits the declared address.
    /// True if the binding changed.
    pub fn declare(&mut self, declared: Option<SocketAddrV4>) -> bool {
        let chosen = match declared {
            Some(address) if self.candidates.contains(&address) => Some(address),
            _ => self.candidates.back().copied(),
        };
        if let Some(address) = chosen {
            self.rebind(address)
        } else {
            self.awaited = declared;
            false
        }
    }

    /// Binds `to` (a packet from it authenticated, or the declaration chose it); true if
    /// the binding changed.
    pub fn rebind(&mut self, to: SocketAddrV4) -> bool {
        self.awaited = None;
        self.bound.replace(to) != Some(to)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn at(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    #[test]
    fn discovery_alone_binds_nothing() {
        let mut binding = Binding::default();
        assert!(!binding.discovered(at(1)));
        assert!(!binding.discovered(at(2)));
        assert_eq!(binding.bound(), None);
    }

    #[test]
    fn the_declared_candidate_wins_over_a_later_stranger() {
        let mut binding = Binding::default();
        binding.discovered(at(1));
        binding.discovered(at(666));
        assert!(binding.declare(Some(at(1))));
        assert_eq!(binding.bound(), Some(at(1)));
        // A discovery after the binding changes nothing.
        assert!(!binding.discovered(at(777)));
        assert_eq!(binding.bound(), Some(at(1)));
    }

    #[test]
    fn an_unseen_declaration_takes_the_most_recent_candidate() {
        let mut binding = Binding::default();
        binding.discovered(at(1));
        binding.discovered(at(2));
        binding.discovered(at(1)); // asked again: the most recent once more
        assert!(binding.declare(Some(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 5), 5000))));
        assert_eq!(binding.bound(), Some(at(1)));
        let mut unusable = Binding::default();
        unusable.discovered(at(3));
        unusable.declare(None);
        assert_eq!(unusable.bound(), Some(at(3)));
    }

    #[test]
    fn with_no_candidate_the_declared_address_is_awaited() {
        let mut binding = Binding::default();
        assert!(!binding.declare(Some(at(1))));
        assert!(!binding.discovered(at(2)), "not the declared address");
        assert_eq!(binding.bound(), None);
        assert!(binding.discovered(at(1)));
        assert_eq!(binding.bound(), Some(at(1)));
        assert!(!binding.discovered(at(1)), "awaited once");
    }

    #[test]
    fn only_the_last_few_candidates_are_kept() {
        let mut binding = Binding::default();
        for port in 1..=10 {
            binding.discovered(at(port));
        }
        assert_eq!(binding.candidates.len(), CANDIDATES);
        binding.declare(Some(at(1)));
        assert_eq!(binding.bound(), Some(at(10)), "port 1 was pushed out");
        binding.declare(Some(at(7)));
        assert_eq!(binding.bound(), Some(at(7)));
    }

    #[test]
    fn a_rebind_says_whether_it_moved() {
        let mut binding = Binding::default();
        assert!(binding.rebind(at(1)));
        assert!(!binding.rebind(at(1)));
        assert!(binding.rebind(at(2)));
    }
}
