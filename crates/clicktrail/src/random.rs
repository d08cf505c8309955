//! Randomness from the operating system, for ids and secrets.

/// `N` random bytes from the OS.
///
/// The OS generator failing means the machine cannot produce secrets at all; carrying on with
/// predictable bytes would be worse than stopping, so this is the one place that panics.
#[allow(clippy::expect_used)]
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random generator failed");
    out
}
