//! C2SP tlog-tiles paths: the log's hash tiles as any tlog-tiles client
//! reads them. A tile at level L holds up to 256 hashes of the tree level
//! 8·L: tile N holds those with indexes `[N·256, N·256 + W)`, full (W =
//! 256) or partial (`.p/W`). Pure code: parsing and the arithmetic of which
//! nodes a tile holds for a tree size; `http::audit` serves them.

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;

/// A tile as named by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub level: u8,
    pub index: u64,
    /// 1..=256; 256 for a full tile.
    pub width: u64,
}

impl Tile {
    /// Parse `<L>/<N>[.p/<W>]` (after `tile/`) in the canonical form only:
    /// N as three-digit groups, all but the last prefixed with `x`; W from
    /// 1 to 255 without leading zeros. Anything else is None (404). Entry
    /// bundles (`entries/…`) are not served.
    pub fn parse(path: &str) -> Option<Self> {
        let (level, rest) = path.split_once('/')?;
        if level.len() != 1 || !level.as_bytes()[0].is_ascii_digit() {
            return None;
        }
        let level: u8 = level.parse().ok()?;
        // Level 7 would be tree level 56: more leaves than any log has.
        if level > 6 {
            return None;
        }
        let (index_path, width) = match rest.split_once(".p/") {
            Some((index_path, width)) => {
                if width.is_empty() || width.starts_with('0') || !width.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let width: u64 = width.parse().ok()?;
                if !(1..TILE_WIDTH).contains(&width) {
                    return None;
                }
                (index_path, width)
            }
            None => (rest, TILE_WIDTH),
        };
        let groups: Vec<&str> = index_path.split('/').collect();
        let (last, leading) = groups.split_last()?;
        let mut index: u64 = 0;
        for group in leading {
            let digits = group.strip_prefix('x')?;
            index = index.checked_mul(1000)?.checked_add(three_digits(digits)?)?;
        }
        index = index.checked_mul(1000)?.checked_add(three_digits(last)?)?;
        // Canonical: no leading all-zero group.
        if leading.first().is_some_and(|first| *first == "x000") {
            return None;
        }
        Some(Self { level, index, width })
    }

    /// The path of this tile (after `tile/`), canonical.
    pub fn path(&self) -> String {
        let mut groups = Vec::new();
        let mut rest = self.index;
        loop {
            groups.push(rest % 1000);
            rest /= 1000;
            if rest == 0 {
                break;
            }
        }
        let mut path = format!("{}/", self.level);
        for (position, group) in groups.iter().rev().enumerate() {
            if position + 1 < groups.len() {
                path.push_str(&format!("x{group:03}/"));
            } else {
                path.push_str(&format!("{group:03}"));
            }
        }
        if self.width < TILE_WIDTH {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// The tree level of the hashes this tile holds.
    pub fn tree_level(&self) -> u8 {
        self.level * TILE_HEIGHT
    }

    /// Whether a tree of `size` leaves has this tile: a full tile once all
    /// of its 256 hashes exist, a partial one of width W once at least W of
    /// them exist. A partial tile of an older, smaller tree stays what it
    /// was (the first W hashes never change), and a client that holds an
    /// older checkpoint needs it until the full tile exists: C2SP
    /// tlog-tiles lets a log drop partial tiles, but its clients fall back
    /// to the full tile only, which a tile still filling does not have.
    pub fn exists_in(&self, size: u64) -> bool {
        let complete = size >> u32::from(self.tree_level());
        let first = self.index.saturating_mul(TILE_WIDTH);
        let present = complete.saturating_sub(first).min(TILE_WIDTH);
        present >= self.width
    }

    /// The tree nodes (level, index) whose hashes the tile holds, in order.
    pub fn nodes(&self) -> Vec<(u8, u64)> {
        let first = self.index * TILE_WIDTH;
        (first..first + self.width).map(|index| (self.tree_level(), index)).collect()
    }
}

fn three_digits(group: &str) -> Option<u64> {
    (group.len() == 3 && group.bytes().all(|b| b.is_ascii_digit())).then(|| group.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_only_in_canonical_form() {
        let tile = Tile::parse("0/x001/x234/067").expect("canonical");
        assert_eq!(tile, Tile { level: 0, index: 1_234_067, width: 256 });
        assert_eq!(tile.path(), "0/x001/x234/067");
        let partial = Tile::parse("1/000.p/7").expect("partial");
        assert_eq!(partial, Tile { level: 1, index: 0, width: 7 });
        assert_eq!(partial.path(), "1/000.p/7");
        for bad in [
            "0/1",
            "0/0001",
            "0/x000/001",
            "0/x1/001",
            "0/001.p/0",
            "0/001.p/256",
            "0/001.p/07",
            "00/001",
            "7/001",
            "0/001/",
            "0/001.p/",
            "entries/000",
            "0/x001",
            "a/001",
            "0/00a",
        ] {
            assert_eq!(Tile::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn which_tiles_a_tree_has() {
        // 70,000 leaves: level-0 tiles 0..272 full (273·256 = 69,888), tile 273 partial of width 112.
        let size = 70_000;
        assert!(Tile { level: 0, index: 272, width: 256 }.exists_in(size));
        assert!(!Tile { level: 0, index: 273, width: 256 }.exists_in(size));
        assert!(Tile { level: 0, index: 273, width: 112 }.exists_in(size));
        assert!(!Tile { level: 0, index: 273, width: 113 }.exists_in(size));
        // Partial tiles of older trees: narrower ones of the tile still
        // filling, and any width of a tile that is full by now.
        assert!(Tile { level: 0, index: 273, width: 111 }.exists_in(size));
        assert!(Tile { level: 0, index: 273, width: 1 }.exists_in(size));
        assert!(Tile { level: 0, index: 272, width: 255 }.exists_in(size));
        assert!(!Tile { level: 0, index: 274, width: 1 }.exists_in(size));
        // Level 1 holds tree level 8: 273 complete nodes, so tile 1/0 is full, 1/1 has 17.
        assert!(Tile { level: 1, index: 0, width: 256 }.exists_in(size));
        assert!(Tile { level: 1, index: 1, width: 17 }.exists_in(size));
        // Level 2 holds tree level 16: one complete node (65,536 leaves).
        assert!(Tile { level: 2, index: 0, width: 1 }.exists_in(size));
        assert!(!Tile { level: 3, index: 0, width: 1 }.exists_in(size));
    }
}
