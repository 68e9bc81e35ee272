// A real OpenID Connect provider for Flowyard's SSO tests: node's oidc-provider (installed by scripts/provision into
// /var/lib/flowyard/npm) configured as a company IdP with a pre-consented first-party app. Loopback only.
//
//   node tests/support/oidc/provider.mjs CONFIG.json
//
// CONFIG.json (written by flowyard_testkit.oidc.OidcProvider):
//   {"port": 0 or PORT, "issuer"?: "http://127.0.0.1:PORT", "users_file": "...", "jwks": {"keys": [private JWKs]},
//    "clients": [client metadata, ...], "control_token": "...", "node_modules"?: "/var/lib/flowyard/npm/node_modules"}
// With port 0 the system picks a free port and the issuer is http://127.0.0.1:<that port>.
// Prints `oidc-provider ready <issuer>` on stdout once listening; errors go to stderr. See README.md.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const HOST = '127.0.0.1';
const DEFAULT_NODE_MODULES = '/var/lib/flowyard/npm/node_modules';
const CONTROL_PATH = '/__flowyard/jwks';
const MAX_BODY_BYTES = 1024 * 1024;

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
const nodeModules = config.node_modules || process.env.OIDC_PROVIDER_NODE_MODULES || DEFAULT_NODE_MODULES;
// oidc-provider is an ES module outside this file's tree: resolve its entry point from the npm prefix, then import it.
const entry = createRequire(path.join(nodeModules, 'noop.js')).resolve('oidc-provider');
const { default: Provider } = await import(pathToFileURL(entry).href);
// oidc-provider's in-memory adapter, but with one store for every Provider this process builds (a key rotation
// builds a new one: sessions, grants and tokens must carry over) and room for a whole test session's logins (its
// default store keeps 1000 entries). Internal modules of the pinned version (scripts/provision pins it).
const lib = path.dirname(entry);
const { default: MemoryAdapter } = await import(pathToFileURL(path.join(lib, 'adapters', 'memory_adapter.js')).href);
const { default: LRU } = await import(pathToFileURL(path.join(lib, 'helpers', 'lru.js')).href);
const CLOCK_TOLERANCE_SECONDS = 15;
const store = new LRU({ maxSize: 100000 });
const adapter = (model) => new MemoryAdapter(model, store, CLOCK_TOLERANCE_SECONDS);

const cookieKeys = [crypto.randomBytes(32).toString('base64url')];  // one per process: sessions survive key rotation

// ---------------------------------------------------------------------------------------------------- accounts

function readUsers() {
  // Re-read on every lookup, so a test changes groups or disables someone by rewriting the file.
  try {
    return JSON.parse(fs.readFileSync(config.users_file, 'utf8')).users || {};
  } catch (error) {
    console.error(`oidc-provider: cannot read ${config.users_file}: ${error.message}`);
    return {};
  }
}

function activeUser(login) {
  const users = readUsers();
  const user = Object.hasOwn(users, login) ? users[login] : undefined;
  return user && !user.disabled ? user : undefined;
}

async function findAccount(ctx, sub) {
  const user = activeUser(sub);
  if (!user) return undefined;  // missing or disabled: login refused, refresh_token grant fails with invalid_grant
  return {
    accountId: sub,
    async claims() {
      const current = activeUser(sub) || user;
      return {
        sub,
        name: current.name ?? sub,
        preferred_username: current.preferred_username ?? sub,
        gitlab_username: current.gitlab_username ?? '',
        email: current.email ?? '',
        email_verified: true,
        groups: Array.isArray(current.groups) ? current.groups : [],
      };
    },
  };
}

// ------------------------------------------------------------------------------------------------------- pages

function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

// No external stylesheets or fonts: a browser on these pages must not reach beyond 127.0.0.1.
function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:2em auto}label{display:block;margin:.5em 0}
.error{color:#b00020}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>`;
}

