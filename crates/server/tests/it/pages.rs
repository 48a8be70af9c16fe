//! Every List is paginated (page size and token), and a user's list reads only their rows.

use crate::{Backend, Env, fails, name_of, ok};
use cordium_server::pb;
use cordium_server::store::{After, Precondition, Record, Write};
use cordium_spec::Kind;
use tonic::Code;

crate::on_both_backends!(
    lists_come_in_pages,
    a_bad_page_token_is_invalid_argument,
    a_users_list_reads_only_their_rows,
    a_page_of_large_resources_stays_a_few_megabytes
);

fn page(size: i32, token: &str) -> pb::ListRequest {
    pb::ListRequest {
        page_size: size,
        page_token: token.into(),
        ..Default::default()
    }
}

async fn lists_come_in_pages(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let mut made = Vec::new();
    for _ in 0..7 {
        let ws = ok(
            "CreateWorkspace",
            alice.create_workspace(pb::Workspace::default()).await,
        );
        made.push(name_of(&ws.metadata));
    }
    made.sort();
    // Pages of 3: 3, 3, 1, in name order, with no repeats.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let answer = ok("ListWorkspace", alice.list_workspace(page(3, &token)).await);
        assert!(answer.items.len() <= 3);
        seen.extend(answer.items.iter().map(|w| name_of(&w.metadata)));
        pages += 1;
        if answer.next_page_token.is_empty() {
            break;
        }
        token = answer.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, made);
    // The default page holds them all; no token follows the last page.
    let all = ok("ListWorkspace", alice.list_workspace(page(0, "")).await);
    assert_eq!(all.items.len(), 7);
    assert!(all.next_page_token.is_empty());

    // Space-scoped kinds across Spaces, and Spaces themselves.
    for s in ["aa.alice", "bb.alice"] {
        ok(
            "CreateSpace",
            alice.create_space(crate::space(s, None)).await,
        );
        for n in ["one", "two"] {
            ok(
                "CreateSecret",
                alice.create_secret(crate::secret(s, n, "v")).await,
            );
        }
    }
    let mut secrets = Vec::new();
    let mut token = String::new();
    loop {
        let answer = ok("ListSecret", alice.list_secret(page(1, &token)).await);
        secrets.extend(answer.items.iter().map(|s| {
            format!(
                "{}/{}",
                s.status.clone().unwrap_or_default().space,
                name_of(&s.metadata)
            )
        }));
        if answer.next_page_token.is_empty() {
            break;
        }
        token = answer.next_page_token;
    }
    assert_eq!(
        secrets,
        [
            "aa.alice/one",
            "aa.alice/two",
            "bb.alice/one",
            "bb.alice/two"
        ]
    );
    let first = ok("ListSpace", alice.list_space(page(2, "")).await);
    assert_eq!(first.items.len(), 2);
    let rest = ok(
        "ListSpace",
        alice.list_space(page(2, &first.next_page_token)).await,
    );
    let names: Vec<String> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|s| name_of(&s.metadata))
        .collect();
    assert_eq!(names, ["aa.alice", "bb.alice", "default.alice"]);
    assert!(rest.next_page_token.is_empty());
    // Sizes above the maximum are lowered to it, not refused.
    ok(
        "ListWorkspace",
        alice.list_workspace(page(1_000_000, "")).await,
    );
}

async fn a_bad_page_token_is_invalid_argument(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    for _ in 0..2 {
        ok(
            "CreateWorkspace",
            alice.create_workspace(pb::Workspace::default()).await,
        );
    }
    for token in ["garbage", "p1.zz", &"p1.".repeat(2000)] {
        let s = fails(
            "ListWorkspace",
            alice.list_workspace(page(1, token)).await,
            &[Code::InvalidArgument],
        );
        assert!(s.message().contains("page_token"), "{}", s.message());
    }
    // A token of one list is not one of another.
    let ws = ok("ListWorkspace", alice.list_workspace(page(1, "")).await);
    assert!(!ws.next_page_token.is_empty());
    let s = fails(
        "ListSpace",
        alice.list_space(page(1, &ws.next_page_token)).await,
        &[Code::InvalidArgument],
    );
    assert!(s.message().contains("page_token"), "{}", s.message());
    // Nor is a token of one Space's list one of another Space's.
    for space in ["one.alice", "two.alice"] {
        ok(
            "CreateSpace",
            alice.create_space(crate::space(space, None)).await,
        );
        for n in ["first", "second"] {
            ok(
                "CreateSecret",
                alice.create_secret(crate::secret(space, n, "v")).await,
            );
        }
    }
    let in_space = |space: &str, token: &str| pb::ListRequest {
        space: space.into(),
        ..page(1, token)
    };
    let first = ok(
        "ListSecret",
        alice.list_secret(in_space("one.alice", "")).await,
    );
    assert!(!first.next_page_token.is_empty());
    let s = fails(
        "ListSecret",
        alice
            .list_secret(in_space("two.alice", &first.next_page_token))
            .await,
        &[Code::InvalidArgument],
    );
    assert!(
        s.message().contains("another Space's list"),
        "{}",
        s.message()
    );
    ok(
        "ListSecret",
        alice
            .list_secret(in_space("one.alice", &first.next_page_token))
            .await,
    );
    let s = fails(
        "ListWorkspace",
        alice.list_workspace(page(-1, "")).await,
        &[Code::InvalidArgument],
    );
    assert!(s.message().contains("page_size"), "{}", s.message());
}

