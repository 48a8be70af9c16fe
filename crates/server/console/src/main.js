// The Cordium web console: a single page routed by the URL's hash. Every DOM node is built
// with el() and text nodes: no HTML string is ever parsed, so data cannot become markup.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";

let me = null; // { user, admin, csrf }
// The session's token, kept in this origin's storage only: every request carries it, so a
// session cookie planted from another port of the host (an application's) signs this page
// out instead of in as someone else.
const TOKEN_KEY = "cordium.csrf";
const token = () => (me && me.csrf) || localStorage.getItem(TOKEN_KEY) || "";
const withToken = (path) => path + (path.includes("?") ? "&" : "?") + "csrf=" + encodeURIComponent(token());
let cleanup = []; // closers of the current page's streams and sockets

// el("div.cls", {attrs}, ...children): children are nodes or strings (text).
function el(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const node = document.createElement(tag);
  if (classes.length) node.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const main = () => document.getElementById("main");
function show(...nodes) {
  main().replaceChildren(...nodes);
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token()) headers["x-csrf-token"] = token();
  const r = await fetch("/api" + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await r.json().catch(() => ({}));
  if (r.status === 401 && path !== "/login") {
    me = null;
    localStorage.removeItem(TOKEN_KEY);
    location.hash = "#/login";
    throw new Error(data.message || "sign in first");
  }
  if (!r.ok) throw new Error(data.message || r.statusText);
  return data;
}

function errorBox(e) {
  return el("p.error", { role: "alert" }, String(e.message || e));
}

// A form whose submit runs `action` and shows its error under it.
function form(title, fields, label, action) {
  const out = el("div");
  const f = el("form.card", {}, el("h3", {}, title), fields, el("button", { type: "submit" }, label), out);
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    try {
      await action(new FormData(f));
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  });
  return f;
}

function field(label, name, attrs) {
  const input = attrs && attrs.textarea ? el("textarea", { name, rows: 3 }) : el("input", { name, type: "text", ...attrs });
  return el("label", {}, label, " ", input);
}

function stateBadge(state) {
  return el("span.state." + state, { "data-state": state }, state);
}

// ---- sign-in ------------------------------------------------------------------------------

function loginPage() {
  show(
    el("h2", {}, "Sign in"),
    form("API token", [field("Token", "token", { type: "password", autocomplete: "off" })], "Sign in", async (d) => {
      me = await api("POST", "/login", { token: d.get("token") });
      localStorage.setItem(TOKEN_KEY, me.csrf);
      header();
      location.hash = "#/workspaces";
    }),
  );
}

function header() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!me) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  const links = [["#/workspaces", "Workspaces"], ["#/templates", "Templates"], ["#/spaces", "Spaces"], ["#/secrets", "Secrets"], ["#/ssh-keys", "SSH keys"]];
  nav.replaceChildren(...links.map(([h, t]) => el("a", { href: h }, t)));
  who.replaceChildren(
    el("span", {}, me.user + (me.admin ? " (admin)" : "")),
    el("button", {
      id: "logout",
      onclick: async () => {
        await api("POST", "/logout").catch(() => {});
        me = null;
        localStorage.removeItem(TOKEN_KEY);
        header();
        location.hash = "#/login";
      },
    }, "Sign out"),
  );
}

// ---- live workspace events ----------------------------------------------------------------

// Calls onEvent(event) for each workspace event until the page changes; reconnects.
function watchEvents(onEvent, onReconnect) {
  let source = null;
  let closed = false;
  const open = () => {
    source = new EventSource(withToken("/api/events"));
    source.onmessage = (m) => onEvent(JSON.parse(m.data));
    const retry = () => {
      source.close();
      if (!closed) setTimeout(() => { if (!closed) { onReconnect(); open(); } }, 1000);
    };
    source.addEventListener("end", retry);
    source.onerror = retry;
  };
  open();
  cleanup.push(() => { closed = true; source && source.close(); });
}

// ---- workspaces -----------------------------------------------------------------------------

function workspaceRow(w) {
  const name = w.metadata.name;
  return el("tr", { "data-workspace": name },
    el("td", {}, el("a", { href: "#/workspaces/" + encodeURIComponent(name) }, name)),
    el("td.display-name", {}, w.metadata.displayName),
    el("td", {}, stateBadge(w.status.state)),
    el("td", {}, w.status.space + "/" + w.status.template),
    el("td", {}, w.status.owner));
}

function lines(text) {
  return String(text || "").split("\n").map((l) => l.trim()).filter(Boolean);
}

