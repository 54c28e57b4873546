// Test-only OpenID provider for tresor's integration tests.
//
// A real, certified OpenID provider (the `oidc-provider` package) with:
//   * headless login: `login_hint=<persona>` finishes login + consent without a page,
//   * eIDAS levels of assurance as `acr`, capped at the persona's maximum level,
//   * control endpoints under /test/... (key rotation, ID token tampering,
//     back-channel logout), which exist only in this harness.
//
// NEVER use this outside tests: every secret here is generated per run or fixed.
//
// Usage: PORT=0 CLIENTS='[{"client_id":...}]' node tests/oidc-provider/server.js
//        (PORT may also be the first argument; EXIT_ON_STDIN_EOF=1 makes it exit
//        when its stdin closes, as the Rust harness uses it)
// Prints exactly one line to stdout when ready: `READY http://127.0.0.1:<port>`;
// everything else goes to stderr.

import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';

import * as jose from 'jose';
import Provider, { interactionPolicy } from 'oidc-provider';

const LOA_LOW = 'http://eidas.europa.eu/LoA/low';
const LOA_SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const LOA_HIGH = 'http://eidas.europa.eu/LoA/high';
const LEVELS = [LOA_LOW, LOA_SUBSTANTIAL, LOA_HIGH];
const SIGNING_ALG = 'RS256';
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

// Personas. `sub` is a pseudonym as an eID bridge would issue it (the RP keys
// citizens by it); `name` is personal data the RP must NOT store.
const PERSONAS = {
  anna: {
    sub: 'eid-pseudonym-anna-7f3a9c', maxAcr: LOA_HIGH, given_name: 'Anna', family_name: 'Schmidt',
  },
  ben: {
    sub: 'eid-pseudonym-ben-2b81d4', maxAcr: LOA_SUBSTANTIAL, given_name: 'Ben', family_name: 'Müller',
  },
  clara: {
    sub: 'eid-pseudonym-clara-c05e61', maxAcr: LOA_LOW, given_name: 'Clara', family_name: 'Weber',
  },
};
const ACCOUNT_BY_SUB = Object.fromEntries(Object.entries(PERSONAS).map(([k, v]) => [v.sub, k]));

const log = (...args) => console.error('[oidc-provider]', ...args);

// stdout carries only the READY line. oidc-provider prints NOTICEs with
// console.info (stdout); send every console stream to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

function parseClients() {
  const raw = process.env.CLIENTS ?? '[]';
  let clients;
  try {
    clients = JSON.parse(raw);
  } catch (err) {
    throw new Error(`CLIENTS is not valid JSON: ${err.message}`);
  }
  if (!Array.isArray(clients)) throw new Error('CLIENTS must be a JSON array');
  return clients.map((c) => {
    const client = {
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris ?? [],
      post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
      id_token_signed_response_alg: SIGNING_ALG,
    };
    if (c.backchannel_logout_uri) {
      client.backchannel_logout_uri = c.backchannel_logout_uri;
      client.backchannel_logout_session_required = c.backchannel_logout_session_required ?? true;
    }
    return client;
  });
}

// ------------------------------------------------------------- storage ---

// One in-memory store shared by every Provider instance of this process. Key
// rotation swaps the Provider (its keys are fixed at construction); sessions,
// interactions, grants and codes must survive that. (oidc-provider's own
// MemoryAdapter is per Provider instance since 9.x, so it cannot be reused.)
const store = new Map(); // key -> { payload, expiresAt }
const index = new Map(); // `uid:${uid}` / `userCode:${code}` -> id; `grant:${grantId}` -> Set of keys

function alive(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.payload;
}

