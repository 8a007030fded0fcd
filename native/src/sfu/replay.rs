//! Replay protection for one sender: its counters must be new, within a sliding window.

/// How far behind the newest counter a late packet may be and still be taken: 1024 packets,
/// 20 s of audio at 50 packets/s, so reordering on any real path is covered.
const WINDOW: u32 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// Counters seen, as a bitmap over the `WINDOW` counters up to the newest (RFC 6479's idea,
/// bit by bit: the slots the window moves onto are cleared as it moves).
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    newest: Option<u32>,
    seen: [u64; WORDS],
}

impl ReplayWindow {
    /// Whether `counter` would be taken: never seen and not older than the window. Checked
    /// before decrypting; `accept` records it only once the packet authenticated.
    #[must_use]
    pub fn allows(&self, counter: u32) -> bool {
        match self.newest {
            None => true,
            Some(newest) if counter > newest => true,
            Some(newest) => newest - counter < WINDOW && !self.is_seen(counter),
        }
    }

    /// Records `counter` (which `allows`).
    pub fn accept(&mut self, counter: u32) {
        match self.newest {
            Some(newest) if counter <= newest => {}
            Some(newest) => {
                // The slots of the counters the window moves onto held counters it leaves.
                let skipped = counter - newest;
                if skipped >= WINDOW {
                    self.seen = [0; WORDS];
                } else {
                    for step in 1..=skipped {
                        self.unmark(newest + step);
                    }
                }
                self.newest = Some(counter);
            }
            None => {
                self.seen = [0; WORDS];
                self.newest = Some(counter);
            }
        }
        self.mark(counter);
    }

    fn slot(counter: u32) -> (usize, u64) {
        let bit = counter % WINDOW;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn is_seen(&self, counter: u32) -> bool {
        let (word, bit) = Self::slot(counter);
        self.seen.get(word).is_some_and(|w| w & bit != 0)
    }

    fn mark(&mut self, counter: u32) {
        let (word, bit) = Self::slot(counter);
        if let Some(w) = self.seen.get_mut(word) {
            *w |= bit;
        }
    }

    fn unmark(&mut self, counter: u32) {
        let (word, bit) = Self::slot(counter);
        if let Some(w) = self.seen.get_mut(word) {
            *w &= !bit;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn take(window: &mut ReplayWindow, counter: u32) -> bool {
        let allowed = window.allows(counter);
        if allowed {
            window.accept(counter);
        }
        allowed
    }

    #[test]
    fn a_counter_is_taken_once() {
        let mut window = ReplayWindow::default();
        assert!(take(&mut window, 0));
        assert!(!take(&mut window, 0));
        assert!(take(&mut window, 1));
        assert!(!take(&mut window, 1));
        assert!(!take(&mut window, 0));
    }

    #[test]
    fn late_packets_inside_the_window_are_taken_older_ones_not() {
        let mut window = ReplayWindow::default();
        assert!(take(&mut window, 5000));
        assert!(take(&mut window, 5000 - 1023));
        assert!(!take(&mut window, 5000 - 1024));
        assert!(take(&mut window, 4999));
        assert!(!take(&mut window, 4999));
    }

    #[test]
    fn a_jump_forgets_what_the_window_passed() {
        let mut window = ReplayWindow::default();
        assert!(take(&mut window, 10));
        assert!(take(&mut window, 10 + 1024));
        // Same slot as 10; it is old now, and 1034 was taken.
        assert!(!take(&mut window, 10));
        assert!(take(&mut window, 1033));
        for counter in 2000..2100 {
            assert!(take(&mut window, counter));
        }
        // A jump short of a full window keeps what is still inside it.
        assert!(take(&mut window, 3000));
        assert!(!take(&mut window, 2050));
        assert!(take(&mut window, 100_000));
        assert!(take(&mut window, 99_990));
        assert!(take(&mut window, u32::MAX));
        assert!(!take(&mut window, u32::MAX));
    }

    proptest! {
        #[test]
        fn the_window_matches_a_set(counters in proptest::collection::vec(0_u32..3000, 1..400)) {
            let mut window = ReplayWindow::default();
            let mut seen = BTreeSet::new();
            let mut newest: Option<u32> = None;
            for counter in counters {
                let expected = !seen.contains(&counter)
                    && newest.is_none_or(|n| counter > n || n - counter < WINDOW);
                prop_assert_eq!(take(&mut window, counter), expected, "counter {}", counter);
                if expected {
                    seen.insert(counter);
                    newest = Some(newest.map_or(counter, |n| n.max(counter)));
                }
            }
        }
    }
}
