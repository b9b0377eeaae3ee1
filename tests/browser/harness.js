// What the browser tests share: Debian's Chromium launched headless with the flags this
// machine's closed network needs, and a step that saves a screenshot of a page when it fails.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const SHOTS = process.env.VIGIL_SCREENSHOTS || os.tmpdir();

/// Chromium, headless, without reaching out to the network.
function launch() {
  return chromium.launch({
    executablePath: process.env.VIGIL_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// Runs `body`; on failure saves `page` as `<name>.png` in VIGIL_SCREENSHOTS, then fails.
async function step(name, page, body) {
  try {
    await body();
  } catch (error) {
    fs.mkdirSync(SHOTS, { recursive: true });
    const file = path.join(SHOTS, `${name.replace(/\W+/g, "-")}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`screenshot: ${file}`);
    throw error;
  }
}

module.exports = { launch, step };
