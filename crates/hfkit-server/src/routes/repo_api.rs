//! `GET /api/{types}/{id}`, `…/revision/{rev}` and `…/tree/{rev}[/{path}]`: repo info and
//! recursive file listings with `Link` pagination, as huggingface_hub reads them.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::access::{caller, check_visible, repo_not_found};
use super::decode;
use crate::HubState;
use crate::hub_error::HubError;
use crate::repos::StoredRepo;

pub(super) fn handle(
    state: &HubState,
    headers: &HeaderMap,
    segments: &[&str],
    query: &str,
) -> Result<Response, HubError> {
    let kind = match segments.first() {
        Some(&"models") => "model",
        Some(&"datasets") => "dataset",
        Some(&"spaces") => "space",
        Some(&"kernels") => "kernel",
        _ => return Err(HubError::not_found("Not Found")),
    };
    let rest = &segments[1..];
    let (id_len, action) = match rest.iter().position(|s| matches!(*s, "revision" | "tree" | "refs")) {
        Some(at) => (at, Some(rest[at])),
        None => (rest.len(), None),
    };
    if id_len == 0 || id_len > 2 {
        return Err(HubError::not_found("Not Found"));
    }
    let id = rest[..id_len].join("/");
    let args = &rest[(id_len + 1).min(rest.len())..];
    let user = caller(state, headers)?;
    if let Some(new_id) = state.renamed(kind, &id) {
        let location = format!(
            "/api/{}/{new_id}{}",
            segments[0],
            rest[id_len..].iter().map(|s| format!("/{s}")).collect::<String>()
        );
        return Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response());
    }
    let repos = state.repos();
    let repo = repos.get(&(kind.to_owned(), id)).ok_or_else(|| repo_not_found(user.as_deref()))?;
    check_visible(state, repo, user.as_deref())?;
    let resolve = |rev: &str| {
        repo.resolve(rev)
            .map(str::to_owned)
            .ok_or_else(|| HubError::not_found(format!("Invalid rev id: {rev}")).code("RevisionNotFound"))
    };
    match action {
        None => Ok(Json(info(repo, &resolve("main")?)).into_response()),
        Some("revision") if !args.is_empty() => {
            Ok(Json(info(repo, &resolve(&decode(&args.join("/")))?)).into_response())
        }
        Some("refs") => Ok(Json(refs(repo)).into_response()),
        Some("tree") if !args.is_empty() => {
            let commit = resolve(&decode(args[0]))?;
            let prefix: Vec<String> = args[1..].iter().map(|s| decode(s)).collect();
            tree(state, headers, repo, &commit, &prefix.join("/"), query)
        }
        _ => Err(HubError::not_found("Not Found")),
    }
}

fn info(repo: &StoredRepo, commit: &str) -> Value {
    let files = &repo.commits[commit];
    let siblings: Vec<Value> = files.keys().map(|p| json!({"rfilename": p})).collect();
    let gated = match repo.visibility {
        crate::repos::Visibility::Gated => json!("auto"),
        _ => json!(false),
    };
    let mut body = json!({
        "_id": &commit[..24],
        "id": repo.id,
        "author": repo.owner(),
        "sha": commit,
        "private": repo.visibility == crate::repos::Visibility::Private,
        "gated": gated,
        "disabled": repo.disabled,
        "lastModified": "2025-01-01T00:00:00.000Z",
        "tags": [],
        "downloads": 0,
        "likes": 0,
        "siblings": siblings,
    });
    if repo.kind == "model" {
        body["modelId"] = json!(repo.id);
    }
    body
}

fn refs(repo: &StoredRepo) -> Value {
    let list = |prefix: &str| -> Vec<Value> {
        repo.refs
            .iter()
            .filter(|(name, _)| !name.starts_with("refs/"))
            .filter(|(name, _)| prefix.is_empty() || name.starts_with(prefix))
            .map(|(name, commit)| json!({"name": name, "ref": format!("refs/heads/{name}"), "targetCommit": commit}))
            .collect()
    };
    json!({"branches": list(""), "tags": [], "converts": []})
}

fn tree(
    state: &HubState,
    headers: &HeaderMap,
    repo: &StoredRepo,
    commit: &str,
    prefix: &str,
    query: &str,
) -> Result<Response, HubError> {
    let param = |name: &str| {
        query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.to_owned()))
    };
    let recursive = param("recursive").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let cursor: usize = param("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let files = &repo.commits[commit];
    let base = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    if !prefix.is_empty() && !files.keys().any(|p| p.starts_with(&base)) {
        return Err(HubError::not_found(format!("Entry not found: {prefix}"))
            .code("EntryNotFound")
            .header("x-repo-commit", commit));
    }
    let mut entries: Vec<Value> = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for (path, file) in files.iter().filter(|(p, _)| p.starts_with(&base)) {
        let relative = &path[base.len()..];
        let parts: Vec<&str> = relative.split('/').collect();
        for depth in 1..parts.len() {
            if recursive || depth == 1 {
                dirs.insert(format!("{base}{}", parts[..depth].join("/")));
            }
        }
        if !recursive && parts.len() > 1 {
            continue;
        }
        let mut entry = json!({"type": "file", "oid": file.oid, "size": file.size, "path": path});
        if let Some(sha) = &file.lfs_sha256 {
            entry["lfs"] = json!({"oid": sha, "size": file.size, "pointerSize": file.pointer_size()});
        }
        if let Some(xet) = &file.xet_hash {
            entry["xetHash"] = json!(xet);
        }
        entries.push(entry);
    }
    for dir in dirs {
        entries.push(json!({"type": "directory", "oid": "0000000000000000000000000000000000000000", "path": dir}));
    }
    entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    let page = state.tree_page_size();
    let end = (cursor + page).min(entries.len());
    let slice = entries.get(cursor..end).unwrap_or_default().to_vec();
    let mut response = Json(Value::Array(slice)).into_response();
    if end < entries.len() {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        let path_part = if prefix.is_empty() { String::new() } else { format!("/{prefix}") };
        let next = format!(
            "<http://{host}/api/{}s/{}/tree/{commit}{path_part}?recursive={recursive}&expand=false&cursor={end}>; rel=\"next\"",
            repo.kind, repo.id
        );
        response.headers_mut().insert(header::LINK, HeaderValue::from_str(&next).expect("ascii"));
    }
    Ok(response)
}
