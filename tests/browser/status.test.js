// A public status page in a real headless Chromium (Debian's, driven by playwright-core), as a
// visitor sees it: the overall banner, a group and its members with their 90-day bars (a day's
// detail shown on keyboard focus), uptime figures, the active incident with its public
// updates, upcoming maintenance and an announcement; no Content-Security-Policy violation or
// script error; readable at 375 px. Then the test that started this one makes a monitor go
// down, and the page must show it within 2 seconds. On failure each open page is saved as a
// screenshot in VIGIL_SCREENSHOTS.
//
// Run by `tests/tests/it/status_browser.rs` (the README's test command) with:
//   VIGIL_STATUS_URL    the page, e.g. http://127.0.0.1:PORT/status/shop
//   VIGIL_SIGNAL_DIR    where this writes `ready` and the caller writes `changed` (epoch ms)
//   VIGIL_CHROMIUM      Chromium's executable (default /usr/bin/chromium)
//   VIGIL_SCREENSHOTS   where failure screenshots go
//   VIGIL_DOCS_DIR      where the README's screenshot is written
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { launch, step } = require("./harness");

const PAGE = process.env.VIGIL_STATUS_URL;
const SIGNALS = process.env.VIGIL_SIGNAL_DIR;
const DOCS = process.env.VIGIL_DOCS_DIR;

let browser;
let context;
const problems = [];


before(async () => {
  browser = await launch();
  context = await browser.newContext();
});

after(async () => {
  if (browser) await browser.close();
});

async function newPage(width) {
  const page = await context.newPage();
  if (width) await page.setViewportSize({ width, height: 800 });
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${r.url()}: answered ${r.status()}`);
  });
  return page;
}

describe("a public status page", { concurrency: false }, () => {
  it("shows groups, 90-day bars, the incident, maintenance and the announcement", async () => {
    const page = await newPage(1200);
    await step("content", page, async () => {
      await page.goto(PAGE);
      if (DOCS) await page.screenshot({ path: path.join(DOCS, "status-page.png"), fullPage: true });
      assert.equal(await page.locator("header h1").innerText(), "Shop");
      assert.equal((await page.locator(".banner").innerText()).trim(), "Minor Service Outage");
      const names = await page.locator(".name").allInnerTexts();
      assert.deepEqual(names, ["Website", "Backend", "Database", "Queue"]);
      // One bar per resource and group, 90 days each.
      assert.equal(await page.locator("ol.bar").count(), 4);
      assert.equal(await page.locator("ol.bar").first().locator("li").count(), 90);
      // A day's detail is read on keyboard focus.
      const day = page.locator("ol.bar").first().locator("li").nth(80);
      const tip = day.locator(".tip");
      await day.focus();
      const box = await tip.boundingBox();
      assert.ok(box && box.width > 20 && box.height > 10, "the day's detail is shown on focus");
      assert.match(await tip.innerText(), /\d{4}: (no data|[\d.]+ % up)/);
      // The website's history: one hour down ten days ago, of twenty observed.
      const uptime = await page.locator("ul.uptime").first().innerText();
      assert.match(uptime, /30 d: 99\.79 %/);
      assert.equal(await page.locator("ol.bar").first().locator("li.partial").count(), 1);
      assert.equal(await page.locator("svg.chart").count(), 1);
      const incident = await page.locator("#active-incidents ~ article").first().innerText();
      assert.match(incident, /Slow checkout/);
      assert.match(incident, /We found a slow query/);
      assert.match(incident, /identified/);
      const maintenance = await page.locator("#maintenance ~ article").first().innerText();
      assert.match(maintenance, /Queue upgrade/);
      assert.match(maintenance, /Scheduled/);
      assert.match(await page.locator("main").innerText(), /New region open/);
      // Statuses are in words as well as colours.
      assert.deepEqual(await page.locator(".state").allInnerTexts(),
        ["Operational", "Operational", "Operational", "Operational"]);
    });
    await page.close();
  });

  it("fits a 375 px screen", async () => {
    const page = await newPage(375);
    await step("narrow", page, async () => {
      await page.goto(PAGE);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    });
    await page.close();
  });

  it("shows a monitor going down within 2 seconds", async () => {
    const page = await newPage(1200);
    await step("live", page, async () => {
      await page.goto(PAGE);
      fs.writeFileSync(path.join(SIGNALS, "ready"), "1");
      const changed = path.join(SIGNALS, "changed");
      const waitUntil = Date.now() + 60_000;
      while (!fs.existsSync(changed)) {
        assert.ok(Date.now() < waitUntil, "the monitor was not made to go down");
        await new Promise((r) => setTimeout(r, 50));
      }
      const at = Number(fs.readFileSync(changed, "utf8"));
      for (;;) {
        await page.reload();
        const states = await page.locator(".state").allInnerTexts();
        if (states.includes("Major outage")) break;
        assert.ok(Date.now() - at < 2000, `not shown after ${Date.now() - at} ms: ${states}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const shownAfter = Date.now() - at;
      assert.ok(shownAfter < 2000, `shown after ${shownAfter} ms`);
      assert.equal(await page.locator(".state").nth(1).innerText(), "Partial outage");
    });
    await page.close();
  });

  it("ran without a CSP violation, script error or failed request", () => {
    assert.deepEqual(problems, []);
  });
});
