// The selected step's numbers: what went in, what came out, and every gate and state of
// every layer (one-unit layers directly, up to 16 units as a table, wider layers as
// min / mean / max plus the unit last hovered). Also the sentence the live region reads.

import { ARTICLE_COLOURS, QUANTITIES } from "./quantities.js";
import { fmtFixed, fmtValue, html } from "./svg.js";

const TABLE_UNITS = 16; // wider layers get a summary instead of one row per unit
// The article's order and names for one-unit layers.
const ARTICLE_ORDER = ["forget_gate", "input_gate", "candidate", "output_gate", "cell_state", "hidden_state"];
const ARTICLE_LABELS = {
  forget_gate: "Forget gate",
  input_gate: "Input gate",
  candidate: "Potential long-term memory (candidate)",
  output_gate: "Output gate",
  cell_state: "Long-term memory (cell state)",
  hidden_state: "Short-term memory (hidden state)",
};

/**
 * What the step (an internals row) reads and what its output becomes:
 * { position (in the series and its forecast, 0-based), input, generated, label, next }; next
 * is { index, value, time, date } of the forecast step the output becomes (time: the API's
 * date, date: its label).
 */
export function stepFacts(view, step) {
  const R = view.run; // internals rows fed by observed values
  const position = view.first + step;
  const generated = step >= R;
  const input = generated ? view.forecast[step - R] : view.observed[position];
  let next = null;
  if (step + 1 >= R) {
    const index = step + 1 - R;
    const time = view.forecastTimes ? view.forecastTimes[index] : null; // the API's date
    next = { index, value: view.forecast[index], time, date: time && view.forecastLabels[index] };
  }
  return { position, input, generated, label: view.axis.label(position), next };
}

/** One step's values of one layer: { key: [unit values] }. */
function rowOf(layer, step) {
  return Object.fromEntries(QUANTITIES.map((q) => [q.key, layer[q.key][step]]));
}

/** A value cell that carries its numbers for scripts and tests. */
function valueCell(tr, layerIndex, key, unit, value, tag = "td") {
  const cell = html(tag, { text: fmtFixed(value, 3), title: String(value) }, tr);
  Object.assign(cell.dataset, { layer: String(layerIndex), quantity: key, value: String(value) });
  if (unit !== null) cell.dataset.unit = String(unit);
  return cell;
}

/** A one-unit layer: the six numbers with the article's names and colours. */
function oneUnitBlock(parent, layerIndex, row) {
  const list = html("dl", { cls: "unit-values" }, parent);
  for (const key of ARTICLE_ORDER) {
    const item = html(
      "div",
      { "data-layer": layerIndex, "data-quantity": key, "data-value": row[key][0] },
      list,
    );
    const term = html("dt", {}, item);
    html("span", { cls: "swatch" }, term).style.backgroundColor = ARTICLE_COLOURS[key];
    term.append(ARTICLE_LABELS[key]);
    html("dd", { text: fmtFixed(row[key][0], 5) }, item);
  }
}

/** A layer with up to TABLE_UNITS units: one row per unit. */
function unitTable(table, layerIndex, row, focusUnit) {
  const head = html("tr", {}, html("thead", {}, table));
  html("th", { scope: "col", text: "unit" }, head);
  for (const q of QUANTITIES) html("th", { scope: "col", text: q.short, title: q.name }, head);
  const body = html("tbody", {}, table);
  const units = row.input_gate.length;
  for (let u = 0; u < units; u += 1) {
    const tr = html("tr", { cls: u === focusUnit ? "focus" : "" }, body);
    html("th", { scope: "row", text: String(u + 1) }, tr);
    for (const q of QUANTITIES) valueCell(tr, layerIndex, q.key, u, row[q.key][u]);
  }
}