/// With many of other users' workspaces stored (written straight to the store, in Spaces
/// alice does not reach), alice's list answers her two, reading only her rows: the store's
/// query for her page returns exactly them.
async fn a_users_list_reads_only_their_rows(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let mut bob = env.bob.clone();
    let mut mine = Vec::new();
    for _ in 0..2 {
        let ws = ok(
            "CreateWorkspace",
            alice.create_workspace(pb::Workspace::default()).await,
        );
        mine.push(name_of(&ws.metadata));
    }
    mine.sort();
    // bob's default Space, then 300 workspaces in it, straight into the store.
    let template = ok(
        "CreateWorkspace",
        bob.create_workspace(pb::Workspace::default()).await,
    );
    let record = env
        .server
        .store
        .get(Kind::Workspace, "", &name_of(&template.metadata))
        .await
        .unwrap()
        .unwrap();
    for i in 0..300 {
        let copy = Record {
            name: format!("other-{i:04}"),
            ..record.clone()
        };
        env.server.store.create(Write::new(&copy)).await.unwrap();
    }
    let list = ok("ListWorkspace", alice.list_workspace(page(0, "")).await);
    let names: Vec<String> = list.items.iter().map(|w| name_of(&w.metadata)).collect();
    assert_eq!(names, mine);
    // The rows read for alice's page: hers alone, not every workspace filtered afterwards.
    let read = env
        .server
        .store
        .page_workspaces_of("alice", "", &After::default(), 1000)
        .await
        .unwrap();
    assert_eq!(read.len(), 2);
    // bob's list has his 301, in pages.
    let mut total = 0;
    let mut token = String::new();
    loop {
        let answer = ok(
            "ListWorkspace (bob)",
            bob.list_workspace(page(100, &token)).await,
        );
        total += answer.items.len();
        if answer.next_page_token.is_empty() {
            break;
        }
        token = answer.next_page_token;
    }
    assert_eq!(total, 301);
    // Membership is indexed too: made a member of bob's Space, alice reaches his workspaces.
    let space = env
        .server
        .store
        .get(Kind::Space, "", "default.bob")
        .await
        .unwrap()
        .unwrap();
    let mut body: pb::Space = prost::Message::decode(space.body.as_slice()).unwrap();
    body.status
        .get_or_insert_with(Default::default)
        .members
        .push("alice".into());
    let joined = Record {
        body: prost::Message::encode_to_vec(&body),
        ..space
    };
    env.server
        .store
        .update(Write::new(&joined).expecting(Precondition::Version(joined.version)))
        .await
        .unwrap();
    let spaces = ok("ListSpace", alice.list_space(page(0, "")).await);
    let names: Vec<String> = spaces.items.iter().map(|s| name_of(&s.metadata)).collect();
    assert_eq!(names, ["default.alice", "default.bob"]);
    let read = env
        .server
        .store
        .page_workspaces_of("alice", "", &After::default(), 1000)
        .await
        .unwrap();
    assert_eq!(read.len(), 303);
}

/// Pages are bounded in bytes as well as in items: twelve workspaces of about 260 KB each
/// (64 annotations of 4,000 bytes, the most metadata allows) come in pages of at most 2 MB,
/// under the 4 MB a client accepts in one message, and every one of them comes.
async fn a_page_of_large_resources_stays_a_few_megabytes(backend: Backend) {
    let env = Env::new(backend).await;
    let mut alice = env.alice.clone();
    let mut made = Vec::new();
    for i in 0..12 {
        let annotations = (0..64)
            .map(|j| (format!("note{j}"), format!("{i}{}", "n".repeat(4000))))
            .collect();
        let ws = pb::Workspace {
            metadata: Some(pb::Metadata {
                annotations,
                ..Default::default()
            }),
            ..Default::default()
        };
        made.push(name_of(
            &ok("CreateWorkspace", alice.create_workspace(ws).await).metadata,
        ));
    }
    made.sort();
    let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let answer = ok(
            "ListWorkspace",
            alice.list_workspace(page(1000, &token)).await,
        );
        let bytes = prost::Message::encoded_len(&answer);
        assert!(bytes < 3 << 20, "a page of {bytes} bytes");
        assert!(
            !answer.items.is_empty(),
            "every page holds at least one item"
        );
        seen.extend(answer.items.iter().map(|w| name_of(&w.metadata)));
        pages += 1;
        if answer.next_page_token.is_empty() {
            break;
        }
        token = answer.next_page_token;
    }
    assert_eq!(seen, made);
    assert!(pages >= 2, "{pages} pages");
}
