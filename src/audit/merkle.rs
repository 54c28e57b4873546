//! The RFC 6962 / RFC 9162 (section 2) Merkle tree over audit entries: tree
//! hashes, a streaming tree builder for `tresor audit verify`, and inclusion
//! and consistency proofs with their verifiers. Pure computation, no I/O.

use ring::digest::{Context, SHA256};
use subtle::ConstantTimeEq;

/// A SHA-256 tree hash (leaf, interior node or root).
pub type Hash = [u8; 32];

/// Why a proof could not be built or did not verify.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index is not inside the tree")]
    IndexOutOfRange,
    /// The tree sizes do not fit together (the old tree is larger than the new one).
    #[error("tree sizes are inconsistent: the first tree is larger than the second")]
    InvalidSize,
    /// The proof has more or fewer hashes than the tree sizes call for.
    #[error("the proof has the wrong number of hashes for these tree sizes")]
    WrongProofLength,
    /// The proof does not lead to the expected root hash.
    #[error("the proof does not lead to the expected root hash")]
    RootMismatch,
}

/// RFC 6962 leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(&[0x00]);
    context.update(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(&[0x01]);
    context.update(left);
    context.update(right);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&SHA256, b"").as_ref());
    out
}

/// Streaming Merkle tree hash (RFC 9162 2.1.1): push leaf hashes one by one,
/// ask for the root at any time. Keeps only the roots of the perfect
/// subtrees that make up the tree so far (one per set bit of the size), so
/// memory is O(log n) and each push costs amortised O(1) hashes.
#[derive(Debug, Clone, Default)]
pub struct TreeBuilder {
    /// Roots of the maximal perfect subtrees, largest (leftmost) first.
    perfect_subtrees: Vec<Hash>,
    size: u64,
}

impl TreeBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The builder of a tree of `size` leaves, from the roots of its
    /// maximal perfect subtrees (largest first, as [`perfect_blocks`]`(0,
    /// size)` lists them); None if their number does not fit `size`.
    pub fn from_frontier(size: u64, perfect_subtrees: Vec<Hash>) -> Option<Self> {
        (perfect_subtrees.len() == size.count_ones() as usize).then_some(Self { perfect_subtrees, size })
    }

    pub fn push(&mut self, leaf: Hash) {
        self.push_noting(leaf, &mut |_, _| {});
    }

    /// Push a leaf and tell `completed` every interior node it completes, as
    /// ((level, index), hash) (see [`perfect_blocks`]).
    pub fn push_noting(&mut self, leaf: Hash, completed: &mut dyn FnMut((u8, u64), Hash)) {
        // Like incrementing a binary counter: every trailing one bit of the
        // size is a perfect subtree of that height that the new leaf's
        // subtree now completes.
        let position = self.size;
        let mut merged = leaf;
        let mut carry = self.size;
        let mut level = 0u8;
        while carry & 1 == 1 {
            // Invariant: one stored subtree per set bit of `size`, so a set
            // bit here always has its subtree on the stack.
            let Some(left) = self.perfect_subtrees.pop() else { break };
            merged = node_hash(&left, &merged);
            carry >>= 1;
            level += 1;
            completed((level, position >> level), merged);
        }
        self.perfect_subtrees.push(merged);
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root of everything pushed so far (the empty root for no leaves).
    pub fn root(&self) -> Hash {
        // MTH splits at the largest power of two below n, so the root is the
        // perfect subtrees folded together from the right.
        let mut subtrees = self.perfect_subtrees.iter().rev();
        let Some(&smallest) = subtrees.next() else { return empty_root() };
        subtrees.fold(smallest, |right, left| node_hash(left, &right))
    }
}

/// The range `[start, end)` of leaves as perfect subtrees (level, index),
/// left to right, each as large as its position allows: node (level,
/// index) covers the leaves `[index * 2^level, (index + 1) * 2^level)`. For
/// `[0, n)` these are the roots a [`TreeBuilder`] of size n keeps.
pub fn perfect_blocks(start: u64, end: u64) -> Vec<(u8, u64)> {
    let mut blocks = Vec::new();
    let mut at = start;
    while at < end {
        // The largest power of two that `at` is a multiple of and that fits.
        let mut level = if at == 0 { 63 } else { at.trailing_zeros().min(63) };
        while level > 0 && (1u64 << level) > end - at {
            level -= 1;
        }
        // Levels are below 64.
        blocks.push((level as u8, at >> level));
        at += 1u64 << level;
    }
    blocks
}

