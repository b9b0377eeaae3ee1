// The operator UI end to end in a real headless Chromium (Debian's, driven by playwright-core):
// sign up, create a project and an ingestion key, register a probe and start the real
// `vigil-probe` with the command the page shows, create a website monitor through the form
// against a local server, see it go up, stop the server and see the incident appear without
// reloading, acknowledge it, add a note and resolve it; a viewer sees no write control and a
// forged POST is refused; a monitor named like a script renders as text. Every page must load
// without a Content-Security-Policy violation or a script error. On failure each open page is
// saved as a screenshot in VIGIL_SCREENSHOTS.
//
// Run by `tests/tests/it/browser.rs` (the README's test command) with:
//   VIGIL_UI_URL        the control plane (`vigil serve`) with a worker and an ingest engine
//   VIGIL_PROBE_BIN     the `vigil-probe` binary
//   VIGIL_CHROMIUM      Chromium's executable (default /usr/bin/chromium)
//   VIGIL_SCREENSHOTS   where failure screenshots go
//   VIGIL_DOCS_DIR      where the README's screenshot is written
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { chromium } = require("playwright-core");

const BASE = process.env.VIGIL_UI_URL;
const SHOTS = process.env.VIGIL_SCREENSHOTS || os.tmpdir();
const DOCS = process.env.VIGIL_DOCS_DIR;
const WAIT = 60_000;
const XSS = "<script>alert(1)</script>";

let browser;
const contexts = [];
const problems = [];
let probe;
let target;
let targetPort;
let hooks;
const hooked = [];

/// A fresh signed-out browser context whose pages report CSP violations and script errors.
async function newPage() {
  const context = await browser.newContext({ baseURL: BASE });
  contexts.push(context);
  const page = await context.newPage();
  page.on("console", (m) => {
    // A refused form is answered 4xx on purpose; Chromium logs that as an error too.
    const refusal = /Failed to load resource: the server responded with a status of 4\d\d/;
    if (m.type() === "error" && !refusal.test(m.text())) {
      problems.push(`${page.url()}: console: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`${page.url()}: script error: ${e.message}`));
  page.on("dialog", (d) => {
    problems.push(`${page.url()}: a dialog opened (${d.message()}): a script ran`);
    d.dismiss();
  });
  page.on("response", (r) => {
    if (r.status() >= 500) problems.push(`${r.url()}: answered ${r.status()}`);
  });
  return page;
}

/// Runs `body`; on failure saves a screenshot of every open page, then fails.
async function step(name, body) {
  try {
    await body();
  } catch (error) {
    fs.mkdirSync(SHOTS, { recursive: true });
    let n = 0;
    for (const context of contexts) {
      for (const page of context.pages()) {
        const file = path.join(SHOTS, `${name.replace(/\W+/g, "-")}-${n++}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`screenshot: ${file} (${page.url()})`);
      }
    }
    throw error;
  }
}

/// The value of the page's first CSRF field.
async function csrfOf(page) {
  return page.locator("input[name=csrf_token]").first().getAttribute("value");
}

function startTarget(port) {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === "/health" ? 200 : 404, { "content-type": "text/plain" });
      res.end("ok");
    });
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.VIGIL_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Flags that keep Chromium from reaching out to the network this machine does not have.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  target = await startTarget(0);
  targetPort = target.address().port;
  // A webhook receiver: what Vigil's notifications post.
  hooks = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      hooked.push({ event: req.headers["x-vigil-event"], body });
      res.end("ok");
    });
  });
  await new Promise((resolve) => hooks.listen(0, "127.0.0.1", resolve));
});

after(async () => {
  if (probe) probe.kill("SIGTERM");
  if (target) target.close();
  if (hooks) hooks.close();
  if (browser) await browser.close();
});

