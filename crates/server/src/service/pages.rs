//! Pagination of every List: a page size (default [`DEFAULT_PAGE_SIZE`], at most
//! [`MAX_PAGE_SIZE`]) and an opaque page token naming where the next page starts. A list
//! answer is bounded however many resources the caller (or anyone else) has.

use super::documents::bad_field;
use super::resource::Result;
use crate::pb;
use crate::store::{After, Record, Store, StoreError};
use cordium_spec::Kind;

/// Items per page when the request asks for none.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 100;
/// The most items per page; larger requests are lowered to it.
pub(crate) const MAX_PAGE_SIZE: usize = 1000;
/// The most rows one page reads while filtering (a Template filter may keep few of them);
/// past it the page is answered short, with a token to go on.
const MAX_SCANNED: usize = 10 * MAX_PAGE_SIZE;
/// The most bytes of stored resources one page holds (its answer is about as large): past it
/// the page is answered short, with a token to go on, so an answer stays under the 4 MB that
/// many clients accept in one message however large each resource is.
const MAX_PAGE_BYTES: usize = 2 << 20;
/// The most rows read from the store at a time: a resource may be megabytes, and a page of
/// 1,000 of them read at once would hold gigabytes in memory.
const FETCH_ROWS: usize = 64;
/// The longest page token accepted (the ones handed out are far shorter).
const MAX_TOKEN_CHARS: usize = 2048;
/// The tokens' format version, their first characters.
const TOKEN_PREFIX: &str = "p1.";

/// What page a List request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageRequest {
    /// The kind listed (a token of another list is refused).
    pub kind: Kind,
    /// How many items.
    pub size: usize,
    /// Where the page starts.
    pub after: After,
}

/// One page of a list: its items and the token of the next page (empty: no more).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page<M> {
    /// The items.
    pub items: Vec<M>,
    /// The token of the next page, empty on the last.
    pub next_page_token: String,
}

/// The page `request` asks for: InvalidArgument naming `page_size` or `page_token` when they
/// are not ones this list can serve.
pub(crate) fn page_request(kind: Kind, request: &pb::ListRequest) -> Result<PageRequest> {
    let size = match usize::try_from(request.page_size) {
        Err(_) => {
            return Err(bad_field(
                "page_size",
                "a page size is 0 (the default) or more",
            ));
        }
        Ok(0) => DEFAULT_PAGE_SIZE,
        Ok(n) => n.min(MAX_PAGE_SIZE),
    };
    let after = if request.page_token.is_empty() {
        After::default()
    } else {
        decode_token(kind, &request.page_token).ok_or_else(|| {
            bad_field(
                "page_token",
                "not a page token this list handed out (pass the `next_page_token` of the \
                 previous page of the same list, or none)",
            )
        })?
    };
    Ok(PageRequest { kind, size, after })
}

/// The token of the page after `after`.
fn token(kind: Kind, after: &After) -> String {
    let plain = format!("{}\n{}\n{}", kind.as_str(), after.scope, after.name);
    format!("{TOKEN_PREFIX}{}", crate::crypto::hex(plain.as_bytes()))
}

/// The key a token of `kind`'s list names, or `None` for anything else.
fn decode_token(kind: Kind, token: &str) -> Option<After> {
    if token.len() > MAX_TOKEN_CHARS {
        return None;
    }
    let hex = token.strip_prefix(TOKEN_PREFIX)?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let plain = String::from_utf8(bytes).ok()?;
    let mut parts = plain.split('\n');
    let (k, scope, name) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || k != kind.as_str() || name.is_empty() {
        return None;
    }
    Some(After {
        scope: scope.to_owned(),
        name: name.to_owned(),
    })
}

