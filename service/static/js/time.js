// Time axes for the line chart: timestamps from a CSV, the step between them, and labels for
// the forecast steps that extend the series beyond its last timestamp.

// ISO-like dates: 1949-01, 1949-01-31, 1949/01/31, with an optional time and UTC offset.
const DATE = String.raw`(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2}))?`;
const CLOCK = String.raw`(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?`;
const ZONE = String.raw`\s*(Z|[+-]\d{2}:?\d{2})?`;
const ISO = new RegExp(`^${DATE}${CLOCK}${ZONE}$`, "i");
const DAY = 86400000;

/** Milliseconds (UTC) for an ISO-like date or date-time, or null when `text` is not one. */
export function parseTime(text) {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => (v ? Number(v) : 0));
  if (month < 1 || month > 12 || (m[3] && (day < 1 || day > 31)) || hour > 23 || minute > 59) {
    return null;
  }
  const millis = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  let ms = Date.UTC(year, month - 1, m[3] ? day : 1, hour, minute, second, millis);
  if (m[8] && m[8].toUpperCase() !== "Z") {
    const sign = m[8].startsWith("-") ? -1 : 1;
    const digits = m[8].slice(1).replace(":", "");
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60000;
  }
  return ms;
}

/** `ms` moved by a whole number of calendar months (UTC). */
function addMonths(ms, months) {
  const d = new Date(ms);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.getTime();
}

/** Calendar months between two UTC times when both fall on the same day and time, else null. */
function monthsBetween(a, b) {
  const x = new Date(a);
  const y = new Date(b);
  const months = (y.getUTCFullYear() - x.getUTCFullYear()) * 12 + y.getUTCMonth() - x.getUTCMonth();
  return addMonths(a, months) === b ? months : null;
}

/** The median of a non-empty list of numbers. */
function median(values) {
  const sorted = [...values].sort((p, q) => p - q);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const pad = (n) => String(n).padStart(2, "0");
const plural = (n, unit) => `${Number(n.toPrecision(6))} ${unit}${n === 1 ? "" : "s"}`;

/** A step as words: "1 month", "2 years", "1 day", "15 minutes", "0.5 seconds". */
function stepWords(months, ms) {
  if (months) return months % 12 === 0 ? plural(months / 12, "year") : plural(months, "month");
  const units = [
    [7 * DAY, "week"],
    [DAY, "day"],
    [3600000, "hour"],
    [60000, "minute"],
  ];
  const [size, name] = units.find(([u]) => ms % u === 0) ?? [1000, "second"];
  return plural(ms / size, name);
}

/** A date label at the resolution of the step: year, month, day or minute. */
function dateLabel(ms, unit) {
  const d = new Date(ms);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  if (unit === "year") return String(d.getUTCFullYear());
  if (unit === "month") return day.slice(0, 7);
  if (unit === "day") return day;
  return `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** The plain axis: positions labelled 1, 2, 3, ... */
export function indexAxis() {
  return { kind: "index", title: "step", label: (pos) => String(pos + 1), note: "" };
}

/**
 * An axis from a CSV's time cells: dates or numbers, strictly increasing. Positions past the
 * last cell are extended by the series' step (whole months when the dates are monthly or
 * yearly, else the median gap). Returns an index axis, with a note, when the cells do not fit.
 */
export function timeAxis(cells, title) {
  const n = cells.length;
  const numbers = cells.map((c) =>
    /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(c.trim()) ? Number(c) : null,
  );
  const isNumeric = numbers.every((v) => v !== null);
  const points = isNumeric ? numbers : cells.map(parseTime);
  const fallback = (why) => ({ ...indexAxis(), note: why });
  if (n < 2) return fallback("One row: the time axis needs two timestamps to find its step.");
  if (points.some((p) => p === null))
    return fallback(`Some cells of "${title}" are not times: steps are shown instead.`);
  if (points.some((p, i) => i > 0 && p <= points[i - 1])) {
    return fallback(`"${title}" is not strictly increasing: steps are shown instead.`);
  }
  if (isNumeric) {
    const step = median(points.slice(1).map((p, i) => p - points[i]));
    const at = (pos) => (pos < n ? points[pos] : points[n - 1] + step * (pos - n + 1));
    return { kind: "number", title, step, label: (pos) => String(Number(at(pos).toPrecision(10))), note: "" };
  }
  const months = points.slice(1).map((p, i) => monthsBetween(points[i], p));
  if (months.every((m) => m !== null && m === months[0])) {
    const k = months[0];
    const unit = k % 12 === 0 && new Date(points[0]).getUTCMonth() === 0 ? "year" : "month";
    const at = (pos) => (pos < n ? points[pos] : addMonths(points[n - 1], k * (pos - n + 1)));
    return { kind: "time", title, step: stepWords(k, 0), label: (pos) => dateLabel(at(pos), unit), note: "" };
  }
  const step = median(points.slice(1).map((p, i) => p - points[i]));
  const midnight = points.every((p) => p % DAY === 0);
  const unit = midnight && step % DAY === 0 ? "day" : "minute";
  const at = (pos) => (pos < n ? points[pos] : points[n - 1] + step * (pos - n + 1));
  return {
    kind: "time",
    title,
    step: stepWords(0, step),
    label: (pos) => dateLabel(at(pos), unit),
    note: "",
  };
}

/**
 * An axis labelled by ISO 8601 times as written (the wall time the API was sent and answered,
 * offsets dropped), at the resolution they share: month, day or minute. Null when a time is
 * not ISO-like.
 */
export function stampAxis(stamps, title = "time") {
  const parts = stamps.map((s) => ISO.exec(String(s).trim()));
  if (!parts.length || parts.some((m) => m === null)) return null;
  const num = (v) => (v ? Number(v) : 0);
  const midnight = parts.every((m) => num(m[4]) === 0 && num(m[5]) === 0 && num(m[6]) === 0);
  const monthly = midnight && parts.length > 1 && parts.every((m) => num(m[3]) <= 1);
  const label = (pos) => {
    const m = parts[Math.max(0, Math.min(parts.length - 1, pos))];
    const month = `${m[1]}-${pad(Number(m[2]))}`;
    if (monthly) return month;
    const day = `${month}-${pad(num(m[3]) || 1)}`;
    return midnight ? day : `${day} ${pad(num(m[4]))}:${pad(num(m[5]))}`;
  };
  return { kind: "time", title, step: "", label, note: "" };
}
