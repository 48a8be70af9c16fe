//! The shared steps of the rules: where a field was written, list entries with their places,
//! counts, required fields, lengths and uniqueness. Every rule in [`super`] and
//! [`super::fields`] is written with these.

use super::Field;
use crate::convert::Cx;
use crate::diagnostic::{Diagnostic, codes};
use crate::located::Located;
use crate::node::NodeKind;
use crate::source::Location;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

pub(super) fn nested<T>(
    cx: &mut Cx<'_>,
    name: &str,
    field: &Field<T>,
    f: impl FnOnce(&Located<T>, &mut Cx<'_>),
) {
    if let Some(v) = field {
        cx.at(name, |cx| f(v, cx));
    }
}

/// The entries of list `name` (under the current path) with the index and the place each was
/// written at. Entries that could not be converted are reported already and missing from the
/// typed list, so the typed entries are matched with the written ones that converted.
pub(super) fn entries<'a, T>(
    cx: &Cx<'_>,
    name: &str,
    list: &'a Located<Vec<T>>,
) -> Vec<(usize, Location, &'a T)> {
    if let Some(NodeKind::Seq(items)) = cx.node(name).map(|n| &n.kind) {
        let converted: Vec<(usize, Location)> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                cx.conversion_clean() || !cx.conversion_failed_at(&format!("{name}[{i}]"))
            })
            .map(|(i, n)| (i, n.loc))
            .collect();
        if converted.len() == list.len() {
            return converted
                .into_iter()
                .zip(list.iter())
                .map(|((i, loc), item)| (i, loc, item))
                .collect();
        }
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| (i, list.loc, item))
        .collect()
}

/// Checks the count of list `name` and runs `f` on each entry with the place it was written at.
pub(super) fn each<T>(
    cx: &mut Cx<'_>,
    name: &str,
    list: &Field<Vec<T>>,
    max: usize,
    mut f: impl FnMut(&T, Location, &mut Cx<'_>),
) {
    let Some(list) = list else { return };
    let entries = entries(cx, name, list);
    let written = match cx.node(name).map(|n| &n.kind) {
        Some(NodeKind::Seq(items)) => items.len(),
        _ => list.len(),
    };
    cx.at(name, |cx| {
        if written > max {
            cx.report(
                Diagnostic::error(
                    codes::COUNT,
                    format!("{written} entries; at most {max} are allowed"),
                )
                .at(list.loc),
            );
        }
        for (i, loc, item) in entries {
            cx.at_index(i, |cx| f(item, loc, cx));
        }
    });
}

/// Where field `name` (under the current path) was written, when it was written and is not
/// null: an empty one-of (`data: {}`) is absent from the typed value but present here.
pub(super) fn written_at(cx: &Cx<'_>, name: &str) -> Option<Location> {
    cx.node(name)
        .filter(|n| n.kind != NodeKind::Null)
        .map(|n| n.loc)
}

pub(super) fn required(field: &str, parent: Location) -> Diagnostic {
    Diagnostic::error(codes::REQUIRED, format!("`{field}` is required"))
        .at(parent)
        .at_path(field)
}

/// Reports a missing field as `<path>.<field>`.
pub(super) fn require<T>(
    cx: &mut Cx<'_>,
    field: &Field<T>,
    name: &str,
    parent: Location,
    help: &str,
) -> bool {
    if field.is_none() {
        if cx.explained(name) {
            return false;
        }
        let at = written_at(cx, name).unwrap_or(parent);
        cx.at(name, |cx| {
            cx.report(
                Diagnostic::error(codes::REQUIRED, format!("`{name}` is required"))
                    .at(at)
                    .with_help(help),
            );
        });
        return false;
    }
    true
}

pub(super) fn max_len(cx: &mut Cx<'_>, field: &Field<String>, name: &str, min: usize, max: usize) {
    max_len_of(
        cx,
        field.as_ref().map(|f| (f.value.as_str(), f.loc)),
        name,
        min,
        max,
    );
}

pub(super) fn max_len_of(
    cx: &mut Cx<'_>,
    field: Option<(&str, Location)>,
    name: &str,
    min: usize,
    max: usize,
) {
    let Some((value, loc)) = field else { return };
    let len = value.len();
    if len < min || len > max {
        cx.at(name, |cx| {
            let message = if len < min {
                format!("`{name}` must not be empty")
            } else {
                format!("`{name}` is {len} bytes; at most {max} are allowed")
            };
            cx.report(Diagnostic::error(codes::LENGTH, message).at(loc));
        });
    }
}

pub(super) fn ascii_key(
    cx: &mut Cx<'_>,
    field: &Field<String>,
    name: &str,
    parent: Location,
    max: usize,
) {
    if require(cx, field, name, parent, "add the name of the variable") {
        max_len(cx, field, name, 1, max);
        if let Some(k) = field.as_ref().filter(|k| !k.is_ascii()) {
            cx.at(name, |cx| {
                cx.report(
                    Diagnostic::error(codes::NAME, format!("`{}` is not ASCII", k.value)).at(k.loc),
                )
            });
        }
    }
}

/// Reports entries of a list whose key appeared before, naming both places.
pub(super) fn unique<'a>(
    cx: &mut Cx<'_>,
    list_name: &str,
    keys: impl Iterator<Item = (usize, Option<(&'a str, Location)>)>,
    key_name: &str,
    what: &str,
) {
    // A map, not a list: a hostile list of many thousand keys costs linear time, not quadratic.
    let mut seen: HashMap<&str, Location> = HashMap::with_capacity(keys.size_hint().0);
    for (i, key) in keys {
        let Some((key, loc)) = key else { continue };
        match seen.entry(key) {
            Entry::Occupied(first) => {
                let first = *first.get();
                cx.at(&format!("{list_name}[{i}].{key_name}"), |cx| {
                    cx.report(
                        Diagnostic::error(
                            codes::DUPLICATE,
                            format!("{what} `{key}` is defined twice"),
                        )
                        .at(loc)
                        .with_related(first, "first defined here")
                        .with_help("remove or rename one of them"),
                    );
                });
            }
            Entry::Vacant(slot) => {
                slot.insert(loc);
            }
        }
    }
}
