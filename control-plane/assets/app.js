// Vigil's operator UI: what JavaScript adds to pages that work without it. Copy buttons,
// response-time charts (uPlot, from the API's aggregated series), the metric chart (uPlot
// over the server's SVG, from the same data) and the live-update status line; htmx and its SSE extension swap in fresh parts of a page when the server says so.
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

// uPlot's data from series of `{t, …}` points: every time any series has, then each series'
// value at those times (`null` where it has none).
function aligned(seriesList, valueOf) {
  const times = new Set();
  for (const s of seriesList) for (const p of s.points) times.add(p.t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const data = [xs];
  for (const s of seriesList) {
    const ys = new Array(xs.length).fill(null);
    for (const p of s.points) ys[index.get(p.t)] = valueOf(p);
    data.push(ys);
  }
  return data;
}

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
  const data = aligned(answer.series, (p) => p.avg_ms);
  const xs = data[0];
  const series = [{}];
  answer.series.forEach((s, i) => {
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

// The metric explorer's chart: the page draws it as SVG; with JavaScript, uPlot draws the same
// series (embedded in the page) with axes, a cursor and values, in the SVG lines' colours.
function drawMetric(box) {
  if (typeof uPlot === "undefined") return;
  const chart = JSON.parse(box.dataset.metric);
  const svg = box.querySelector("svg");
  const colours = [...svg.querySelectorAll("polyline")].map((l) => getComputedStyle(l).stroke);
  const data = aligned(chart.series, (p) => p.v);
  if (!data[0].length) return;
  const series = [{}];
  chart.series.forEach((s, i) => {
    series.push({
      label: s.group || "all",
      stroke: colours[i] || PALETTE[i % PALETTE.length],
      width: 1.5,
      value: (_, v) => (v == null ? "–" : `${+v.toPrecision(6)}`),
    });
  });
  const width = () => Math.max(280, box.clientWidth);
  const plot = new uPlot(
    {
      width: width(),
      height: 240,
      title: `${chart.name} — ${chart.agg}`,
      series,
      scales: { x: { time: true, range: [chart.from, chart.to] } },
    },
    data,
    box,
  );
  box.classList.add("drawn");
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
  for (const box of document.querySelectorAll("[data-metric]")) drawMetric(box);
});
