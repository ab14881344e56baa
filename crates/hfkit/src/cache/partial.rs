//! Partial files: who owns one, and whether anyone still does.
//!
//! Every download writes its own partial file, `<stem>.<owner>.hfkit.incomplete` beside its
//! destination, created with `O_EXCL` and held under an `flock` of its own while it is
//! written. `<owner>` is `<host>-<pid>-<nonce>` (`<host>`: 8 hex digits naming the machine),
//! so that where locks lie (NFS, Lustre: `flock` succeeds for everyone) a process can still
//! tell a live writer on its own machine from a dead one. Two processes therefore never
//! write one file, and a lying lock costs at most a second download.
//!
//! A partial file is *abandoned* when its `flock` is free and its owner is gone: a process
//! of this machine that no longer runs, or, for another machine (whose processes cannot be
//! seen), one that has not modified the file for [`ADOPT_AFTER`]. A later download adopts an
//! abandoned partial file (and its resume record) by renaming it to its own name; `hf cache
//! prune` removes only abandoned ones. huggingface_hub 2.4's partial files
//! (`<etag>.<8 hex>.incomplete`) are in use while its blob lock is held.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The end of every partial file hfkit writes.
pub const SUFFIX: &str = ".hfkit.incomplete";

/// How long a partial file of another machine must stay unmodified before it counts as
/// abandoned. A live writer modifies its file far more often: a stalled stream is cut and
/// resumed within the stall timeout.
pub const ADOPT_AFTER: Duration = Duration::from_secs(600);

/// The owner recorded in a partial file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// 8 hex digits naming the machine.
    pub host: String,
    /// The writing process.
    pub pid: u32,
}

/// A new partial file name for `stem`, owned by this process; unique with `O_EXCL`.
pub fn new_name(stem: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let nonce = u64::from(nanos) ^ n.rotate_left(32);
    format!("{stem}.{}-{}-{:x}{SUFFIX}", this_host(), std::process::id(), nonce & 0xffff_ffff)
}

/// Splits a partial file name into its stem and owner; `None` for other names (including
/// huggingface_hub's and those of hfkit before owners were recorded).
pub fn parse_name(name: &str) -> Option<(&str, Owner)> {
    let rest = name.strip_suffix(SUFFIX)?;
    let (stem, owner) = rest.rsplit_once('.')?;
    let mut parts = owner.split('-');
    let (host, pid, nonce) = (parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    if parts.next().is_some() || host.len() != 8 || !hex(host) || !hex(nonce) || stem.is_empty() {
        return None;
    }
    Some((stem, Owner { host: host.to_owned(), pid: pid.parse().ok()? }))
}

/// The resume record of the partial file `partial`, kept in `records`.
pub fn record_path(records: &Path, partial: &Path) -> PathBuf {
    let name = partial.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    records.join(format!("{name}.progress"))
}

/// Opens `path` and takes its `flock` when it is abandoned (see the module notes), so that
/// the caller can rename it to its own name while no one else can claim it. With
/// `locks_work` false (locks known to lie), the `flock` is not consulted.
pub fn claim_abandoned(path: &Path, locks_work: bool) -> Option<File> {
    let name = path.file_name()?.to_str()?;
    let (_, owner) = parse_name(name)?;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).ok()?;
    if locks_work && file.try_lock().is_err() {
        return None;
    }
    let modified = file.metadata().ok()?.modified().ok()?;
    owner_is_gone(&owner, modified).then_some(file)
}

/// Whether the partial file at `path` (in `<cache>/<repo>/blobs/`) is being written:
/// ours while its owner holds its `flock` or still runs; huggingface_hub's while its blob
/// lock (`<cache>/.locks/<repo>/<etag>.lock`) is held. Anything else is abandoned.
pub fn in_use(cache: &Path, path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    if parse_name(name).is_some() {
        return claim_abandoned(path, true).is_none() && path.exists();
    }
    // huggingface_hub: `<etag>.incomplete` (before 2.4) or `<etag>.<8 hex>.incomplete`.
    let etag = name.split('.').next().unwrap_or_default();
    let repo = path.parent().and_then(Path::parent).and_then(Path::file_name);
    let Some(repo) = repo else { return false };
    let lock = cache.join(".locks").join(repo).join(format!("{etag}.lock"));
    is_held(&lock)
}

/// Whether some process holds the `flock` of the lock file at `path` (a missing file is
/// not held). Opening for reading only is enough to test it.
pub fn is_held(path: &Path) -> bool {
    let Ok(file) = File::open(path) else { return false };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// Whether the owner of a partial file last modified at `modified` is gone.
fn owner_is_gone(owner: &Owner, modified: SystemTime) -> bool {
    if owner.host == this_host()
        && let Some(alive) = process_alive(owner.pid)
    {
        return !alive;
    }
    SystemTime::now().duration_since(modified).is_ok_and(|age| age >= ADOPT_AFTER)
}

/// Whether process `pid` of this machine runs; `None` where that cannot be seen.
fn process_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    proc.join("self").exists().then(|| proc.join(pid.to_string()).exists())
}

/// 8 hex digits naming this machine (from its host name).
fn this_host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        use sha1::Digest as _;
        let name = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let digest = sha1::Sha1::digest(name.as_bytes());
        digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_owner() {
        let name = new_name("abc123");
        let (stem, owner) = parse_name(&name).unwrap();
        assert_eq!(stem, "abc123");
        assert_eq!(owner, Owner { host: this_host().to_owned(), pid: std::process::id() });
        assert_ne!(new_name("abc123"), name);
        assert_eq!(parse_name("abc.1234abcd.incomplete"), None, "huggingface_hub's");
        assert_eq!(parse_name("abc.hfkit.incomplete"), None, "older hfkit");
        assert_eq!(parse_name("a.b.zzzzzzzz-1-2.hfkit.incomplete"), None);
        assert_eq!(parse_name("file.txt.etag.0123abcd-7-ff.hfkit.incomplete").unwrap().0, "file.txt.etag");
    }

    #[test]
    fn a_live_writer_of_this_machine_is_never_adopted_and_a_dead_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join(new_name("e"));
        std::fs::write(&live, "x").unwrap();
        assert!(claim_abandoned(&live, false).is_none(), "this process runs, even without locks");
        let held = File::open(&live).unwrap();
        held.lock().unwrap();
        assert!(claim_abandoned(&live, true).is_none());
        drop(held);
        // A pid that cannot run: above the kernel's limit.
        let dead = dir.path().join(format!("e.{}-4294967295-1{SUFFIX}", this_host()));
        std::fs::write(&dead, "x").unwrap();
        assert!(claim_abandoned(&dead, true).is_some());
        // Another machine's fresh file is not adopted.
        let elsewhere = dir.path().join(format!("e.00000000-1-1{SUFFIX}"));
        std::fs::write(&elsewhere, "x").unwrap();
        assert!(this_host() == "00000000" || claim_abandoned(&elsewhere, true).is_none());
    }
}
