//! Content checks: LFS files against their sha256, other files against their git blob id
//! (`sha1("blob <len>\0" + content)`), as the Hub names them.

use std::io::Read;

use sha1::Digest as _;

/// Which hash names a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// sha256 of the content (LFS files; 64 hex digits).
    Sha256,
    /// Git blob id (regular files; 40 hex digits).
    GitSha1,
}

impl HashKind {
    /// The kind a (checked) etag implies.
    pub fn of(etag: &crate::hashes::Etag) -> Self {
        if etag.is_sha256() { Self::Sha256 } else { Self::GitSha1 }
    }

    /// The kind an etag implies, or `None` for an etag that is neither.
    pub fn of_etag(etag: &str) -> Option<Self> {
        crate::hashes::Etag::parse(etag).ok().map(|e| Self::of(&e))
    }

    /// `sha256` or `git-sha1`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::GitSha1 => "git-sha1",
        }
    }
}

/// A running hash of one of the two kinds.
#[derive(Debug, Clone)]
pub enum Hasher {
    /// sha256.
    Sha256(sha2::Sha256),
    /// git blob sha1 (the header is fed at creation).
    GitSha1(sha1::Sha1),
}

impl Hasher {
    /// A hasher for content of `size` bytes.
    pub fn new(kind: HashKind, size: u64) -> Self {
        match kind {
            HashKind::Sha256 => Self::Sha256(sha2::Sha256::new()),
            HashKind::GitSha1 => {
                let mut h = sha1::Sha1::new();
                h.update(format!("blob {size}\0").as_bytes());
                Self::GitSha1(h)
            }
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::GitSha1(h) => h.update(bytes),
        }
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        let bytes: Vec<u8> = match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::GitSha1(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Hashes a whole reader.
pub fn hash_reader(kind: HashKind, size: u64, mut reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Hasher::new(kind, size);
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_ids() {
        assert_eq!(
            hash_reader(HashKind::GitSha1, 6, &b"hello\n"[..]).unwrap(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(HashKind::of_etag("ce013625030ba8dba906f756967f9e9ca394464a"), Some(HashKind::GitSha1));
        assert_eq!(HashKind::of_etag("xyz"), None);
    }
}
