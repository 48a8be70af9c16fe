//! Workspace names: random, 3 to 6 lowercase letters and digits, unique.
//!
//! As upstream: 3 characters for the first 50 attempts, 4 until 500, 5 until 1000, then 6; the
//! store's primary key makes the final call, so names stay unique across replicas.

/// The length of the name to try at `attempt` (0-based).
pub fn length_for_attempt(attempt: u32) -> usize {
    match attempt {
        0..50 => 3,
        50..500 => 4,
        500..1000 => 5,
        _ => 6,
    }
}

/// A random name of `len` lowercase letters and digits.
pub fn random_name(len: usize) -> Result<String, crate::crypto::CryptoError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| crate::crypto::CryptoError::Random(e.to_string()))?;
    // 36 does not divide 256; the bias (256 % 36 = 4 values) is irrelevant for names.
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_schedule_and_the_alphabet() {
        assert_eq!(length_for_attempt(0), 3);
        assert_eq!(length_for_attempt(49), 3);
        assert_eq!(length_for_attempt(50), 4);
        assert_eq!(length_for_attempt(999), 5);
        assert_eq!(length_for_attempt(5000), 6);
        for len in 3..=6 {
            let name = random_name(len).expect("name");
            assert_eq!(name.len(), len);
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            );
        }
    }
}
