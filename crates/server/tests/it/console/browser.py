"""The web console's Must-show checks in Debian's headless Chromium (Playwright for Python).

Run by crates/server/tests/it/console.rs, which starts the server (podman lab), creates the
users, alice's Space (CPU capped at 1000 millicores) and Template (busybox httpd from a
POST_START task) and one workspace of bob's, and passes them in the environment:
CONSOLE_URL, CONSOLE_PORT, ALICE_TOKEN, BOB_TOKEN, ADMIN_TOKEN, BOB_WORKSPACE, SPACE,
SCREENSHOTS.
Each check prints `ok: ...`; the first failure raises (a non-zero exit).
"""

import json
import os
import re
import secrets
import sys
import time

from playwright.sync_api import sync_playwright, expect

URL = os.environ["CONSOLE_URL"]
APPS = os.environ["APPS_URL"]  # applications: another port, another origin
PORT = os.environ["CONSOLE_PORT"]
ALICE = os.environ["ALICE_TOKEN"]
BOB = os.environ["BOB_TOKEN"]
ADMIN = os.environ["ADMIN_TOKEN"]
BOB_WS = os.environ["BOB_WORKSPACE"]
FAILING_WS = os.environ["FAILING_WORKSPACE"]
SPACE = os.environ["SPACE"]
SHOTS = os.environ["SCREENSHOTS"]

XSS_NAME = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
XSS_ENV = "<script>window.__pwned = 3</script>"
SECRET_VALUE = "sv-" + secrets.token_hex(12)


def ok(what):
    print("ok:", what, flush=True)


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, name + ".png"), full_page=True)


