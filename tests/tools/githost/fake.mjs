// A fake GitHub or GitLab for the identity tests: their OAuth2 authorize and token
// endpoints and REST profile endpoints, in their published shapes, over HTTPS on loopback
// (the test CA's certificate). It keeps no accounts: the one user consents at once.
//
//   node fake.mjs CONFIG.json
//
// CONFIG: {"kind": "github"|"gitlab", "cert", "key", "clientId", "clientSecret",
//          "expiresIn": seconds}
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
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

const codes = new Map(); // code -> {challenge, redirectUri}
const refreshTokens = new Set();
const accessTokens = new Set();

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function issue() {
  const prefix = config.kind === 'github' ? ['gho_', 'ghr_'] : ['glpat-', 'glrt-'];
  const access = prefix[0] + crypto.randomBytes(18).toString('hex');
  const refresh = prefix[1] + crypto.randomBytes(18).toString('hex');
  accessTokens.add(access);
  refreshTokens.add(refresh);
  console.log(`issued ${access}`);
  const answer = { access_token: access, refresh_token: refresh, expires_in: config.expiresIn };
  if (config.kind === 'github') {
    return { ...answer, token_type: 'bearer', scope: 'repo,user:email', refresh_token_expires_in: 15811200 };
  }
  return { ...answer, token_type: 'Bearer', scope: 'api read_user', created_at: Math.floor(Date.now() / 1000) };
}

function bearer(req) {
  const header = req.headers.authorization || '';
  const token = header.replace(/^(Bearer|token) /i, '');
  return accessTokens.has(token);
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
    if (form.get('grant_type') === 'refresh_token' && refreshTokens.delete(form.get('refresh_token'))) {
      return json(res, 200, issue());
    }
    return json(res, 400, { error: 'invalid_grant' });
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
server.listen(0, '127.0.0.1', () => console.log(`listening https://127.0.0.1:${server.address().port}`));
