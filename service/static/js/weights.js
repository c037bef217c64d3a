// What drives the gates: the magnitudes |w| of the LSTM's input weights for one layer, one
// table per gate, units (rows) by inputs (columns), from GET .../input-weights. Layer 1 reads
// the model's input vector (value, calendar inputs, covariates), a deeper layer the hidden
// state of the layer below. One colour scale spans the layer's four gates.

import { byKey, magnitudeScale } from "./quantities.js";
import { fmtFixed, html } from "./svg.js";

const GATES = ["input_gate", "forget_gate", "candidate", "output_gate"];
const NUMBERS_UP_TO = 12; // units and inputs up to which every cell shows its number

/** A column heading: hidden_state.3 of the layer below reads "h4"; others as named. */
function shortName(name) {
  const m = /^hidden_state\.(\d+)$/.exec(name);
  return m ? `h${Number(m[1]) + 1}` : name;
}

/** One gate's table: a row per unit, a column per input, and the mean |w| per input. */
function gateTable(host, layerIndex, gate, matrix, inputs, scale) {
  const quantity = byKey[gate];
  const attrs = { cls: "weight-map", "data-layer": layerIndex, "data-gate": gate };
  const figure = html("figure", attrs, host);
  html("figcaption", { text: quantity.name }, figure);
  const scroll = html("div", { cls: "table-scroll" }, figure);
  const table = html("table", { cls: "weights-table" }, scroll);
  const what = `Layer ${layerIndex + 1} ${quantity.name.toLowerCase()}: |w| per unit and input`;
  html("caption", { cls: "sr-only", text: what }, table);
  const numbers = matrix.length <= NUMBERS_UP_TO && inputs.length <= NUMBERS_UP_TO;
  const head = html("tr", {}, html("thead", {}, table));
  html("th", { scope: "col", text: "unit" }, head);
  for (const name of inputs) {
    html("th", { scope: "col", cls: "input-name", text: shortName(name), title: name }, head);
  }
  const body = html("tbody", {}, table);
  matrix.forEach((row, u) => {
    const tr = html("tr", {}, body);
    html("th", { scope: "row", text: String(u + 1) }, tr);
    row.forEach((w, j) => {
      const cell = html("td", { title: `unit ${u + 1} · ${inputs[j]}: w = ${fmtFixed(w, 4)}` }, tr);
      Object.assign(cell.dataset, { unit: String(u), input: inputs[j], value: String(w) });
      const [r, g, b] = scale.rgb(w);
      cell.style.backgroundColor = `rgb(${r}, ${g}, ${b})`; // CSSOM: allowed by the page's CSP
      cell.classList.toggle("dark", scale.t(w) < 0.6);
      if (numbers) cell.textContent = fmtFixed(Math.abs(w), 2);
    });
  });
  const foot = html("tr", { cls: "mean" }, html("tfoot", {}, table));
  html("th", { scope: "row", text: "mean" }, foot);
  inputs.forEach((name, j) => {
    const mean = matrix.reduce((sum, row) => sum + Math.abs(row[j]), 0) / matrix.length;
    const title = `${name}: mean |w| ${fmtFixed(mean, 4)}`;
    const cell = html("td", { text: fmtFixed(mean, 2), title }, foot);
    Object.assign(cell.dataset, { stat: "mean", input: name, value: String(mean) });
  });
}

/** The view; `load(name, version)` fetches a version's input weights. */
export function createWeightView(dom, load) {
  const cache = new Map(); // "name\u0000version" -> Promise of the API's answer
  let weights = null;
  let asked = 0; // the latest show(); older answers arriving late are dropped

  function render() {
    const k = Number(dom.weightsLayer.value) || 0;
    const layer = weights.layers[k];
    let max = 0;
    for (const gate of GATES) {
      for (const row of layer[gate]) for (const w of row) max = Math.max(max, Math.abs(w));
    }
    const scale = magnitudeScale(max);
    const reads =
      k === 0
        ? "Layer 1 reads the model's input vector, each element scaled as in training"
        : `Layer ${k + 1} reads the hidden state of layer ${k} (h1 is its unit 1)`;
    dom.weightsHint.textContent =
      `${reads}. Each cell is |w|, how strongly an input moves a unit's gate before its ` +
      `activation (0 to ${fmtFixed(scale.max, 3)} on one scale for the four gates; hover for ` +
      "the signed weight). The last row is the mean over units.";
    dom.weightMaps.replaceChildren();
    dom.weightMaps.dataset.layer = String(k);
    for (const gate of GATES) gateTable(dom.weightMaps, k, gate, layer[gate], layer.inputs, scale);
  }

  /** Show the weights of the version that answered the forecast. */
  async function show(name, version) {
    const key = `${name}\u0000${version}`;
    asked += 1;
    const mine = asked;
    if (!cache.has(key)) cache.set(key, load(name, version));
    dom.weights.hidden = false;
    try {
      const answer = await cache.get(key);
      if (mine !== asked) return;
      const changed = weights !== answer;
      weights = answer;
      if (changed) {
        const keep = Number(dom.weightsLayer.value) || 0;
        dom.weightsLayer.replaceChildren();
        answer.layers.forEach((_, k) => {
          html("option", { value: k, text: `Layer ${k + 1}` }, dom.weightsLayer);
        });
        dom.weightsLayer.value = String(keep < answer.layers.length ? keep : 0);
      }
      render();
    } catch (err) {
      cache.delete(key);
      if (mine !== asked) return;
      dom.weightMaps.replaceChildren();
      dom.weightsHint.textContent = `The input weights could not be read: ${err.message}`;
    }
  }

  dom.weightsLayer.addEventListener("change", () => {
    if (weights) render();
  });
  return { show };
}
