//! placeholder
/// RFC 6962 leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(&[0x00]);
    context.update(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}
