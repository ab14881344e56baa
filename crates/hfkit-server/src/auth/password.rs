//! Web passwords: argon2id hashes in PHC form (`$argon2id$v=19$m=…$salt$hash`), made with a
//! fresh random salt and the argon2 crate's default cost (19 MiB, 2 passes), and checked in
//! constant time by the argon2 crate. Both are slow on purpose: callers run them on a
//! blocking thread. A plain password is never stored, logged or put on a command line.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2};

/// Longest password accepted (argon2 takes any length; this bounds the work per attempt).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes `password` with a new random salt.
pub fn hash(password: &str) -> Result<String, String> {
    if password.is_empty() {
        return Err("the password is empty".to_owned());
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("the password is longer than {MAX_PASSWORD_BYTES} bytes"));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("cannot draw random bytes for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `phc` (`false` for a hash that cannot be read).
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the time of one [`verify`] for a user who has no password (or does not exist), so
/// the answer's timing does not tell which names exist.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("no password is set for this account").unwrap_or_default());
    let _ = verify(password, phc);
}

/// Checks that `phc` is an argon2 hash this server can verify (for hashes from a file).
pub fn check_hash(phc: &str) -> Result<(), String> {
    let parsed =
        PasswordHash::new(phc).map_err(|e| format!("not a PHC string ({e}); make one with `hf serve user passwd`"))?;
    Algorithm::try_from(parsed.algorithm)
        .map_err(|_| format!("`{}` is not an argon2 algorithm: use argon2id", parsed.algorithm))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err("the hash or its salt is missing".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify("correct horse", &phc));
        assert!(!verify("correct hors", &phc));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(hash("correct horse").unwrap(), phc, "a new salt each time");
        assert!(check_hash(&phc).is_ok());
        assert!(check_hash("correct horse").is_err(), "a plain password is refused");
        assert!(check_hash("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA").is_err());
        assert!(hash("").is_err());
    }
}
