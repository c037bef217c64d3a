// The six quantities the API returns per layer, their names (the article's too), their
// colours in the one-unit plots, and the colour scales of the heatmaps.

/** In the API's order (internals.layers[k][key] is steps x units). */
export const QUANTITIES = [
  { key: "input_gate", name: "Input gate", article: "input gate", short: "input", kind: "gate" },
  { key: "forget_gate", name: "Forget gate", article: "forget gate", short: "forget", kind: "gate" },
  {
    key: "candidate",
    name: "Candidate",
    article: "potential long-term memory",
    short: "cand.",
    kind: "signed",
  },
  { key: "output_gate", name: "Output gate", article: "output gate", short: "output", kind: "gate" },
  { key: "cell_state", name: "Cell state", article: "long-term memory", short: "cell", kind: "cell" },
  {
    key: "hidden_state",
    name: "Hidden state",
    article: "short-term memory",
    short: "hidden",
    kind: "signed",
  },
];

export const byKey = Object.fromEntries(QUANTITIES.map((q) => [q.key, q]));

// The article's colours (darkened where the original is too light to read on white).
export const ARTICLE_COLOURS = {
  forget_gate: "#1f6fc5", // blue
  input_gate: "#2e8b3a", // green
  candidate: "#a87a00", // yellow
  output_gate: "#6b7078", // gray
  cell_state: "#2e8b3a", // long-term memory: the green line
  hidden_state: "#c6372c", // short-term memory: the red line
};

// viridis, for gates (0..1): perceptually even and readable in grayscale.
const SEQUENTIAL = [
  "#440154",
  "#472d7b",
  "#3b528b",
  "#2c728e",
  "#21918c",
  "#28ae80",
  "#5ec962",
  "#addc30",
  "#fde725",
];
// Blue (negative) - white - red (positive), for signed quantities.
const DIVERGING = [
  "#053061",
  "#2166ac",
  "#4393c3",
  "#92c5de",
  "#d1e5f0",
  "#f7f7f7",
  "#fddbc7",
  "#f4a582",
  "#d6604d",
  "#b2182b",
  "#67001f",
];

const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const SEQ_RGB = SEQUENTIAL.map(rgb);
const DIV_RGB = DIVERGING.map(rgb);

/** Interpolate a list of RGB stops at t in [0, 1]. */
function interpolate(stops, t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0.5)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

/**
 * The colour scale for a quantity's matrix (steps x units): gates 0..1, candidate and hidden
 * state -1..1, cell state symmetric around 0 by its largest |value|.
 * Returns { min, max, stops (hex, for legends), rgb(v) -> [r, g, b] }.
 */
export function scaleFor(quantity, matrix) {
  if (quantity.kind === "gate") {
    return { min: 0, max: 1, stops: SEQUENTIAL, rgb: (v) => interpolate(SEQ_RGB, v) };
  }
  let limit = 1;
  if (quantity.kind === "cell") {
    limit = 0;
    for (const row of matrix) for (const v of row) limit = Math.max(limit, Math.abs(v));
    limit = limit || 1;
  }
  return {
    min: -limit,
    max: limit,
    stops: DIVERGING,
    rgb: (v) => interpolate(DIV_RGB, (v + limit) / (2 * limit)),
  };
}

/** A sequential scale for magnitudes 0..max (viridis): { min, max, stops, rgb(v), t(v) }. */
export function magnitudeScale(max) {
  const top = max > 0 ? max : 1;
  const t = (v) => Math.min(1, Math.abs(v) / top);
  return { min: 0, max: top, stops: SEQUENTIAL, rgb: (v) => interpolate(SEQ_RGB, t(v)), t };
}
