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
    repos.sort_by_key(|r| r.cache_id());
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
        unique.sort_by_key(|r| r.path.clone());
        unique.dedup_by_key(|r| r.path.clone());
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
        let op = ["==", "!=", ">=", "<=", ">", "<", "="].into_iter().find(|op| rest.starts_with(op));
        let (Some(op), false) = (op, key.is_empty()) else {
            return Err(bad(format!("Invalid filter expression: '{expr}'.")));
        };
        let value = rest[op.len()..].trim().to_owned();
        if value.is_empty() {
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
    if let Ok(n) = value.parse::<i64>() {
        return Ok(n as f64);
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
    if !matches!(order, None | Some("asc" | "desc")) || key.is_empty() {
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
    match key {
        "name" => entries.sort_by_key(|(r, _)| r.cache_id().to_lowercase()),
        "size" | "accessed" | "modified" => entries.sort_by(|a, b| value(a).total_cmp(&value(b))),
        _ => {
            return Err(UsageError(format!(
                "Invalid value: Unsupported sort key '{key}' in '{expr}'. Must be one of ['accessed', 'modified', 'name', 'size']."
            )));
        }
    }
    if descending {
        entries.reverse();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
