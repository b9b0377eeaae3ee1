// Vigil's operator UI: what JavaScript adds to pages that work without it. Copy buttons,
// response-time charts (uPlot, from the API's aggregated series) and the live-update status
// line; htmx and its SSE extension swap in fresh parts of a page when the server says so.
"use strict";

function copyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      const text = "value" in source ? source.value : source.textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
    });
  }
}

const PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2"];

async function drawChart(box) {
  const status = box.querySelector(".chart-status");
  let answer;
  try {
    const response = await fetch(box.dataset.chart, { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    answer = await response.json();
  } catch (error) {
    if (status) status.textContent = `The chart could not be loaded: ${error.message}.`;
    return;
  }
  const names = JSON.parse(box.dataset.probes || "{}");
  const times = new Set();
  for (const s of answer.series) for (const p of s.points) times.add(p.t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const data = [xs];
  const series = [{}];
  answer.series.forEach((s, i) => {
    const ys = new Array(xs.length).fill(null);
    for (const p of s.points) ys[index.get(p.t)] = p.avg_ms;
    data.push(ys);
    series.push({
      label: names[s.probe_id] || (s.probe_id ? s.probe_id.slice(0, 8) : "pushed"),
      stroke: PALETTE[i % PALETTE.length],
      width: 1.5,
      spanGaps: false,
      value: (_, v) => (v == null ? "–" : `${v.toFixed(1)} ms`),
    });
  });
  if (status) {
    status.textContent = xs.length
      ? `${xs.length} points, one per ${answer.step_secs / 60} min, mean response time per probe.`
      : "No results in this range yet.";
  }
  if (!xs.length || typeof uPlot === "undefined") return;
  const width = () => Math.max(280, box.clientWidth);
  const plot = new uPlot(
    {
      width: width(),
      height: 240,
      series,
      axes: [{}, { label: "ms", values: (_, ticks) => ticks.map((v) => `${v}`) }],
      // The whole range asked for, not just where there are points.
      scales: { x: { time: true, range: [answer.from, answer.to] } },
    },
    data,
    box.querySelector(".chart-plot"),
  );
  new ResizeObserver(() => plot.setSize({ width: width(), height: 240 })).observe(box);
}

function liveStatus() {
  const line = document.getElementById("live-status");
  if (!line) return;
  document.body.addEventListener("htmx:sseOpen", () => {
    line.textContent = "Live: changes appear without reloading.";
  });
  document.body.addEventListener("htmx:sseError", () => {
    line.textContent = "Live updates interrupted; reconnecting…";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  copyButtons();
  liveStatus();
  for (const box of document.querySelectorAll("[data-chart]")) drawChart(box);
});
