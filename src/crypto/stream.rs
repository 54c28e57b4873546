//! Files are sealed in 64 KiB chunks with the STREAM construction
//! (Hoang, Reyhanitabar, Rogaway, Vizár 2015): the nonce of chunk `i` is the
//! 88-bit big-endian counter `i` followed by one byte that is 1 only for the
//! last chunk. Reordering, dropping, truncating or splicing chunks therefore
//! fails to open, while any chunk can still be opened on its own for range
//! downloads. Each file has its own key (HKDF from the DEK and the file id),
//! so the nonce needs no random prefix.

use ring::aead::{LessSafeKey, NONCE_LEN};

use super::seal::{FileKey, TAG_LEN, open_in_place_strip_tag, seal_in_place_append_tag};
use super::{CryptoError, Result, length_prefixed};
use crate::ids::{CitizenId, FileId};

/// Plaintext bytes per chunk; only the last chunk of a file may be shorter.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Stored bytes of a full chunk: plaintext plus tag.
pub const SEALED_CHUNK_SIZE: usize = CHUNK_SIZE + TAG_LEN;

const CHUNK_AAD_LABEL: &[u8] = b"tresor/v1/file-chunk";

/// Number of chunks a file of `plaintext_len` bytes is sealed into. An empty
/// file is one empty last chunk, so that its end is authenticated too.
pub fn chunk_count(plaintext_len: u64) -> u64 {
    plaintext_len.div_ceil(CHUNK_SIZE as u64).max(1)
}

/// Seals one file, chunk by chunk, in order.
pub struct FileSealer {
    key: LessSafeKey,
    chunk_context: ChunkContext,
    next_index: u64,
    finished: bool,
}

impl FileSealer {
    pub fn new(key: FileKey, citizen: &CitizenId, file: &FileId) -> Self {
        Self { key: key.0, chunk_context: ChunkContext::new(citizen, file), next_index: 0, finished: false }
    }

    /// Seal the next chunk: returns `ciphertext || tag`. Every chunk but the
    /// last must be exactly [`CHUNK_SIZE`] bytes; the last may be shorter or
    /// empty. Errors with [`CryptoError::StreamState`] after the last chunk.
    pub fn seal_next(&mut self, chunk: &[u8], last: bool) -> Result<Vec<u8>> {
        self.check_next(chunk.len(), last)?;
        let mut sealed = Vec::with_capacity(chunk.len() + TAG_LEN);
        sealed.extend_from_slice(chunk);
        self.seal_next_in_place(&mut sealed, last)?;
        Ok(sealed)
    }

    /// Like [`FileSealer::seal_next`], but encrypts `buffer` (holding exactly
    /// the plaintext chunk) in place and appends the tag, so an upload can
    /// reuse one buffer for the whole file. Give it capacity for the 16-byte
    /// tag to avoid a reallocation.
    pub fn seal_next_in_place(&mut self, buffer: &mut Vec<u8>, last: bool) -> Result<()> {
        self.check_next(buffer.len(), last)?;
        let index = self.next_index;
        let aad = self.chunk_context.associated_data(index);
        seal_in_place_append_tag(&self.key, chunk_nonce(index, last), &aad, buffer, 0)?;
        self.next_index += 1;
        self.finished = last;
        Ok(())
    }

    /// How many chunks have been sealed so far.
    pub fn chunks_sealed(&self) -> u64 {
        self.next_index
    }

    /// Whether the last chunk has been sealed.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn check_next(&self, chunk_len: usize, last: bool) -> Result<()> {
        if self.finished {
            return Err(CryptoError::StreamState("chunk sealed after the last chunk"));
        }
        if chunk_len > CHUNK_SIZE {
            return Err(CryptoError::StreamState("chunk larger than CHUNK_SIZE"));
        }
        if !last && chunk_len != CHUNK_SIZE {
            return Err(CryptoError::StreamState("only the last chunk may be shorter than CHUNK_SIZE"));
        }
        // The counter is 88 bits in the nonce; a u64 index never exceeds it,
        // and 2^64 chunks of 64 KiB are unreachable, but fail rather than wrap.
        if self.next_index == u64::MAX {
            return Err(CryptoError::StreamState("too many chunks"));
        }
        Ok(())
    }
}

