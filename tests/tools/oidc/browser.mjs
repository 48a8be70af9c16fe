// Plays the browser against `issuer.mjs` (oidc-provider's development login and consent
// pages), for tests: follows redirects by hand, keeps cookies, signs in with any login.
//
//   node browser.mjs visit AUTHORIZATION_URL LOGIN
//     Signs in as LOGIN, consents, then requests the final redirect (a CLI's loopback
//     callback) and prints its status and body.
//   node browser.mjs locate AUTHORIZATION_URL LOGIN
//     Signs in as LOGIN and consents; prints the redirect it ends on without requesting it.
//   node browser.mjs token ISSUER CLIENT_ID LOGIN [SCOPE]
//     The whole authorization code flow with PKCE for a public client whose redirect URI is
//     http://127.0.0.1/callback; prints the token endpoint's JSON answer.
// Trusts the test CA through NODE_EXTRA_CA_CERTS.
import crypto from 'node:crypto';
import http from 'node:http';

const cookies = new Map();

function remember(res) {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    cookies.set(pair.slice(0, at), pair.slice(at + 1));
  }
}

async function request(url, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(url, { ...options, headers, redirect: 'manual' });
  remember(res);
  return res;
}

// Signs in as `login` from `url` until a redirect leaves the issuer; returns that URL.
async function signIn(url, login) {
  const issuer = new URL(url).origin;
  let next = url;
  for (let step = 0; step < 20; step += 1) {
    if (new URL(next).origin !== issuer) return next;
    const res = await request(next);
    if (res.status >= 300 && res.status < 400) {
      next = new URL(res.headers.get('location'), next).href;
      continue;
    }
    const page = await res.text();
    if (res.status !== 200) throw new Error(`${next}: ${res.status} ${page.replace(/<style>[\s\S]*<\/style>/,"").slice(0, 1500)}`);
    const action = page.match(/<form[^>]*action="([^"]+)"/);
    const prompt = page.match(/name="prompt" value="([^"]+)"/);
    if (!action || !prompt) throw new Error(`no form at ${next}: ${page.replace(/<style>[\s\S]*<\/style>/,"").slice(0, 1500)}`);
    const body = new URLSearchParams({ prompt: prompt[1] });
    if (prompt[1] === 'login') {
      body.set('login', login);
      body.set('password', 'any');
    }
    const posted = await request(new URL(action[1].replace(/&amp;/g, '&'), next).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
    if (posted.status < 300 || posted.status >= 400) {
      throw new Error(`form at ${next}: ${posted.status} ${(await posted.text()).slice(0, 500)}`);
    }
    next = new URL(posted.headers.get('location'), next).href;
  }
  throw new Error('too many steps');
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    }).on('error', reject);
  });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'visit') {
  const [url, login] = args;
  const callback = await signIn(url, login);
  console.log(await get(callback));
} else if (mode === 'locate') {
  const [url, login] = args;
  console.log(await signIn(url, login));
} else if (mode === 'token') {
  const [issuer, clientId, login, scope = 'openid profile email groups offline_access'] = args;
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const redirect = 'http://127.0.0.1/callback';
  const auth = new URL(discovery.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: clientId, response_type: 'code', scope, redirect_uri: redirect,
    code_challenge: challenge, code_challenge_method: 'S256', state: 'test', prompt: 'consent',
  })) auth.searchParams.set(k, v);
  const back = new URL(await signIn(auth.href, login));
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code: ${back}`);
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: clientId,
      code_verifier: verifier,
    }).toString(),
  });
  console.log(await res.text());
} else {
  throw new Error('usage: browser.mjs visit URL LOGIN | token ISSUER CLIENT_ID LOGIN');
}