/** A wide layer: min, mean and max over units, and the focused unit. */
function summaryTable(table, layerIndex, row, focusUnit) {
  const head = html("tr", {}, html("thead", {}, table));
  html("th", { scope: "col", text: "" }, head);
  for (const q of QUANTITIES) html("th", { scope: "col", text: q.short, title: q.name }, head);
  const body = html("tbody", {}, table);
  const stats = {
    min: (v) => Math.min(...v),
    mean: (v) => v.reduce((a, b) => a + b, 0) / v.length,
    max: (v) => Math.max(...v),
  };
  for (const [name, f] of Object.entries(stats)) {
    const tr = html("tr", {}, body);
    html("th", { scope: "row", text: name }, tr);
    for (const q of QUANTITIES) valueCell(tr, layerIndex, q.key, null, f(row[q.key])).dataset.stat = name;
  }
  const unit = focusUnit ?? 0;
  const tr = html("tr", { cls: "focus" }, body);
  html("th", { scope: "row", text: `unit ${unit + 1}` }, tr);
  for (const q of QUANTITIES) valueCell(tr, layerIndex, q.key, unit, row[q.key][unit]);
}

/**
 * Render the step's numbers into `host` and return the sentence for the live region.
 * view: { observed, forecast, axis, layers (API internals.layers), steps, first (the series
 * position of row 0), run (rows fed by observed values) }.
 */
export function renderReadout(host, view, step, focusUnit = null) {
  host.replaceChildren();
  const facts = stepFacts(view, step);
  const name = `Step ${facts.position + 1} of ${view.first + view.steps}`;
  const head = html("p", { cls: "step-head" }, host);
  html("strong", { text: name }, head);
  html(
    "span",
    {
      cls: `tag ${facts.generated ? "generated" : "observed"}`,
      text: facts.generated ? "generated" : "observed",
    },
    head,
  );
  const at = view.axis.kind === "index" ? "" : ` at ${facts.label}`;
  html("span", { text: `input ${fmtValue(facts.input)}${at}` }, head);
  if (facts.next) {
    const { index, value, time, date } = facts.next;
    const when = date ? ` for ${date}` : "";
    const text = `→ forecast ${index + 1}${when}: ${fmtValue(value)}`;
    const next = html("span", { cls: "next", text }, head);
    if (time) next.dataset.time = time;
  }

  const kind = facts.generated ? "generated" : "observed";
  const sentences = [`${name}, ${kind}, input ${fmtValue(facts.input)}${at}.`];
  const grid = html("div", { cls: "readout-layers" }, host);
  view.layers.forEach((layer, k) => {
    const row = rowOf(layer, step);
    const units = row.input_gate.length;
    const block = html(
      "section",
      { cls: "readout-layer", "aria-label": `Layer ${k + 1} at step ${facts.position + 1}` },
      grid,
    );
    html("h3", { text: `Layer ${k + 1}${units > 1 ? ` · ${units} units` : ""}` }, block);
    if (units === 1) {
      oneUnitBlock(block, k, row);
      const said = ARTICLE_ORDER.map(
        (key) => `${ARTICLE_LABELS[key].toLowerCase()} ${fmtFixed(row[key][0], 5)}`,
      );
      sentences.push(`Layer ${k + 1}: ${said.join(", ")}.`);
      return;
    }
    const scroll = html("div", { cls: "table-scroll" }, block);
    const table = html("table", { cls: "values" }, scroll);
    html("caption", { cls: "sr-only", text: `Layer ${k + 1}, step ${facts.position + 1}` }, table);
    if (units <= TABLE_UNITS) unitTable(table, k, row, focusUnit);
    else summaryTable(table, k, row, focusUnit);
    const means = QUANTITIES.map(
      (q) => `${q.short} ${fmtFixed(row[q.key].reduce((a, b) => a + b, 0) / units, 3)}`,
    );
    sentences.push(`Layer ${k + 1} means over ${units} units: ${means.join(", ")}.`);
  });
  return sentences.join(" ");
}
