// Chromium's time to a usable monitors page (benches/ui.sh): loads URL with the session cookie
// RUNS times in a fresh page each (the assets cached after the first, as for an operator who
// comes back), and prints the median of the Navigation Timing marks: the HTML received, the
// page interactive (parsed, its deferred scripts run: links and filters work), and loaded.
//   node browser.js URL SESSION RUNS
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [url, session, runs] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.VIGIL_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext();
  await context.addCookies([{ name: "vigil_session", value: session, url }]);
  const marks = [];
  for (let i = 0; i <= Number(runs); i++) {
    const page = await context.newPage();
    await page.goto(url, { waitUntil: "load" });
    await page.locator("#monitor-list tbody tr").first().waitFor();
    const t = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0];
      return { html: n.responseEnd, usable: n.domContentLoadedEventEnd, loaded: n.loadEventEnd };
    });
    if (i > 0) marks.push(t); // the first run fills the cache
    await page.close();
  }
  await browser.close();
  const median = (key) => {
    const v = marks.map((m) => m[key]).sort((a, b) => a - b);
    return v[Math.floor((v.length - 1) / 2)].toFixed(0);
  };
  console.log(`| Chromium: HTML received | ${median("html")} ms | |`);
  console.log(`| Chromium: monitors page usable (DOMContentLoaded) | ${median("usable")} ms | |`);
  console.log(`| Chromium: loaded | ${median("loaded")} ms | |`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
