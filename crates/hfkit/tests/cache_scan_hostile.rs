//! The cache scan over generated hostile trees: links out of the cache (absolute, climbing
//! with `..`, through a second link inside), link loops, links to devices, FIFOs where refs
//! and locks are read, dangling links, and names with newlines, escapes and bytes that are not
//! UTF-8. Whatever the tree, the scan ends, never panics, reports nothing that lives outside
//! the cache, and a prune followed by `rm` of every repo it found leaves a canary folder
//! beside the cache exactly as it was.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hfkit::cache::{CacheInfo, DeletePlan, PrunePlan, scan};
use proptest::prelude::*;

/// Where a snapshot file or a ref points.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// `../../blobs/b<n>`: an honest blob.
    Blob(u8),
    /// A blob that is itself a link out of the cache.
    BlobHop,
    /// The canary, by absolute path.
    OutsideAbs,
    /// The canary, by climbing with `..`.
    OutsideRel,
    /// A folder outside.
    OutsideDir,
    /// Nothing.
    Dangling,
    /// Itself.
    Loop,
    /// The folder it is in.
    Parent,
    /// `/dev/zero`, endless if read.
    DevZero,
    /// A FIFO inside the cache, blocking if read.
    Fifo,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => (0u8..3).prop_map(Target::Blob),
        1 => Just(Target::BlobHop),
        1 => Just(Target::OutsideAbs),
        1 => Just(Target::OutsideRel),
        1 => Just(Target::OutsideDir),
        1 => Just(Target::Dangling),
        1 => Just(Target::Loop),
        1 => Just(Target::Parent),
        1 => Just(Target::DevZero),
        1 => Just(Target::Fifo),
    ]
}

/// A name in the tree: plain, or with a newline, an escape sequence, or non-UTF-8 bytes.
fn odd_name(plain: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(plain.as_bytes().to_vec()),
        1 => Just(format!("{plain}\nx").into_bytes()),
        1 => Just(format!("\x1b[2J{plain}").into_bytes()),
        1 => Just([plain.as_bytes(), b"\xff\xfe"].concat()),
    ]
}

/// One entry of a snapshot: a link (to `Target`) or a regular file, maybe in a sub-folder.
#[derive(Debug, Clone)]
struct SnapshotEntry {
    name: Vec<u8>,
    nested: bool,
    link: Option<Target>,
}

/// A ref: its name and what it holds.
#[derive(Debug, Clone)]
enum RefKind {
    /// The commit of the snapshot at that index (may be missing).
    Commit(u8),
    /// A link: to the canary, a FIFO, `/dev/zero`, or the refs folder itself (a loop).
    Link(Target),
}

#[derive(Debug, Clone)]
struct RepoSpec {
    /// The folder name's id part, or a wholly odd folder name.
    folder: Vec<u8>,
    /// The repo folder itself is a link to a folder outside.
    folder_out: bool,
    /// `snapshots/`, `refs/` or `blobs/` is a link to a folder outside.
    sub_out: Option<u8>,
    snapshots: Vec<Vec<SnapshotEntry>>,
    refs: Vec<(Vec<u8>, RefKind)>,
    incomplete: bool,
}

fn repo_spec() -> impl Strategy<Value = RepoSpec> {
    let folder = prop_oneof![
        4 => odd_name("models--org--m").prop_map(|n| n.to_vec()),
        1 => Just(b"datasets--".to_vec()),
        1 => Just(b"unknown--a--b".to_vec()),
        1 => Just(b"no-separator".to_vec()),
    ];
    let entry = (odd_name("f"), any::<bool>(), prop::option::weighted(0.8, target()))
        .prop_map(|(name, nested, link)| SnapshotEntry { name, nested, link });
    let snapshot = prop::collection::vec(entry, 0..4);
    let ref_kind = prop_oneof![
        4 => (0u8..3).prop_map(RefKind::Commit),
        1 => prop::sample::select(vec![Target::OutsideAbs, Target::Fifo, Target::DevZero, Target::Parent, Target::Loop])
            .prop_map(RefKind::Link),
    ];
    (
        folder,
        prop::bool::weighted(0.1),
        prop::option::weighted(0.15, 0u8..3),
        prop::collection::vec(snapshot, 0..3),
        prop::collection::vec((odd_name("main"), ref_kind), 0..3),
        any::<bool>(),
    )
        .prop_map(|(folder, folder_out, sub_out, snapshots, refs, incomplete)| RepoSpec {
            folder,
            folder_out,
            sub_out,
            snapshots,
            refs,
            incomplete,
        })
}