/// Opens chunks of one file in any order (random access for range requests).
pub struct FileOpener {
    key: LessSafeKey,
    chunk_context: ChunkContext,
}

impl FileOpener {
    pub fn new(key: FileKey, citizen: &CitizenId, file: &FileId) -> Self {
        Self { key: key.0, chunk_context: ChunkContext::new(citizen, file) }
    }

    /// Open the chunk at `index`. `last` must be `index == chunk_count - 1`
    /// as recorded at upload; a wrong `last` fails with [`CryptoError::Open`],
    /// which is what detects truncated files.
    pub fn open_chunk(&self, index: u64, sealed: &[u8], last: bool) -> Result<Vec<u8>> {
        if sealed.len() < TAG_LEN || sealed.len() > SEALED_CHUNK_SIZE {
            return Err(CryptoError::Open);
        }
        let mut buffer = sealed.to_vec();
        self.open_chunk_in_place(index, &mut buffer, last)?;
        Ok(buffer)
    }

    /// Like [`FileOpener::open_chunk`], but decrypts `buffer` in place and
    /// cuts the tag off. On failure the buffer is wiped and left empty.
    pub fn open_chunk_in_place(&self, index: u64, buffer: &mut Vec<u8>, last: bool) -> Result<()> {
        if buffer.len() < TAG_LEN || buffer.len() > SEALED_CHUNK_SIZE {
            buffer.clear();
            return Err(CryptoError::Open);
        }
        let aad = self.chunk_context.associated_data(index);
        open_in_place_strip_tag(&self.key, chunk_nonce(index, last), &aad, buffer, 0)
    }
}

/// The part of a chunk's associated data that is the same for every chunk
/// of a file; the chunk index is appended per chunk.
struct ChunkContext {
    prefix: Vec<u8>,
}

impl ChunkContext {
    fn new(citizen: &CitizenId, file: &FileId) -> Self {
        Self { prefix: length_prefixed(&[CHUNK_AAD_LABEL, citizen.as_str().as_bytes(), file.as_str().as_bytes()]) }
    }

    /// (label, citizen id, file id, chunk index), each length-prefixed.
    fn associated_data(&self, index: u64) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.prefix.len() + 16);
        aad.extend_from_slice(&self.prefix);
        aad.extend_from_slice(&length_prefixed(&[&index.to_be_bytes()]));
        aad
    }
}

