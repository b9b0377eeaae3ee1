// The explorer in a real headless Chromium (Debian's, driven by playwright-core), signed in:
// the logs search page (records, histogram bars, a facet that narrows the search), a trace's
// waterfall (nesting, the error, a span's detail), a metric chart (one line per group, drawn
// by uPlot), and the live tail, which must show a record the calling test sends after the
// page opened, within 2 seconds. No Content-Security-Policy violation or script error on any page. On
// failure each page is saved as a screenshot in VIGIL_SCREENSHOTS.
//
// Run by `tests/tests/it/explorer_browser.rs` (the README's test command) with:
//   VIGIL_UI_URL        the control plane
//   VIGIL_SESSION       a signed-in session token (the vigil_session cookie)
//   VIGIL_PROJECT       the project's id
//   VIGIL_TRACE         the id of a trace with an error three levels deep
//   VIGIL_SIGNAL_DIR    where this writes `tailing` and the caller writes `sent` (epoch ms)
//   VIGIL_CHROMIUM, VIGIL_SCREENSHOTS, VIGIL_DOCS_DIR
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { launch, step } = require("./harness");

const BASE = process.env.VIGIL_UI_URL;
const P = process.env.VIGIL_PROJECT;
const DOCS = process.env.VIGIL_DOCS_DIR;
let browser;
let context;
const problems = [];

async function page() {
  const p = await context.newPage();
  p.on("console", (m) => {
    const refusal = /Failed to load resource: the server responded with a status of 4\d\d/;
    if (m.type() === "error" && !refusal.test(m.text())) problems.push(`${p.url()}: ${m.text()}`);
  });
  p.on("pageerror", (e) => problems.push(`${p.url()}: script error: ${e.message}`));
  return p;
}


before(async () => {
  browser = await launch();
  context = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } });
  await context.addCookies([{ name: "vigil_session", value: process.env.VIGIL_SESSION, url: BASE }]);
});

after(async () => {
  if (browser) await browser.close();
});

describe("the explorer", { concurrency: false }, () => {
  it("searches logs, draws the histogram and narrows by a facet", async () => {
    const p = await page();
    await step("logs", p, async () => {
      await p.goto(`/projects/${P}/logs?last=6h`);
      assert.equal(await p.locator("#log-list tbody tr").count(), 30);
      assert.ok(await p.locator("svg.histogram rect").count() > 0);
      await p.fill("#logs-q", "severity:>=error");
      await p.click("form[role=search] button");
      await p.waitForURL(/severity/);
      assert.equal(await p.locator("#log-list tbody tr").count(), 12);
      await p.locator(".facets a", { hasText: "cart" }).first().click();
      await p.waitForURL(/cart/);
      assert.equal(await p.locator("#log-list tbody tr").count(), 4);
      if (DOCS) await p.screenshot({ path: path.join(DOCS, "explorer-logs.png") });
    });
  });

  it("shows a trace as a waterfall with the error and a span's detail", async () => {
    const p = await page();
    await step("trace", p, async () => {
      await p.goto(`/projects/${P}/traces/${process.env.VIGIL_TRACE}?last=1h`);
      const rows = p.locator("#waterfall tbody tr");
      assert.equal(await rows.count(), 3);
      assert.equal(await p.locator("#waterfall td.d2").count(), 1);
      await p.locator("#waterfall a", { hasText: "INSERT payment" }).click();
      await p.waitForURL(/span=/);
      assert.match(await p.locator("#span-detail").innerText(), /UniqueViolation/);
      assert.match(await p.locator("#span-detail").innerText(), /duplicate key/);
      if (DOCS) await p.screenshot({ path: path.join(DOCS, "explorer-trace.png") });
    });
  });

  it("charts a metric, a line per group", async () => {
    const p = await page();
    await step("metrics", p, async () => {
      await p.goto(`/projects/${P}/metrics?last=1h`);
      await p.locator("#metric-names a", { hasText: "queue.depth" }).click();
      await p.fill("#m-group", "queue");
      await p.selectOption("#m-agg", "max");
      await p.click("form.filters button");
      await p.waitForURL(/group_by=queue/);
      // The server draws one SVG line per group; with JavaScript, uPlot draws the same
      // series over it, with a legend naming each group.
      assert.equal(await p.locator("svg.metric-chart polyline").count(), 2);
      await p.locator(".metric-plot .uplot canvas").waitFor();
      const legend = await p.locator(".metric-plot .u-legend .u-series .u-label").allTextContents();
      assert.deepEqual(legend.slice(1), ["a", "b"]);
      assert.ok(await p.locator("svg.metric-chart").isHidden());
      const box = await p.locator(".metric-plot .uplot canvas").boundingBox();
      assert.ok(box.width > 400 && box.height > 100);
    });
  });

  it("tails new records within 2 seconds", async () => {
    const p = await page();
    await step("tail", p, async () => {
      await p.goto(`/projects/${P}/logs/live?q=${encodeURIComponent("\"from the tail test\"")}`);
      // htmx connects the stream once its scripts ran.
      await p.waitForFunction(() => window.htmx !== undefined);
      await new Promise((r) => setTimeout(r, 500));
      const signals = process.env.VIGIL_SIGNAL_DIR;
      fs.writeFileSync(path.join(signals, "tailing"), "1");
      const sent = path.join(signals, "sent");
      const deadline = Date.now() + 60_000;
      while (!fs.existsSync(sent)) {
        assert.ok(Date.now() < deadline, "nothing was sent");
        await new Promise((r) => setTimeout(r, 50));
      }
      const at = Number(fs.readFileSync(sent, "utf8"));
      await p.locator("#tail tbody tr", { hasText: "from the tail test" }).waitFor({ timeout: 5000 });
      const after = Date.now() - at;
      assert.ok(after < 2000, `shown ${after} ms after it was sent`);
    });
  });

  it("ran without a CSP violation or script error", () => {
    assert.deepEqual(problems, []);
  });
});