/// `.locks` as found: none, honest (with a FIFO named like a lock), or linking out.
#[derive(Debug, Clone, Copy)]
enum Locks {
    None,
    Honest,
    FolderOut,
    RepoOut,
}

fn locks() -> impl Strategy<Value = Locks> {
    prop::sample::select(vec![Locks::None, Locks::Honest, Locks::FolderOut, Locks::RepoOut])
}

fn commit(i: u8) -> String {
    format!("{i:040x}")
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn link(target: &Path, at: &Path) {
    std::os::unix::fs::symlink(target, at).expect("symlink");
}

/// Writes the hostile cache under `root` and the canary folder at `outside`.
fn build(root: &Path, outside: &Path, repos: &[RepoSpec], locks: Locks) {
    std::fs::create_dir_all(outside.join("dir/.deleting-9")).unwrap();
    std::fs::write(outside.join("canary.txt"), "canary").unwrap();
    for name in ["x.incomplete", "a.lock", "b.progress", ".deleting-9/keep", "blob"] {
        std::fs::write(outside.join("dir").join(name), name).unwrap();
    }
    std::fs::create_dir_all(root).unwrap();
    // One honest repo, which must be found whatever surrounds it.
    let clean = root.join("models--org--clean");
    std::fs::create_dir_all(clean.join("blobs")).unwrap();
    std::fs::create_dir_all(clean.join("refs")).unwrap();
    std::fs::create_dir_all(clean.join(format!("snapshots/{}", commit(0)))).unwrap();
    std::fs::write(clean.join("blobs/b0"), "clean!").unwrap();
    std::fs::write(clean.join("refs/main"), commit(0)).unwrap();
    link(Path::new("../../blobs/b0"), &clean.join(format!("snapshots/{}/f", commit(0))));

    for (i, spec) in repos.iter().enumerate() {
        let mut folder = spec.folder.clone();
        folder.extend_from_slice(i.to_string().as_bytes());
        let repo = root.join(OsStr::from_bytes(&folder));
        if spec.folder_out {
            link(&outside.join("dir"), &repo);
            continue;
        }
        let _ = std::fs::create_dir_all(&repo);
        for (n, sub) in ["snapshots", "refs", "blobs"].iter().enumerate() {
            if spec.sub_out == Some(n as u8) {
                link(&outside.join("dir"), &repo.join(sub));
            } else {
                std::fs::create_dir_all(repo.join(sub)).unwrap();
            }
        }
        let blobs = repo.join("blobs");
        if spec.sub_out != Some(2) {
            for b in 0u8..3 {
                std::fs::write(blobs.join(format!("b{b}")), vec![b'x'; usize::from(b) + 1]).unwrap();
            }
            link(&outside.join("canary.txt"), &blobs.join("hop"));
            mkfifo(&blobs.join("fifo"));
            if spec.incomplete {
                std::fs::write(blobs.join("p.incomplete"), "part").unwrap();
                link(&outside.join("dir/x.incomplete"), &blobs.join("q.incomplete"));
            }
        }
        if spec.sub_out != Some(0) {
            for (c, entries) in spec.snapshots.iter().enumerate() {
                let snap = repo.join("snapshots").join(commit(c as u8));
                std::fs::create_dir_all(snap.join("sub")).unwrap();
                for entry in entries {
                    let (dir, up) =
                        if entry.nested { (snap.join("sub"), "../../../") } else { (snap.clone(), "../../") };
                    let at = dir.join(OsStr::from_bytes(&entry.name));
                    if at.symlink_metadata().is_ok() {
                        continue;
                    }
                    match entry.link {
                        None => std::fs::write(&at, "regular").unwrap(),
                        Some(t) => link(&target_path(t, up, outside, &at), &at),
                    }
                }
            }
        }
        if spec.sub_out != Some(1) {
            for (name, kind) in &spec.refs {
                let at = repo.join("refs").join(OsStr::from_bytes(name));
                if at.symlink_metadata().is_ok() {
                    continue;
                }
                match kind {
                    RefKind::Commit(c) => std::fs::write(&at, commit(*c)).unwrap(),
                    RefKind::Link(Target::Fifo) => mkfifo(&at),
                    RefKind::Link(t) => link(&target_path(*t, "../", outside, &at), &at),
                }
            }
        }
    }
    match locks {
        Locks::None => {}
        Locks::Honest => {
            let dir = root.join(".locks/models--org--clean");
            std::fs::create_dir_all(&dir).unwrap();
            mkfifo(&dir.join("x.lock"));
            link(&outside.join("dir/a.lock"), &dir.join("y.lock"));
        }
        Locks::FolderOut => link(&outside.join("dir"), &root.join(".locks")),
        Locks::RepoOut => {
            std::fs::create_dir_all(root.join(".locks")).unwrap();
            link(&outside.join("dir"), &root.join(".locks/models--org--clean"));
        }
    }
}

/// The link text for `target`, from a file `up` levels below the repo folder.
fn target_path(target: Target, up: &str, outside: &Path, at: &Path) -> PathBuf {
    match target {
        Target::Blob(b) => PathBuf::from(format!("{up}blobs/b{b}")),
        Target::BlobHop => PathBuf::from(format!("{up}blobs/hop")),
        Target::OutsideAbs => outside.join("canary.txt"),
        Target::OutsideRel => PathBuf::from(format!("{up}{up}{up}../outside/canary.txt")),
        Target::OutsideDir => outside.join("dir"),
        Target::Dangling => PathBuf::from(format!("{up}blobs/missing")),
        Target::Loop => PathBuf::from(at.file_name().expect("a name")),
        Target::Parent => PathBuf::from("."),
        Target::DevZero => PathBuf::from("/dev/zero"),
        Target::Fifo => PathBuf::from(format!("{up}blobs/fifo")),
    }
}

/// Everything below `dir` without following links: kind, and bytes or link text.
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            let what = if kind.is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else if kind.is_dir() {
                stack.push(path.clone());
                "dir".to_owned()
            } else {
                format!("file {:?}", std::fs::read(&path).unwrap())
            };
            out.insert(path.strip_prefix(dir).unwrap().to_owned(), what);
        }
    }
    out
}