/// Which rows a list reads, each by an indexed query over the caller's rows (see the store).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// A kind's resources in one scope (a Space, or a user for their own kinds).
    InScope {
        /// The kind.
        kind: Kind,
        /// The scope.
        scope: &'a str,
    },
    /// A Space-scoped kind's resources in every Space the user reaches.
    InSpacesOf {
        /// The kind.
        kind: Kind,
        /// The user.
        user: &'a str,
    },
    /// The Spaces the user reaches.
    SpacesOf {
        /// The user.
        user: &'a str,
    },
    /// The Workspaces in the Spaces the user reaches (only in `space`, if not empty).
    WorkspacesOf {
        /// The user.
        user: &'a str,
        /// The Space, or empty.
        space: &'a str,
    },
}

impl Rows<'_> {
    /// The one scope every row of the list is in, when the list reads one.
    fn only_scope(&self) -> Option<&str> {
        match self {
            Rows::InScope { scope, .. } => Some(scope),
            Rows::WorkspacesOf { space, .. } if !space.is_empty() => Some(space),
            _ => None,
        }
    }

    async fn fetch(
        self,
        store: &Store,
        after: &After,
        limit: i64,
    ) -> std::result::Result<Vec<Record>, StoreError> {
        match self {
            Rows::InScope { kind, scope } => store.page_in_scope(kind, scope, after, limit).await,
            Rows::InSpacesOf { kind, user } => {
                store.page_in_spaces_of(kind, user, after, limit).await
            }
            Rows::SpacesOf { user } => store.page_spaces_of(user, after, limit).await,
            Rows::WorkspacesOf { user, space } => {
                store.page_workspaces_of(user, space, after, limit).await
            }
        }
    }
}

/// One page of `rows`, in key order, each turned into an item by `keep` (or skipped:
/// `None`), until the page is full (in items, or in [`MAX_PAGE_BYTES`] of resources, which
/// always admits the first), the rows run out, or [`MAX_SCANNED`] rows were read.
pub(crate) async fn collect<M>(
    store: &Store,
    rows: Rows<'_>,
    page: PageRequest,
    mut keep: impl FnMut(&Record) -> Result<Option<M>>,
) -> Result<Page<M>> {
    // A token names the key of the last row it saw; for a list of one Space that key is in
    // that Space, so a token of another Space's list would page from a key this list never
    // had (silently empty).
    if let Some(scope) = rows.only_scope()
        && !page.after.name.is_empty()
        && page.after.scope != scope
    {
        return Err(bad_field(
            "page_token",
            "a page token of another Space's list (pass the `next_page_token` of the previous \
             page of the same list, or none)",
        ));
    }
    let mut items = Vec::new();
    let mut bytes = 0;
    let mut after = page.after;
    let mut scanned = 0;
    loop {
        // One row past the page's end says whether more follow.
        let want = (page.size - items.len() + 1).min(FETCH_ROWS);
        let limit = i64::try_from(want).unwrap_or(i64::MAX);
        let read = rows.fetch(store, &after, limit).await?;
        let exhausted = read.len() < want;
        for row in &read {
            let full = items.len() == page.size
                || (!items.is_empty() && bytes + row.body.len() > MAX_PAGE_BYTES);
            if full {
                // A row past a full page: more follow.
                return Ok(Page {
                    items,
                    next_page_token: token(page.kind, &after),
                });
            }
            after = After::of(row);
            scanned += 1;
            if let Some(item) = keep(row)? {
                bytes += row.body.len();
                items.push(item);
            }
        }
        if exhausted {
            return Ok(Page {
                items,
                next_page_token: String::new(),
            });
        }
        if scanned >= MAX_SCANNED {
            return Ok(Page {
                items,
                next_page_token: token(page.kind, &after),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_belong_to_one_list() {
        let after = After {
            scope: "team.alice".into(),
            name: "web".into(),
        };
        let t = token(Kind::Secret, &after);
        assert_eq!(decode_token(Kind::Secret, &t), Some(after));
        assert_eq!(decode_token(Kind::Template, &t), None);
        for bad in ["x", "p1.zz", "p1.0", "p1.", &"p1.00".repeat(1000)] {
            assert_eq!(decode_token(Kind::Secret, bad), None, "{bad}");
        }
    }
}
