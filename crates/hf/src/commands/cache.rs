//! `hf cache ls`: the cache as huggingface_hub 2.4 lists it (same columns, sizes, relative
//! times, filters, sorting and footer), on caches written by either tool.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use hfkit::cache::{CacheInfo, CachedRepo, CachedRevision, scan};
use serde_json::json;

use super::auth::Status;
use super::download::human_size;
use crate::cli::CacheLsArgs;
use crate::output::{Cell, Table, shown, shown_path};
use crate::settings::{Context, UsageError};

/// A row: a repo, and a revision in `--revisions` mode.
type Entry<'a> = (&'a CachedRepo, Option<&'a CachedRevision>);

pub(crate) fn ls(ctx: &Context, args: &CacheLsArgs) -> Result<Status> {
    let p = &ctx.printer;
    let dir = args.cache_dir.clone().unwrap_or_else(|| ctx.config.hub_cache.clone());
    let info = scan(&dir)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let filters = args.filters.iter().map(|f| Filter::parse(f)).collect::<Result<Vec<_>, _>>()?;
    let mut repos: Vec<&CachedRepo> = info.repos.iter().collect();
    repos.sort_by_cached_key(|r| r.cache_id());
    let mut entries: Vec<Entry<'_>> = if args.revisions {
        repos
            .iter()
            .flat_map(|r| {
                let mut revs: Vec<&CachedRevision> = r.revisions.iter().collect();
                revs.sort_by(|a, b| a.commit.cmp(&b.commit));
                revs.into_iter().map(move |v| (*r, Some(v)))
            })
            .collect()
    } else {
        repos.iter().map(|r| (*r, None)).collect()
    };
    entries.retain(|e| filters.iter().all(|f| f.matches(*e, now)));
    if let Some(sort) = &args.sort {
        sort_entries(&mut entries, sort)?;
    }
    if let Some(limit) = args.limit {
        let limit = usize::try_from(limit)
            .map_err(|_| UsageError(format!("Invalid value: Limit must be a positive integer, got {limit}.")))?;
        entries.truncate(limit);
    }
    print_entries(ctx, &entries, args.revisions, now);
    if !entries.is_empty() {
        let mut unique: Vec<&CachedRepo> = entries.iter().map(|(r, _)| *r).collect();
        unique.sort_by(|a, b| a.path.cmp(&b.path));
        unique.dedup_by(|a, b| a.path == b.path);
        let (revisions, size) = if args.revisions {
            (
                entries.iter().filter(|(_, v)| v.is_some()).count(),
                entries.iter().filter_map(|(_, v)| v.map(|v| v.size_on_disk)).sum(),
            )
        } else if !args.filters.is_empty() || args.limit.is_some() {
            (unique.iter().map(|r| r.revisions.len()).sum(), unique.iter().map(|r| r.size_on_disk).sum())
        } else {
            (unique.iter().map(|r| r.revisions.len()).sum(), info.size_on_disk)
        };
        p.text(&format!(
            "\nFound {} repo(s) for a total of {revisions} revision(s) and {} on disk.",
            unique.len(),
            human_size(size)
        ));
    }
    report_problems(ctx, &info, args.show_warnings);
    Ok(0)
}

