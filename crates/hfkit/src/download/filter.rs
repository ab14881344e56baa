//! `--include`/`--exclude` patterns, matched as huggingface_hub matches them: Python's
//! `fnmatch.fnmatchcase` (case-sensitive; `*` also crosses `/`; `?`, `[seq]`, `[!seq]`),
//! with a trailing `/` meaning "everything below" and `\` read as `/`.

/// Whether `path` passes: it matches an `include` pattern (or there are none) and no
/// `exclude` pattern.
pub fn keep(path: &str, include: &[String], exclude: &[String]) -> bool {
    (include.is_empty() || include.iter().any(|p| matches(p, path))) && !exclude.iter().any(|p| matches(p, path))
}

/// `fnmatchcase(path, pattern)` with huggingface_hub's pattern normalisation.
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.replace('\\', "/");
    if pattern.ends_with('/') {
        pattern.push('*');
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    glob(&p, &s)
}

fn glob(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some(pi);
                    mark = si;
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(p, pi, s[si]) {
                        if matched {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else if s[si] == '[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                c if c == s[si] => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some(sp) => {
                pi = sp + 1;
                mark += 1;
                si = mark;
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`; `None` if unterminated.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = p.get(i).is_some_and(|ch| *ch == '!');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            matched |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            matched |= p[i] == c;
            i += 1;
        }
    }
    (i < p.len()).then_some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fnmatchcase_semantics() {
        assert!(matches("*.json", "config.json"));
        assert!(matches("*.json", "sub/config.json"), "* crosses /");
        assert!(!matches("*.JSON", "config.json"), "case-sensitive");
        assert!(matches("sub/", "sub/a/b.bin"));
        assert!(matches("model-0000?-of-*.safetensors", "model-00001-of-00002.safetensors"));
        assert!(matches("[ab]*", "a.txt"));
        assert!(!matches("[!ab]*", "a.txt"));
        assert!(matches("[a-c].txt", "b.txt"));
        assert!(matches("sub\\*.bin", "sub/x.bin"));
        assert!(!matches("*.bin", "x.binx"));
    }

    #[test]
    fn include_then_exclude() {
        let inc = vec!["*.json".to_owned(), "*.bin".to_owned()];
        let exc = vec!["big*".to_owned()];
        assert!(keep("a.json", &inc, &exc));
        assert!(!keep("big.bin", &inc, &exc));
        assert!(!keep("a.txt", &inc, &exc));
        assert!(keep("a.txt", &[], &[]));
    }

    /// Patterns from fnmatch's alphabet: wildcards, classes (negated, with ranges, unclosed),
    /// separators of both kinds, and a few literals.
    fn pattern() -> impl Strategy<Value = String> {
        "[ab/*?\\[\\]!^\\\\.z-]{0,8}|[ab]{0,3}\\[!?[a-z\\]-]{0,4}\\]?[*ab/]{0,3}"
    }

    /// Repo paths (never a backslash: validated paths cannot hold one).
    fn path() -> impl Strategy<Value = String> {
        "[ab/.*?\\[\\]!^z-]{0,8}|\\PC{0,4}".prop_map(|p| p.replace('\\', "/"))
    }

    /// huggingface_hub's `filter_repo_objects` on each `(path, include, exclude)`, in one
    /// Python process: the reference the glob must agree with.
    fn python_keep(cases: &[(String, Vec<String>, Vec<String>)]) -> Vec<bool> {
        const SCRIPT: &str = "import json, sys\n\
            from huggingface_hub.utils import filter_repo_objects as f\n\
            cases = json.load(sys.stdin)\n\
            print(json.dumps([bool(list(f([p], allow_patterns=i or None, ignore_patterns=e or None))) for p, i, e in cases]))\n";
        let python = std::env::var_os("HFKIT_TEST_PYTHON").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
            std::path::PathBuf::from,
        );
        let mut child = Command::new(&python)
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "this test needs huggingface_hub 2.4 in {}: {e}; run `bash .ci/run` once, or set HFKIT_TEST_PYTHON",
                    python.display()
                )
            });
        let input = serde_json::to_vec(cases).expect("json");
        child.stdin.take().expect("stdin").write_all(&input).expect("write to python");
        let out = child.wait_with_output().expect("python ran");
        assert!(out.status.success(), "python failed");
        serde_json::from_slice(&out.stdout).expect("a list of booleans")
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// A pattern without wildcards matches only itself; `*` matches every path; a path
        /// written as one-character classes matches itself; a folder pattern matches below it.
        #[test]
        fn prop_glob_identities(path in "[^*?\\[\\\\]{0,8}", other in path()) {
            let plain = !path.ends_with('/');
            prop_assert_eq!(matches(&path, &other), plain && path == other || !plain && other.starts_with(&path));
            prop_assert!(matches("*", &other));
            let classes: String = path.chars().map(|c| if c == '!' || c == '/' { c.to_string() } else { format!("[{c}]") }).collect();
            prop_assert_eq!(matches(&classes, &other), classes.ends_with('/') && other.starts_with(&path) || path == other);
            let (prefix, longer) = (format!("{path}*"), format!("{path}{other}"));
            prop_assert!(matches(&prefix, &longer));
        }

    }

    proptest! {
        // Each case starts Python: a few batches by default, PROPTEST_CASES for long runs.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(4),
            max_shrink_iters: 0,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// `keep` agrees with huggingface_hub's `filter_repo_objects` (fnmatchcase after its
        /// normalisation) on generated patterns and paths, compared in batches of 256 (one
        /// Python process each); a mismatch names its case, so batches are not shrunk.
        #[test]
        fn prop_glob_agrees_with_python_batched(
            cases in prop::collection::vec(
                (path(), prop::collection::vec(pattern(), 0..3), prop::collection::vec(pattern(), 0..2)),
                256,
            )
        ) {
            let want = python_keep(&cases);
            for ((path, include, exclude), want) in cases.iter().zip(want) {
                prop_assert_eq!(keep(path, include, exclude), want, "path {:?} include {:?} exclude {:?}", path, include, exclude);
            }
        }
    }
}
