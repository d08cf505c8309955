//! A small longest-match pattern engine over bytes: the token patterns of the time-expression
//! grammar are written with these combinators, and the scanner asks each pattern for every
//! position where a match starting at a given position can end.
//!
//! Matching works on sets of positions (no backtracking): a sequence feeds the ends of one part
//! to the next, an alternation unites them, a repetition iterates. The longest match is the
//! largest end, which is what a lexer generator's longest-match rule needs.

/// A set of byte positions in the input, `0..=len`.
pub(super) trait PositionSet: Clone {
    /// No position, for an input of `len` bytes.
    fn empty(len: usize) -> Self;
    /// Just `at`.
    fn single(len: usize, at: usize) -> Self {
        let mut set = Self::empty(len);
        set.insert(at);
        set
    }
    /// Adds `at` (ignored past the end).
    fn insert(&mut self, at: usize);
    /// Adds every position of `other`.
    fn union(&mut self, other: &Self);
    /// Whether there is no position.
    fn is_empty(&self) -> bool;
    /// The positions, in order.
    fn positions(&self) -> impl Iterator<Item = usize> + '_;
    /// The largest position.
    fn largest(&self) -> Option<usize>;
}

/// Positions of an input of fewer than 128 bytes, as bits (the fast path: no allocation).
impl PositionSet for u128 {
    fn empty(_: usize) -> Self {
        0
    }

    fn insert(&mut self, at: usize) {
        if at < 128 {
            *self |= 1 << at;
        }
    }

    fn union(&mut self, other: &Self) {
        *self |= *other;
    }

    fn is_empty(&self) -> bool {
        *self == 0
    }

    fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        let mut bits = *self;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let at = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                at
            })
        })
    }

    fn largest(&self) -> Option<usize> {
        (*self != 0).then(|| 127 - self.leading_zeros() as usize)
    }
}

/// Positions of an input of any length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Positions(Vec<bool>);

impl PositionSet for Positions {
    fn empty(len: usize) -> Self {
        Positions(vec![false; len + 1])
    }

    fn insert(&mut self, at: usize) {
        if let Some(slot) = self.0.get_mut(at) {
            *slot = true;
        }
    }

    fn union(&mut self, other: &Self) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine |= *theirs;
        }
    }

    fn is_empty(&self) -> bool {
        !self.0.iter().any(|&p| p)
    }

    fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().filter_map(|(i, &p)| p.then_some(i))
    }

    fn largest(&self) -> Option<usize> {
        self.0.iter().rposition(|&p| p)
    }
}

/// A pattern over bytes.
#[derive(Debug, Clone)]
pub(super) enum Pat {
    /// These exact bytes (`true`: ASCII letters in any case).
    Lit(&'static [u8], bool),
    /// One byte within any of these inclusive ranges.
    Class(Vec<(u8, u8)>),
    /// One byte out of these.
    OneOf(&'static [u8]),
    /// Each part in turn.
    Seq(Vec<Pat>),
    /// Any of the parts.
    Alt(Vec<Pat>),
    /// The part repeated from `min` to `max` times.
    Rep(Box<Pat>, usize, usize),
}

impl Pat {
    /// Every position where a match that starts at one of `starts` ends.
    pub(super) fn ends<S: PositionSet>(&self, input: &[u8], starts: &S) -> S {
        let len = input.len();
        match self {
            Pat::Lit(bytes, any_case) => {
                let mut out = S::empty(len);
                for at in starts.positions() {
                    let Some(slice) = input.get(at..at + bytes.len()) else { continue };
                    let same = if *any_case { slice.eq_ignore_ascii_case(bytes) } else { slice == *bytes };
                    if same {
                        out.insert(at + bytes.len());
                    }
                }
                out
            }
            Pat::Class(ranges) => one_byte(input, starts, |b| ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&b))),
            Pat::OneOf(bytes) => one_byte(input, starts, |b| bytes.contains(&b)),
            Pat::Seq(parts) => {
                let mut at = starts.clone();
                for part in parts {
                    if at.is_empty() {
                        break;
                    }
                    at = part.ends(input, &at);
                }
                at
            }
            Pat::Alt(parts) => {
                let mut out = S::empty(len);
                for part in parts {
                    out.union(&part.ends(input, starts));
                }
                out
            }
            Pat::Rep(part, min, max) => {
                let mut out = if *min == 0 { starts.clone() } else { S::empty(len) };
                let mut at = starts.clone();
                // Every part of the grammar consumes at least one byte, so no more than len + 1
                // rounds can add anything.
                for round in 1..=(*max).min(len + 1) {
                    at = part.ends(input, &at);
                    if at.is_empty() {
                        break;
                    }
                    if round >= *min {
                        out.union(&at);
                    }
                }
                out
            }
        }
    }
}

/// The bytes a match can begin with, and whether a pattern can match nothing at all.
#[derive(Clone)]
pub(super) struct First {
    /// Indexed by byte.
    pub bytes: [bool; 256],
    /// Whether the empty input matches.
    pub empty: bool,
}