fn print_entries(ctx: &Context, entries: &[Entry<'_>], revisions: bool, now: f64) {
    let refs = |r: &CachedRepo| r.refs().into_iter().collect::<Vec<_>>();
    if revisions {
        let rows = entries
            .iter()
            .filter_map(|(r, v)| v.map(|v| (r, v)))
            .map(|(r, v)| {
                vec![
                    Cell::Text(r.cache_id()),
                    Cell::Text(v.commit.clone()),
                    Cell::Text(human_size(v.size_on_disk)),
                    Cell::Text(time_since(v.last_modified, now)),
                    Cell::List(v.refs.iter().cloned().collect()),
                ]
            })
            .collect();
        let json = entries
            .iter()
            .filter_map(|(r, v)| v.map(|v| (r, v)))
            .map(|(r, v)| {
                json!({"id": r.cache_id(), "repo_id": r.id, "repo_type": r.kind.as_str(), "revision": v.commit,
                       "snapshot_path": v.snapshot_path.display().to_string(), "size": human_size(v.size_on_disk),
                       "last_modified": time_since(v.last_modified, now), "refs": v.refs})
            })
            .collect();
        ctx.printer.out_table(Table {
            headers: &["id", "revision", "size", "last_modified", "refs"],
            rows,
            right: &["size"],
            id: "revision",
            json,
        });
    } else {
        let rows = entries
            .iter()
            .map(|(r, _)| {
                vec![
                    Cell::Text(r.cache_id()),
                    Cell::Text(human_size(r.size_on_disk)),
                    Cell::Text(time_since(r.last_accessed, now)),
                    Cell::Text(time_since(r.last_modified, now)),
                    Cell::List(refs(r)),
                ]
            })
            .collect();
        let json = entries
            .iter()
            .map(|(r, _)| {
                json!({"id": r.cache_id(), "repo_id": r.id, "repo_type": r.kind.as_str(), "size": human_size(r.size_on_disk),
                       "last_accessed": time_since(r.last_accessed, now), "last_modified": time_since(r.last_modified, now),
                       "refs": refs(r)})
            })
            .collect();
        ctx.printer.out_table(Table {
            headers: &["id", "size", "last_accessed", "last_modified", "refs"],
            rows,
            right: &["size"],
            id: "id",
            json,
        });
    }
}

fn report_problems(ctx: &Context, info: &CacheInfo, show: bool) {
    let p = &ctx.printer;
    if !info.warnings.is_empty() {
        if show {
            for w in &info.warnings {
                p.warning(&format!("{}. Repo ignored.", shown(w.trim_end_matches('.'))));
            }
        } else {
            p.warning(&format!(
                "Found {} cache inconsistencies. Re-run with `--show-warnings` to display them.",
                info.warnings.len()
            ));
        }
    }
    if show {
        // hfkit's own checks, shown only on request so that the default output stays
        // huggingface_hub's.
        for blob in &info.orphan_blobs {
            p.warning(&format!(
                "Blob not used by any snapshot: {} ({}).",
                shown_path(&blob.path),
                human_size(blob.size)
            ));
        }
        let locks = hfkit::cache::stale_locks(info);
        if !locks.is_empty() {
            p.hint(&format!("Found {} stale lock(s). Remove them with 'hf cache prune'.", locks.len()));
        }
    }
    if !info.incomplete.is_empty() {
        p.hint(&format!(
            "Found {} incomplete download(s) totalling {}. Remove them with 'hf cache prune'.",
            info.incomplete.len(),
            human_size(info.incomplete_size())
        ));
    }
    let unreferenced = info.unreferenced_shared();
    if !unreferenced.is_empty() {
        p.hint(&format!(
            "Found {} unreferenced shared blob(s) totalling {}. Remove them with 'hf cache prune'.",
            unreferenced.len(),
            human_size(unreferenced.iter().map(|(_, size)| size).sum())
        ));
    }
}

/// huggingface_hub's `format_timesince`: "a few seconds ago", then rounded units that roll
/// over at 59 s, 59 min, 23 h, 6 d, 6 w and 11 months.
pub(crate) fn time_since(ts: f64, now: f64) -> String {
    let delta = now - ts;
    if delta < 20.0 {
        return "a few seconds ago".to_owned();
    }
    const CHUNKS: [(&str, f64, Option<f64>); 7] = [
        ("second", 1.0, Some(59.0)),
        ("minute", 60.0, Some(59.0)),
        ("hour", 3600.0, Some(23.0)),
        ("day", 86_400.0, Some(6.0)),
        ("week", 604_800.0, Some(6.0)),
        ("month", 2_592_000.0, Some(11.0)),
        ("year", 31_536_000.0, None),
    ];
    let mut chosen = ("year", 0.0);
    for (label, divider, max) in CHUNKS {
        let value = round_half_even(delta / divider);
        chosen = (label, value);
        if max.is_some_and(|m| value <= m) {
            break;
        }
    }
    let (label, value) = chosen;
    format!("{value} {label}{} ago", if value > 1.0 { "s" } else { "" })
}

/// Python's `round()`: halves go to the even neighbour.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 { 2.0 * (x / 2.0).round() } else { r }
}

