// Line charts in plain SVG: the input series with its forecast and interval, and the
// per-step plots of a one-unit model's gates and memories. Each chart is drawn at its
// container's width (redrawn on resize) and can highlight one step without a redraw.

import { fmtValue, indexTicks, linear, padDomain, svg, ticks } from "./svg.js";

const MARGIN = { top: 24, right: 14, bottom: 38 };
const CHAR_PX = 6.6; // width of one tick-label character at the chart font size

/**
 * Draw a line chart into `host` (emptied first) and return { setStep(step) }.
 *
 * spec: label (ARIA), height, n (x positions 0..n-1), xLabel(pos), tickOffset? (x ticks go where
 * tickOffset + pos + 1 is round), xTitle, yDomain?, yFormat?,
 * series [{ name, color, points: [{ x, y, data? }], dash?, dots?, cls?, fadeBefore? (points
 * left of this position drawn faded) }], band? { color, points: [{ x, lo, hi }] }, boundary?
 * (first generated position), context? { from, to } (positions from..to-1 shaded as the span
 * the model ran over), stepToX(step), xToStep(x), onPick?(step), valueLabels? (write each
 * point's value next to it).
 */
export function lineChart(host, spec) {
  host.replaceChildren();
  const width = Math.max(200, Math.floor(host.clientWidth));
  const height = spec.height;
  const all = spec.series.flatMap((s) => s.points.map((p) => p.y));
  if (spec.band) for (const p of spec.band.points) all.push(p.lo, p.hi);
  const [y0, y1] = spec.yDomain ?? padDomain(Math.min(...all), Math.max(...all));
  const yFormat = spec.yFormat ?? fmtValue;
  const yTicks = ticks(y0, y1, Math.max(2, Math.floor(height / 45)));
  const left = 14 + CHAR_PX * Math.max(...yTicks.map((t) => yFormat(t).length), 1);
  const inset = spec.n > 1 ? 0.25 : 0.5; // keeps end points and their rings off the axes
  const x = linear(-inset, spec.n - 1 + inset, left, width - MARGIN.right);
  const y = linear(y0, y1, height - MARGIN.bottom, MARGIN.top);
  const root = svg("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": spec.label,
    class: "chart-svg",
  });
  host.appendChild(root);

  // Grid and y axis.
  const grid = svg("g", { class: "grid", "aria-hidden": "true" }, root);
  for (const t of yTicks) {
    svg(
      "line",
      { x1: left, x2: width - MARGIN.right, y1: y(t), y2: y(t), class: t === 0 ? "zero" : "" },
      grid,
    );
    svg("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end", class: "tick" }, grid).textContent =
      yFormat(t);
  }
  // x axis: labels at round positions, thinned to the width they need.
  const longest = Math.max(...[0, spec.n - 1].map((p) => spec.xLabel(p).length));
  const room = Math.max(2, Math.floor((width - left) / (CHAR_PX * longest + 18)));
  for (const pos of indexTicks(spec.n, room, spec.tickOffset ?? 0)) {
    svg("line", { x1: x(pos), x2: x(pos), y1: height - MARGIN.bottom, y2: height - MARGIN.bottom + 4 }, grid);
    const label = svg(
      "text",
      { x: x(pos), y: height - MARGIN.bottom + 16, "text-anchor": "middle", class: "tick" },
      grid,
    );
    label.textContent = spec.xLabel(pos);
  }
  svg(
    "text",
    { x: width - MARGIN.right, y: height - 4, "text-anchor": "end", class: "axis-title" },
    grid,
  ).textContent = spec.xTitle;

  // The span the model ran over: shaded, with a solid line where it starts.
  if (spec.context && spec.context.from > 0 && spec.context.from < spec.context.to) {
    const [x0, x1] = [x(spec.context.from - 0.5), x(Math.min(spec.n, spec.context.to) - 0.5)];
    const g = svg("g", { class: "context", "aria-hidden": "true" }, root);
    const top = MARGIN.top - 4;
    const box = { x: x0, y: top, width: x1 - x0, height: height - MARGIN.bottom - top };
    const rect = svg("rect", box, g);
    rect.dataset.from = String(spec.context.from);
    rect.dataset.to = String(spec.context.to);
    svg("line", { x1: x0, x2: x0, y1: box.y, y2: box.y + box.height }, g);
  }

  // Observed / generated boundary.
  if (spec.boundary !== undefined && spec.boundary > 0 && spec.boundary < spec.n) {
    const bx = x(spec.boundary - 0.5);
    const g = svg("g", { class: "boundary", "aria-hidden": "true" }, root);
    svg("line", { x1: bx, x2: bx, y1: MARGIN.top - 8, y2: height - MARGIN.bottom }, g);
    svg("text", { x: bx - 5, y: MARGIN.top - 11, "text-anchor": "end" }, g).textContent = "observed";
    svg("text", { x: bx + 5, y: MARGIN.top - 11 }, g).textContent = "generated";
  }

  if (spec.band && spec.band.points.length) {
    const upper = spec.band.points.map((p) => `${x(p.x)},${y(p.hi)}`);
    const lower = spec.band.points.map((p) => `${x(p.x)},${y(p.lo)}`).reverse();
    svg("polygon", { points: [...upper, ...lower].join(" "), fill: spec.band.color, class: "band" }, root);
  }

  for (const s of spec.series) {
    const g = svg("g", { class: `series ${s.cls ?? ""}`, "data-series": s.name }, root);
    const path = (points, cls) => {
      if (points.length < 2) return;
      const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(2)},${y(p.y).toFixed(2)}`).join("");
      const stroke = { stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dash ?? null };
      svg("path", { d, fill: "none", ...stroke, class: cls }, g);
    };
    const fade = s.fadeBefore ?? -Infinity;
    path(s.points.filter((p) => p.x <= fade), "faded");
    path(s.points.filter((p) => p.x >= fade), null);
    const dots = s.dots ?? spec.n <= 60;
    s.points.forEach((p, i) => {
      if (s.skipFirstDot && i === 0) return;
      const dot = svg(
        "circle",
        {
          cx: x(p.x),
          cy: y(p.y),
          r: dots ? 3 : 0,
          fill: s.color,
          class: p.x < fade ? "point faded" : "point",
        },
        g,
      );
      dot.dataset.series = s.name;
      dot.dataset.x = String(p.x);
      dot.dataset.label = spec.xLabel(p.x);
      dot.dataset.value = String(p.y);
      for (const [k, v] of Object.entries(p.data ?? {})) dot.dataset[k] = String(v);
      if (spec.valueLabels) {
        const t = svg("text", { x: x(p.x) + 6, y: y(p.y) - 7, class: "value-label", fill: s.color }, g);
        t.textContent = (spec.valueFormat ?? yFormat)(p.y);
      }
    });
  }

  // The highlighted step: a vertical line and a ring on each series' point there.
  const marker = svg("g", { class: "highlight", "aria-hidden": "true" }, root);
  const line = svg("line", { y1: MARGIN.top - 4, y2: height - MARGIN.bottom }, marker);
  const rings = spec.series.map((s) => ({
    s,
    ring: svg("circle", { r: 6, stroke: s.color, class: "ring" }, marker),
  }));

  if (spec.onPick) {
    root.classList.add("pickable");
    root.addEventListener("click", (event) => {
      const box = root.getBoundingClientRect();
      const pos = Math.round(x.invert(event.clientX - box.left));
      spec.onPick(spec.xToStep(Math.max(0, Math.min(spec.n - 1, pos))));
    });
  }

  return {
    setStep(step) {
      const pos = spec.stepToX(step);
      host.dataset.selectedStep = String(step);
      line.setAttribute("x1", x(pos));
      line.setAttribute("x2", x(pos));
      for (const { s, ring } of rings) {
        const p = s.points.find((q) => q.x === pos);
        ring.setAttribute("visibility", p ? "visible" : "hidden");
        if (p) {
          ring.setAttribute("cx", x(pos));
          ring.setAttribute("cy", y(p.y));
        }
      }
    },
  };
}

/** Quick legend: coloured swatches with names, as an HTML list. */
export function legend(items) {
  const list = document.createElement("ul");
  list.className = "legend";
  for (const item of items) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch ${item.cls ?? ""}`;
    swatch.style.backgroundColor = item.color; // CSSOM: allowed by the page's CSP
    li.append(swatch, item.name);
    list.appendChild(li);
  }
  return list;
}