class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    store.set(key, { payload, expiresAt });
    if (payload.uid && this.model === 'Session') index.set(`uid:${payload.uid}`, id);
    if (payload.userCode) index.set(`userCode:${payload.userCode}`, id);
    if (payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      if (!index.has(grantKey)) index.set(grantKey, new Set());
      index.get(grantKey).add(key);
    }
  }

  async find(id) {
    return alive(this.key(id));
  }

  async findByUid(uid) {
    const id = index.get(`uid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = index.get(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = alive(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    for (const key of index.get(grantKey) ?? []) store.delete(key);
    index.delete(grantKey);
  }
}

// ---------------------------------------------------------------- state ---

const clients = parseClients();
const cookieKeys = [randomBytes(32).toString('hex')];
let signingKey; // { privateJwk, publicJwk, privateKey, kid }
let provider; // the current Provider instance (replaced on key rotation)
let providerHandler; // provider.callback() of the current instance
let pendingIdTokenOverride = null;
let lastLogoutToken = null;
// `${account}\n${client_id}` -> { sub, sid } of the latest ID token issued.
const logins = new Map();

async function newSigningKey() {
  const { privateKey } = await jose.generateKeyPair(SIGNING_ALG, { modulusLength: 2048, extractable: true });
  const kid = `test-${randomUUID()}`;
  const privateJwk = { ...await jose.exportJWK(privateKey), kid, alg: SIGNING_ALG, use: 'sig' };
  return { privateJwk, privateKey, kid };
}

const now = () => Math.floor(Date.now() / 1000);

// ------------------------------------------------------------- accounts ---

function requestedAcrs(params) {
  // Preference order: claims parameter (id_token.acr.value / values), then acr_values.
  const out = [];
  if (params.claims) {
    try {
      const claims = typeof params.claims === 'string' ? JSON.parse(params.claims) : params.claims;
      const acr = claims?.id_token?.acr;
      if (acr?.value) out.push(acr.value);
      if (Array.isArray(acr?.values)) out.push(...acr.values);
    } catch {
      // the provider itself rejects malformed claims before we get here
    }
  }
  if (params.acr_values) out.push(...String(params.acr_values).split(' ').filter(Boolean));
  return out.filter((v) => LEVELS.includes(v));
}

// The first requested level the persona can reach; otherwise the persona's
// maximum (which is then lower than requested: tests use this for "acr too low").
function acrFor(persona, params) {
  const max = LEVELS.indexOf(persona.maxAcr);
  const requested = requestedAcrs(params);
  const reachable = requested.find((v) => LEVELS.indexOf(v) <= max);
  return reachable ?? persona.maxAcr;
}

async function findAccount(_ctx, sub) {
  const account = ACCOUNT_BY_SUB[sub] ?? (PERSONAS[sub] ? sub : undefined);
  if (!account) return undefined;
  const persona = PERSONAS[account];
  return {
    accountId: persona.sub,
    async claims() {
      return {
        sub: persona.sub,
        name: `${persona.given_name} ${persona.family_name}`,
        given_name: persona.given_name,
        family_name: persona.family_name,
      };
    },
  };
}

// -------------------------------------------------------------- provider ---

function interactionPolicyFor() {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  // acr is decided by the headless login (capped at the persona's level). Do not
  // let the provider loop back into login when an essential acr is not reached:
  // the RP must reject a too-low acr itself, and tests need to see it do that.
  login.checks.remove('essential_acr');
  login.checks.remove('essential_acrs');
  // Every authorization request carrying login_hint does a fresh (headless) login,
  // so a test's cookie jar never silently reuses an earlier persona/acr.
  login.checks.add(new interactionPolicy.Check(
    'headless_login_hint',
    'login_hint requests a fresh headless login',
    (ctx) => (ctx.oidc.params.login_hint && !ctx.oidc.result?.login
      ? interactionPolicy.Check.REQUEST_PROMPT
      : interactionPolicy.Check.NO_NEED_TO_PROMPT),
  ));
  return policy;
}

function makeProvider(issuer) {
  const p = new Provider(issuer, {
    adapter: SharedMemoryAdapter,
    clients,
    jwks: { keys: [signingKey.privateJwk] },
    cookies: { keys: cookieKeys },
    acrValues: LEVELS,
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name'],
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
    },
    scopes: ['openid', 'profile'],
    // Explicit lifetimes (seconds); also keeps the provider's "default ttl" notices away.
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    findAccount,
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: {
      policy: interactionPolicyFor(),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // oidc-provider >= 9 guards outgoing requests (back-channel logout, jwks_uri, ...)
    // against special-use addresses (loopback included) by passing an undici
    // `dispatcher` that kills such sockets. Tests run the RP on 127.0.0.1, so drop it.
    fetch: (url, options) => {
      delete options.dispatcher;
      if (options.body instanceof URLSearchParams && options.body.has('logout_token')) {
        lastLogoutToken = options.body.get('logout_token');
      }
      return globalThis.fetch(url, options);
    },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });

  p.on('server_error', (_ctx, err) => log('server_error', err));
  p.on('authorization.error', (_ctx, err) => log('authorization.error', err.message, err.error_description ?? '', err.error_detail ?? ''));
  p.on('grant.error', (_ctx, err) => log('grant.error', err.message, err.error_description ?? '', err.error_detail ?? ''));
  p.on('end_session.error', (_ctx, err) => log('end_session.error', err.message, err.error_description ?? '', err.error_detail ?? ''));
  p.on('backchannel.error', (_ctx, err, client) => log('backchannel.error', client.clientId, err.message));

  // Token endpoint: record sid per login, apply a pending ID token override.
  p.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || !ctx.body?.id_token) return;
    const payload = jose.decodeJwt(ctx.body.id_token);
    const account = ACCOUNT_BY_SUB[payload.sub];
    if (account && payload.sid) {
      logins.set(`${account}\n${payload.aud}`, { sub: payload.sub, sid: payload.sid });
    }
    if (pendingIdTokenOverride) {
      const overrides = pendingIdTokenOverride;
      pendingIdTokenOverride = null;
      ctx.body = { ...ctx.body, id_token: await rewriteIdToken(ctx.body.id_token, overrides) };
      log('id_token rewritten with', JSON.stringify(overrides));
    }
  });
  return p;
}

async function sign(payload, typ) {
  const header = { alg: SIGNING_ALG, kid: signingKey.kid };
  if (typ) header.typ = typ;
  return new jose.SignJWT(payload).setProtectedHeader(header).sign(signingKey.privateKey);
}

function applyOverrides(payload, overrides) {
  const t = now();
  const out = { ...payload };
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'exp_offset_seconds') out.exp = t + value;
    else if (key === 'iat_offset_seconds') out.iat = t + value;
    else if (key === 'corrupt_signature') continue;
    else if (value === null) delete out[key];
    else out[key] = value;
  }
  return out;
}

function corrupt(jwt) {
  const [h, p, s] = jwt.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[0] ^= 0xff;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

async function rewriteIdToken(idToken, overrides) {
  const payload = applyOverrides(jose.decodeJwt(idToken), overrides);
  const jwt = await sign(payload);
  return overrides.corrupt_signature ? corrupt(jwt) : jwt;
}

// --------------------------------------------------------- interactions ---

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

// Headless login + consent: no page, straight back to the provider.
async function handleInteraction(req, res) {
  const interaction = await provider.interactionDetails(req, res);
  const { prompt, params, session } = interaction;
  const result = {};

  let accountId = session?.accountId;
  if (prompt.name === 'login' || !accountId) {
    const hint = params.login_hint;
    if (!hint) {
      sendText(res, 400, 'test oidc-provider: headless login needs login_hint=<persona> (anna, ben, clara) in the authorization request');
      return;
    }
    const persona = PERSONAS[hint];
    if (!persona) {
      sendText(res, 400, `test oidc-provider: unknown persona in login_hint: ${hint} (known: ${Object.keys(PERSONAS).join(', ')})`);
      return;
    }
    accountId = persona.sub;
    result.login = { accountId, acr: acrFor(persona, params), amr: ['eid'], remember: true };
  }

  // Consent: grant everything requested.
  let grant;
  if (interaction.grantId) {
    grant = await provider.Grant.find(interaction.grantId);
  }
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }
  grant.addOIDCScope(String(params.scope ?? 'openid'));
  const details = prompt.details ?? {};
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  if (details.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  if (params.claims) {
    try {
      const claims = JSON.parse(params.claims);
      grant.addOIDCClaims([
        ...Object.keys(claims.id_token ?? {}),
        ...Object.keys(claims.userinfo ?? {}),
      ]);
    } catch {
      // ignored: the provider validated params.claims already
    }
  }
  result.consent = { grantId: await grant.save() };

  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// ------------------------------------------------------- test endpoints ---

async function backchannelLogout(body) {
  const clientId = body.client_id;
  const client = clients.find((c) => c.client_id === clientId);
  if (!client) return [404, { error: `unknown client_id ${clientId}` }];
  if (!client.backchannel_logout_uri) return [409, { error: `client ${clientId} has no backchannel_logout_uri` }];

  let sub;
  let { sid } = body;
  if (body.account) {
    const login = logins.get(`${body.account}\n${clientId}`);
    const persona = PERSONAS[body.account];
    if (!persona) return [404, { error: `unknown account ${body.account}` }];
    sub = persona.sub;
    if (!sid) {
      if (!login) return [409, { error: `no login of ${body.account} at ${clientId} recorded (no sid known)` }];
      sid = login.sid;
    }
  }
  if (!sub && !sid) return [400, { error: 'need account and/or sid' }];

  const t = now();
  let payload = {
    iss: provider.issuer,
    aud: clientId,
    iat: t,
    exp: t + 120,
    jti: randomUUID(),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  };
  if (sub) payload.sub = sub;
  if (sid) payload.sid = sid;
  if (body.overrides) payload = applyOverrides(payload, body.overrides);
  const signed = await sign(payload, 'logout+jwt');
  const token = body.overrides?.corrupt_signature ? corrupt(signed) : signed;
  lastLogoutToken = token;

  const response = await fetch(client.backchannel_logout_uri, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }),
  });
  const text = await response.text();
  log('back-channel logout', clientId, sub ?? '-', sid ?? '-', '->', response.status);
  return [200, {
    status: response.status, body: text, logout_token: token, sub, sid,
  }];
}

async function handleTest(req, res, path) {
  if (req.method === 'POST' && path === '/test/rotate-keys') {
    const old = signingKey.kid;
    signingKey = await newSigningKey();
    provider = makeProvider(provider.issuer);
    providerHandler = provider.callback();
    log('rotated signing key', old, '->', signingKey.kid);
    return sendJson(res, 200, { kid: signingKey.kid, old_kid: old });
  }
  if (req.method === 'POST' && path === '/test/id-token-override') {
    pendingIdTokenOverride = await readJson(req);
    return sendJson(res, 200, { pending: pendingIdTokenOverride });
  }
  if (req.method === 'POST' && path === '/test/backchannel-logout') {
    const [status, body] = await backchannelLogout(await readJson(req));
    return sendJson(res, status, body);
  }
  if (req.method === 'GET' && path === '/test/last-logout-token') {
    if (!lastLogoutToken) return sendJson(res, 404, { error: 'no logout token sent yet' });
    return sendJson(res, 200, { logout_token: lastLogoutToken });
  }
  if (req.method === 'GET' && path === '/test/personas') {
    return sendJson(res, 200, Object.fromEntries(Object.entries(PERSONAS)
      .map(([k, v]) => [k, { sub: v.sub, max_acr: v.maxAcr }])));
  }
  return sendJson(res, 404, { error: `no test endpoint ${req.method} ${path}` });
}

// ----------------------------------------------------------------- main ---

async function main() {
  signingKey = await newSigningKey();
  const server = http.createServer(async (req, res) => {
    try {
      const path = new URL(req.url, 'http://x').pathname;
      if (path.startsWith('/test/')) return await handleTest(req, res, path);
      if (path.startsWith('/interaction/')) return await handleInteraction(req, res);
      // The current provider handles everything else (read per request: rotation swaps it).
      return providerHandler(req, res);
    } catch (err) {
      log('request failed', req.method, req.url, err);
      if (!res.headersSent) sendText(res, 500, `test oidc-provider: ${err.message}`);
      else res.end();
    }
  });
  const port = Number(process.env.PORT ?? process.argv[2] ?? 0);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = makeProvider(issuer);
  providerHandler = provider.callback();
  process.stdout.write(`READY ${issuer}\n`);
  log('issuer', issuer, 'clients', clients.map((c) => c.client_id).join(','), 'kid', signingKey.kid);

  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The Rust harness holds our stdin open; when the test process dies (even
  // without dropping the handle), stdin hits EOF and we go too: no orphans.
  if (process.env.EXIT_ON_STDIN_EOF === '1') {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
}

main().catch((err) => {
  log('failed to start:', err);
  process.exit(1);
});