describe("the operator UI", { concurrency: false }, () => {
  let admin;
  let projectUrl;
  let monitorUrl;
  let incidentUrl;

  it("signs up the first admin and creates a project", async () => {
    await step("signup", async () => {
      admin = await newPage();
      await admin.goto("/");
      await admin.waitForURL("**/signup");
      await admin.getByLabel("Name").fill("Ada Admin");
      await admin.getByLabel("Email").fill("ada@example.test");
      await admin.getByLabel("Password").fill("a long enough passphrase");
      await admin.getByRole("button", { name: /create/i }).click();
      await admin.waitForURL("**/projects");
      await admin.getByLabel("Name").fill("Shop");
      await admin.getByRole("button", { name: /create project/i }).click();
      await admin.getByRole("link", { name: "Shop" }).click();
      await admin.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
      projectUrl = new URL(admin.url()).pathname;
      await assert.doesNotReject(
        admin.getByRole("heading", { name: "Monitors" }).waitFor(),
      );
    });
  });

  it("creates an ingestion key whose secret is shown once", async () => {
    await step("key", async () => {
      await admin.getByRole("navigation", { name: "Project sections" })
        .getByRole("link", { name: "Ingestion keys" }).click();
      await admin.getByLabel("Name").fill("collector");
      await admin.getByRole("button", { name: /create key/i }).click();
      const secret = await admin.getByLabel("Key", { exact: true }).inputValue();
      assert.match(secret, /^vik_[A-Za-z0-9_-]{20,}$/);
      await admin.goto(`${projectUrl}/keys`);
      assert.equal(await admin.content().then((html) => html.includes(secret)), false);
    });
  });

  it("registers a probe and starts it with the command the page shows", async () => {
    await step("probe", async () => {
      await admin.goto(`${projectUrl}/probes`);
      await admin.getByLabel("Name").fill("local");
      await admin.getByRole("button", { name: /register probe/i }).click();
      const command = await admin.locator("#probe-command").textContent();
      const env = Object.fromEntries(
        [...command.matchAll(/(VIGIL_PROBE_[A-Z_]+)=(\S+)/g)].map((m) => [m[1], m[2]]),
      );
      assert.match(env.VIGIL_PROBE_KEY, /^vpk_/);
      assert.equal(env.VIGIL_PROBE_CONTROL_URL, BASE);
      assert.match(command.trim(), /vigil-probe$/);
      probe = spawn(process.env.VIGIL_PROBE_BIN, [], {
        env: { ...process.env, ...env, VIGIL_PROBE_METRICS_ADDR: "off" },
        stdio: ["ignore", "inherit", "inherit"],
      });
      // Loaded again (not reloaded: that would post the form again) until the probe called in.
      const deadline = Date.now() + WAIT;
      for (;;) {
        await admin.goto(`${projectUrl}/probes`);
        if ((await admin.getByRole("cell", { name: "online", exact: true }).count()) > 0) break;
        assert.ok(Date.now() < deadline, "the probe is not online within a minute");
        await admin.waitForTimeout(500);
      }
    });
  });

  it("creates a website monitor through the form, with field errors inline", async () => {
    await step("monitor", async () => {
      await admin.goto(projectUrl);
      await admin.getByRole("link", { name: "New monitor" }).click();
      await admin.getByRole("link", { name: "Website" }).click();
      await admin.getByLabel("Name", { exact: true }).fill(`Checkout ${XSS}`);
      await admin.getByLabel("URL").fill("ftp://not-a-website");
      await admin.getByRole("button", { name: "Create monitor" }).click();
      // The API's rule, next to the field group it is about; what was typed is kept.
      const error = admin.locator("#settings-error");
      assert.match(await error.textContent(), /http:\/\/ or https:\/\//);
      assert.equal(await admin.getByLabel("Name", { exact: true }).inputValue(), `Checkout ${XSS}`);
      await admin.getByLabel("URL").fill(`http://127.0.0.1:${targetPort}/health`);
      await admin.getByLabel("Interval, seconds (10 to 86400)").fill("10");
      await admin.getByLabel("Timeout, ms").fill("2000");
      await admin.getByLabel("local", { exact: true }).check();
      await admin.getByRole("button", { name: "Create monitor" }).click();
      await admin.waitForURL(/\/monitors\/[0-9a-f-]{36}$/);
      monitorUrl = new URL(admin.url()).pathname;
      // The script-like name is text, in the heading and the list.
      assert.equal(await admin.getByRole("heading", { level: 1 }).textContent(), `Checkout ${XSS}`);
      await admin.goto(projectUrl);
      await admin.getByRole("link", { name: `Checkout ${XSS}` }).waitFor();
    });
  });

  it("shows the monitor up once the probe checked it", async () => {
    await step("up", async () => {
      await admin.goto(monitorUrl);
      const deadline = Date.now() + WAIT;
      for (;;) {
        const latest = admin.locator("h2:has-text('Latest result per probe') + div table tbody tr");
        if ((await latest.count()) > 0) {
          const cells = await latest.first().locator("td").allTextContents();
          assert.equal(cells[0], "local");
          assert.equal(cells[2], "yes");
          break;
        }
        assert.ok(Date.now() < deadline, "no result from the probe within a minute");
        await admin.waitForTimeout(1_000);
        await admin.reload();
      }
      assert.match(await admin.locator("dl.kv dd").first().textContent(), /Operational/);
      if (DOCS) {
        await admin.goto(projectUrl);
        await admin.setViewportSize({ width: 1100, height: 520 });
        fs.mkdirSync(DOCS, { recursive: true });
        await admin.screenshot({ path: path.join(DOCS, "operator-ui.png") });
      }
    });
  });

  it("shows the incident without reloading when the server goes down", async () => {
    await step("incident", async () => {
      await admin.goto(`${projectUrl}/incidents`);
      await admin.getByText("No open incident.").waitFor();
      // Connected for live updates before anything changes.
      await admin.locator("#live-status", { hasText: "Live" }).waitFor({ timeout: WAIT });
      let reloads = 0;
      admin.on("framenavigated", (frame) => {
        if (frame === admin.mainFrame()) reloads += 1;
      });
      await new Promise((resolve) => target.close(resolve));
      target.closeAllConnections?.();
      const row = admin.locator("#incident-list tbody tr", { hasText: "is offline" }).first();
      await row.waitFor({ timeout: 2 * WAIT });
      assert.equal(reloads, 0, "the page was reloaded");
      await row.getByRole("link").click();
      await admin.waitForURL(/\/incidents\/[0-9a-f-]{36}$/);
      incidentUrl = new URL(admin.url()).pathname;
    });
  });

  it("acknowledges, notes and resolves the incident", async () => {
    await step("ack", async () => {
      await admin.getByRole("button", { name: "Acknowledge" }).click();
      await admin.locator("#incident-state", { hasText: "Acknowledged" }).waitFor();
      await admin.getByLabel("Note").fill(`Looking into it ${XSS}`);
      await admin.getByRole("button", { name: "Add note" }).click();
      await admin.locator(".timeline .note", { hasText: `Looking into it ${XSS}` }).waitFor();
      await admin.getByRole("button", { name: "Resolve" }).click();
      await admin.locator("#incident-state", { hasText: "Resolved" }).waitFor();
      assert.equal(await admin.getByRole("button", { name: "Acknowledge" }).count(), 0);
    });
  });

  it("adds a webhook channel and sends it a test, seen in its delivery log", async () => {
    await step("channel", async () => {
      await admin.goto(`${projectUrl}/channels`);
      await admin.getByLabel("Name", { exact: true }).fill("ops hook");
      await admin.getByLabel("Kind").selectOption("webhook");
      await admin.getByLabel("URL").fill(`http://127.0.0.1:${hooks.address().port}/hook`);
      await admin.getByRole("button", { name: "Add channel" }).click();
      assert.match(await admin.locator("#channel-secret").textContent(), /\S{20,}/);
      await admin.getByRole("link", { name: "ops hook" }).click();
      await admin.getByRole("button", { name: "Send a test" }).click();
      await admin.getByText("A test notification is queued").waitFor();
      const channelUrl = admin.url();
      const deadline = Date.now() + WAIT;
      for (;;) {
        await admin.goto(channelUrl);
        const row = admin.locator("table tbody tr", { hasText: "test" }).first();
        if ((await row.count()) > 0 && (await row.locator("td").nth(1).textContent()) === "sent") break;
        assert.ok(Date.now() < deadline, "the test notification was not sent within a minute");
        await admin.waitForTimeout(1_000);
      }
      assert.ok(hooked.some((h) => h.event === "test"), JSON.stringify(hooked));
    });
  });

  it("shows a viewer no write control and refuses a forged write", async () => {
    await step("viewer", async () => {
      // The instance admin makes the account (sign-up is closed after the first).
      await admin.getByRole("link", { name: "Accounts" }).click();
      await admin.getByLabel("Name").fill("Vic Viewer");
      await admin.getByLabel("Email").fill("vic@example.test");
      await admin.getByLabel("First password").fill("another long passphrase");
      await admin.getByRole("button", { name: "Create account" }).click();
      await admin.getByText("The account vic@example.test is ready").waitFor();
      await admin.goto(`${projectUrl}/members`);
      await admin.getByLabel("Email").fill("vic@example.test");
      await admin.getByLabel("Role", { exact: true }).selectOption("viewer");
      await admin.getByRole("button", { name: /invite/i }).click();
      await admin.getByText(/vic@example.test/).first().waitFor();

      const viewer = await newPage();
      await viewer.goto("/login");
      await viewer.getByLabel("Email").fill("vic@example.test");
      await viewer.getByLabel("Password").fill("another long passphrase");
      await viewer.getByRole("button", { name: /sign in/i }).click();
      await viewer.waitForURL("**/projects");
      await viewer.getByRole("button", { name: "Accept" }).click();
      await viewer.getByRole("link", { name: "Shop" }).click();
      await viewer.getByRole("link", { name: `Checkout ${XSS}` }).waitFor();
      for (const page of ["", "/incidents", "/probes", "/members", "/getting-data-in"]) {
        await viewer.goto(`${projectUrl}${page}`);
        const writes = await viewer.locator("form[method=post]:not([action='/logout'])").count();
        assert.equal(writes, 0, `a write control on ${page || "the monitors page"}`);
        assert.equal(await viewer.getByRole("link", { name: "New monitor" }).count(), 0);
      }
      await viewer.goto(monitorUrl);
      assert.equal(await viewer.getByRole("link", { name: "Edit" }).count(), 0);
      assert.equal(await viewer.getByRole("link", { name: "Delete" }).count(), 0);
      // A forged delete with the viewer's own valid token: the server refuses it.
      const token = await csrfOf(viewer);
      const forged = await viewer.evaluate(
        async ([url, t]) => {
          const r = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: `csrf_token=${encodeURIComponent(t)}`,
          });
          return r.status;
        },
        [`${monitorUrl}/delete`, token],
      );
      assert.equal(forged, 403);
      // And a write without the token, even by the admin.
      const tokenless = await admin.evaluate(async (url) => {
        const r = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "csrf_token=forged",
        });
        return r.status;
      }, `${monitorUrl}/delete`);
      assert.equal(tokenless, 403);
      await admin.goto(monitorUrl);
      assert.equal(await admin.getByRole("heading", { level: 1 }).textContent(), `Checkout ${XSS}`);
    });
  });

  it("fits every page in a 375 px wide screen", async () => {
    await step("narrow", async () => {
      const narrow = await newPage();
      await narrow.context().addCookies(await admin.context().cookies());
      await narrow.setViewportSize({ width: 375, height: 800 });
      const pages = ["", "/monitors/new?kind=api", "/incidents", "/maintenance", "/probes",
        "/channels", "/getting-data-in", "/members", "/keys", "/settings"]
        .map((p) => `${projectUrl}${p}`)
        .concat([monitorUrl, incidentUrl, "/projects"]);
      for (const url of pages) {
        await narrow.goto(url);
        const width = await narrow.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 375, `${url} is ${width} px wide at 375`);
      }
    });
  });

  it("loaded every page without a CSP violation, a script error or a 5xx", () => {
    assert.deepEqual(problems, []);
  });
});
