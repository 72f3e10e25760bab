//! The embedded store answers random queries and log ranges exactly as the in-memory model does
//! (the model scans everything; the store uses its posting lists and leapfrog joins).

use aorta_api::contract::{signed_item, test_id, test_log, test_process};
use aorta_api::{Cursor, Page, Query, Range, ScheduleStore, Sort, Weave};
use aorta_store::{MemoryStore, Options, Store};
use aorta_types::{Address, DataItem, Ed25519Signer, EthereumSigner, Id, Signer};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};

const NAMES: [&str; 3] = ["Type", "Action", "Ref"];
const VALUES: [&str; 4] = ["a", "b", "c", "d"];

fn random_items(
    rng: &mut StdRng,
    signers: &[Box<dyn Signer>],
    targets: &[Id],
    n: usize,
) -> Vec<DataItem> {
    (0..n)
        .map(|i| {
            let signer = &signers[rng.gen_range(0..signers.len())];
            let target = rng
                .gen_bool(0.6)
                .then(|| targets[rng.gen_range(0..targets.len())]);
            let tags: Vec<(&str, &str)> = (0..rng.gen_range(0..4))
                .map(|_| {
                    (
                        *NAMES.choose(rng).expect("names"),
                        *VALUES.choose(rng).expect("values"),
                    )
                })
                .collect();
            signed_item(
                signer.as_ref(),
                target,
                &tags,
                format!("item {i}").as_bytes(),
            )
        })
        .collect()
}

fn random_query(rng: &mut StdRng, items: &[DataItem], owners: &[Address], targets: &[Id]) -> Query {
    let mut query = Query::new()
        .sort(if rng.gen_bool(0.5) {
            Sort::HeightAsc
        } else {
            Sort::HeightDesc
        })
        .limit(rng.gen_range(1..20));
    if rng.gen_bool(0.2) {
        query =
            query.ids((0..rng.gen_range(1..6)).map(|_| items[rng.gen_range(0..items.len())].id()));
    }
    if rng.gen_bool(0.4) {
        let n = rng.gen_range(1..=2);
        query = query.owners(owners.choose_multiple(rng, n).cloned());
    }
    if rng.gen_bool(0.4) {
        let n = rng.gen_range(1..=2);
        query = query.recipients(targets.choose_multiple(rng, n).copied());
    }
    for _ in 0..rng.gen_range(0..3) {
        let n = rng.gen_range(1..=2);
        let values: Vec<&str> = VALUES.choose_multiple(rng, n).copied().collect();
        query = query.tag(*NAMES.choose(rng).expect("names"), values);
    }
    if rng.gen_bool(0.3) {
        query = query.after(Cursor(rng.gen_range(0..=items.len() as u64 + 1)));
    }
    query
}

fn ids(page: &Page) -> Vec<(u64, Id)> {
    page.edges
        .iter()
        .map(|e| (e.cursor.0, e.header.id()))
        .collect()
}

/// 300 random queries over 250 random items give the same pages from both backends.
#[test]
fn embedded_queries_match_the_model() {
    let mut rng = StdRng::seed_from_u64(0xA0_27A);
    let signers: Vec<Box<dyn Signer>> = vec![
        Box::new(Ed25519Signer::from_seed([1; 32])),
        Box::new(Ed25519Signer::from_seed([2; 32])),
        Box::new(EthereumSigner::from_secret(&[3; 32]).expect("secret")),
    ];
    let mut owners: Vec<Address> = signers.iter().map(|s| s.address()).collect();
    owners.push(Address::of_key(signers[2].owner()));
    let targets: Vec<Id> = (0..4).map(|i| test_id(9, i, 0)).collect();
    let items = random_items(&mut rng, &signers, &targets, 250);

    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_with(dir.path(), Options::default().inline_limit(8)).expect("open");
    let model = MemoryStore::new();
    for item in &items {
        assert_eq!(
            store.put(item).expect("store put"),
            model.put(item).expect("model put")
        );
    }
    let mut nonempty = 0;
    for i in 0..300 {
        let query = random_query(&mut rng, &items, &owners, &targets);
        let (got, want) = (
            store.query(&query).expect("store"),
            model.query(&query).expect("model"),
        );
        assert_eq!(ids(&got), ids(&want), "query {i}: {query:?}");
        assert_eq!(
            got.has_next_page, want.has_next_page,
            "query {i}: {query:?}"
        );
        nonempty += usize::from(!got.edges.is_empty());
    }
    assert!(
        nonempty > 100,
        "the random queries mostly find something ({nonempty})"
    );
}

/// Random nonce and timestamp ranges give the same pages from both backends, with the logs split
/// between the index and the journal's in-memory tail at odd places.
#[test]
fn embedded_ranges_match_the_model() {
    let mut rng = StdRng::seed_from_u64(7);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_with(dir.path(), Options::default().flush_entries(50)).expect("open");
    let model = MemoryStore::new();
    let processes: Vec<_> = (0..3).map(test_process).collect();
    for p in &processes {
        let mut t = 0;
        let times: Vec<u64> = (0..120)
            .map(|_| {
                t += rng.gen_range(0..3);
                t
            })
            .collect();
        let log = test_log(*p, 120, |n| times[n as usize]);
        for chunk in log.chunks(7) {
            store.append(chunk.to_vec()).wait().expect("store append");
            model.append(chunk.to_vec()).wait().expect("model append");
        }
    }
    let stats = store.stats();
    assert!(
        stats.flushes >= 3,
        "some of each log is in the index ({stats:?})"
    );
    for i in 0..400 {
        let p = processes[rng.gen_range(0..processes.len())];
        let from = rng.gen_bool(0.7).then(|| rng.gen_range(0..130));
        let to = rng.gen_bool(0.7).then(|| rng.gen_range(0..130));
        let limit = rng.gen_range(0..30);
        let range = if rng.gen_bool(0.5) {
            Range::nonces(from, to, limit)
        } else {
            Range::timestamps(from, to, limit)
        };
        assert_eq!(
            store.range(p, range).expect("store"),
            model.range(p, range).expect("model"),
            "range {i}: {range:?}"
        );
    }
}