/// One `--filter` expression: `<key><op><value>`.
struct Filter {
    key: String,
    op: String,
    number: f64,
    text: String,
}

impl Filter {
    fn parse(expr: &str) -> Result<Self, UsageError> {
        let bad = |msg: String| UsageError(format!("Invalid value: {msg}"));
        let trimmed = expr.trim();
        let key_end = trimmed.find(|c: char| !(c.is_ascii_alphabetic() || c == '_')).unwrap_or(trimmed.len());
        let key = trimmed[..key_end].to_lowercase();
        let rest = trimmed[key_end..].trim_start();
        // The first operator after which a value follows, as Python's regex backtracks.
        let op = ["==", "!=", ">=", "<=", ">", "<", "="]
            .into_iter()
            .find(|op| rest.strip_prefix(op).is_some_and(|v| !v.trim().is_empty()));
        let (Some(op), false) = (op, key.is_empty()) else {
            return Err(bad(format!("Invalid filter expression: '{expr}'.")));
        };
        let value = rest[op.len()..].trim().to_owned();
        // Python's pattern ends in `.+`, which does not cross a line break.
        if value.is_empty() || value.contains('\n') {
            return Err(bad(format!("Invalid filter expression: '{expr}'.")));
        }
        let op = if op == "==" { "=" } else { op };
        let number = match key.as_str() {
            "size" => parse_with_unit(&value, &SIZE_UNITS).map_err(bad)?,
            "accessed" | "modified" => parse_with_unit(&value, &TIME_UNITS).map_err(bad)?,
            "type" | "refs" if op != "=" => {
                return Err(bad(format!("Only '=' is supported for '{key}' filters. Got '{op}'.")));
            }
            "type" | "refs" => 0.0,
            _ => {
                return Err(bad(format!(
                    "Unsupported filter key '{key}' in '{expr}'. Must be one of ['accessed', 'modified', 'size', 'refs', 'type']."
                )));
            }
        };
        Ok(Self { key, op: op.to_owned(), number, text: value.to_lowercase() })
    }

    fn matches(&self, (repo, revision): Entry<'_>, now: f64) -> bool {
        let compare = |left: f64| match self.op.as_str() {
            "=" => left == self.number,
            "!=" => left != self.number,
            ">" => left > self.number,
            "<" => left < self.number,
            ">=" => left >= self.number,
            _ => left <= self.number,
        };
        match self.key.as_str() {
            "size" => compare(revision.map_or(repo.size_on_disk, |v| v.size_on_disk) as f64),
            "accessed" => compare(now - repo.last_accessed),
            "modified" => compare(now - revision.map_or(repo.last_modified, |v| v.last_modified)),
            "type" => repo.kind.as_str() == self.text,
            _ => {
                let refs = revision.map_or_else(|| repo.refs(), |v| v.refs.clone());
                refs.iter().any(|r| r.to_lowercase() == self.text)
            }
        }
    }
}

const SIZE_UNITS: [(&str, f64); 10] = [
    ("k", 1e3),
    ("kb", 1e3),
    ("m", 1e6),
    ("mb", 1e6),
    ("g", 1e9),
    ("gb", 1e9),
    ("t", 1e12),
    ("tb", 1e12),
    ("p", 1e15),
    ("pb", 1e15),
];
const TIME_UNITS: [(&str, f64); 7] = [
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86_400.0),
    ("w", 604_800.0),
    ("mo", 2_592_000.0),
    ("y", 31_536_000.0),
];

