// Small drawing helpers shared by the charts: SVG elements, scales, ticks, number formats.

export const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an SVG element with attributes and append it to `parent` when given. */
export function svg(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  if (parent) parent.appendChild(node);
  return node;
}

/** Create an HTML element with attributes (`text` sets textContent, `cls` the class). */
export function html(tag, attrs = {}, parent = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "cls") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  if (parent) parent.appendChild(node);
  return node;
}

/** A linear map from the domain [d0, d1] to the range [r0, r1] (a flat domain maps to the middle). */
export function linear(d0, d1, r0, r1) {
  const span = d1 - d0;
  const map = (v) => (span === 0 ? (r0 + r1) / 2 : r0 + ((v - d0) / span) * (r1 - r0));
  map.invert = (p) => (r1 === r0 ? d0 : d0 + ((p - r0) / (r1 - r0)) * span);
  return map;
}

/** About `count` round tick values covering [min, max]. */
export function ticks(min, max, count) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

/**
 * Indices in [0, n - 1] whose labels (offset + index + 1) are round numbers, about `count` of
 * them; the first index is labelled too when the first round label is far from it.
 */
export function indexTicks(n, count, offset = 0) {
  if (n <= 1) return [0];
  const t = ticks(offset + 1, offset + n, count);
  const step = Math.max(1, Math.round(t.length > 1 ? t[1] - t[0] : 1));
  const from = Math.ceil((offset + 1) / step) * step;
  const out = step >= 4 && from - (offset + 1) >= step / 2 ? [0] : [];
  for (let label = from; label <= offset + n; label += step) out.push(label - 1 - offset);
  return out;
}

/** A value in raw units: six significant digits, no trailing zeros. */
export function fmtValue(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e7 || a < 1e-4)) return v.toExponential(3);
  return String(Number(v.toPrecision(6)));
}

/** A gate or state value with a fixed number of decimals (minus sign kept readable). */
export function fmtFixed(v, digits = 3) {
  if (!Number.isFinite(v)) return String(v);
  const s = v.toFixed(digits);
  return s.startsWith("-") ? `\u2212${s.slice(1)}` : s;
}

/** Pad a value domain by a fraction of its span (a flat domain gets +-1 or +-10 %). */
export function padDomain(min, max, fraction = 0.06) {
  if (min === max) {
    const d = min === 0 ? 1 : Math.abs(min) * 0.1;
    return [min - d, max + d];
  }
  const pad = (max - min) * fraction;
  return [min - pad, max + pad];
}
