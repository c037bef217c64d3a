// The input form: model choice, sequence (typed or from a CSV), horizon, interval level, the
// time and covariates of a model that reads them, and the optional initial memory. It turns
// what the user typed into a /forecast request and forwards it as is: the API validates, and
// its message is what the user sees.

import { analyse, detectHeader, extract, parseCsv } from "./csv.js";
import { createExogFields } from "./exog.js";
import { html } from "./svg.js";
import { indexAxis, timeAxis } from "./time.js";
import { jsonValue, tokens } from "./typed.js";

/** A short description of a model version, from GET /models. */
function describe(info) {
  const parts = [
    `version ${info.version}`,
    `window ${info.window ?? "?"}`,
    `${info.layers ?? "?"} layer${info.layers === 1 ? "" : "s"} × ${info.hidden_size ?? "?"} units`,
    info.normalization ? `${info.normalization} scaling` : null,
    info.intervals ? "intervals available" : "no intervals",
    info.frequency ? `frequency ${info.frequency}` : null,
  ];
  return parts.filter(Boolean).join(" · ");
}

/** Wire the form's controls; `dom` holds its elements. */
export function createForm(dom) {
  let models = new Map(); // name -> latest loaded VersionInfo plus its name
  let csv = null; // { rows, header, analysis, name, filled } while the textarea holds a CSV
  /** The sequence's cells as they will be sent. */
  const cells = () => (csv && dom.sequence.value === csv.filled ? csv.values : tokens(dom.sequence.value));
  const exog = createExogFields(dom, cells);
  const oneUnit = (info) => info && info.layers === 1 && info.hidden_size === 1;

  /** Fill the model list from GET /models (loaded models only), keeping the choice. */
  function setModels(listing) {
    const previous = dom.model.value;
    models = new Map();
    for (const m of listing.models) {
      const latest = m.versions.find((v) => v.latest && v.status === "loaded");
      if (latest) models.set(m.name, { ...latest, name: m.name });
    }
    dom.model.replaceChildren();
    for (const info of models.values()) {
      const shape = `${info.layers} × ${info.hidden_size}`;
      html("option", { value: info.name, text: `${info.name} (${shape}, window ${info.window})` }, dom.model);
    }
    if (!models.size) html("option", { value: "", text: "no model is loaded", disabled: true }, dom.model);
    if (models.has(previous)) dom.model.value = previous;
    modelChanged();
    return models.size;
  }

  /** The chosen model's details. */
  function current() {
    return models.get(dom.model.value) ?? null;
  }

  /** Show the model's details and the fields that depend on it. */
  function modelChanged() {
    const info = current();
    dom.modelInfo.textContent = info ? describe(info) : "";
    const intervals = Boolean(info && info.intervals);
    dom.interval.disabled = !intervals;
    dom.intervalHint.textContent = intervals
      ? "Central prediction interval, e.g. 0.9. Empty: none."
      : "This model has no interval data.";
    const one = oneUnit(info);
    dom.stateOne.hidden = !one;
    dom.stateMany.hidden = one;
    if (info && !one) {
      const lines = `${info.layers} line${info.layers === 1 ? "" : "s"} (layers)`;
      dom.stateShape.textContent = `${lines} of ${info.hidden_size} numbers each. Empty: zeros.`;
    }
    exog.setModel(info);
    // The covariate columns depend on the model; values the user edited stay as they are.
    if (csv && csv.analysis && dom.sequence.value === csv.filled) applyCsv();
  }

  /** Rows of numbers from a state textarea: one line per layer. */
  function matrix(text) {
    return text
      .split(/\r?\n/)
      .filter((line) => line.trim() !== "")
      .map((line) => tokens(line).map(jsonValue));
  }

  /** The initial state, or null when every state field is empty. */
  function state(info) {
    if (oneUnit(info)) {
      const c = dom.stateC.value.trim();
      const h = dom.stateH.value.trim();
      if (!c && !h) return null;
      return { c: [[jsonValue(c || "0")]], h: [[jsonValue(h || "0")]] };
    }
    const c = matrix(dom.stateCMatrix.value);
    const h = matrix(dom.stateHMatrix.value);
    if (!c.length && !h.length) return null;
    const zeros = () => Array.from({ length: info.layers }, () => Array(info.hidden_size).fill(0));
    return { c: c.length ? c : zeros(), h: h.length ? h : zeros() };
  }

  /** The /forecast body for what the form holds (not validated here: the API does that). */
  function request() {
    const info = current();
    // A CSV's cells go as read while the text is untouched (a cell may hold a comma or space).
    const sent = cells();
    const body = { sequence: sent.map(jsonValue) };
    if (info) Object.assign(body, { model: info.name, version: info.version });
    body.horizon = jsonValue(dom.horizon.value);
    exog.addTo(body, sent.length);
    if (!dom.interval.disabled && dom.interval.value.trim() !== "")
      body.interval = jsonValue(dom.interval.value);
    body.internals = "all";
    const initial = info ? state(info) : null;
    if (initial) body.state = initial;
    return body;
  }

  /** The x axis for the chart: the CSV's times while its values are untouched, else steps. */
  function axis() {
    if (!csv || dom.sequence.value !== csv.filled || csv.analysis.time === null) return indexAxis();
    const { times } = extract(csv.rows, csv.header, csv.analysis.time, csv.analysis.value);
    return timeAxis(times.slice(0, csv.values.length), csv.analysis.columns[csv.analysis.time].name);
  }

  /** Put the chosen CSV column into the textarea and describe what was read. */
  function applyCsv() {
    const { rows, header, analysis } = csv;
    const read = extract(rows, header, analysis.time, analysis.value);
    const data = header ? rows.slice(1) : rows;
    const extra = exog.fromCsv(analysis.columns, data, read.values, read.times);
    const values = read.values.slice(0, extra.observed);
    dom.sequence.value = values.join(", ");
    Object.assign(csv, { values, filled: dom.sequence.value });
    exog.count();
    const timeName = analysis.time === null ? null : analysis.columns[analysis.time].name;
    const found = axis();
    const step = found.step ? ` (step ${found.step})` : "";
    const parts = [
      `${values.length} values from ${csv.name}, column “${analysis.columns[analysis.value].name}”`,
      timeName ? `time: “${timeName}”${step}` : "no time column: steps",
    ];
    if (found.note) parts.push(found.note);
    parts.push(...extra.parts);
    if (analysis.ambiguous) parts.push("Several columns fit: check the choices above.");
    dom.csvNote.textContent = `${parts.join("; ")}.`;
  }

  /** Analyse rows (with or without a header) and offer their columns. */
  function analyseCsv(header) {
    csv.header = header;
    csv.analysis = analyse(csv.rows, header);
    dom.csvHeader.checked = header;
    const { columns, time, value } = csv.analysis;
    dom.csvTime.replaceChildren(html("option", { value: "", text: "none: number the steps" }));
    dom.csvValue.replaceChildren();
    for (const c of columns) {
      const label = `${c.name} (${c.kind === "time" ? "dates" : c.kind === "number" ? "numbers" : "text"})`;
      html("option", { value: c.index, text: label }, dom.csvTime);
      html("option", { value: c.index, text: label }, dom.csvValue);
    }
    dom.csvTime.value = time === null ? "" : String(time);
    dom.csvValue.value = String(value);
    dom.csvOptions.hidden = false;
    applyCsv();
  }

  async function loadFile() {
    const file = dom.csvFile.files[0];
    if (!file) return;
    const rows = parseCsv(await file.text());
    if (!rows.length) {
      dom.csvNote.textContent = `${file.name} holds no rows.`;
      dom.csvOptions.hidden = false;
      return;
    }
    csv = { rows, name: file.name, header: false, analysis: null, values: [], filled: "" };
    analyseCsv(detectHeader(rows));
  }

  /** A sample input: the article's worked example for one-unit models, else a seasonal series. */
  function example() {
    const info = current();
    csv = null;
    dom.csvOptions.hidden = true;
    if (oneUnit(info)) {
      dom.sequence.value = "1";
      dom.stateC.value = "2";
      dom.stateH.value = "1";
      dom.horizon.value = "1";
      dom.stateBox.open = true;
      return;
    }
    const n = Math.max(24, 2 * (info?.window ?? 12));
    const series = Array.from({ length: n }, (_, k) => 100 + 0.5 * k + 10 * Math.sin((2 * Math.PI * k) / 12));
    dom.sequence.value = series.map((v) => v.toFixed(2)).join(", ");
    exog.count();
  }

  dom.model.addEventListener("change", modelChanged);
  dom.csvFile.addEventListener("change", () => loadFile());
  dom.csvHeader.addEventListener("change", () => analyseCsv(dom.csvHeader.checked));
  dom.csvTime.addEventListener("change", () => {
    csv.analysis.time = dom.csvTime.value === "" ? null : Number(dom.csvTime.value);
    applyCsv();
  });
  dom.csvValue.addEventListener("change", () => {
    csv.analysis.value = Number(dom.csvValue.value);
    applyCsv();
  });
  dom.example.addEventListener("click", example);
  dom.sequence.addEventListener("input", () => exog.count());

  return { setModels, current, request, axis, oneUnit };
}
