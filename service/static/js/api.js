// The public HTTP API, as the page uses it: GET /models, GET a version's input weights and
// POST /forecast.
// Errors carry the service's own JSON `error.message`, so users see what the API said.

const KEY_STORAGE = "gatecast.apiKey";

/** A refused or failed request: `message` is the API's error.message when it sent one. */
export class ApiError extends Error {
  constructor(message, status = 0, field = null, code = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
    this.code = code;
  }
}

/** The API key kept for this browser tab (sessionStorage), or "". */
export function getKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? "";
  } catch {
    return ""; // storage disabled: the key simply is not remembered
  }
}

/** Remember (or, when empty, forget) the API key for this tab. */
export function setKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    /* storage disabled: nothing to do */
  }
}

/** The endpoints' URLs, written into the page by the server (they follow any URL prefix). */
function urls() {
  const data = document.body.dataset;
  return { models: data.modelsUrl || "models", forecast: data.forecastUrl || "forecast" };
}

/** Send a request and return the parsed JSON body; throws ApiError on any failure. */
async function call(url, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("Accept", "application/json");
  const key = getKey();
  if (key) headers.set("Authorization", `Bearer ${key}`);
  let response;
  try {
    response = await fetch(url, { ...init, headers, cache: "no-store" });
  } catch (err) {
    throw new ApiError(`Could not reach the service (${err.message}).`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null; // not JSON: a proxy's error page, say
  }
  if (!response.ok) {
    const error = body && body.error ? body.error : {};
    const message = error.message || `The service answered ${response.status} ${response.statusText}.`;
    throw new ApiError(message, response.status, error.field ?? null, error.code ?? null);
  }
  if (body === null) throw new ApiError("The service sent a response that is not JSON.", response.status);
  return body;
}

/** Every model and version the service knows (GET /models). */
export function listModels() {
  return call(urls().models);
}

/** Run one forecast (POST /forecast) with a request body as the API documents it. */
export function forecast(request) {
  return call(urls().forecast, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
}

/** A model version's input weights per layer and gate (GET .../input-weights). */
export function inputWeights(name, version) {
  const path = [name, "versions", version, "input-weights"].map(encodeURIComponent).join("/");
  return call(`${urls().models}/${path}`);
}