/// A plain integer, or `<digits><unit>`.
fn parse_with_unit(value: &str, units: &[(&str, f64)]) -> Result<f64, String> {
    // A plain integer of any length, signed or not, as Python's `int()` reads it.
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(value.parse::<f64>().unwrap_or(0.0));
    }
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    if digits.is_empty() || unit.is_empty() || !unit.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(format!("Invalid value '{value}'. Must match pattern '\\d+[a-z]+' or be a plain number."));
    }
    let unit = unit.to_lowercase();
    let factor = units.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f).ok_or_else(|| {
        let names: Vec<String> = units.iter().map(|(u, _)| format!("'{u}'")).collect();
        format!("Unknown unit '{unit}'. Must be one of [{}].", names.join(", "))
    })?;
    Ok(digits.parse::<f64>().unwrap_or(0.0) * factor)
}

fn sort_entries(entries: &mut [Entry<'_>], expr: &str) -> Result<(), UsageError> {
    let lowered = expr.trim().to_lowercase();
    let (key, order) = lowered.split_once(':').map_or((lowered.as_str(), None), |(k, o)| (k, Some(o)));
    let key_ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    if !matches!(order, None | Some("asc" | "desc")) || !key_ok {
        return Err(UsageError(format!(
            "Invalid value: Invalid sort expression: '{expr}'. Expected format: 'key' or 'key:asc' or 'key:desc'."
        )));
    }
    let descending = match (key, order) {
        ("name", None) => false,
        (_, None) => true,
        (_, Some(o)) => o == "desc",
    };
    let value = |(repo, revision): &Entry<'_>| -> f64 {
        match key {
            "size" => revision.map_or(repo.size_on_disk, |v| v.size_on_disk) as f64,
            "accessed" => repo.last_accessed,
            _ => revision.map_or(repo.last_modified, |v| v.last_modified),
        }
    };
    // Python's `sort(key=…, reverse=True)`: descending, and entries that compare equal keep
    // their order (a plain reverse after an ascending sort would swap them).
    let directed = |o: std::cmp::Ordering| if descending { o.reverse() } else { o };
    match key {
        "name" => {
            let name = |r: &CachedRepo| r.cache_id().to_lowercase();
            entries.sort_by(|(a, _), (b, _)| directed(name(a).cmp(&name(b))));
        }
        "size" | "accessed" | "modified" => entries.sort_by(|a, b| directed(value(a).total_cmp(&value(b)))),
        _ => {
            return Err(UsageError(format!(
                "Invalid value: Unsupported sort key '{key}' in '{expr}'. Must be one of ['accessed', 'modified', 'name', 'size']."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use hfkit::repo::RepoType;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn times_read_like_python() {
        let now = 1_000_000_000.0;
        assert_eq!(time_since(now - 5.0, now), "a few seconds ago");
        assert_eq!(time_since(now - 30.0, now), "30 seconds ago");
        assert_eq!(time_since(now - 60.0, now), "1 minute ago");
        assert_eq!(time_since(now - 3600.0 * 5.0, now), "5 hours ago");
        assert_eq!(time_since(now - 86_400.0 * 8.0, now), "1 week ago");
        assert_eq!(time_since(now - 86_400.0 * 400.0, now), "1 year ago");
    }

    #[test]
    fn units() {
        assert_eq!(parse_with_unit("1GB", &SIZE_UNITS), Ok(1e9));
        assert_eq!(parse_with_unit("7d", &TIME_UNITS), Ok(604_800.0));
        assert_eq!(parse_with_unit("2mo", &TIME_UNITS), Ok(5_184_000.0));
        assert!(parse_with_unit("1xb", &SIZE_UNITS).is_err());
        assert!(Filter::parse("foo=bar").is_err());
        assert!(Filter::parse("type>model").is_err());
    }

    #[test]
    fn found_by_properties() {
        // prop_cache_sort_agrees_with_python: a descending sort swapped entries that tie.
        let repo = |id: &str| CachedRepo {
            kind: RepoType::Model,
            id: id.to_owned(),
            path: PathBuf::from("/c"),
            size_on_disk: 1,
            nb_files: 1,
            last_accessed: 0.0,
            last_modified: 0.0,
            revisions: Vec::new(),
        };
        let repos = [repo("b"), repo("a")];
        let mut entries: Vec<Entry<'_>> = repos.iter().map(|r| (r, None)).collect();
        sort_entries(&mut entries, "size").unwrap();
        assert_eq!(entries.iter().map(|(r, _)| r.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        // prop_cache_filter_agrees_with_python: integers past i64, a value over two lines,
        // and `type==` (Python backtracks to `=` with the value `=`).
        assert_eq!(Filter::parse("size>99999999999999999999").unwrap().number, 1e20);
        assert!(Filter::parse("type=model\nx").is_err());
        assert_eq!(Filter::parse("type==").unwrap().text, "=");
    }

    const FILTER_KEYS: [&str; 5] = ["accessed", "modified", "refs", "size", "type"];

    /// huggingface_hub 2.4's `compile_cache_filter`, written independently: the regex
    /// `(?P<key>[a-zA-Z_]+)\s*(?P<op>==|!=|>=|<=|>|<|=)\s*(?P<value>.+)` (with its
    /// backtracking), then the key, operator and unit checks. `Some((key, op, number))` when
    /// it accepts. One deliberate difference: `==` means `=` (Python refuses it).
    fn python_filter(expr: &str) -> Option<(String, String, f64)> {
        let e = expr.trim();
        let key_len = e.bytes().take_while(|b| b.is_ascii_alphabetic() || *b == b'_').count();
        let (key, rest) = (e[..key_len].to_lowercase(), e[key_len..].trim_start());
        if key.is_empty() {
            return None;
        }
        let (op, value) = ["==", "!=", ">=", "<=", ">", "<", "="].iter().find_map(|op| {
            let v = rest.strip_prefix(op)?.trim_start();
            (!v.is_empty() && !v.contains('\n')).then(|| (op.replace("==", "="), v.trim()))
        })?;
        let number = |units: &[(&str, f64)]| -> Option<f64> {
            let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return value.parse().ok();
            }
            let split = value.find(|c: char| !c.is_ascii_digit())?;
            let (n, unit) = value.split_at(split);
            let factor = units.iter().find(|(u, _)| unit.eq_ignore_ascii_case(u))?.1;
            (!n.is_empty()).then(|| n.parse::<f64>().ok().map(|n| n * factor))?
        };
        let n = match key.as_str() {
            "size" => number(&SIZE_UNITS)?,
            "accessed" | "modified" => number(&TIME_UNITS)?,
            "type" | "refs" if op == "=" => 0.0,
            _ => return None,
        };
        Some((key, op, n))
    }

    /// Filter expressions near the grammar: keys, operators, numbers, units and noise.
    fn filter_expr() -> impl Strategy<Value = String> {
        let key = prop_oneof![prop::sample::select(FILTER_KEYS.to_vec()).prop_map(str::to_owned), "[a-zA-Z_]{0,6}"];
        let op = prop::sample::select(vec!["=", "==", "!=", ">", "<", ">=", "<=", "=<", "=>", "!", ""]);
        let value = prop_oneof![
            "[+-]?[0-9]{1,25}",
            "[0-9]{0,4}(k|kb|m|mb|g|gb|t|tb|p|pb|s|h|d|w|mo|y|x|KB|Mo)",
            "[0-9a-zA-Z+ \n=<>-]{0,8}",
        ];
        (" ?", key, "[ \t]{0,2}", op, "[ \t]{0,2}", value).prop_map(|(a, k, b, o, c, v)| format!("{a}{k}{b}{o}{c}{v}"))
    }

    /// A repo of the cache with one revision, for sorting and filtering.
    fn cached_repo() -> impl Strategy<Value = CachedRepo> {
        let kind = prop::sample::select(RepoType::ALL.to_vec());
        // Few distinct values, so that ties (which Python keeps in order) are common.
        (kind, "[a-cA-C]{1,2}", 0u64..4, 0u32..3, 0u32..3).prop_map(|(kind, id, size, accessed, modified)| CachedRepo {
            kind,
            id,
            path: PathBuf::from("/c"),
            size_on_disk: size,
            nb_files: 1,
            last_accessed: f64::from(accessed),
            last_modified: f64::from(modified),
            revisions: vec![CachedRevision {
                commit: "0".repeat(40),
                snapshot_path: PathBuf::from("/c/s"),
                refs: BTreeSet::from(["main".to_owned()]),
                size_on_disk: size,
                files: Vec::new(),
                last_modified: f64::from(modified),
            }],
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// `--filter` accepts exactly what huggingface_hub accepts, with the same threshold.
        #[test]
        fn prop_cache_filter_agrees_with_python(expr in filter_expr()) {
            let ours = Filter::parse(&expr).ok().map(|f| (f.key, f.op, f.number));
            prop_assert_eq!(ours, python_filter(&expr), "{:?}", expr);
        }

        /// Opposite comparisons split the entries: each entry passes exactly one of them.
        #[test]
        fn prop_cache_filter_complements(
            repos in prop::collection::vec(cached_repo(), 0..6),
            key in prop::sample::select(vec!["size", "accessed", "modified"]),
            n in 0u32..4,
            pair in prop::sample::select(vec![("<", ">="), (">", "<="), ("=", "!=")]),
        ) {
            let a = Filter::parse(&format!("{key}{}{n}", pair.0)).expect("valid");
            let b = Filter::parse(&format!("{key}{}{n}", pair.1)).expect("valid");
            for repo in &repos {
                for entry in [(repo, None), (repo, repo.revisions.first())] {
                    prop_assert!(a.matches(entry, 3.0) != b.matches(entry, 3.0));
                }
            }
        }

        /// `--sort` orders as Python's `list.sort(key=…, reverse=…)`: by the key, descending
        /// where asked (or by default for sizes and times), ties in their original order.
        #[test]
        fn prop_cache_sort_agrees_with_python(
            repos in prop::collection::vec(cached_repo(), 0..8),
            key in prop::sample::select(vec!["name", "size", "accessed", "modified", "Size", "nom", "si ze", ""]),
            order in prop::sample::select(vec!["", ":asc", ":desc", ":DESC", ":up", ":"]),
        ) {
            let expr = format!("{key}{order}");
            let mut entries: Vec<Entry<'_>> = repos.iter().map(|r| (r, None)).collect();
            let result = sort_entries(&mut entries, &expr);
            let lowered = expr.to_lowercase();
            let (k, o) = lowered.split_once(':').map_or((lowered.as_str(), None), |(k, o)| (k, Some(o)));
            let grammar = !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && matches!(o, None | Some("asc" | "desc"));
            if !grammar {
                prop_assert!(result.is_err_and(|e| e.0.contains("Invalid sort expression")));
                return Ok(());
            }
            if !["name", "size", "accessed", "modified"].contains(&k) {
                prop_assert!(result.is_err_and(|e| e.0.contains("Unsupported sort key")));
                return Ok(());
            }
            prop_assert!(result.is_ok());
            let descending = o.map_or(k != "name", |o| o == "desc");
            // The model: sort positions by (key, then original position), the key negated
            // when descending: a total order, so ties keep their original order.
            let mut model: Vec<usize> = (0..repos.len()).collect();
            let sort_key = |i: &usize| -> (String, i64) {
                let r = &repos[*i];
                let sign = if descending { -1 } else { 1 };
                match k {
                    "name" => (r.cache_id().to_lowercase(), 0),
                    "size" => (String::new(), sign * r.size_on_disk as i64),
                    "accessed" => (String::new(), sign * r.last_accessed as i64),
                    _ => (String::new(), sign * r.last_modified as i64),
                }
            };
            if k == "name" && descending {
                model.sort_by(|a, b| sort_key(b).cmp(&sort_key(a)).then(a.cmp(b)));
            } else {
                model.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)).then(a.cmp(b)));
            }
            let got: Vec<*const CachedRepo> = entries.iter().map(|(r, _)| std::ptr::from_ref(*r)).collect();
            let want: Vec<*const CachedRepo> = model.iter().map(|i| std::ptr::from_ref(&repos[*i])).collect();
            prop_assert_eq!(got, want);
        }
    }
}