// The spec `cordium run` builds from its flags (crates/cli/src/client/overlay.rs).
function specFromForm(d) {
  const spec = {};
  if (d.get("image")) spec.image = { registry: { url: d.get("image") } };
  if (d.get("repository")) spec.repository = { url: d.get("repository") };
  const env = lines(d.get("env")).map((l) => {
    const i = l.indexOf("=");
    return i < 0 ? { key: l, value: "" } : { key: l.slice(0, i), value: l.slice(i + 1) };
  });
  if (env.length) spec.runtime = { envVars: env };
  const apps = lines(d.get("ports")).map((l) => {
    const [name, port, dflt] = l.split(":");
    const a = { name, port: Number(port) };
    if (dflt === "default") a.isDefault = true;
    return a;
  });
  if (apps.length) spec.applications = apps;
  if (d.get("ephemeral")) spec.isEphemeral = true;
  if (d.get("cpu")) spec.limit = { cpu: { millicores: Number(d.get("cpu")) } };
  return spec;
}

async function workspacesPage() {
  const body = el("tbody");
  const rows = new Map();
  const put = (w) => {
    const row = workspaceRow(w);
    const old = rows.get(w.metadata.name);
    if (old) old.replaceWith(row); else body.append(row);
    rows.set(w.metadata.name, row);
  };
  const load = async () => {
    const list = await api("GET", "/workspaces");
    body.replaceChildren();
    rows.clear();
    list.items.forEach(put);
  };
  const templates = await api("GET", "/templates").catch(() => ({ items: [] }));
  const options = [el("option", { value: "" }, "default")].concat(templates.items.map((t) => {
    const ref = t.status.space + "/" + t.metadata.name;
    return el("option", { value: ref }, ref);
  }));
  const create = form("New workspace", [
    el("label", {}, "Template ", el("select", { name: "template" }, options)),
    field("Display name", "displayName"),
    field("Image", "image", { placeholder: "registry/image:tag" }),
    field("Repository", "repository", { placeholder: "https://..." }),
    field("Environment (KEY=VALUE per line)", "env", { textarea: true }),
    field("Applications (NAME:PORT[:default] per line)", "ports", { textarea: true }),
    field("Run variables (NAME=VALUE per line)", "vars", { textarea: true }),
    field("CPU millicores", "cpu"),
    el("label", {}, el("input", { type: "checkbox", name: "ephemeral" }), " ephemeral"),
  ], "Create and start", async (d) => {
    const [space, template] = (d.get("template") || "/").split("/");
    const vars = lines(d.get("vars")).map((l) => {
      const i = l.indexOf("=");
      return { name: l.slice(0, i), value: l.slice(i + 1) };
    });
    const w = await api("POST", "/workspaces", {
      space, template, displayName: d.get("displayName") || "", spec: specFromForm(d), vars, start: true,
    });
    put(w);
  });
  show(
    el("h2", {}, "Workspaces"),
    el("table", { id: "workspaces" }, el("thead", {}, el("tr", {}, ["Name", "Display name", "State", "Template", "Owner"].map((h) => el("th", {}, h)))), body),
    create,
  );
  watchEvents((e) => {
    if (!e.workspace) return;
    if (e.type === "DELETED") {
      rows.get(e.workspace.metadata.name)?.remove();
      rows.delete(e.workspace.metadata.name);
    } else put(e.workspace);
  }, load);
  await load();
}

function failureBox(f) {
  if (!f) return null;
  const text = ["error: this workspace did not start: " + f.headline];
  if (f.message && f.message !== f.headline) text.push("  " + f.message);
  text.push("help: " + f.advice);
  return el("div.failure", { id: "failure" }, text.join("\n"));
}

// Applications are served on a port of their own (another origin than the console's), on
// this page's host name; none when the server serves no applications.
function appsOrigin() {
  return me && me.appsPort ? location.protocol + "//" + location.hostname + ":" + me.appsPort : null;
}