function withButtons(form, ...buttons) {
  // The forms oidc-provider hands over have no buttons: put the submit buttons inside, so a plain HTTP client
  // parsing the form and a browser clicking a button send the same fields.
  return form.replace(/<\/form>\s*$/, `${buttons.join('')}</form>`);
}

function button(label, name, value) {
  const named = name ? ` name="${escapeHtml(name)}" value="${escapeHtml(value)}"` : '';
  return `<button type="submit"${named}>${escapeHtml(label)}</button>`;
}

function loginPage(uid, clientId, { login = '', error = false } = {}) {
  // "Sign in" is the button's text only, so `text=Sign in` in a browser test finds the button.
  return page('Flowyard test identity provider', `<p>Log in to continue to <strong>${escapeHtml(clientId)}</strong></p>
${error ? '<p class="error" role="alert">Invalid login</p>' : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label>Login <input type="text" name="login" value="${escapeHtml(login)}" autofocus required></label>
<label>Password <input type="password" name="password" required></label>
<button type="submit">Sign in</button>
</form>`);
}

async function userCodeInputSource(ctx, form, out, err) {
  let message = '<p>Enter the code displayed on your device</p>';
  if (err && (err.userCode || err.name === 'NoCodeError')) {
    message = '<p class="error" role="alert">The code you entered is incorrect. Try again</p>';
  } else if (err && err.name === 'AbortedError') {
    message = '<p class="error" role="alert">The sign-in request was interrupted</p>';
  } else if (err) {
    message = '<p class="error" role="alert">There was an error processing your request</p>';
  }
  ctx.type = 'html';
  ctx.body = page('Device sign-in', `${message}\n${withButtons(form, button('Continue'))}`);
}

async function userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
  ctx.type = 'html';
  ctx.body = page('Confirm device', `<p><strong>${escapeHtml(client.clientName || client.clientId)}</strong>
asks to sign in. Check that your device shows this code:</p>
<p><code id="user-code">${escapeHtml(userCode)}</code></p>
${withButtons(form, button('Continue'))}`);
}

async function successSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Sign-in success', '<p>Your device is signed in; you can close this page.</p>');
}

