//! Activation and accept codes: six random digits, stored only as a keyed hash.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub fn new_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// Binds the code to the resource it was issued for, so a hash copied elsewhere is useless.
pub fn hash_code(resource: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{resource}\n{code}").as_bytes()))
}

pub fn code_matches(resource: &str, code: &str, stored_hash: &str) -> bool {
    bool::from(
        hash_code(resource, code)
            .as_bytes()
            .ct_eq(stored_hash.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_verify_only_for_their_resource() {
        for _ in 0..100 {
            let c = new_code();
            assert_eq!(c.len(), 6);
            assert!(c.chars().all(|x| x.is_ascii_digit()));
        }
        let h = hash_code("arn:a", "123456");
        assert!(code_matches("arn:a", "123456", &h));
        assert!(!code_matches("arn:a", "123457", &h));
        assert!(!code_matches("arn:b", "123456", &h));
    }
}
