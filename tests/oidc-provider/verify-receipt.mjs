// Verifies a tresor release receipt with an independent JOSE library (the
// `jose` package oidc-provider already depends on), not with tresor's code:
//
//   node tests/oidc-provider/verify-receipt.mjs JWKS_JSON RECEIPT < BODY
//
// JWKS_JSON is the body of `GET /api/v1/keys`, RECEIPT the detached compact
// JWS from the `Tresor-Receipt` header (`header..signature`, RFC 7515
// appendix F) and BODY, on standard input, the exact bytes of the release
// response. The base64url body is put back between the dots and the result
// checked as a compact JWS (EdDSA only), with the key chosen by `kid`.
// Prints one JSON line and exits 0 only if the signature verifies.

import { base64url, compactVerify, createLocalJWKSet } from 'jose';

const [jwksJson, receipt] = process.argv.slice(2);
if (!jwksJson || !receipt) {
  console.error('usage: node verify-receipt.mjs JWKS_JSON RECEIPT < BODY');
  process.exit(2);
}

const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
const body = Buffer.concat(chunks);

try {
  const parts = receipt.split('.');
  if (parts.length !== 3 || parts[1] !== '') {
    throw new Error('the receipt is not a detached compact JWS (header..signature)');
  }
  const jws = `${parts[0]}.${base64url.encode(body)}.${parts[2]}`;
  const keys = createLocalJWKSet(JSON.parse(jwksJson));
  const { payload, protectedHeader } = await compactVerify(jws, keys, { algorithms: ['EdDSA'] });
  if (Buffer.compare(Buffer.from(payload), body) !== 0) {
    throw new Error('the verified payload is not the body');
  }
  console.log(JSON.stringify({ valid: true, alg: protectedHeader.alg, kid: protectedHeader.kid, typ: protectedHeader.typ }));
} catch (error) {
  console.log(JSON.stringify({ valid: false, error: `${error.code ?? error.name}: ${error.message}` }));
  process.exit(1);
}