async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = page('Sign out', `<p>Do you want to sign out from ${escapeHtml(ctx.host)}?</p>
${withButtons(form, button('Yes, sign me out', 'logout', 'yes'), button('No, stay signed in'))}`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<p>You are signed out.</p>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  const details = Object.entries(out)
    .map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: <span class="${escapeHtml(key)}">${
      escapeHtml(value)}</span></p>`)
    .join('\n');
  ctx.body = page('Error', details);
}

// ---------------------------------------------------------------------------------------------------- provider

async function loadExistingGrant(ctx) {
  // Pre-consented first-party apps: whatever a client asks for is granted, so there is never a consent prompt.
  const { client, account } = ctx.oidc;
  const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(client.clientId);
  let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== account.accountId || grant.clientId !== client.clientId) {
    grant = new ctx.oidc.provider.Grant({ accountId: account.accountId, clientId: client.clientId });
  }
  const scopes = [...ctx.oidc.requestParamScopes].filter(Boolean);
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const claims = [...ctx.oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  await grant.save();
  return grant;
}

function buildProvider(issuer, jwks) {
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks,  // the first key signs (RS256); jwks_uri publishes the public parts of all
    adapter,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    findAccount,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'gitlab_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access'],
    conformIdTokenClaims: false,  // the ID token carries the claims of the granted scopes (groups among them)
    cookies: { keys: cookieKeys },
    pkce: { required: () => true },  // every authorization code request, confidential clients too; S256 only
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    loadExistingGrant,
    clientBasedCORS: () => false,
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError,
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true, userCodeInputSource, userCodeConfirmSource, successSource },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      revocation: { enabled: true },
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
    },
  });
  provider.on('server_error', (ctx, error) => console.error(`oidc-provider server_error: ${error.stack || error}`));
  for (const event of ['authorization.error', 'grant.error', 'end_session.error', 'userinfo.error',
    'revocation.error', 'code_verification.error', 'device_authorization.error']) {
    provider.on(event, (ctx, error) => console.error(
      `oidc-provider ${event}: ${error.error || error.name}: ${error.error_description || error.message}`
      + `${error.error_detail ? ` (${error.error_detail})` : ''}`,
    ));
  }
  return provider;
}

// ---------------------------------------------------------------------------------------------------- requests

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendHtml(res, status, html) {
  const body = Buffer.from(html, 'utf8');
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function checkPassword(given, expected) {
  const a = crypto.createHash('sha256').update(String(given ?? '')).digest();
  const b = crypto.createHash('sha256').update(String(expected ?? '')).digest();
  return crypto.timingSafeEqual(a, b);
}

async function consentResult(provider, details) {
  // Should a consent prompt still come up (it does not with loadExistingGrant above), grant what is missing.
  const { prompt: { details: missing }, params, session } = details;
  let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  if (!grant) grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return { consent: { grantId: await grant.save() } };
}

async function interaction(provider, req, res, url) {
  const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return false;
  const [, uid, login] = match;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const clientId = details.params.client_id;
  if (details.prompt.name === 'consent') {
    await provider.interactionFinished(req, res, await consentResult(provider, details),
      { mergeWithLastSubmission: true });
    return true;
  }
  if (req.method === 'GET' && !login) {
    sendHtml(res, 200, loginPage(uid, clientId));
    return true;
  }
  if (req.method === 'POST' && login) {
    const form = new URLSearchParams(await readBody(req));
    const name = form.get('login') || '';
    const user = activeUser(name);
    if (!user || !checkPassword(form.get('password'), user.password)) {
      sendHtml(res, 200, loginPage(uid, clientId, { login: name, error: true }));
      return true;
    }
    await provider.interactionFinished(req, res, { login: { accountId: name } }, { mergeWithLastSubmission: false });
    return true;
  }
  res.writeHead(405, { Allow: login ? 'POST' : 'GET' }).end();
  return true;
}

async function control(req, res) {
  // Key rotation without a restart: a new Provider with the new keys takes the requests from now on; sessions,
  // grants and refresh tokens live in the module's memory adapter and carry over.
  if (req.method !== 'PUT' || req.headers.authorization !== `Bearer ${config.control_token}`) {
    res.writeHead(403).end();
    return;
  }
  const jwks = JSON.parse(await readBody(req));
  use(buildProvider(state.issuer, jwks));
  config.jwks = jwks;
  res.writeHead(204).end();
}

const state = { issuer: undefined, provider: undefined, handler: undefined };

function use(provider) {
  state.provider = provider;
  state.handler = provider.callback();
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://placeholder');
    if (url.pathname === CONTROL_PATH && config.control_token) {
      await control(req, res);
      return;
    }
    if (url.pathname.startsWith('/interaction/') && await interaction(state.provider, req, res, url)) return;
    state.handler(req, res);
  } catch (error) {
    console.error(`oidc-provider: ${req.method} ${req.url}: ${error.stack || error}`);
    if (!res.headersSent) sendHtml(res, 400, page('Error', `<p class="error">${escapeHtml(error.message)}</p>`));
    else res.end();
  }
});

server.on('error', (error) => {
  console.error(`oidc-provider: cannot listen on ${HOST}:${config.port}: ${error.message}`);
  process.exit(1);
});

server.listen(config.port || 0, HOST, () => {
  const { port } = server.address();
  state.issuer = config.issuer || `http://${HOST}:${port}`;
  use(buildProvider(state.issuer, config.jwks));
  console.log(`oidc-provider ready ${state.issuer}`);
});

// Orphaned (the test process died without stopping us): exit rather than linger on the port.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(0);
}, 1000).unref();

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