/// The Merkle tree hash of a range from the hashes of its
/// [`perfect_blocks`], in their order. Correct for the ranges that proofs
/// are made of (each starts at a multiple of the largest power of two not
/// above its length, so its blocks shrink from left to right); the empty
/// root for none.
pub fn hash_of_blocks(blocks: &[Hash]) -> Hash {
    let mut from_right = blocks.iter().rev();
    let Some(&last) = from_right.next() else { return empty_root() };
    from_right.fold(last, |right, left| node_hash(left, &right))
}

/// The leaf ranges `[start, end)` whose tree hashes make up the inclusion
/// proof (RFC 9162 2.1.3.1) of the leaf at `index` in the tree of `size`
/// leaves, in proof order (from the leaf's sibling up).
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange);
    }
    // PATH(m, D[lo:hi]) recurses into the half holding m and appends the
    // other half's root; walk top-down and reverse at the end.
    let mut ranges = Vec::new();
    let (mut low, mut high) = (0u64, size);
    while high - low > 1 {
        let split = low + largest_power_of_two_below(high - low);
        if index < split {
            ranges.push((split, high));
            high = split;
        } else {
            ranges.push((low, split));
            low = split;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The leaf ranges whose tree hashes make up the consistency proof (RFC
/// 9162 2.1.4.1) from the tree of `old_size` leaves to the tree of
/// `new_size` leaves, in proof order. Empty when `old_size` is 0 or equal.
pub fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::InvalidSize);
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled; collected top-down, reversed.
    let mut ranges = Vec::new();
    let (mut low, mut high) = (0u64, new_size);
    let mut remaining_old = old_size;
    let mut old_tree_is_whole_subtree = true;
    loop {
        if remaining_old == high - low {
            // The old tree's root is known to the verifier only when this
            // subtree is the whole old tree; otherwise it must be sent.
            if !old_tree_is_whole_subtree {
                ranges.push((low, high));
            }
            break;
        }
        let split_size = largest_power_of_two_below(high - low);
        if remaining_old <= split_size {
            ranges.push((low + split_size, high));
            high = low + split_size;
        } else {
            ranges.push((low, low + split_size));
            low += split_size;
            remaining_old -= split_size;
            old_tree_is_whole_subtree = false;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The largest power of two strictly below `n` (n >= 2).
fn largest_power_of_two_below(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Merkle tree hash (RFC 9162 2.1.1) over the given leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    let mut builder = TreeBuilder::new();
    for leaf in leaves {
        builder.push(*leaf);
    }
    builder.root()
}

/// Inclusion proof (audit path, RFC 9162 2.1.3.1) for the leaf at `index`
/// in the tree made of all of `leaves`. Hashes are ordered from the leaf's
/// sibling up to the root's child.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    let ranges = inclusion_ranges(index, leaves.len() as u64)?;
    Ok(ranges.iter().map(|&(start, end)| root(&leaves[start as usize..end as usize])).collect())
}

/// Verify an inclusion proof (RFC 9162 2.1.3.2) of `leaf` at `index` in the
/// tree of `size` leaves with root `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange);
    }
    let mut node_index = index;
    let mut last_index = size - 1;
    let mut computed = *leaf;
    for sibling in proof {
        if last_index == 0 {
            return Err(ProofError::WrongProofLength);
        }
        if node_index & 1 == 1 || node_index == last_index {
            computed = node_hash(sibling, &computed);
            // A right-most node without a sibling on this level moves up
            // unchanged until it is a right child again.
            while node_index & 1 == 0 && node_index != 0 {
                node_index >>= 1;
                last_index >>= 1;
            }
        } else {
            computed = node_hash(&computed, sibling);
        }
        node_index >>= 1;
        last_index >>= 1;
    }
    if last_index != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if !hashes_equal(&computed, root) {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Consistency proof (RFC 9162 2.1.4.1) between the tree of the first
/// `old_size` leaves and the tree of all of `leaves`. Empty when
/// `old_size` is 0 or equals the new size.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, ProofError> {
    let ranges = consistency_ranges(old_size, leaves.len() as u64)?;
    Ok(ranges.iter().map(|&(start, end)| root(&leaves[start as usize..end as usize])).collect())
}

/// Verify a consistency proof (RFC 9162 2.1.4.2) that the tree of
/// `old_size` leaves with `old_root` is a prefix of the tree of `new_size`
/// leaves with `new_root`.
///
/// Stricter than RFC 9162 at the edges: for `old_size == 0` the proof must
/// be empty and `old_root` must be the empty-tree root; for equal sizes the
/// proof must be empty and the roots equal.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::InvalidSize);
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength);
        }
        let expected_old_root = if old_size == 0 { empty_root() } else { *new_root };
        if !hashes_equal(old_root, &expected_old_root) {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::WrongProofLength);
    };
    // When the old tree is a perfect subtree its root is the first node of
    // the path and is not sent in the proof.
    let (seed, path) = if old_size.is_power_of_two() { (old_root, proof) } else { (first, rest) };

    let mut node_index = old_size - 1;
    let mut last_index = new_size - 1;
    while node_index & 1 == 1 {
        node_index >>= 1;
        last_index >>= 1;
    }
    let mut old_computed = *seed;
    let mut new_computed = *seed;
    for node in path {
        if last_index == 0 {
            return Err(ProofError::WrongProofLength);
        }
        if node_index & 1 == 1 || node_index == last_index {
            old_computed = node_hash(node, &old_computed);
            new_computed = node_hash(node, &new_computed);
            while node_index & 1 == 0 && node_index != 0 {
                node_index >>= 1;
                last_index >>= 1;
            }
        } else {
            new_computed = node_hash(&new_computed, node);
        }
        node_index >>= 1;
        last_index >>= 1;
    }
    if last_index != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if !hashes_equal(&old_computed, old_root) || !hashes_equal(&new_computed, new_root) {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

fn hashes_equal(a: &Hash, b: &Hash) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every interior node of the tree over `leaves`, as `push_noting` reports them.
    fn all_nodes(leaves: &[Hash]) -> std::collections::HashMap<(u8, u64), Hash> {
        let mut nodes = std::collections::HashMap::new();
        let mut builder = TreeBuilder::new();
        for (index, leaf) in leaves.iter().enumerate() {
            nodes.insert((0, index as u64), *leaf);
            builder.push_noting(*leaf, &mut |node, hash| {
                nodes.insert(node, hash);
            });
        }
        nodes
    }

    fn from_nodes(nodes: &std::collections::HashMap<(u8, u64), Hash>, ranges: &[(u64, u64)]) -> Vec<Hash> {
        ranges
            .iter()
            .map(|&(start, end)| {
                let blocks: Vec<Hash> = perfect_blocks(start, end).iter().map(|node| nodes[node]).collect();
                hash_of_blocks(&blocks)
            })
            .collect()
    }

    #[test]
    fn proofs_from_stored_nodes_equal_proofs_from_leaves() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let nodes = all_nodes(&leaves);
        for size in 1..=leaves.len() as u64 {
            let tree = &leaves[..size as usize];
            let blocks: Vec<Hash> = perfect_blocks(0, size).iter().map(|node| nodes[node]).collect();
            assert_eq!(hash_of_blocks(&blocks), root(tree), "root at {size}");
            let rebuilt = TreeBuilder::from_frontier(size, blocks).expect("frontier fits");
            assert_eq!(rebuilt.root(), root(tree));
            for index in 0..size {
                let ranges = inclusion_ranges(index, size).expect("index inside");
                let expected = inclusion_proof(tree, index).expect("index inside");
                assert_eq!(from_nodes(&nodes, &ranges), expected, "{index} in {size}");
            }
            for old in 0..=size {
                let ranges = consistency_ranges(old, size).expect("old not larger");
                let expected = consistency_proof(tree, old).expect("old not larger");
                assert_eq!(from_nodes(&nodes, &ranges), expected, "{old} to {size}");
            }
        }
        assert!(TreeBuilder::from_frontier(5, vec![[0; 32]]).is_none(), "5 leaves are two perfect subtrees");
    }

    #[test]
    fn perfect_blocks_cover_the_range_aligned() {
        assert_eq!(perfect_blocks(0, 13), vec![(3, 0), (2, 2), (0, 12)]);
        assert_eq!(perfect_blocks(8, 13), vec![(2, 2), (0, 12)]);
        assert_eq!(perfect_blocks(6, 9), vec![(1, 3), (0, 8)]);
        assert!(perfect_blocks(5, 5).is_empty());
    }

    // Published RFC 6962 test data, copied from transparency-dev/merkle,
    // proof/verify_test.go (`leaves`, `roots`, `inclusionProofs`,
    // `consistencyProofs`, `sha256SomeHash`), the data set that Go
    // certificate-transparency implementations test against.
    const LEAF_INPUTS: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// (1-based leaf number, tree size, audit path) as published.
    const INCLUSION_PROOFS: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (3, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            2,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    /// (old size, new size, proof) as published.
    const CONSISTENCY_PROOFS: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];

    /// From the same file: a hash that is neither a leaf nor a root above.
    const SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

    fn hash_from_hex(text: &str) -> Hash {
        let bytes = hex::decode(text).expect("test vector is hex");
        bytes.try_into().expect("test vector is 32 bytes")
    }

    fn hashes_from_hex(texts: &[&str]) -> Vec<Hash> {
        texts.iter().map(|text| hash_from_hex(text)).collect()
    }

    fn vector_leaves() -> Vec<Hash> {
        LEAF_INPUTS.iter().map(|input| leaf_hash(&hex::decode(input).expect("hex"))).collect()
    }

    /// Distinct leaves for the property tests.
    fn numbered_leaves(count: usize) -> Vec<Hash> {
        (0..count).map(|number| leaf_hash(format!("entry {number}").as_bytes())).collect()
    }

    fn flip_bit(hash: &Hash) -> Hash {
        let mut flipped = *hash;
        flipped[0] ^= 0x10;
        flipped
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(empty_root(), hash_from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert_eq!(root(&[]), empty_root());
        assert_eq!(TreeBuilder::new().root(), empty_root());
        assert_eq!(TreeBuilder::new().size(), 0);
    }

    #[test]
    fn published_roots_for_sizes_one_to_eight() {
        let leaves = vector_leaves();
        let mut builder = TreeBuilder::new();
        for (size, expected) in (1..=8).zip(ROOTS) {
            builder.push(leaves[size - 1]);
            assert_eq!(root(&leaves[..size]), hash_from_hex(expected), "root() at size {size}");
            assert_eq!(builder.root(), hash_from_hex(expected), "TreeBuilder at size {size}");
            assert_eq!(builder.size(), size as u64);
        }
    }

    #[test]
    fn published_inclusion_proofs_are_generated_and_verify() {
        let leaves = vector_leaves();
        for (leaf_number, size, expected) in INCLUSION_PROOFS {
            let index = leaf_number - 1;
            let tree = &leaves[..size as usize];
            let proof = inclusion_proof(tree, index).expect("proof");
            assert_eq!(proof, hashes_from_hex(expected), "proof for leaf {index} in size {size}");
            let tree_root = hash_from_hex(ROOTS[size as usize - 1]);
            assert_eq!(verify_inclusion(&leaves[index as usize], index, size, &proof, &tree_root), Ok(()));
        }
    }

    #[test]
    fn published_inclusion_proofs_reject_corruptions() {
        // The corruptions of transparency-dev/merkle's corruptInclusionProof.
        let leaves = vector_leaves();
        let some_hash = hash_from_hex(SOME_HASH);
        for (leaf_number, size, expected) in INCLUSION_PROOFS {
            let index = leaf_number - 1;
            let proof = hashes_from_hex(expected);
            let leaf = leaves[index as usize];
            let tree_root = hash_from_hex(ROOTS[size as usize - 1]);
            let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
                (index.wrapping_sub(1), size, leaf, tree_root, proof.clone()),
                (index + 1, size, leaf, tree_root, proof.clone()),
                (index ^ 2, size, leaf, tree_root, proof.clone()),
                (index, size * 2, leaf, tree_root, proof.clone()),
                (index, size / 2, leaf, tree_root, proof.clone()),
                (index, size, some_hash, tree_root, proof.clone()),
                (index, size, leaf, empty_root(), proof.clone()),
                (index, size, leaf, some_hash, proof.clone()),
                (index, size, leaf, tree_root, [proof.clone(), vec![tree_root]].concat()),
                (index, size, leaf, tree_root, [vec![tree_root], proof.clone()].concat()),
            ];
            for position in 0..proof.len() {
                let mut modified = proof.clone();
                modified[position] = flip_bit(&modified[position]);
                probes.push((index, size, leaf, tree_root, modified));
            }
            if !proof.is_empty() {
                probes.push((index, size, leaf, tree_root, proof[..proof.len() - 1].to_vec()));
            }
            if proof.len() > 1 {
                let inserted = [&proof[..1], &[some_hash], &proof[1..]].concat();
                probes.push((index, size, leaf, tree_root, inserted));
            }
            for (probe_index, probe_size, probe_leaf, probe_root, probe_proof) in probes {
                assert!(
                    verify_inclusion(&probe_leaf, probe_index, probe_size, &probe_proof, &probe_root).is_err(),
                    "corrupted probe verified: leaf {probe_index} size {probe_size} (original {index}/{size})"
                );
            }
        }
    }

    #[test]
    fn published_consistency_proofs_are_generated_and_verify() {
        let leaves = vector_leaves();
        for (old_size, new_size, expected) in CONSISTENCY_PROOFS {
            let proof = consistency_proof(&leaves[..new_size as usize], old_size).expect("proof");
            assert_eq!(proof, hashes_from_hex(expected), "proof {old_size} -> {new_size}");
            let old_root = hash_from_hex(ROOTS[old_size as usize - 1]);
            let new_root = hash_from_hex(ROOTS[new_size as usize - 1]);
            assert_eq!(verify_consistency(old_size, new_size, &old_root, &new_root, &proof), Ok(()));
        }
    }

    #[test]
    fn published_consistency_proofs_reject_corruptions() {
        // The corruptions of transparency-dev/merkle's corruptConsistencyProof,
        // for the non-trivial proofs.
        for (old_size, new_size, expected) in CONSISTENCY_PROOFS {
            let proof = hashes_from_hex(expected);
            if proof.is_empty() {
                continue;
            }
            let old_root = hash_from_hex(ROOTS[old_size as usize - 1]);
            let new_root = hash_from_hex(ROOTS[new_size as usize - 1]);
            let wrong_root = hash_from_hex(SOME_HASH);
            let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
                (old_size - 1, new_size, old_root, new_root, proof.clone()),
                (old_size + 1, new_size, old_root, new_root, proof.clone()),
                (old_size ^ 2, new_size, old_root, new_root, proof.clone()),
                (old_size, new_size * 2, old_root, new_root, proof.clone()),
                (old_size, new_size / 2, old_root, new_root, proof.clone()),
                (old_size, new_size, wrong_root, new_root, proof.clone()),
                (old_size, new_size, old_root, wrong_root, proof.clone()),
                (old_size, new_size, new_root, old_root, proof.clone()),
                (old_size, new_size, old_root, new_root, Vec::new()),
                (old_size, new_size, old_root, new_root, [proof.clone(), vec![old_root]].concat()),
                (old_size, new_size, old_root, new_root, [proof.clone(), vec![new_root]].concat()),
                (old_size, new_size, old_root, new_root, [vec![old_root], proof.clone()].concat()),
                (old_size, new_size, old_root, new_root, [vec![new_root], proof.clone()].concat()),
                (old_size, new_size, old_root, new_root, [vec![proof[0]], proof.clone()].concat()),
                (old_size, new_size, old_root, new_root, proof[..proof.len() - 1].to_vec()),
            ];
            for position in 0..proof.len() {
                let mut modified = proof.clone();
                modified[position] = flip_bit(&modified[position]);
                probes.push((old_size, new_size, old_root, new_root, modified));
            }
            for (probe_old, probe_new, probe_old_root, probe_new_root, probe_proof) in probes {
                assert!(
                    verify_consistency(probe_old, probe_new, &probe_old_root, &probe_new_root, &probe_proof).is_err(),
                    "corrupted probe verified: {probe_old} -> {probe_new} (original {old_size} -> {new_size})"
                );
            }
        }
    }

    #[test]
    fn inclusion_edge_cases() {
        let leaves = numbered_leaves(5);
        assert_eq!(inclusion_proof(&leaves, 5), Err(ProofError::IndexOutOfRange));
        assert_eq!(inclusion_proof(&[], 0), Err(ProofError::IndexOutOfRange));
        assert_eq!(inclusion_proof(&leaves, u64::MAX), Err(ProofError::IndexOutOfRange));
        let some_hash = hash_from_hex(SOME_HASH);
        assert_eq!(verify_inclusion(&some_hash, 0, 0, &[], &empty_root()), Err(ProofError::IndexOutOfRange));
        assert_eq!(verify_inclusion(&some_hash, 2, 1, &[], &some_hash), Err(ProofError::IndexOutOfRange));
        // A one-leaf tree: the root is the leaf hash and the proof is empty.
        assert_eq!(verify_inclusion(&some_hash, 0, 1, &[], &some_hash), Ok(()));
        assert_eq!(verify_inclusion(&some_hash, 0, 1, &[], &empty_root()), Err(ProofError::RootMismatch));
        assert_eq!(verify_inclusion(&some_hash, 0, 1, &[some_hash], &some_hash), Err(ProofError::WrongProofLength));
        let tree_root = root(&leaves);
        let proof = inclusion_proof(&leaves, 4).expect("proof");
        assert_eq!(verify_inclusion(&leaves[4], 4, 5, &proof[..0], &tree_root), Err(ProofError::WrongProofLength));
    }

    #[test]
    fn consistency_edge_cases() {
        let leaves = numbered_leaves(5);
        let tree_root = root(&leaves);
        let some_hash = hash_from_hex(SOME_HASH);
        assert_eq!(consistency_proof(&leaves, 6), Err(ProofError::InvalidSize));
        assert_eq!(consistency_proof(&leaves, 0), Ok(Vec::new()));
        assert_eq!(consistency_proof(&leaves, 5), Ok(Vec::new()));
        assert_eq!(verify_consistency(6, 5, &tree_root, &tree_root, &[]), Err(ProofError::InvalidSize));
        // Everything is consistent with the empty tree, whose root is fixed.
        assert_eq!(verify_consistency(0, 5, &empty_root(), &tree_root, &[]), Ok(()));
        assert_eq!(verify_consistency(0, 0, &empty_root(), &empty_root(), &[]), Ok(()));
        assert_eq!(verify_consistency(0, 5, &some_hash, &tree_root, &[]), Err(ProofError::RootMismatch));
        assert_eq!(
            verify_consistency(0, 5, &empty_root(), &tree_root, &[some_hash]),
            Err(ProofError::WrongProofLength)
        );
        // Same size: same root, empty proof.
        assert_eq!(verify_consistency(5, 5, &tree_root, &tree_root, &[]), Ok(()));
        assert_eq!(verify_consistency(5, 5, &tree_root, &some_hash, &[]), Err(ProofError::RootMismatch));
        assert_eq!(verify_consistency(5, 5, &tree_root, &tree_root, &[some_hash]), Err(ProofError::WrongProofLength));
        // A proof is required between different non-empty sizes.
        let old_root = root(&leaves[..3]);
        assert_eq!(verify_consistency(3, 5, &old_root, &tree_root, &[]), Err(ProofError::WrongProofLength));
    }

    #[test]
    fn builder_matches_root_at_every_size() {
        let leaves = numbered_leaves(300);
        let mut builder = TreeBuilder::new();
        for size in 1..=leaves.len() {
            builder.push(leaves[size - 1]);
            assert_eq!(builder.root(), root(&leaves[..size]), "size {size}");
            assert_eq!(builder.root(), recursive_root(&leaves[..size]), "size {size}");
        }
    }

    /// MTH written literally as RFC 9162 2.1.1's recursion, as an independent
    /// reference for the iterative builder.
    fn recursive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let split = largest_power_of_two_below(n as u64) as usize;
                node_hash(&recursive_root(&leaves[..split]), &recursive_root(&leaves[split..]))
            }
        }
    }

    #[test]
    fn every_inclusion_proof_up_to_size_70_verifies_and_rejects_wrong_inputs() {
        let leaves = numbered_leaves(70);
        let wrong = hash_from_hex(SOME_HASH);
        for size in 1..=70u64 {
            let tree = &leaves[..size as usize];
            let tree_root = root(tree);
            for index in 0..size {
                let leaf = tree[index as usize];
                let proof = inclusion_proof(tree, index).expect("proof");
                assert_eq!(verify_inclusion(&leaf, index, size, &proof, &tree_root), Ok(()), "{index} in {size}");
                assert!(verify_inclusion(&wrong, index, size, &proof, &tree_root).is_err());
                assert!(verify_inclusion(&leaf, index, size, &proof, &wrong).is_err());
                if size > 1 {
                    let other_index = (index + 1) % size;
                    assert!(
                        verify_inclusion(&leaf, other_index, size, &proof, &tree_root).is_err(),
                        "leaf {index} verified at {other_index} in {size}"
                    );
                    let other_leaf = tree[other_index as usize];
                    assert!(verify_inclusion(&other_leaf, index, size, &proof, &tree_root).is_err());
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_up_to_size_70_verifies_and_rejects_altered_roots() {
        let leaves = numbered_leaves(70);
        let mut roots = vec![empty_root()];
        let mut builder = TreeBuilder::new();
        for leaf in &leaves {
            builder.push(*leaf);
            roots.push(builder.root());
        }
        for new_size in 1..=70u64 {
            let tree = &leaves[..new_size as usize];
            let new_root = roots[new_size as usize];
            for old_size in 0..=new_size {
                let old_root = roots[old_size as usize];
                let proof = consistency_proof(tree, old_size).expect("proof");
                assert_eq!(
                    verify_consistency(old_size, new_size, &old_root, &new_root, &proof),
                    Ok(()),
                    "{old_size} -> {new_size}"
                );
                assert!(verify_consistency(old_size, new_size, &flip_bit(&old_root), &new_root, &proof).is_err());
                if old_size > 0 {
                    // The empty tree is a prefix of every tree, so only a
                    // non-empty old tree pins the new root.
                    assert!(verify_consistency(old_size, new_size, &old_root, &flip_bit(&new_root), &proof).is_err());
                }
                if old_size > 0 && old_size < new_size {
                    let mut modified = proof.clone();
                    modified[0] = flip_bit(&modified[0]);
                    assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &modified).is_err());
                    let shorter = &proof[..proof.len() - 1];
                    assert!(verify_consistency(old_size, new_size, &old_root, &new_root, shorter).is_err());
                }
            }
        }
    }

    #[test]
    fn builder_handles_a_million_leaves() {
        // `tresor audit verify` recomputes the whole tree; this keeps the
        // streaming path honest about O(n) time and O(log n) state.
        let mut builder = TreeBuilder::new();
        let mut leaf = [0u8; 32];
        for number in 0..1_000_000u32 {
            leaf[..4].copy_from_slice(&number.to_be_bytes());
            builder.push(leaf);
        }
        assert_eq!(builder.size(), 1_000_000);
        assert!(builder.perfect_subtrees.len() <= 20);
        assert_eq!(builder.perfect_subtrees.len() as u32, 1_000_000u32.count_ones());
        assert_ne!(builder.root(), empty_root());
    }
}
