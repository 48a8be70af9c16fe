#!/usr/bin/env node
// Validates YAML files the way an editor does: drives yaml-language-server over LSP (stdio) and
// prints the diagnostics it publishes, one JSON object per line (file by file, each in the
// order the server sent them):
//   {"line":L,"character":C,"message":M}   (L and C are 0-based, exactly as LSP sends them;
//                                          with several FILEs each line also has "file")
// Usage: node tests/lsp/validate.mjs FILE... [--schema SCHEMA.json]
// With --schema, `yaml.schemas` maps SCHEMA to every FILE; without, each file's modeline
// `# yaml-language-server: $schema=...` chooses its schema. The server is $YAML_LANGUAGE_SERVER,
// else <repo>/.tools/node/node_modules/.bin/yaml-language-server (see
// scripts/install-test-tools.sh). No dependency but the server. Exit 0 when done, 2 on error.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const args = process.argv.slice(2);
const at = args.indexOf('--schema');
const schema = at >= 0 ? args.splice(at, 2)[1] : undefined;
if (args.length === 0 || (at >= 0 && !schema)) { console.error('usage: validate.mjs FILE... [--schema SCHEMA.json]'); process.exit(2); }
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const server = process.env.YAML_LANGUAGE_SERVER ?? path.join(repo, '.tools/node/node_modules/.bin/yaml-language-server');
const files = new Map(args.map((f) => [pathToFileURL(path.resolve(f)).href, f])); // uri -> file as given
const yaml = { validate: true, hover: false, completion: false, schemaStore: { enable: false }, kubernetesCRDStore: { enable: false },
  schemas: schema ? { [pathToFileURL(path.resolve(schema)).href]: [...files.keys()] } : {} };
const fail = (why) => { console.error(`validate.mjs: ${why}`); process.exit(2); };
setTimeout(() => fail('no diagnostics within 60 s'), 60000).unref();

const child = spawn(server, ['--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
child.on('error', (e) => fail(`cannot start ${server}: ${e.message}; run scripts/install-test-tools.sh`));
const send = (msg) => { const body = JSON.stringify({ jsonrpc: '2.0', ...msg });
  child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`); };
let buffer = Buffer.alloc(0), opened = false, settle = null;
const published = new Map(); // uri -> the latest diagnostics (a later publish replaces an earlier one)
child.stdout.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) { // LSP framing: `Content-Length: N\r\n\r\n` then N bytes of JSON
    const end = buffer.indexOf('\r\n\r\n');
    const length = end < 0 ? -1 : Number(/Content-Length: (\d+)/i.exec(buffer.subarray(0, end).toString())?.[1]);
    if (end < 0 || buffer.length < end + 4 + length) return;
    receive(JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString()));
    buffer = buffer.subarray(end + 4 + length);
  }
});
function receive(msg) {
  if (msg.id === 1 && msg.method === undefined) { // initialize answered
    send({ method: 'initialized', params: {} });
    send({ method: 'workspace/didChangeConfiguration', params: { settings: { yaml } } });
  } else if (msg.method === 'workspace/configuration') { // the server pulls its settings
    send({ id: msg.id, result: msg.params.items.map((i) => (i.section === 'yaml' ? yaml : null)) });
    if (!opened && msg.params.items.some((i) => i.section === 'yaml')) { // settings are in: open
      opened = true;
      setTimeout(() => { for (const [uri, file] of files) send({ method: 'textDocument/didOpen', params: { textDocument:
        { uri, languageId: 'yaml', version: 1, text: readFileSync(file, 'utf8') } } }); }, 100);
    }
  } else if (msg.id !== undefined && msg.method !== undefined) { // any other request: accept
    send({ id: msg.id, result: null });
  } else if (msg.method === 'textDocument/publishDiagnostics' && opened && files.has(msg.params.uri)) {
    published.set(msg.params.uri, msg.params.diagnostics);
    clearTimeout(settle);
    if (published.size === files.size) settle = setTimeout(finish, 500); // all in, and quiet
  }
}
function finish() {
  for (const [uri, file] of files) {
    for (const d of published.get(uri)) {
      const where = files.size > 1 ? { file } : {};
      console.log(JSON.stringify({ ...where, line: d.range.start.line, character: d.range.start.character, message: d.message }));
    }
  }
  send({ id: 2, method: 'shutdown' });
  send({ method: 'exit' });
  child.on('exit', () => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
send({ id: 1, method: 'initialize', params: { processId: process.pid, rootUri: pathToFileURL(repo).href,
  capabilities: { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } },
    textDocument: { publishDiagnostics: {} } } } });
