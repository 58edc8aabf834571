//! The tree math against a naive, recursive RFC 9162 §2.1 reference written from the
//! spec's definitions (MTH, PATH, PROOF/SUBPROOF), for every m ≤ n up to a few hundred
//! and random larger sizes, appended in random batch splits.

use proptest::prelude::*;
use threadlog::merkle::{
    self, append, consistency_proof, edge_tiles, inclusion_proof, leaf_hash, node_hash, Hash,
    ProofError, TileSet, EMPTY_ROOT,
};

/// Largest power of two strictly less than n (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n == 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { vec![] } else { vec![mth(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], whole);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

/// Builds the tiles of a tree by appending in the given batch sizes, checking every
/// intermediate root against the reference. Returns all tiles at the final size.
fn build(all: &[Hash], batches: &[usize]) -> TileSet {
    let mut store = TileSet::new();
    let mut size = 0usize;
    let mut batches = batches.iter().copied().cycle();
    while size < all.len() {
        let take = batches.next().unwrap().max(1).min(all.len() - size);
        let mut edge = TileSet::new();
        for (id, _) in edge_tiles(size as u64) {
            edge.insert(id, store.get(&id).expect("edge tile stored").to_vec());
        }
        let out = append(size as u64, edge, &all[size..size + take]).unwrap();
        size += take;
        assert_eq!(out.tree_size, size as u64);
        assert_eq!(out.root, mth(&all[..size]), "root at size {size}");
        for (id, data) in out.tiles {
            store.insert(id, data);
        }
    }
    store
}

fn check_all_proofs(all: &[Hash], tiles: &TileSet, sizes: impl Iterator<Item = usize> + Clone) {
    for n in sizes.clone() {
        let root = mth(&all[..n]);
        assert_eq!(merkle::tree_root(tiles, n as u64).unwrap(), root);
        for m in 0..n {
            let p = inclusion_proof(tiles, m as u64, n as u64).unwrap();
            assert_eq!(p, path(m, &all[..n]), "inclusion {m} in {n}");
            merkle::verify_inclusion(&p, m as u64, n as u64, &all[m], &root).unwrap();
        }
        let batch: Vec<u64> = (0..n as u64).collect();
        let proofs = merkle::inclusion_proofs(tiles, &batch, n as u64).unwrap();
        for (m, p) in proofs.iter().enumerate() {
            assert_eq!(*p, path(m, &all[..n]), "batched inclusion {m} in {n}");
        }
        for m in 0..=n {
            let p = consistency_proof(tiles, m as u64, n as u64).unwrap();
            let expected = if m == 0 {
                vec![]
            } else {
                subproof(m, &all[..n], true)
            };
            assert_eq!(p, expected, "consistency {m} → {n}");
            merkle::verify_consistency(&p, m as u64, &mth(&all[..m]), n as u64, &root).unwrap();
        }
    }
}

#[test]
fn every_proof_for_every_size_up_to_300() {
    let all = leaves(300);
    let tiles = build(&all, &[1, 7, 3, 256, 2]);
    check_all_proofs(&all, &tiles, (1..=300).filter(|n| *n <= 260 || n % 20 == 0));
}

#[test]
fn needed_tiles_cover_the_computation() {
    let all = leaves(70_000);
    let tiles = build(&all, &[1000, 4093]);
    for (m, n) in [
        (0u64, 70_000u64),
        (1, 2),
        (255, 256),
        (256, 65_537),
        (65_535, 70_000),
    ] {
        let mut subset = TileSet::new();
        for id in merkle::needed_tiles_for_consistency(m, n).unwrap() {
            subset.insert(id, tiles.get(&id).unwrap().to_vec());
        }
        assert_eq!(
            consistency_proof(&subset, m, n).unwrap(),
            consistency_proof(&tiles, m, n).unwrap()
        );
        if m < n {
            let mut subset = TileSet::new();
            for id in merkle::needed_tiles_for_inclusion(m, n).unwrap() {
                subset.insert(id, tiles.get(&id).unwrap().to_vec());
            }
            let p = inclusion_proof(&subset, m, n).unwrap();
            assert_eq!(p, path(m as usize, &all[..n as usize]));
        }
        let mut subset = TileSet::new();
        for id in merkle::needed_tiles_for_root(n) {
            subset.insert(id, tiles.get(&id).unwrap().to_vec());
        }
        assert_eq!(
            merkle::tree_root(&subset, n).unwrap(),
            mth(&all[..n as usize])
        );
    }
}

#[test]
fn missing_tiles_are_an_error_not_a_wrong_answer() {
    let all = leaves(600);
    let tiles = build(&all, &[600]);
    let mut partial = TileSet::new();
    for id in merkle::needed_tiles_for_inclusion(5, 600)
        .unwrap()
        .into_iter()
        .skip(1)
    {
        partial.insert(id, tiles.get(&id).unwrap().to_vec());
    }
    assert_eq!(
        inclusion_proof(&partial, 5, 600),
        Err(merkle::ProofError::MissingTiles)
    );
}

