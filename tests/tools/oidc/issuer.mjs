// A real OpenID Connect issuer for the identity tests: the npm `oidc-provider` (a certified
// OpenID Connect server) over HTTPS on loopback, with the test CA's certificate.
//
//   node issuer.mjs CONFIG.json
//
// CONFIG: {"port": 0, "cert": "leaf.pem", "key": "leaf.key", "jwks": {"keys": [private JWKs]},
//          "clients": [oidc-provider client metadata], "idTokenTtl": 3600,
//          "groups": {"alice": ["admins"]}}
// Prints `listening https://127.0.0.1:PORT` once it serves; every account exists (the
// development login form accepts any login and password), and its claims are derived from
// the login: sub = preferred_username = login, email = login@example.test, groups from CONFIG.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Installed into <repo>/.tools/node by scripts/install-test-tools.sh.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const { default: Provider } = await import(
  pathToFileURL(path.join(repo, '.tools/node/node_modules/oidc-provider/lib/index.js')).href);

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
// The test holds our stdin: when it goes away, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
const tls = { cert: fs.readFileSync(config.cert), key: fs.readFileSync(config.key) };
const server = https.createServer(tls);
server.listen(config.port || 0, '127.0.0.1', () => {
  const issuer = `https://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: config.jwks,
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({
        sub,
        preferred_username: sub,
        name: `User ${sub}`,
        email: `${sub}@example.test`,
        email_verified: true,
        groups: (config.groups || {})[sub] || [],
      }),
    }),
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    // Profile claims in the ID token too: the server reads the user and admin claims there.
    conformIdTokenClaims: false,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      IdToken: config.idTokenTtl || 3600,
      AccessToken: config.idTokenTtl || 3600,
      RefreshToken: 86400,
      Grant: 86400,
      Session: 86400,
      Interaction: 600,
    },
    features: { devInteractions: { enabled: true } },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/jwks')) console.log('jwks fetched');
    callback(req, res);
  });
  console.log(`listening ${issuer}`);
});
