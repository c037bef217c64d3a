// Heatmaps on canvas: one gate or state of one layer, units (rows) by steps (columns).
// Hover or arrow keys show a cell's step, unit and value in a tooltip that carries them as
// data-step (the internals row) / data-position (row + first: the series position it shows) /
// data-unit / data-value; a click or a key move selects that step everywhere.

import { fmtFixed, html, indexTicks, svg } from "./svg.js";

const LEFT_PAD = 10; // space between unit labels and cells
const TOP = 6;
const BOTTOM = 20; // step tick labels
let gradientIds = 0;

/** A colour bar for a scale: gradient, min, middle and max. */
function colourBar(scale) {
  const id = `grad-${(gradientIds += 1)}`;
  const bar = svg("svg", { width: 150, height: 26, class: "colour-bar", "aria-hidden": "true" });
  const grad = svg("linearGradient", { id }, svg("defs", {}, bar));
  scale.stops.forEach((c, i) => svg("stop", { offset: i / (scale.stops.length - 1), "stop-color": c }, grad));
  svg("rect", { x: 1, y: 1, width: 148, height: 9, fill: `url(#${id})`, class: "bar" }, bar);
  const labels = [
    [2, "start", scale.min],
    [75, "middle", (scale.min + scale.max) / 2],
    [148, "end", scale.max],
  ];
  for (const [xPos, anchor, v] of labels) {
    svg("text", { x: xPos, y: 24, "text-anchor": anchor }, bar).textContent = fmtFixed(
      v,
      Math.abs(v) >= 10 ? 1 : 2,
    );
  }
  return bar;
}

/**
 * Draw a heatmap into `host` and return { setStep(step), redraw() }.
 *
 * spec: layer (0-based), quantity ({ key, name }), matrix (steps x units), scale (from
 * scaleFor), first (series position of row 0: labels read first + row + 1), observed (steps
 * fed by observed values), onPick(step), onCell(step, unit, value) when a cell is hovered or
 * reached by keyboard.
 */
