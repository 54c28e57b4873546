//! Bulk sealing throughput of the crypto module against raw ring AES-256-GCM.
//! Run with `cargo bench --bench crypto` (release profile). Single thread.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use tresor::crypto::{CHUNK_SIZE, DataKey, FieldContext, FileOpener, FileSealer, SEALED_CHUNK_SIZE};
use tresor::ids::{CitizenId, EvidenceId, FileId};

const BUFFER: usize = 1024 * 1024;
const MEASURE_FOR: Duration = Duration::from_secs(2);

/// Runs `one_mib` repeatedly (after a warm-up) and returns GB/s (10^9 bytes/s).
fn throughput(mut one_mib: impl FnMut()) -> f64 {
    for _ in 0..50 {
        one_mib();
    }
    let start = Instant::now();
    let mut iterations = 0u64;
    while start.elapsed() < MEASURE_FOR {
        for _ in 0..16 {
            one_mib();
        }
        iterations += 16;
    }
    (iterations as f64 * BUFFER as f64) / start.elapsed().as_secs_f64() / 1e9
}

fn main() {
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let evidence = EvidenceId::generate(&rng);
    let file = FileId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("rng");
    let mut data = vec![0u8; BUFFER];
    rng.fill(&mut data).expect("rng");

    // (a) Baseline: ring AES-256-GCM over the whole 1 MiB buffer, in place.
    let mut raw_key_bytes = [0u8; 32];
    rng.fill(&mut raw_key_bytes).expect("rng");
    let raw_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &raw_key_bytes).expect("key"));
    let mut raw_buffer = data.clone();
    let mut counter = 0u64;
    let raw = throughput(|| {
        counter += 1;
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&counter.to_be_bytes());
        let tag = raw_key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(b"aad"), &mut raw_buffer)
            .expect("seal");
        let _ = black_box(tag);
    });

    // (b) FileSealer over 16 chunks of 64 KiB: the upload path, allocating a
    // Vec per chunk (seal_next) ...
    let file_alloc = throughput(|| {
        let mut sealer = FileSealer::new(dek.file_key(&file), &citizen, &file);
        for (index, chunk) in data.chunks(CHUNK_SIZE).enumerate() {
            black_box(sealer.seal_next(chunk, index == BUFFER / CHUNK_SIZE - 1).expect("seal"));
        }
    });
    // ... and reusing one buffer (seal_next_in_place).
    let mut chunk_buffer = Vec::with_capacity(SEALED_CHUNK_SIZE);
    let file_in_place = throughput(|| {
        let mut sealer = FileSealer::new(dek.file_key(&file), &citizen, &file);
        for (index, chunk) in data.chunks(CHUNK_SIZE).enumerate() {
            chunk_buffer.clear();
            chunk_buffer.extend_from_slice(chunk);
            sealer.seal_next_in_place(&mut chunk_buffer, index == BUFFER / CHUNK_SIZE - 1).expect("seal");
            black_box(&chunk_buffer);
        }
    });

    // Download path for comparison: FileOpener::open_chunk on the same chunks.
    let mut sealer = FileSealer::new(dek.file_key(&file), &citizen, &file);
    let sealed_chunks: Vec<Vec<u8>> = data
        .chunks(CHUNK_SIZE)
        .enumerate()
        .map(|(index, chunk)| sealer.seal_next(chunk, index == BUFFER / CHUNK_SIZE - 1).expect("seal"))
        .collect();
    let opener = FileOpener::new(dek.file_key(&file), &citizen, &file);
    let file_open = throughput(|| {
        for (index, chunk) in sealed_chunks.iter().enumerate() {
            black_box(opener.open_chunk(index as u64, chunk, index == sealed_chunks.len() - 1).expect("open"));
        }
    });

    // (c) FieldKey::seal on one 1 MiB value (random nonce, allocating).
    let field_key = dek.field_key(&evidence);
    let context = FieldContext { citizen: &citizen, evidence: &evidence, field: "document" };
    let field = throughput(|| {
        black_box(field_key.seal(&rng, &context, &data).expect("seal"));
    });

    println!("AES-256-GCM sealing throughput, 1 MiB buffers, one thread");
    println!("{:<48} {:>7} {:>9}", "path", "GB/s", "vs (a)");
    for (name, rate) in [
        ("(a) ring seal_in_place_separate_tag (baseline)", raw),
        ("(b) FileSealer::seal_next, 16 x 64 KiB", file_alloc),
        ("(b') FileSealer::seal_next_in_place, 16 x 64 KiB", file_in_place),
        ("(c) FieldKey::seal, 1 MiB", field),
        ("    FileOpener::open_chunk, 16 x 64 KiB", file_open),
    ] {
        println!("{name:<48} {rate:>7.2} {:>8.0}%", rate / raw * 100.0);
    }
}