function applications(w, effective) {
  const apps = (effective && effective.spec && effective.spec.applications) || w.spec.applications || [];
  if (!apps.length) return null;
  const name = w.metadata.name;
  const origin = appsOrigin();
  if (!origin) {
    return el("div.card", {}, el("h3", {}, "Applications"),
      el("p", { id: "no-applications" }, "This server does not serve applications (it needs --http-apps-listen)."));
  }
  const base = origin + "/w/" + encodeURIComponent(name) + "/";
  const sorted = [...apps].sort((a, b) => (b.isDefault ? 1 : 0) - (a.isDefault ? 1 : 0));
  return el("div.card", {}, el("h3", {}, "Applications"),
    el("p", {}, el("a", { href: base, target: "_blank", rel: "noopener", id: "open-default" }, "Open the default application")),
    el("ul", {}, sorted.map((a) => el("li", {},
      el("a", { href: base + encodeURIComponent(a.name) + "/", target: "_blank", rel: "noopener", "data-app": a.name },
        a.name + (a.isDefault ? " (default)" : "")),
      " port " + a.port))));
}

async function workspacePage(name) {
  const holder = el("div");
  const render = (w) => {
    const env = (w.spec.runtime && w.spec.runtime.envVars) || [];
    const action = (label, path, method = "POST") => el("button", {
      onclick: async () => {
        try {
          const r = await api(method, "/workspaces/" + encodeURIComponent(name) + path);
          if (method === "DELETE") location.hash = "#/workspaces"; else render(r);
        } catch (e) { holder.append(errorBox(e)); }
      },
    }, label);
    const base = "#/workspaces/" + encodeURIComponent(name);
    holder.replaceChildren(
      el("h2", {}, "Workspace ", el("span.mono", {}, name)),
      el("p", {}, el("span.display-name", { id: "display-name" }, w.metadata.displayName)),
      el("p", {}, "State: ", stateBadge(w.status.state), " · owner ", w.status.owner, " · ", w.status.space + "/" + w.status.template),
      failureBox(w.status.failure),
      el("p", {}, action("Start", "/start"), action("Stop", "/stop"), action("Delete", "", "DELETE")),
      el("p.tabs", {}, el("a", { href: base + "/terminal" }, "Terminal"), el("a", { href: base + "/logs" }, "Logs"),
        el("a", { href: base + "/effective" }, "Effective configuration")),
      env.length ? el("div.card", {}, el("h3", {}, "Environment"), el("table", { id: "env" }, env.map((e) =>
        el("tr", {}, el("td.mono", {}, e.key), el("td.mono", {}, e.fromSecret ? "(secret " + e.fromSecret + ")" : e.value))))) : null,
      applications(w, null),
      el("details", {}, el("summary", {}, "Spec"), el("pre", {}, JSON.stringify(w.spec, null, 2))),
    );
  };
  show(holder);
  watchEvents((e) => {
    if (e.workspace && e.workspace.metadata.name === name && e.type !== "DELETED") render(e.workspace);
  }, async () => render(await api("GET", "/workspaces/" + encodeURIComponent(name))));
  render(await api("GET", "/workspaces/" + encodeURIComponent(name)));
}

// ---- terminal -------------------------------------------------------------------------------

function openTerminal(name, container) {
  const status = el("div.status-line", {}, "connecting…");
  const box = el("div.terminal");
  container.append(el("div", { "data-terminal": "" }, status, box));
  const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 2000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  let ws = null;
  let done = false;
  const enc = new TextEncoder();
  const send = (data) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    // Pastes go in pieces under the server's message limit.
    const bytes = enc.encode(data);
    for (let i = 0; i < bytes.length; i += 32768) ws.send(bytes.slice(i, i + 32768));
  };
  term.onData(send);
  term.onResize(({ cols, rows }) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ resize: { cols, rows } }));
  });
  const connect = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${proto}//${location.host}` + withToken(`/api/workspaces/${encodeURIComponent(name)}/terminal?cols=${term.cols}&rows=${term.rows}`));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { status.textContent = "connected"; term.focus(); };
    ws.onmessage = (m) => {
      if (typeof m.data === "string") {
        const c = JSON.parse(m.data);
        if ("exit" in c) { done = true; status.textContent = "the shell exited with code " + c.exit; }
        if ("error" in c) { done = true; status.textContent = "error: " + c.error; }
      } else term.write(new Uint8Array(m.data));
    };
    ws.onclose = () => {
      if (done || !box.isConnected) return;
      status.textContent = "connection lost; reconnecting (a new shell)…";
      setTimeout(() => { if (box.isConnected) connect(); }, 1000);
    };
  };
  connect();
  const onWindow = () => fit.fit();
  window.addEventListener("resize", onWindow);
  cleanup.push(() => { done = true; window.removeEventListener("resize", onWindow); ws && ws.close(); term.dispose(); });
}