impl Pat {
    /// What a match can begin with (for skipping patterns that cannot match at a position).
    pub(super) fn first(&self) -> First {
        let mut out = First { bytes: [false; 256], empty: false };
        match self {
            Pat::Lit(bytes, any_case) => match bytes.first() {
                None => out.empty = true,
                Some(&b) => {
                    out.bytes[usize::from(b)] = true;
                    if *any_case {
                        out.bytes[usize::from(b.to_ascii_lowercase())] = true;
                        out.bytes[usize::from(b.to_ascii_uppercase())] = true;
                    }
                }
            },
            Pat::Class(ranges) => {
                for &(lo, hi) in ranges {
                    (lo..=hi).for_each(|b| out.bytes[usize::from(b)] = true);
                }
            }
            Pat::OneOf(bytes) => bytes.iter().for_each(|&b| out.bytes[usize::from(b)] = true),
            Pat::Seq(parts) => {
                out.empty = true;
                for part in parts {
                    let f = part.first();
                    (0..256).for_each(|b| out.bytes[b] |= f.bytes[b]);
                    if !f.empty {
                        out.empty = false;
                        break;
                    }
                }
            }
            Pat::Alt(parts) => {
                for part in parts {
                    let f = part.first();
                    (0..256).for_each(|b| out.bytes[b] |= f.bytes[b]);
                    out.empty |= f.empty;
                }
            }
            Pat::Rep(part, min, _) => {
                out = part.first();
                out.empty |= *min == 0;
            }
        }
        out
    }
}

fn one_byte<S: PositionSet>(input: &[u8], starts: &S, accept: impl Fn(u8) -> bool) -> S {
    let mut out = S::empty(input.len());
    for at in starts.positions() {
        if input.get(at).is_some_and(|&b| accept(b)) {
            out.insert(at + 1);
        }
    }
    out
}

/// Bytes exactly as written.
pub(super) fn lit(text: &'static str) -> Pat {
    Pat::Lit(text.as_bytes(), false)
}

/// Bytes with ASCII letters in any case.
pub(super) fn ci(text: &'static str) -> Pat {
    Pat::Lit(text.as_bytes(), true)
}

/// Any of these words, ASCII letters in any case.
pub(super) fn words(list: &[&'static str]) -> Pat {
    Pat::Alt(list.iter().map(|w| ci(w)).collect())
}

/// One ASCII digit.
pub(super) fn digit() -> Pat {
    range(b'0', b'9')
}

/// One ASCII letter.
pub(super) fn alpha() -> Pat {
    Pat::Class(vec![(b'A', b'Z'), (b'a', b'z')])
}

/// One byte out of `bytes`.
pub(super) fn one_of(bytes: &'static str) -> Pat {
    Pat::OneOf(bytes.as_bytes())
}

/// One byte in the inclusive range.
pub(super) fn range(lo: u8, hi: u8) -> Pat {
    Pat::Class(vec![(lo, hi)])
}

/// The parts in turn.
pub(super) fn seq(parts: Vec<Pat>) -> Pat {
    Pat::Seq(parts)
}

/// Any of the parts.
pub(super) fn alt(parts: Vec<Pat>) -> Pat {
    Pat::Alt(parts)
}

/// The part, or nothing.
pub(super) fn opt(part: Pat) -> Pat {
    Pat::Rep(Box::new(part), 0, 1)
}

/// The part any number of times, none included.
pub(super) fn star(part: Pat) -> Pat {
    Pat::Rep(Box::new(part), 0, usize::MAX)
}

/// The part once or more.
pub(super) fn plus(part: Pat) -> Pat {
    Pat::Rep(Box::new(part), 1, usize::MAX)
}

/// The part from `min` to `max` times.
pub(super) fn rep(part: Pat, min: usize, max: usize) -> Pat {
    Pat::Rep(Box::new(part), min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longest(p: &Pat, input: &str) -> Option<usize> {
        let bytes = input.as_bytes();
        let slow = p.ends(bytes, &Positions::single(bytes.len(), 0)).largest();
        assert_eq!(p.ends(bytes, &1u128).largest(), slow, "both position sets agree");
        slow
    }

    #[test]
    fn longest_match_over_alternatives_and_repetitions() {
        let p = seq(vec![rep(digit(), 1, 4), opt(alt(vec![ci("st"), ci("th")]))]);
        assert_eq!(longest(&p, "12345"), Some(4));
        assert_eq!(longest(&p, "21st"), Some(4));
        assert_eq!(longest(&p, "21ST!"), Some(4));
        assert_eq!(longest(&p, "x"), None);
        let q = seq(vec![star(one_of(" .")), lit("may")]);
        assert_eq!(longest(&q, " . may"), Some(6));
        assert_eq!(longest(&q, "MAY"), None);
    }
}
