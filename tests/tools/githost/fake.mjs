// A fake GitHub or GitLab for the identity tests: their OAuth2 authorize and token
// endpoints and REST profile endpoints, in their published shapes, over HTTPS on loopback
// (the test CA's certificate). It keeps no accounts: the one user consents at once.
//
//   node fake.mjs CONFIG.json
//
// CONFIG: {"kind": "github"|"gitlab", "cert", "key", "clientId", "clientSecret",
//          "expiresIn": seconds, "listen": "127.0.0.1", "repositories": DIR}
// With `repositories`, it also serves git's smart HTTP (`git http-backend`) for the bare
// repositories under DIR at `/<owner>/<name>.git`, to a client whose basic-authentication
// password is an access token it issued that has neither expired nor been replaced by a
// refresh (as GitHub does for expiring user tokens).
// Prints `listening https://127.0.0.1:PORT`, then one line per token issued
// (`issued ACCESS_TOKEN`), so tests can look for the token everywhere it must not be.
//
// Shapes (as documented by each):
// - GitHub: GET /login/oauth/authorize -> redirect_uri?code&state; POST
//   /login/oauth/access_token (Accept: application/json) -> {access_token, token_type:
//   "bearer", scope: "repo,user:email", refresh_token, expires_in, refresh_token_expires_in};
//   GET /api/v3/user -> {login, id, name, email, ...}; GET /api/v3/user/emails -> [{email,
//   primary, verified, visibility}] (GitHub Enterprise Server's /api/v3 layout).
// - GitLab: GET /oauth/authorize; POST /oauth/token -> {access_token, token_type: "Bearer",
//   expires_in, refresh_token, scope: "api read_user", created_at}; GET /api/v4/user ->
//   {id, username, name, email, commit_email, state, ...}.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

const codes = new Map(); // code -> {challenge, redirectUri}
const refreshTokens = new Map(); // refresh token -> the access token it came with
const accessTokens = new Map(); // token -> expiry (ms since the epoch)

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function issue(replaced) {
  if (replaced) accessTokens.delete(replaced);
  const prefix = config.kind === 'github' ? ['gho_', 'ghr_'] : ['glpat-', 'glrt-'];
  const access = prefix[0] + crypto.randomBytes(18).toString('hex');
  const refresh = prefix[1] + crypto.randomBytes(18).toString('hex');
  accessTokens.set(access, Date.now() + config.expiresIn * 1000);
  refreshTokens.set(refresh, access);
  console.log(`issued ${access}`);
  const answer = { access_token: access, refresh_token: refresh, expires_in: config.expiresIn };
  if (config.kind === 'github') {
    return { ...answer, token_type: 'bearer', scope: 'repo,user:email', refresh_token_expires_in: 15811200 };
  }
  return { ...answer, token_type: 'Bearer', scope: 'api read_user', created_at: Math.floor(Date.now() / 1000) };
}

function valid(token) {
  return (accessTokens.get(token) || 0) > Date.now();
}

function bearer(req) {
  const header = req.headers.authorization || '';
  return valid(header.replace(/^(Bearer|token) /i, ''));
}

// git's smart HTTP through `git http-backend` (CGI), for a valid token only.
function gitHttp(req, res, url, input) {
  const header = req.headers.authorization || '';
  const basic = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString() : '';
  const token = basic.slice(basic.indexOf(':') + 1);
  if (!valid(token)) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-length': '0' });
    return res.end();
  }
  const out = spawnSync('git', ['http-backend'], {
    input,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env.PATH, GIT_PROJECT_ROOT: config.repositories, GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: url.pathname, QUERY_STRING: url.search.slice(1), REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] || '', CONTENT_LENGTH: String(input.length),
      REMOTE_USER: basic.slice(0, basic.indexOf(':')) || 'git', REMOTE_ADDR: '127.0.0.1',
      GIT_PROTOCOL: req.headers['git-protocol'] || '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] || '',
    },
  }).stdout;
  const split = out.indexOf('\r\n\r\n');
  const head = out.subarray(0, split).toString();
  const rest = out.subarray(split + 4);
  let status = 200;
  const headers = { 'content-length': String(rest.length) };
  for (const line of head.split('\r\n')) {
    const at = line.indexOf(': ');
    const name = line.slice(0, at);
    if (name.toLowerCase() === 'status') status = parseInt(line.slice(at + 2), 10);
    else if (name) headers[name] = line.slice(at + 2);
  }
  res.writeHead(status, headers);
  return res.end(rest);
}

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