export function heatmap(host, spec) {
  const steps = spec.matrix.length;
  const units = steps ? spec.matrix[0].length : 0;
  const first = spec.first ?? 0;
  const figure = html(
    "figure",
    { cls: "heatmap", "data-layer": spec.layer, "data-quantity": spec.quantity.key },
    host,
  );
  const caption = html("figcaption", {}, figure);
  html("span", { cls: "hm-title", text: spec.quantity.name }, caption);
  caption.appendChild(colourBar(spec.scale));
  const body = html("div", { cls: "hm-body" }, figure);
  const canvas = html(
    "canvas",
    {
      tabindex: "0",
      role: "img",
      "aria-roledescription": "heatmap",
      "aria-label":
        `Layer ${spec.layer + 1} ${spec.quantity.name.toLowerCase()}: ${units} units by ${steps} steps` +
        `${first ? ` (from step ${first + 1})` : ""}, ` +
        `colour scale ${fmtFixed(spec.scale.min, 2)} to ${fmtFixed(spec.scale.max, 2)}. ` +
        "Arrow keys move between steps and units.",
    },
    body,
  );
  const tip = html("div", { cls: "tip", role: "tooltip", hidden: true }, body);

  // Cell colours at one pixel per cell, scaled up when drawn.
  const cells = document.createElement("canvas");
  cells.width = Math.max(1, steps);
  cells.height = Math.max(1, units);
  const image = cells.getContext("2d").createImageData(cells.width, cells.height);
  for (let s = 0; s < steps; s += 1) {
    for (let u = 0; u < units; u += 1) {
      const [r, g, b] = spec.scale.rgb(spec.matrix[s][u]);
      image.data.set([r, g, b, 255], (u * steps + s) * 4);
    }
  }
  cells.getContext("2d").putImageData(image, 0, 0);

  let selected = 0;
  let cell = null; // { step, unit } under the pointer or keyboard focus
  let geo = null;

  /** Layout for the current width. */
  function geometry() {
    const width = Math.max(160, Math.floor(body.clientWidth));
    const left = LEFT_PAD + 7 * String(units).length;
    const plotH = Math.min(200, Math.max(40, units * 13));
    return { width, left, plotW: width - left - 2, plotH, height: TOP + plotH + BOTTOM };
  }

  function draw() {
    geo = geometry();
    const { width, left, plotW, plotH, height } = geo;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(cells, left, TOP, plotW, plotH);
    const cw = plotW / Math.max(1, steps);
    const rh = plotH / Math.max(1, units);

    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#3d434b";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const every = Math.ceil(11 / rh); // unit labels: as many as fit
    for (let u = 0; u < units; u += every) ctx.fillText(String(u + 1), left - 5, TOP + (u + 0.5) * rh);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const s of indexTicks(steps, Math.max(2, Math.floor(plotW / 38)), first)) {
      ctx.fillText(String(first + s + 1), left + (s + 0.5) * cw, TOP + plotH + 5);
    }

    if (spec.observed < steps) {
      // Where generated steps begin: a dashed line with a light halo, visible on any colour.
      const bx = left + spec.observed * cw;
      for (const [colour, lw] of [
        ["rgba(255,255,255,0.9)", 3.5],
        ["#111", 1.5],
      ]) {
        ctx.strokeStyle = colour;
        ctx.lineWidth = lw;
        ctx.setLineDash(colour === "#111" ? [4, 3] : []);
        ctx.beginPath();
        ctx.moveTo(bx, TOP - 4);
        ctx.lineTo(bx, TOP + plotH + 3);
        ctx.stroke();
      }
      ctx.setLineDash([]);
    }
    // The selected step: a dark frame with a white inner line.
    const sw = Math.max(cw, 3);
    const sx = left + selected * cw + cw / 2 - sw / 2;
    outline(ctx, sx, TOP, sw, plotH);
    if (cell) outline(ctx, left + cell.step * cw, TOP + cell.unit * rh, Math.max(cw, 3), Math.max(rh, 3));
    figure.dataset.selectedStep = String(selected);
  }

  /** A frame that reads on light and dark cells alike. */
  function outline(ctx, x, y, w, h) {
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#111";
    ctx.strokeRect(x - 1, y - 1, w + 2, h + 2);
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  }

  /** Show the tooltip for a cell, next to it, kept inside the figure. */
  function showTip() {
    if (!cell || !geo) return;
    const value = spec.matrix[cell.step][cell.unit];
    const generated = cell.step >= spec.observed ? " (generated)" : "";
    const position = first + cell.step;
    tip.textContent = `step ${position + 1}${generated} · unit ${cell.unit + 1} · ${fmtFixed(value, 4)}`;
    Object.assign(tip.dataset, {
      step: String(cell.step),
      position: String(position),
      unit: String(cell.unit),
      value: String(value),
    });
    tip.hidden = false;
    const cw = geo.plotW / steps;
    const rh = geo.plotH / units;
    const cx = geo.left + (cell.step + 0.5) * cw;
    const top = TOP + cell.unit * rh;
    tip.style.left = `${Math.max(0, Math.min(geo.width - tip.offsetWidth, cx - tip.offsetWidth / 2))}px`;
    tip.style.top = `${top - tip.offsetHeight - 6 >= 0 ? top - tip.offsetHeight - 6 : top + rh + 6}px`;
    spec.onCell?.(cell.step, cell.unit, value);
  }

  /** The cell under a pointer position, or null outside the cells. */
  function cellAt(event) {
    const box = canvas.getBoundingClientRect();
    const px = event.clientX - box.left - geo.left;
    const py = event.clientY - box.top - TOP;
    if (px < 0 || py < 0 || px >= geo.plotW || py >= geo.plotH) return null;
    return { step: Math.floor((px / geo.plotW) * steps), unit: Math.floor((py / geo.plotH) * units) };
  }

  canvas.addEventListener("pointermove", (event) => {
    const at = cellAt(event);
    if (!at) return;
    if (!cell || at.step !== cell.step || at.unit !== cell.unit) {
      cell = at;
      draw();
      showTip();
    }
  });
  canvas.addEventListener("pointerleave", () => {
    if (document.activeElement === canvas) return; // keyboard focus keeps its cell
    cell = null;
    tip.hidden = true;
    draw();
  });
  canvas.addEventListener("click", (event) => {
    const at = cellAt(event);
    if (at) spec.onPick(at.step);
  });
  canvas.addEventListener("focus", () => {
    cell = cell ?? { step: selected, unit: 0 };
    draw();
    showTip();
  });
  canvas.addEventListener("blur", () => {
    cell = null;
    tip.hidden = true;
    draw();
  });
  // Keys: arrows move by one step or unit, Page Up/Down by ten steps, Home/End to the ends.
  const moves = {
    ArrowLeft: [-1, 0],
    ArrowRight: [1, 0],
    ArrowUp: [0, -1],
    ArrowDown: [0, 1],
    PageUp: [-10, 0],
    PageDown: [10, 0],
    Home: [-steps, 0],
    End: [steps, 0],
  };
  canvas.addEventListener("keydown", (event) => {
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const from = cell ?? { step: selected, unit: 0 };
    cell = {
      step: Math.max(0, Math.min(steps - 1, from.step + move[0])),
      unit: Math.max(0, Math.min(units - 1, from.unit + move[1])),
    };
    if (cell.step !== selected) {
      spec.onPick(cell.step); // selects the step everywhere; setStep below redraws this map
      return;
    }
    draw();
    showTip();
  });

  draw();
  return {
    setStep(step) {
      selected = step;
      if (cell && document.activeElement === canvas) cell = { ...cell, step };
      draw();
      if (cell && !tip.hidden) showTip();
    },
    redraw() {
      draw();
      if (cell && !tip.hidden) showTip();
    },
  };
}
