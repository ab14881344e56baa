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
}