const paths = config.kind === 'github'
  ? { authorize: '/login/oauth/authorize', token: '/login/oauth/access_token' }
  : { authorize: '/oauth/authorize', token: '/oauth/token' };

const server = https.createServer({ cert: fs.readFileSync(config.cert), key: fs.readFileSync(config.key) });
server.on('request', async (req, res) => {
  const url = new URL(req.url, 'https://127.0.0.1');
  if (req.method === 'GET' && url.pathname === paths.authorize) {
    const q = url.searchParams;
    if (q.get('client_id') !== config.clientId || q.get('code_challenge_method') !== 'S256') {
      return json(res, 400, { error: 'invalid_request' });
    }
    const code = crypto.randomBytes(10).toString('hex');
    codes.set(code, { challenge: q.get('code_challenge'), redirectUri: q.get('redirect_uri') });
    const back = new URL(q.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state'));
    res.writeHead(302, { location: back.href });
    return res.end();
  }
  if (req.method === 'POST' && url.pathname === paths.token) {
    const form = await body(req);
    if (form.get('client_id') !== config.clientId || form.get('client_secret') !== config.clientSecret) {
      return json(res, 401, { error: 'invalid_client' });
    }
    if (form.get('grant_type') === 'authorization_code') {
      const pending = codes.get(form.get('code'));
      codes.delete(form.get('code'));
      const challenge = crypto.createHash('sha256').update(form.get('code_verifier') || '').digest('base64url');
      if (!pending || pending.challenge !== challenge || pending.redirectUri !== form.get('redirect_uri')) {
        return json(res, 400, { error: 'invalid_grant' });
      }
      return json(res, 200, issue());
    }
    if (form.get('grant_type') === 'refresh_token' && refreshTokens.has(form.get('refresh_token'))) {
      const replaced = refreshTokens.get(form.get('refresh_token'));
      refreshTokens.delete(form.get('refresh_token'));
      return json(res, 200, issue(replaced));
    }
    return json(res, 400, { error: 'invalid_grant' });
  }
  if (config.repositories && /^\/[^/]+\/[^/]+\.git\//.test(url.pathname)) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    return gitHttp(req, res, url, Buffer.concat(chunks));
  }
  if (req.method === 'GET' && !bearer(req)) {
    return json(res, 401, config.kind === 'github'
      ? { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }
      : { message: '401 Unauthorized' });
  }
  if (config.kind === 'github' && url.pathname === '/api/v3/user') {
    return json(res, 200, { login: 'octocat', id: 583231, type: 'User', name: 'The Octocat', email: null, site_admin: false });
  }
  if (config.kind === 'github' && url.pathname === '/api/v3/user/emails') {
    return json(res, 200, [
      { email: 'octo-old@example.test', primary: false, verified: true, visibility: null },
      { email: 'octocat@example.test', primary: true, verified: true, visibility: 'public' },
    ]);
  }
  if (config.kind === 'gitlab' && url.pathname === '/api/v4/user') {
    return json(res, 200, { id: 1, username: 'jdoe', name: 'Jane Doe', state: 'active', email: 'jdoe@example.test', commit_email: 'jane@example.test' });
  }
  return json(res, 404, { message: 'Not Found' });
});
const host = config.listen || '127.0.0.1';
const shown = config.shownHost || '127.0.0.1';
server.listen(0, host, () => console.log(`listening https://${shown}:${server.address().port}`));