function terminalPage(name) {
  const list = el("div.terminals");
  show(
    el("h2", {}, "Terminal ", el("a.mono", { href: "#/workspaces/" + encodeURIComponent(name) }, name)),
    el("p", {}, el("button", { id: "new-terminal", onclick: () => openTerminal(name, list) }, "Another terminal")),
    list,
  );
  openTerminal(name, list);
}

// ---- logs -----------------------------------------------------------------------------------

function logsPage(name) {
  const out = el("pre.log", { id: "log" });
  const status = el("div.status-line", {}, "following");
  show(el("h2", {}, "Log of ", el("a.mono", { href: "#/workspaces/" + encodeURIComponent(name) }, name)), status, out);
  const source = new EventSource(withToken("/api/workspaces/" + encodeURIComponent(name) + "/logs"));
  source.onmessage = (m) => {
    out.append(document.createTextNode(JSON.parse(m.data)));
    out.scrollTop = out.scrollHeight;
  };
  source.addEventListener("end", (m) => { status.textContent = "ended: " + m.data; source.close(); });
  cleanup.push(() => source.close());
}

// ---- effective configuration with provenance -------------------------------------------------

async function effectivePage(name, query) {
  const data = await api("GET", "/workspaces/" + encodeURIComponent(name) + "/effective");
  const filter = el("input", { type: "text", id: "path-filter", placeholder: "spec.limit.cpu", value: query.get("path") || "" });
  const body = el("tbody");
  const render = () => {
    const f = filter.value.trim();
    body.replaceChildren(...data.provenance.filter((p) => !f || p.path.startsWith(f)).map((p) => {
      const place = p.document ? `${p.document}:${p.line}:${p.column}` : "";
      return el("tr", { "data-path": p.path, class: f && p.path === f ? "highlight" : undefined },
        el("td.mono", {}, p.path),
        el("td.mono", {}, p.value),
        el("td", {}, p.layer),
        el("td.mono.place", {}, place),
        el("td.replaced", {}, p.replaced.map((r) => el("div", {}, r))),
        el("td.caps", {}, p.cappedBy.map((c) => el("div", {}, "capped by " + c))));
    }));
  };
  filter.addEventListener("input", () => {
    history.replaceState(null, "", "#/workspaces/" + encodeURIComponent(name) + "/effective?path=" + encodeURIComponent(filter.value.trim()));
    render();
  });
  render();
  show(
    el("h2", {}, "Effective configuration of ", el("a.mono", { href: "#/workspaces/" + encodeURIComponent(name) }, name)),
    el("p", {}, "Every value, the layer and document line it came from, what it replaced and the caps applied. Filter: ", filter),
    el("table", { id: "provenance" }, el("thead", {}, el("tr", {}, ["Path", "Value", "Layer", "Document:line:column", "Replaced", "Caps"].map((h) => el("th", {}, h)))), body),
    data.notes.length ? el("div.card", {}, el("h3", {}, "Notes"), el("ul", {}, data.notes.map((n) => el("li", {}, n)))) : null,
    el("details", {}, el("summary", {}, "EffectiveWorkspace"), el("pre", {}, JSON.stringify(data.effective, null, 2))),
  );
}

// ---- spaces, templates, secrets, keys ---------------------------------------------------------

function table(id, headers, rows) {
  return el("table", { id }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows));
}

async function spacesPage() {
  const list = await api("GET", "/spaces");
  show(el("h2", {}, "Spaces"), table("spaces", ["Name", "Type", "Owner", "Members"], list.items.map((s) => el("tr", {},
    el("td", {}, el("a", { href: "#/spaces/" + encodeURIComponent(s.metadata.name) }, s.metadata.name)),
    el("td", {}, s.status.type), el("td", {}, s.status.owner), el("td", {}, s.status.members.join(", "))))));
}

async function spacePage(name) {
  const s = await api("GET", "/spaces/" + encodeURIComponent(name));
  const templates = await api("GET", "/templates?space=" + encodeURIComponent(name));
  show(el("h2", {}, "Space ", el("span.mono", {}, name)), el("p", {}, s.metadata.displayName),
    el("h3", {}, "Templates"), el("ul", {}, templates.items.map((t) => el("li", {},
      el("a", { href: "#/templates/" + encodeURIComponent(name) + "/" + encodeURIComponent(t.metadata.name) }, t.metadata.name)))),
    el("h3", {}, "Spec"), el("pre", {}, JSON.stringify(s.spec, null, 2)));
}