/// Where an entry itself lives (its folder resolved, the last name kept): inside `root`?
fn entry_inside(root: &Path, path: &Path) -> bool {
    let parent = path.parent().and_then(|p| std::fs::canonicalize(p).ok());
    parent.is_some_and(|p| p.starts_with(root))
}

/// Checks a scan's answer: nothing reported lives outside, and the honest repo is there.
fn check_scan(root: &Path, info: &CacheInfo) -> Result<(), TestCaseError> {
    for repo in &info.repos {
        let real = std::fs::canonicalize(&repo.path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(real.starts_with(root), "repo {} is outside", repo.path.display());
        for rev in &repo.revisions {
            let real = std::fs::canonicalize(&rev.snapshot_path).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(real.starts_with(root), "snapshot {} is outside", rev.snapshot_path.display());
            for file in &rev.files {
                prop_assert!(entry_inside(root, &file.path), "{} is outside", file.path.display());
                let blob = std::fs::canonicalize(&file.blob_path).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(blob.starts_with(root), "{} -> {} is outside", file.path.display(), blob.display());
                prop_assert!(std::fs::metadata(&blob).is_ok_and(|m| m.is_file() || m.file_type().is_fifo()));
            }
        }
    }
    for f in info.incomplete.iter().chain(&info.orphan_blobs) {
        prop_assert!(entry_inside(root, &f.path), "{} is outside", f.path.display());
    }
    let clean = info.repos.iter().find(|r| r.id == "org/clean");
    prop_assert!(clean.is_some_and(|r| r.size_on_disk == 6 && r.revisions.len() == 1), "the honest repo is missing");
    Ok(())
}

/// Scans, checks the answer, prunes, scans again and removes every repo found, on a thread:
/// a scan that blocks on a FIFO or loops forever fails instead of hanging the suite.
fn scan_prune_rm(root: &Path) -> Result<(), TestCaseError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let root = root.to_owned();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(|| {
            let info = scan(&root).expect("the cache folder exists");
            let checked = check_scan(&root, &info);
            PrunePlan::new(&info).plan.execute();
            let info = scan(&root).expect("the cache folder exists");
            let mut rm = DeletePlan::default();
            for repo in &info.repos {
                rm.add_revisions(repo, &repo.revisions.iter().map(|r| r.commit.clone()).collect());
            }
            rm.execute();
            checked
        });
        let _ = tx.send(result);
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(checked)) => checked,
        Ok(Err(_)) => Err(TestCaseError::fail("the scan or a deletion panicked")),
        Err(_) => Err(TestCaseError::fail("the scan or prune did not finish within 20 s")),
    }
}

