// The gate explorer's entry point: finds the page's elements, loads the model list, and
// runs forecasts through the public API when the form is submitted.

import { ApiError, forecast, getKey, inputWeights, listModels, setKey } from "./api.js";
import { createExplorer } from "./explorer.js";
import { featuresOf } from "./exog.js";
import { createForm } from "./form.js";
import { createWeightView } from "./weights.js";

const $ = (id) => document.getElementById(id);

const dom = {
  form: $("forecast-form"),
  keyField: $("key-field"),
  key: $("api-key"),
  model: $("model"),
  modelInfo: $("model-info"),
  sequence: $("sequence"),
  csvFile: $("csv-file"),
  example: $("example"),
  csvOptions: $("csv-options"),
  csvHeader: $("csv-header"),
  csvTime: $("csv-time"),
  csvValue: $("csv-value"),
  csvNote: $("csv-note"),
  horizon: $("horizon"),
  interval: $("interval"),
  intervalHint: $("interval-hint"),
  stateBox: $("state-box"),
  stateOne: $("state-one"),
  stateC: $("state-c"),
  stateH: $("state-h"),
  stateMany: $("state-many"),
  stateCMatrix: $("state-c-matrix"),
  stateHMatrix: $("state-h-matrix"),
  stateShape: $("state-shape"),
  exogBox: $("exog-box"),
  exogHint: $("exog-hint"),
  timestamps: $("timestamps"),
  timestampsHint: $("timestamps-hint"),
  seriesField: $("series-field"),
  series: $("series"),
  covariateFields: $("covariate-fields"),
  run: $("run"),
  status: $("status"),
  error: $("error"),
  results: $("results"),
  empty: $("empty"),
  output: $("output"),
  summary: $("summary"),
  seriesChart: $("series-chart"),
  seriesLegend: $("series-legend"),
  contextNote: $("context-note"),
  forecastDates: $("forecast-dates"),
  covariates: $("covariates"),
  covariateCharts: $("covariate-charts"),
  weights: $("weights"),
  weightsLayer: $("weights-layer"),
  weightsHint: $("weights-hint"),
  weightMaps: $("weight-maps"),
  step: $("step"),
  stepLabel: $("step-label"),
  readout: $("step-readout"),
  layers: $("layers"),
  announcer: $("announce"),
};

let spoken = 0;
/** Say something through the polite live region (coalesced to one update per frame). */
function announce(text) {
  cancelAnimationFrame(spoken);
  spoken = requestAnimationFrame(() => {
    dom.announcer.textContent = text;
  });
}

/** Show an error from the API (its own message) or from the browser. */
function showError(err) {
  const message = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  dom.error.textContent = message;
  dom.error.hidden = false;
  if (err instanceof ApiError && err.status === 401) dom.keyField.hidden = false;
}

function clearError() {
  dom.error.hidden = true;
  dom.error.textContent = "";
}

const form = createForm(dom);
let finished = 0; // forecasts answered, refused or failed
const explorer = createExplorer(dom, announce);
const weights = createWeightView(dom, inputWeights);

/** Fetch the model list (again, e.g. after a new API key). */
async function loadModels() {
  dom.status.textContent = "Loading models…";
  try {
    const count = form.setModels(await listModels());
    clearError();
    dom.status.textContent = count
      ? `${count} model${count === 1 ? "" : "s"} loaded.`
      : "No model is loaded yet.";
    dom.run.disabled = count === 0;
  } catch (err) {
    dom.status.textContent = "Could not list the models.";
    showError(err);
  }
}

dom.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const request = form.request();
  const axis = form.axis();
  const features = featuresOf(form.current());
  dom.run.disabled = true;
  dom.form.setAttribute("aria-busy", "true");
  dom.status.textContent = "Forecasting…";
  const started = performance.now();
  try {
    const response = await forecast(request);
    explorer.show(response, request, axis, features);
    weights.show(response.model, response.version);
    const ms = Math.round(performance.now() - started);
    const steps = response.forecast.length;
    dom.status.textContent = `Forecast ready (${steps} step${steps === 1 ? "" : "s"}, ${ms} ms).`;
  } catch (err) {
    dom.status.textContent = "The forecast was refused.";
    showError(err);
  } finally {
    dom.run.disabled = false;
    dom.form.removeAttribute("aria-busy");
    finished += 1;
    dom.results.dataset.forecasts = String(finished); // lets scripts (and tests) wait for an answer
  }
});

// API key: only asked for when the server has keys; kept for this tab (sessionStorage).
if (document.body.dataset.auth === "required") dom.keyField.hidden = false;
dom.key.value = getKey();
function useKey() {
  setKey(dom.key.value.trim());
  loadModels();
}
dom.key.addEventListener("change", useKey);
dom.key.addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault(); // Enter here means "use this key", not "run the forecast"
  useKey();
});

loadModels();