async function templatesPage() {
  const list = await api("GET", "/templates");
  show(el("h2", {}, "Templates"), table("templates", ["Space", "Name", "Display name", "Ready build"], list.items.map((t) => el("tr", {},
    el("td", {}, t.status.space),
    el("td", {}, el("a", { href: "#/templates/" + encodeURIComponent(t.status.space) + "/" + encodeURIComponent(t.metadata.name) }, t.metadata.name)),
    el("td", {}, t.metadata.displayName), el("td", {}, t.status.currentReadyBuildId)))));
}

async function templatePage(space, name) {
  const path = "/templates/" + encodeURIComponent(space) + "/" + encodeURIComponent(name);
  const t = await api("GET", path);
  const out = el("div");
  show(el("h2", {}, "Template ", el("span.mono", {}, space + "/" + name)), el("p", {}, t.metadata.displayName),
    el("p", {}, "Running build: ", t.status.currentRunningBuildId || "none", " · ready build: ", t.status.currentReadyBuildId || "none"),
    el("button", { onclick: async () => {
      try { await api("POST", path + "/build"); out.replaceChildren(el("p", {}, "Build started.")); } catch (e) { out.replaceChildren(errorBox(e)); }
    } }, "Pre-build"), out,
    el("h3", {}, "Spec"), el("pre", {}, JSON.stringify(t.spec, null, 2)));
}

async function secretsPage() {
  const [secrets, userSecrets] = await Promise.all([api("GET", "/secrets"), api("GET", "/user-secrets")]);
  // The value fields are password inputs, cleared after each submit, never filled from data.
  const valueField = () => field("Value (write-only)", "value", { type: "password", autocomplete: "off" });
  show(
    el("h2", {}, "Secrets"),
    table("secrets", ["Space", "Name", "Owner"], secrets.items.map((s) => el("tr", {},
      el("td", {}, s.status.space), el("td", {}, s.metadata.name), el("td", {}, s.status.owner)))),
    form("New Secret", [field("Space", "space"), field("Name", "name"), valueField()], "Create", async (d) => {
      await api("POST", "/secrets", { space: d.get("space"), name: d.get("name"), value: d.get("value") });
      route();
    }),
    el("h2", {}, "User secrets"),
    table("user-secrets", ["Name", "Type", "Public key"], userSecrets.items.map((s) => el("tr", {},
      el("td", {}, s.metadata.name), el("td", {}, s.type), el("td.mono", {}, s.status.sshPublicKey)))),
    form("New user secret", [field("Name", "name"), valueField()], "Create", async (d) => {
      await api("POST", "/user-secrets", { name: d.get("name"), value: d.get("value") });
      route();
    }),
  );
}

async function sshKeysPage() {
  const keys = await api("GET", "/ssh-keys");
  show(el("h2", {}, "SSH keys"),
    table("ssh-keys", ["Id", "Algorithm", "Fingerprint", "Comment"], keys.items.map((k) => el("tr", {},
      el("td.mono", {}, k.id), el("td", {}, k.algorithm), el("td.mono", {}, k.fingerprint), el("td", {}, k.comment)))),
    form("Add a public key", [field("Public key (the content of id_ed25519.pub)", "publicKey", { textarea: true })], "Add", async (d) => {
      await api("POST", "/ssh-keys", { publicKey: d.get("publicKey") });
      route();
    }));
}

// ---- routing --------------------------------------------------------------------------------

async function route() {
  cleanup.forEach((f) => f());
  cleanup = [];
  const [path, q] = location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(q || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (!me) {
    me = await api("GET", "/me").catch(() => null);
    header();
  }
  if (!me || parts[0] === "login") return loginPage();
  try {
    if (parts[0] === "workspaces" && parts[1]) {
      if (parts[2] === "terminal") return terminalPage(parts[1]);
      if (parts[2] === "logs") return logsPage(parts[1]);
      if (parts[2] === "effective") return await effectivePage(parts[1], query);
      return await workspacePage(parts[1]);
    }
    if (parts[0] === "spaces" && parts[1]) return await spacePage(parts[1]);
    if (parts[0] === "spaces") return await spacesPage();
    if (parts[0] === "templates" && parts[2]) return await templatePage(parts[1], parts[2]);
    if (parts[0] === "templates") return await templatesPage();
    if (parts[0] === "secrets") return await secretsPage();
    if (parts[0] === "ssh-keys") return await sshKeysPage();
    return await workspacesPage();
  } catch (e) {
    show(el("h2", {}, "Not available"), errorBox(e));
  }
}

window.addEventListener("hashchange", route);
route();