/// Builds one case, runs [`scan_prune_rm`] and checks the canary folder.
fn run_case(repos: &[RepoSpec], locks: Locks) -> Result<(), TestCaseError> {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let (root, outside) = (base.join("cache"), base.join("outside"));
    build(&root, &outside, repos, locks);
    let before = tree(&outside);
    scan_prune_rm(&root)?;
    prop_assert_eq!(tree(&outside), before, "the canary folder changed");
    Ok(())
}

fn plain_repo() -> RepoSpec {
    RepoSpec {
        folder: b"models--org--m".to_vec(),
        folder_out: false,
        sub_out: None,
        snapshots: Vec::new(),
        refs: Vec::new(),
        incomplete: true,
    }
}

// The findings of the property below, kept as plain tests.

#[test]
fn a_fifo_named_like_a_lock_does_not_block_prune() {
    run_case(&[], Locks::Honest).unwrap();
}

#[test]
fn a_blobs_folder_linking_out_is_not_pruned() {
    run_case(&[RepoSpec { sub_out: Some(2), ..plain_repo() }], Locks::None).unwrap();
}

#[test]
fn a_repo_folder_linking_out_is_left_alone() {
    run_case(&[RepoSpec { folder_out: true, ..plain_repo() }], Locks::RepoOut).unwrap();
}

#[test]
fn refs_that_are_fifos_devices_or_loops_do_not_hang_the_scan() {
    let refs = vec![
        (b"a".to_vec(), RefKind::Link(Target::Parent)),
        (b"b".to_vec(), RefKind::Link(Target::Parent)),
        (b"c".to_vec(), RefKind::Link(Target::Fifo)),
        (b"d".to_vec(), RefKind::Link(Target::DevZero)),
    ];
    run_case(&[RepoSpec { refs, ..plain_repo() }], Locks::None).unwrap();
}

#[test]
fn a_blob_that_links_out_is_not_followed() {
    let entry = SnapshotEntry { name: b"f".to_vec(), nested: false, link: Some(Target::BlobHop) };
    run_case(&[RepoSpec { snapshots: vec![vec![entry]], ..plain_repo() }], Locks::None).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Each case builds a tree on disk: a few by default, PROPTEST_CASES for long runs.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn prop_cache_scan_hostile_trees(repos in prop::collection::vec(repo_spec(), 0..4), locks in locks()) {
        run_case(&repos, locks)?;
    }
}
