//! The etags a commit's cached tree listing (`trees/<commit>.json`, huggingface_hub's
//! format) gives its files, read as a stream: a dataset's listing can be 60 MB and 800,000
//! files, of which a server wants the few its snapshot holds, so only the entries asked for
//! are kept and the rest is read past without being built.
//!
//! ```json
//! {"format_version": 1, "files": {"model.safetensors": {"size": 1234, "blob_id": "<git sha1>", "lfs_sha256": "<sha256>"}}}
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize as _;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use crate::hashes::Etag;

/// What a commit's cached tree listing says of files: path -> (etag, size). The etag is the
/// sha256 of an LFS file, the git blob sha1 otherwise.
pub type ListedEtags = BTreeMap<String, (Etag, u64)>;

/// The entries of `listing` (in format version 1) whose path `wanted` accepts, with a
/// well-formed hash; `None` when it is not such a listing.
pub(super) fn parse_etags(listing: impl std::io::Read, wanted: &dyn Fn(&str) -> bool) -> Option<ListedEtags> {
    let mut deserializer = serde_json::Deserializer::from_reader(listing);
    let (version, files) = Document { wanted }.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    (version == Some(1)).then_some(files?)
}

/// One file's entry; other fields are read past.
#[derive(serde::Deserialize)]
struct Listed<'a> {
    size: u64,
    #[serde(borrow, default)]
    blob_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    lfs_sha256: Option<Cow<'a, str>>,
}

/// The whole document: its `format_version` and the wanted entries of `files`.
struct Document<'w> {
    wanted: &'w dyn Fn(&str) -> bool,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = (Option<u64>, Option<ListedEtags>);

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = (Option<u64>, Option<ListedEtags>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tree listing")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut version, mut files) = (None, None);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "format_version" => version = Some(map.next_value()?),
                "files" => files = Some(map.next_value_seed(Files { wanted: self.wanted })?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((version, files))
    }
}

/// The `files` object, keeping the wanted entries.
struct Files<'w> {
    wanted: &'w dyn Fn(&str) -> bool,
}

impl<'de> DeserializeSeed<'de> for Files<'_> {
    type Value = ListedEtags;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Files<'_> {
    type Value = ListedEtags;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the files of a tree listing")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = ListedEtags::new();
        while let Some(path) = map.next_key::<Cow<'de, str>>()? {
            if !(self.wanted)(&path) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            // An entry not well formed is left out, not the listing.
            let entry: serde_json::Value = map.next_value()?;
            let Ok(listed) = Listed::deserialize(&entry) else { continue };
            let hash = listed.lfs_sha256.or(listed.blob_id);
            if let Some(etag) = hash.and_then(|h| Etag::parse(&h).ok()) {
                kept.insert(path.into_owned(), (etag, listed.size));
            }
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wanted_well_formed_entries_are_kept() {
        let sha256 = "a".repeat(64);
        let sha1 = "b".repeat(40);
        let text = format!(
            r#"{{"files": {{"w.bin": {{"size": 7, "blob_id": "{sha1}", "lfs_sha256": "{sha256}", "xet_hash": "x"}},
                "c.json": {{"size": 2, "blob_id": "{sha1}"}}, "skip.txt": {{"size": 1, "blob_id": "{sha1}"}},
                "bad.txt": {{"size": -1, "blob_id": "{sha1}"}}, "nohash.txt": {{"size": 1}}}}, "format_version": 1, "extra": [1]}}"#
        );
        let kept = parse_etags(text.as_bytes(), &|p| p != "skip.txt").unwrap();
        let expected: ListedEtags = [
            ("c.json".to_owned(), (Etag::parse(&sha1).unwrap(), 2)),
            ("w.bin".to_owned(), (Etag::parse(&sha256).unwrap(), 7)),
        ]
        .into_iter()
        .collect();
        assert_eq!(kept, expected);
        assert_eq!(parse_etags(&br#"{"format_version": 2, "files": {}}"#[..], &|_| true), None);
        assert_eq!(parse_etags(&br#"{"files": {}}"#[..], &|_| true), None);
        assert_eq!(parse_etags(&br#"{"format_version": 1}"#[..], &|_| true), None);
        assert_eq!(parse_etags(&br#"[1]"#[..], &|_| true), None);
        assert_eq!(parse_etags(&br#"{"format_version": 1, "files": {}} trailing"#[..], &|_| true), None);
    }
}