def sign_in(context, token):
    page = context.new_page()
    page.goto(URL + "/#/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    expect(page.locator("#logout")).to_be_visible(timeout=10_000)
    return page


def api_get(page, path):
    """GET /api{path} as the console page `page` would: the session's token from its storage."""
    token = page.evaluate("localStorage.getItem('cordium.csrf') || ''")
    return page.context.request.get(f"{URL}/api{path}", headers={"x-csrf-token": token})


def rows_text(terminal):
    return terminal.locator(".xterm-rows").inner_text()


def wait_for(predicate, what, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def terminal_output_matches(terminal, pattern, what, timeout=30.0):
    rx = re.compile(pattern, re.M)

    def found():
        return rx.findall(rows_text(terminal))

    try:
        return wait_for(found, what + " (" + pattern + ")", timeout)
    except AssertionError:
        print("the terminal showed:\n" + rows_text(terminal), file=sys.stderr)
        raise


def type_line(page, terminal, text):
    terminal.locator(".xterm").click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def evil_site():
    """A page on another origin whose form posts to the console as soon as it loads."""
    import http.server
    import threading

    page = f"""<!doctype html><form id=f method=POST action="{URL}/api/workspaces" enctype="text/plain">
<input name='{{"spec":{{}},"x":"' value='"}}'></form><script>document.getElementById("f").submit()</script>"""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = page.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        bodies = []

        def keep(response):
            try:
                bodies.append((response.url, response.text()))
            except Exception:
                pass  # streams (event sources) and redirects have no body to read here

        context.on("response", keep)

        # --- log in ------------------------------------------------------------------------
        page = context.new_page()
        page.goto(URL + "/")
        expect(page.locator("input[name=token]")).to_be_visible()
        shot(page, "login")
        page.fill("input[name=token]", ALICE)
        page.click("button[type=submit]")
        expect(page.locator("#logout")).to_be_visible(timeout=10_000)
        expect(page.locator("#who")).to_contain_text("alice")
        cookie = [c for c in context.cookies() if c["name"].startswith("cordium_session_")][0]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert page.evaluate("document.cookie") == "", "the session cookie is HttpOnly"
        ok("signed in with an API token; the cookie is HttpOnly and SameSite=Strict")

        # --- create a workspace from a Template, watch it reach RUNNING without reloading ---
        expect(page.locator("table#workspaces")).to_be_visible()
        page.evaluate("window.__noReload = 'still-here'")
        page.select_option("select[name=template]", SPACE + "/lab")
        page.fill("input[name=displayName]", XSS_NAME)
        page.fill("textarea[name=env]", "GREETING=" + XSS_ENV)
        page.fill("textarea[name=ports]", "web:8080:default")
        page.fill("input[name=cpu]", "4000")
        rows_before = page.locator("table#workspaces tbody tr")
        before = set(rows_before.evaluate_all("rows => rows.map(r => r.dataset.workspace)"))
        page.click("form.card button[type=submit]")

        def new_row():
            now = page.locator("table#workspaces tbody tr").evaluate_all("rows => rows.map(r => r.dataset.workspace)")
            return [n for n in now if n not in before]

        name = wait_for(new_row, "the new workspace's row", timeout=10)[0]
        states = set()
        deadline = time.time() + 120
        while time.time() < deadline:
            state = page.locator(f"tr[data-workspace='{name}'] .state").get_attribute("data-state")
            states.add(state)
            if state == "RUNNING":
                break
            time.sleep(0.1)
        assert state == "RUNNING", f"the row shows {state}, saw {states}"
        assert page.evaluate("window.__noReload") == "still-here", "the page was not reloaded"
        assert len(states) > 1, f"the state changed on the page (saw {states})"
        shot(page, "workspaces")
        ok(f"workspace {name} created from {SPACE}/lab went to RUNNING live (saw {sorted(states)})")

        # --- displayName and env values holding <script> render as text ----------------------
        page.goto(f"{URL}/#/workspaces/{name}")
        expect(page.locator("#display-name")).to_have_text(XSS_NAME)
        expect(page.locator("table#env")).to_contain_text(XSS_ENV)
        page.goto(f"{URL}/#/workspaces")
        expect(page.locator(f"tr[data-workspace='{name}'] .display-name")).to_have_text(XSS_NAME)
        assert page.evaluate("window.__pwned") is None, "no injected script ran"
        assert page.locator("main script, main img").count() == 0, "no injected elements"
        page.goto(f"{URL}/#/workspaces/{name}")
        expect(page.locator("a[data-app=web]")).to_be_visible()
        href = page.locator("a[data-app=web]").get_attribute("href")
        assert href == f"{APPS}/w/{name}/web/", href
        shot(page, "workspace")
        ok("displayName and env value holding <script> render as text; nothing ran")

        # --- a failed start, explained live as `cordium run` explains it -------------------
        page.goto(f"{URL}/#/workspaces/{FAILING_WS}")
        expect(page.locator("main .state")).to_have_attribute("data-state", "STOPPED")
        page.click("text=Start")
        failure = page.locator("#failure")
        expect(failure).to_contain_text("task `broken` exited with code 3", timeout=60_000)
        expect(failure).to_contain_text("help: fix the task (spec.runtime.tasks)")
        ok("a failed start is explained on the page as it happens")

        # --- terminal ------------------------------------------------------------------------
        page.goto(f"{URL}/#/workspaces/{name}/terminal")
        first = page.locator("[data-terminal]").nth(0)
        expect(first.locator(".status-line")).to_have_text("connected", timeout=30_000)
        type_line(page, first, "echo $((6*7))")
        terminal_output_matches(first, r"^42\s*$", "42 on the page")
        ok("typed `echo $((6*7))`, read 42")

        type_line(page, first, "echo SIZE=$(stty size)=")
        before = terminal_output_matches(first, r"SIZE=(\d+) (\d+)=", "stty size")[-1]
        page.set_viewport_size({"width": 800, "height": 600})
        time.sleep(0.5)
        marker = "R" + secrets.token_hex(3)
        type_line(page, first, f"echo {marker}=$(stty size)=")
        after = terminal_output_matches(first, marker + r"=(\d+) (\d+)=", "stty size after resize")[-1]
        assert before != after, f"stty size changed with the viewport: {before} then {after}"
        ok(f"resized the viewport: stty size {before[0]}x{before[1]} -> {after[0]}x{after[1]}")

        # A paste: the text arrives at once, as one input (not key by key).
        first.locator(".xterm").click()
        page.keyboard.insert_text("echo pasted-$((2*21))-" + "y" * 500 + " | wc -c")
        page.keyboard.press("Enter")
        terminal_output_matches(first, r"^511\s*$", "a 500-byte paste")
        ok("pasted 500 bytes into the terminal at once")

        type_line(page, first, "sleep 100")
        time.sleep(1.0)
        started = time.time()
        page.keyboard.press("Control+C")
        type_line(page, first, "echo rc=$?=")
        terminal_output_matches(first, r"rc=(13\d)=", "sleep interrupted (rc 130)", timeout=15)
        assert time.time() - started < 15
        ok("Ctrl-C interrupted sleep 100")

        # A dropped connection: the page reconnects (to a new shell) by itself.
        sockets = []

        def through(ws):
            ws.connect_to_server()
            sockets.append(ws)

        dropping = context.new_page()
        dropping.route_web_socket(re.compile(r".*/terminal\?.*"), through)
        dropping.goto(f"{URL}/#/workspaces/{name}/terminal")
        dropped = dropping.locator("[data-terminal]").nth(0)
        expect(dropped.locator(".status-line")).to_have_text("connected", timeout=30_000)
        sockets[0].close()
        expect(dropped.locator(".status-line")).to_contain_text("reconnecting", timeout=10_000)
        expect(dropped.locator(".status-line")).to_have_text("connected", timeout=30_000)
        assert len(sockets) == 2, len(sockets)
        type_line(dropping, dropped, "echo back-$((6*7))")
        terminal_output_matches(dropped, r"^back-42\s*$", "output after reconnecting")
        dropping.close()
        ok("the terminal reconnects after a dropped connection")

        page.click("#new-terminal")
        second = page.locator("[data-terminal]").nth(1)
        expect(second.locator(".status-line")).to_have_text("connected", timeout=30_000)
        type_line(page, second, "echo second-$((6*7))-term")
        terminal_output_matches(second, r"^second-42-term\s*$", "the second terminal's output")
        assert "second-42-term" not in rows_text(first).replace("echo second", ""), "terminals are separate"
        ok("two terminals at once")

        shot(page, "terminal")

        # --- provenance of spec.limit.cpu ---------------------------------------------------
        page.goto(f"{URL}/#/workspaces/{name}/effective?path=spec.limit.cpu")
        expect(page.locator("table#provenance")).to_be_visible(timeout=15_000)
        rows = page.locator("table#provenance tbody tr")
        expect(rows.first).to_be_visible()
        text = page.locator("table#provenance tbody").inner_text()
        print("provenance rows:\n" + text, flush=True)
        cpu = page.locator("table#provenance tbody tr[data-path^='spec.limit.cpu']").first
        cpu_text = cpu.inner_text()
        place = cpu.locator(".place").inner_text()
        caps = cpu.locator(".caps").inner_text()
        layer = cpu.locator("td").nth(2).inner_text()
        assert layer == "Workspace", f"the value comes from the Workspace: {cpu_text!r}"
        assert re.fullmatch(rf"{name}:\d+:\d+", place.strip()), f"the Workspace's file:line: {place!r}"
        assert "from 4000" in caps, f"the Workspace's request (4000): {caps!r}"
        assert re.search(rf"Space maxLimit at {re.escape(SPACE)}:\d+:\d+", caps), f"the Space cap's file:line: {caps!r}"
        assert cpu.locator("td").nth(1).inner_text() == "1000", f"the capped value 1000: {cpu_text!r}"
        shot(page, "provenance")
        ok("provenance of spec.limit.cpu shows the request, the Space cap and both places")

        # --- logs ----------------------------------------------------------------------------
        page.goto(f"{URL}/#/workspaces/{name}/logs")
        expect(page.locator("#log")).to_contain_text("web-task-started", timeout=15_000)
        ok("the log page shows the workspace log (the POST_START task's output)")

        # --- a Secret created in the page never comes back ----------------------------------
        page.goto(f"{URL}/#/secrets")
        secret_form = page.locator("form.card").nth(0)
        secret_form.locator("input[name=space]").fill(SPACE)
        secret_form.locator("input[name=name]").fill("console-secret")
        secret_form.locator("input[name=value]").fill(SECRET_VALUE)
        secret_form.locator("button[type=submit]").click()
        expect(page.locator("table#secrets")).to_contain_text("console-secret", timeout=10_000)
        user_form = page.locator("form.card").nth(1)
        user_form.locator("input[name=name]").fill("console-user-secret")
        user_form.locator("input[name=value]").fill(SECRET_VALUE + "-user")
        user_form.locator("button[type=submit]").click()
        expect(page.locator("table#user-secrets")).to_contain_text("console-user-secret", timeout=10_000)
        for value in page.locator("input[name=value]").evaluate_all("els => els.map(e => e.value)"):
            assert value == "", "the value field is never filled back"
        page.reload()
        expect(page.locator("table#secrets")).to_contain_text("console-secret")
        shot(page, "secrets")
        for url, body in bodies:
            assert SECRET_VALUE not in body, f"the secret value came back in {url}"
        assert SECRET_VALUE not in page.content()
        ok(f"the Secret's value is in none of {len(bodies)} response bodies nor the page")

        # --- an SSH public key added in the page --------------------------------------------
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory() as keys:
            key = os.path.join(keys, "id")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "console-key", "-f", key], check=True)
            public = open(key + ".pub").read().strip()
            fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", key + ".pub"], check=True,
                                         capture_output=True, text=True).stdout.split()[1]
        page.goto(f"{URL}/#/ssh-keys")
        page.fill("textarea[name=publicKey]", public)
        page.click("form.card button[type=submit]")
        expect(page.locator("table#ssh-keys")).to_contain_text(fingerprint, timeout=10_000)
        ok(f"an SSH public key added in the page ({fingerprint})")

        # --- Spaces and Templates pages -----------------------------------------------------
        page.goto(f"{URL}/#/spaces")
        expect(page.locator("table#spaces")).to_contain_text(SPACE)
        page.click(f"text={SPACE}")
        expect(page.locator("main")).to_contain_text("lab")
        page.goto(f"{URL}/#/templates")
        expect(page.locator("table#templates")).to_contain_text("lab")
        shot(page, "templates")
        page.goto(f"{URL}/#/templates/{SPACE}/lab")
        expect(page.locator("main")).to_contain_text("Pre-build")
        ok("the Spaces and Templates lists and detail pages")

        # --- the application opens as its owner, is refused for others -------------------
        app = context.new_page()
        response = app.goto(f"{APPS}/w/{name}/web/")
        assert response.status == 200, response.status
        expect(app.locator("body")).to_contain_text("hello-from-httpd")
        app.goto(f"{APPS}/w/{name}/")
        expect(app.locator("body")).to_contain_text("hello-from-httpd")
        assert app.url == f"{APPS}/w/{name}/web/", app.url
        app.goto(f"{APPS}/w/{name}/web/index.html")
        expect(app.locator("body")).to_contain_text("hello-from-httpd")
        ok("the application opens through the server as its owner, the default one at the workspace root")
        app.goto(f"{APPS}/w/{name}/web/abs.html")
        expect(app).to_have_title("abs-ok", timeout=10_000)
        ok("an absolute path (/abs.js) of an application page reaches the application")
        # Probe round 8: an application's script acted as its viewer on the console's origin.
        # On its own origin it cannot read the console's answers (the CSRF token among them).
        read = app.evaluate(
            """(url) => fetch(url + "/api/me", {credentials: "include"})
                 .then((r) => r.text()).then((t) => "read " + t, () => "blocked")""",
            URL,
        )
        assert read == "blocked", read
        # The control: the same fetch of the application's own page is read.
        own = app.evaluate(
            """(url) => fetch(url, {credentials: "include"})
                 .then((r) => r.text()).then((t) => "read " + t, () => "blocked")""",
            f"{APPS}/w/{name}/web/",
        )
        assert own.startswith("read ") and "hello-from-httpd" in own, own
        assert page.context.request.get(f"{URL}/w/{name}/web/").status == 404
        # Probe round 9: cookies reach every port of a host, so an application can set one for
        # the console's paths. A name it guesses is not the session's (random per server
        # start, HttpOnly): the console's session stays its viewer's.
        app.evaluate("document.cookie = 'cordium_session=tossed; path=/api'")
        assert api_get(page, "/me").json()["user"] == "alice"
        # One that knew the name (any console user sees it in their own cookie) makes two
        # cookies of it: the console then trusts neither and signs its viewer out, never in as
        # someone else.
        real = [c for c in context.cookies() if c["name"].startswith("cordium_session_")][0]["name"]
        app.evaluate(f"document.cookie = '{real}=planted; path=/api'")
        assert api_get(page, "/me").status == 401
        context.clear_cookies()
        # Even alone (after the jar overflowed and dropped the real cookie, say), a planted
        # session is not the page's: it has no token of it.
        bob_login = browser.new_context()
        sign_in(bob_login, BOB).close()
        bob_value = [c["value"] for c in bob_login.cookies() if c["name"] == real][0]
        bob_login.close()
        app.evaluate(f"document.cookie = '{real}={bob_value}; path=/'")
        assert api_get(page, "/me").status == 401, "not bob's console"
        context.clear_cookies()
        sign_in(context, ALICE).close()
        assert api_get(page, "/me").json()["user"] == "alice"
        page.reload()  # the page's CSRF token was the ended session's
        expect(page.locator("#logout")).to_be_visible(timeout=10_000)
        ok("the application's script cannot read the console (another origin); the console serves no application")

        anonymous = browser.new_context()
        r = anonymous.request.get(f"{APPS}/w/{name}/web/")
        assert r.status == 401 and "hello-from-httpd" not in r.text(), (r.status, r.text())
        ok("refused without a session (401)")

        bob_context = browser.new_context()
        bob_page = sign_in(bob_context, BOB)
        theirs = bob_context.request.get(f"{APPS}/w/{name}/web/")
        missing = bob_context.request.get(f"{APPS}/w/zzmissing/web/")
        assert theirs.status == 404 and missing.status == 404, (theirs.status, missing.status)
        assert theirs.text().replace(name, "N") == missing.text().replace("zzmissing", "N")
        ok("refused for another user, exactly like a missing workspace")

        admin_context = browser.new_context()
        admin_page = sign_in(admin_context, ADMIN)
        theirs = admin_context.request.get(f"{APPS}/w/{name}/web/")
        # Refused as every workspace call refuses one who sees the workspace (403), not hidden.
        assert theirs.status == 403 and "hello-from-httpd" not in theirs.text(), theirs.status
        seen = api_get(admin_page, f"/workspaces/{name}")
        assert seen.status == 200, (seen.status, seen.text())
        admin_context.close()
        ok("an administrator in the Space sees the workspace but is not let into its application")

        # --- another user's workspace URL answers like a missing one ----------------------
        theirs = api_get(page, f"/workspaces/{BOB_WS}")
        missing = api_get(page, "/workspaces/zzmissing")
        assert theirs.status == missing.status == 404, (theirs.status, missing.status)
        assert theirs.text().replace(BOB_WS, "N") == missing.text().replace("zzmissing", "N")
        page.goto(f"{URL}/#/workspaces/{BOB_WS}")
        expect(page.locator("main .error")).to_contain_text(BOB_WS)
        theirs_page = page.locator("main").inner_text().replace(BOB_WS, "N")
        page.goto(f"{URL}/#/workspaces/zzmissing")
        expect(page.locator("main .error")).to_contain_text("zzmissing")
        missing_page = page.locator("main").inner_text().replace("zzmissing", "N")
        assert theirs_page == missing_page, (theirs_page, missing_page)
        ok("another user's workspace page reads exactly like a missing one")

        # --- CSRF and origin ---------------------------------------------------------------
        # A page of another origin posts a form to the console (the browser sends its cookie
        # only to same-site requests, and the console wants the CSRF token and its own Origin).
        evil_server = evil_site()
        evil = context.new_page()
        with evil.expect_response(f"{URL}/api/workspaces") as posted:
            evil.goto(f"http://localhost:{evil_server.server_port}/")
        assert posted.value.status in (401, 403), posted.value.status
        evil_server.shutdown()
        got = api_get(page, "/workspaces").json()
        names = sorted(w["metadata"]["name"] for w in got["items"])
        assert names == sorted([name, FAILING_WS]), f"no workspace was created: {names}"
        no_token = context.request.post(f"{URL}/api/workspaces", data="{}",
                                        headers={"content-type": "application/json", "origin": "http://evil.example"})
        assert no_token.status == 403, no_token.status
        same_origin_no_token = context.request.post(f"{URL}/api/workspaces/{name}/stop",
                                                    headers={"origin": URL})
        assert same_origin_no_token.status == 403, same_origin_no_token.status
        csrf = api_get(page, "/me").json()["csrf"]
        wrong_origin = context.request.post(f"{URL}/api/workspaces/{name}/stop",
                                            headers={"origin": "http://evil.example", "x-csrf-token": csrf})
        assert wrong_origin.status == 403, wrong_origin.status
        ok("a cross-origin POST without the CSRF token is refused (403); nothing was created")

        # --- stop and delete from the page ------------------------------------------------
        page.goto(f"{URL}/#/workspaces/{name}")
        expect(page.locator("main .state")).to_have_attribute("data-state", "RUNNING")
        page.click("text=Stop")
        expect(page.locator("main .state")).to_have_attribute("data-state", "STOPPED", timeout=60_000)
        page.click("text=Delete")
        expect(page.locator("table#workspaces")).to_be_visible()
        expect(page.locator(f"tr[data-workspace='{name}']")).to_have_count(0, timeout=10_000)
        ok("stopped (the state followed live) and deleted from the page")

        # --- log out -------------------------------------------------------------------------
        page.goto(f"{URL}/#/workspaces")
        token = page.evaluate("localStorage.getItem('cordium.csrf')")
        page.click("#logout")
        expect(page.locator("input[name=token]")).to_be_visible()
        assert page.evaluate("localStorage.getItem('cordium.csrf')") is None
        assert context.request.get(f"{URL}/api/me", headers={"x-csrf-token": token}).status == 401
        assert context.request.get(f"{APPS}/w/{name}/web/").status == 401
        ok("signed out: the session is gone")
        bob_page.close()
        browser.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print("FAILED:", repr(e), file=sys.stderr, flush=True)
        raise
