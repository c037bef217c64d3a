// CSV files, read in the browser: split into rows, detect a header and the time and value
// columns, and pull out one series. Nothing is sent anywhere until the user presses Forecast.

import { parseTime } from "./time.js";

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const TIME_NAME = /^(time|date|datetime|timestamp|ds|month|year|week|day|period|t)$/i;
const VALUE_NAME = /^(value|values|y|target|count|amount|total|passengers|observation)$/i;

/** Whether a cell holds a plain decimal number. */
export function isNumber(cell) {
  return NUMBER.test(cell.trim());
}

/** The delimiter of the first line: the most frequent of comma, semicolon and tab. */
function delimiterOf(text) {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  const counts = [",", ";", "\t"].map((d) => [d, line.split(d).length - 1]);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ",";
}

/** Rows of trimmed cells (RFC 4180 quoting; blank lines dropped). */
export function parseCsv(text) {
  const source = text.replace(/^\uFEFF/, "");
  const delimiter = delimiterOf(source);
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < source.length; i += 1) {
    const ch = source[i];
    if (quoted) {
      if (ch === '"' && source[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell.trim() === "") {
      quoted = true;
      cell = "";
    } else if (ch === delimiter) {
      row.push(cell.trim());
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && source[i + 1] === "\n") i += 1;
      row.push(cell.trim());
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  row.push(cell.trim());
  rows.push(row);
  // With ";" or tab between cells, "1,5" is a decimal comma.
  const decimal = (c) => (delimiter !== "," && /^[+-]?\d*,\d+$/.test(c) ? c.replace(",", ".") : c);
  return rows.filter((r) => r.some((c) => c !== "")).map((r) => r.map(decimal));
}

/** Whether the first row looks like a header: some cell is neither a number nor a time. */
export function detectHeader(rows) {
  return rows.length > 1 && rows[0].some((c) => c !== "" && !isNumber(c) && parseTime(c) === null);
}

/**
 * What each column holds and which columns to use.
 *
 * Returns { columns: [{ index, name, kind }], time, value, timeChoices, valueChoices,
 * ambiguous }: kind is "time" (dates), "number" or "text"; time is a column index or null
 * (no time axis); ambiguous is true when several columns could be the time or the values.
 */
export function analyse(rows, header) {
  const width = Math.max(...rows.map((r) => r.length));
  const data = header ? rows.slice(1) : rows;
  const columns = [];
  for (let index = 0; index < width; index += 1) {
    const cells = data.map((r) => r[index] ?? "").filter((c) => c !== "");
    const share = (test) => (cells.length ? cells.filter(test).length / cells.length : 0);
    const numeric = share(isNumber);
    const dates = share((c) => !isNumber(c) && parseTime(c) !== null);
    const kind = dates >= 0.9 ? "time" : numeric >= 0.5 ? "number" : "text";
    const name = header && rows[0][index] ? rows[0][index] : `column ${index + 1}`;
    columns.push({ index, name, kind });
  }
  // Time: date columns first, then numeric columns named like time (year, t, ...).
  const named = columns.filter((c) => c.kind === "number" && TIME_NAME.test(c.name));
  const timeChoices = [...columns.filter((c) => c.kind === "time"), ...named];
  const time = timeChoices.length ? timeChoices[0].index : null;
  const valueChoices = columns.filter((c) => c.kind === "number" && c.index !== time);
  const preferred = valueChoices.find((c) => VALUE_NAME.test(c.name)) ?? valueChoices.at(-1);
  const value = preferred ? preferred.index : width - 1;
  const ambiguous = valueChoices.length > 1 || timeChoices.length > 1;
  return { columns, time, value, timeChoices, valueChoices, ambiguous };
}

/**
 * One series from the rows: the value cells as written (an empty cell becomes "NA", so the
 * API names its position), and the time cells when a time column is chosen.
 */
export function extract(rows, header, time, value) {
  const data = header ? rows.slice(1) : rows;
  const values = data.map((r) => {
    const cell = r[value] ?? "";
    return cell === "" ? "NA" : cell;
  });
  const times = time === null ? null : data.map((r) => r[time] ?? "");
  return { values, times };
}