#[test]
fn append_rejects_an_edge_that_disagrees_with_the_size() {
    let all = leaves(10);
    let tiles = build(&all, &[10]);
    let mut edge = TileSet::new();
    let mut data = tiles
        .get(&merkle::TileId { level: 0, index: 0 })
        .unwrap()
        .to_vec();
    data.truncate(9 * 32);
    edge.insert(merkle::TileId { level: 0, index: 0 }, data);
    assert!(matches!(
        append(10, edge, &all[..1]),
        Err(ProofError::BadEdge(_))
    ));
}

#[test]
fn bounds_are_errors() {
    let tiles = build(&leaves(5), &[5]);
    assert!(matches!(
        inclusion_proof(&tiles, 5, 5),
        Err(ProofError::IndexOutOfRange {
            index: 5,
            tree_size: 5
        })
    ));
    assert!(matches!(
        consistency_proof(&tiles, 6, 5),
        Err(ProofError::SizesOutOfOrder {
            first: 6,
            second: 5
        })
    ));
    assert!(matches!(
        merkle::verify_consistency(&[leaf_hash(b"x")], 0, &EMPTY_ROOT, 5, &EMPTY_ROOT),
        Err(ProofError::Invalid)
    ));
    assert!(matches!(
        merkle::verify_consistency(&[], 0, &leaf_hash(b"x"), 5, &EMPTY_ROOT),
        Err(ProofError::Invalid)
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_sizes_and_batches_match_the_reference(
        n in 1usize..3000,
        batches in proptest::collection::vec(1usize..700, 1..5),
        picks in proptest::collection::vec((0usize..3000, 0usize..3000), 8),
    ) {
        let all = leaves(n);
        let tiles = build(&all, &batches);
        for (a, b) in picks {
            let (m, size) = (a % n, 1 + b % n);
            let (m, size) = if m < size { (m, size) } else { (size - 1, m + 1) };
            let root = mth(&all[..size]);
            let p = inclusion_proof(&tiles, m as u64, size as u64).unwrap();
            prop_assert_eq!(&p, &path(m, &all[..size]));
            merkle::verify_inclusion(&p, m as u64, size as u64, &all[m], &root).unwrap();
            let c = consistency_proof(&tiles, m as u64, size as u64).unwrap();
            merkle::verify_consistency(&c, m as u64, &mth(&all[..m]), size as u64, &root).unwrap();
        }
    }

    #[test]
    fn a_changed_proof_hash_or_leaf_fails(n in 2usize..400, m in 0usize..400, flip in 0usize..32) {
        let m = m % n;
        let all = leaves(n);
        let tiles = build(&all, &[n]);
        let root = mth(&all);
        let mut p = inclusion_proof(&tiles, m as u64, n as u64).unwrap();
        prop_assert!(matches!(merkle::verify_inclusion(&p, m as u64, n as u64, &leaf_hash(b"other"), &root), Err(ProofError::Invalid)));
        if !p.is_empty() {
            let i = flip % p.len();
            p[i].0[flip] ^= 1;
            prop_assert!(matches!(merkle::verify_inclusion(&p, m as u64, n as u64, &all[m], &root), Err(ProofError::Invalid)));
        }
        if m > 0 {
            let mut c = consistency_proof(&tiles, m as u64, n as u64).unwrap();
            if !c.is_empty() {
                let i = flip % c.len();
                c[i].0[flip] ^= 1;
                prop_assert!(matches!(merkle::verify_consistency(&c, m as u64, &mth(&all[..m]), n as u64, &root), Err(ProofError::Invalid)));
            }
        }
    }
}

/// Roots for the eight leaves of the RFC 6962 reference test data (the leaves used by the
/// Certificate Transparency implementations' tree tests), sizes 1 to 8.
#[test]
fn rfc6962_reference_roots() {
    let inputs = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let all: Vec<Hash> = inputs
        .iter()
        .map(|h| leaf_hash(&hex::decode(h).unwrap()))
        .collect();
    let mut size = 0;
    let mut tiles = TileSet::new();
    for (i, expected) in roots.iter().enumerate() {
        let mut edge = TileSet::new();
        for (id, _) in edge_tiles(size) {
            edge.insert(id, tiles.get(&id).unwrap().to_vec());
        }
        let out = append(size, edge, &all[i..=i]).unwrap();
        size += 1;
        assert_eq!(hex::encode(out.root.0), *expected, "root at size {size}");
        for (id, data) in out.tiles {
            tiles.insert(id, data);
        }
    }
    assert_eq!(
        hex::encode(EMPTY_ROOT.0),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}