/// STREAM nonce: 11-byte big-endian counter || last-chunk flag.
fn chunk_nonce(index: u64, last: bool) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    // Bytes 0..3 are the counter's high 24 bits, always zero for a u64 index.
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;
    use crate::crypto::DataKey;

    struct Fixture {
        dek: DataKey,
        citizen: CitizenId,
        file: FileId,
    }

    impl Fixture {
        fn new() -> Self {
            let rng = SystemRandom::new();
            Self {
                dek: DataKey::generate(&rng).expect("dek"),
                citizen: CitizenId::generate(&rng),
                file: FileId::generate(&rng),
            }
        }

        fn sealer(&self) -> FileSealer {
            FileSealer::new(self.dek.file_key(&self.file), &self.citizen, &self.file)
        }

        fn opener(&self) -> FileOpener {
            FileOpener::new(self.dek.file_key(&self.file), &self.citizen, &self.file)
        }

        /// Seals `data` the way the upload path does; returns the sealed chunks.
        fn seal_all(&self, data: &[u8]) -> Vec<Vec<u8>> {
            let mut sealer = self.sealer();
            let count = chunk_count(data.len() as u64) as usize;
            let mut sealed = Vec::new();
            for index in 0..count {
                let end = ((index + 1) * CHUNK_SIZE).min(data.len());
                let chunk = &data[index * CHUNK_SIZE..end];
                sealed.push(sealer.seal_next(chunk, index == count - 1).expect("seal"));
            }
            assert!(sealer.is_finished());
            assert_eq!(sealer.chunks_sealed(), count as u64);
            sealed
        }

        fn open_all(&self, chunks: &[Vec<u8>]) -> Result<Vec<u8>> {
            let opener = self.opener();
            let mut plain = Vec::new();
            for (index, chunk) in chunks.iter().enumerate() {
                let last = index == chunks.len() - 1;
                plain.extend(opener.open_chunk(index as u64, chunk, last)?);
            }
            Ok(plain)
        }
    }

    fn test_data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn round_trips_for_boundary_sizes() {
        let fixture = Fixture::new();
        for len in [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 17] {
            let data = test_data(len);
            let sealed = fixture.seal_all(&data);
            assert_eq!(sealed.len() as u64, chunk_count(len as u64), "len {len}");
            assert_eq!(fixture.open_all(&sealed).expect("open"), data, "len {len}");
        }
    }

    #[test]
    fn empty_last_chunk_after_full_chunks() {
        let fixture = Fixture::new();
        let data = test_data(2 * CHUNK_SIZE);
        let mut sealer = fixture.sealer();
        let mut sealed = vec![
            sealer.seal_next(&data[..CHUNK_SIZE], false).expect("seal"),
            sealer.seal_next(&data[CHUNK_SIZE..], false).expect("seal"),
        ];
        sealed.push(sealer.seal_next(&[], true).expect("seal"));
        assert_eq!(sealed[2].len(), TAG_LEN);
        assert_eq!(fixture.open_all(&sealed).expect("open"), data);
    }

    #[test]
    fn in_place_variants_match_copying_ones() {
        let fixture = Fixture::new();
        let data = test_data(CHUNK_SIZE + 100);
        let copied = fixture.seal_all(&data);
        let mut sealer = fixture.sealer();
        let mut buffer = Vec::with_capacity(SEALED_CHUNK_SIZE);
        let opener = fixture.opener();
        for (index, chunk) in data.chunks(CHUNK_SIZE).enumerate() {
            buffer.clear();
            buffer.extend_from_slice(chunk);
            let last = index == 1;
            sealer.seal_next_in_place(&mut buffer, last).expect("seal");
            assert_eq!(buffer, copied[index]);
            opener.open_chunk_in_place(index as u64, &mut buffer, last).expect("open");
            assert_eq!(buffer, chunk);
        }
    }

    #[test]
    fn pinned_chunk_vector() {
        // Pins file-key derivation, nonce layout and chunk AAD encoding.
        let dek = DataKey::from_test_bytes([0x42; 32]);
        let citizen: CitizenId = "11".repeat(16).parse().expect("id");
        let file: FileId = "f0".repeat(16).parse().expect("id");
        let mut sealer = FileSealer::new(dek.file_key(&file), &citizen, &file);
        let sealed = sealer.seal_next(b"%PDF-1.7", true).expect("seal");
        assert_eq!(hex::encode(&sealed), PINNED_CHUNK_VECTOR);
    }
    /// Computed once, cross-checked against an independent Python implementation.
    const PINNED_CHUNK_VECTOR: &str = "46a44df1ba3461fef4515264009b80538ce81410f126d741";

    #[test]
    fn nonce_layout_is_counter_then_flag() {
        assert_eq!(chunk_nonce(0, false), [0; 12]);
        assert_eq!(chunk_nonce(1, true), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(chunk_nonce(0x0102, false), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0]);
        assert_eq!(chunk_nonce(u64::MAX, true), [0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
    }

    #[test]
    fn flipped_bit_fails() {
        let fixture = Fixture::new();
        let sealed = fixture.seal_all(&test_data(2 * CHUNK_SIZE + 5));
        for (chunk, byte) in [(0, 0), (1, CHUNK_SIZE / 2), (2, 0), (2, 5), (2, 5 + TAG_LEN - 1)] {
            let mut tampered = sealed.clone();
            tampered[chunk][byte] ^= 0x80;
            assert!(matches!(fixture.open_all(&tampered), Err(CryptoError::Open)), "{chunk}/{byte}");
        }
    }

    #[test]
    fn reordered_chunks_fail() {
        let fixture = Fixture::new();
        let mut sealed = fixture.seal_all(&test_data(3 * CHUNK_SIZE + 1));
        sealed.swap(0, 1);
        assert!(matches!(fixture.open_all(&sealed), Err(CryptoError::Open)));
    }

    #[test]
    fn chunk_opened_at_another_index_fails() {
        let fixture = Fixture::new();
        let sealed = fixture.seal_all(&test_data(3 * CHUNK_SIZE + 1));
        let opener = fixture.opener();
        for (i, j) in [(0, 1), (1, 0), (1, 2), (2, 0)] {
            assert!(matches!(opener.open_chunk(j, &sealed[i], false), Err(CryptoError::Open)), "{i}->{j}");
        }
        assert!(opener.open_chunk(1, &sealed[1], false).is_ok());
    }

    #[test]
    fn truncated_file_fails() {
        // Drop the last chunk and present chunk n-2 as the last one.
        let fixture = Fixture::new();
        let mut sealed = fixture.seal_all(&test_data(3 * CHUNK_SIZE + 9));
        sealed.pop();
        assert!(matches!(fixture.open_all(&sealed), Err(CryptoError::Open)));
    }

    #[test]
    fn last_flag_must_match() {
        let fixture = Fixture::new();
        let sealed = fixture.seal_all(&test_data(2 * CHUNK_SIZE + 9));
        let opener = fixture.opener();
        // The real last chunk opened as not-last (a file extended past its end).
        assert!(matches!(opener.open_chunk(2, &sealed[2], false), Err(CryptoError::Open)));
        // A non-last chunk opened as last (a truncated file).
        assert!(matches!(opener.open_chunk(1, &sealed[1], true), Err(CryptoError::Open)));
        assert!(opener.open_chunk(2, &sealed[2], true).is_ok());
    }

    #[test]
    fn chunk_from_another_file_or_citizen_fails() {
        let fixture = Fixture::new();
        let rng = SystemRandom::new();
        let sealed = fixture.seal_all(&test_data(10));
        let other_file = FileId::generate(&rng);
        let other_citizen = CitizenId::generate(&rng);
        // Another file of the same citizen (different derived key and AAD).
        let opener = FileOpener::new(fixture.dek.file_key(&other_file), &fixture.citizen, &other_file);
        assert!(matches!(opener.open_chunk(0, &sealed[0], true), Err(CryptoError::Open)));
        // Right key, but the context names another file or another citizen:
        // the AAD alone must reject it.
        let opener = FileOpener::new(fixture.dek.file_key(&fixture.file), &fixture.citizen, &other_file);
        assert!(matches!(opener.open_chunk(0, &sealed[0], true), Err(CryptoError::Open)));
        let opener = FileOpener::new(fixture.dek.file_key(&fixture.file), &other_citizen, &fixture.file);
        assert!(matches!(opener.open_chunk(0, &sealed[0], true), Err(CryptoError::Open)));
        // Another citizen's DEK.
        let other_dek = DataKey::generate(&rng).expect("dek");
        let opener = FileOpener::new(other_dek.file_key(&fixture.file), &fixture.citizen, &fixture.file);
        assert!(matches!(opener.open_chunk(0, &sealed[0], true), Err(CryptoError::Open)));
    }

    #[test]
    fn malformed_lengths_fail_without_panicking() {
        let fixture = Fixture::new();
        let opener = fixture.opener();
        for len in [0, 1, TAG_LEN - 1, SEALED_CHUNK_SIZE + 1] {
            assert!(matches!(opener.open_chunk(0, &vec![0; len], true), Err(CryptoError::Open)), "{len}");
        }
    }

    #[test]
    fn sealer_refuses_misuse() {
        let fixture = Fixture::new();
        let mut sealer = fixture.sealer();
        let full = vec![0u8; CHUNK_SIZE];
        assert!(matches!(sealer.seal_next(&[1, 2, 3], false), Err(CryptoError::StreamState(_))));
        assert!(matches!(sealer.seal_next(&vec![0; CHUNK_SIZE + 1], true), Err(CryptoError::StreamState(_))));
        // Refused calls did not advance the counter.
        assert_eq!(sealer.chunks_sealed(), 0);
        sealer.seal_next(&full, false).expect("seal");
        sealer.seal_next(&[1], true).expect("seal");
        assert!(matches!(sealer.seal_next(&[], true), Err(CryptoError::StreamState(_))));
        assert!(matches!(sealer.seal_next(&full, false), Err(CryptoError::StreamState(_))));
        let mut buffer = vec![1];
        assert!(matches!(sealer.seal_next_in_place(&mut buffer, true), Err(CryptoError::StreamState(_))));
        assert_eq!(sealer.chunks_sealed(), 2);
    }

    #[test]
    fn chunk_count_rules() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(CHUNK_SIZE as u64), 1);
        assert_eq!(chunk_count(CHUNK_SIZE as u64 + 1), 2);
    }
}
