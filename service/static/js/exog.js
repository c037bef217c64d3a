// The form's time and covariate fields, shown for a model that reads more than its values:
// timestamps (or a start), the series id of a global model, and one field per covariate
// with what it needs (past: one value per value sent; future: also one per forecast step).

import { html } from "./svg.js";
import { jsonValue, timeTokens, tokens } from "./typed.js";

const list = (names) => names.map((n) => `“${n}”`).join(", ");
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** What a model version reads besides the values (GET /models `features`), never null. */
export function featuresOf(info) {
  const f = (info && info.features) || {};
  return {
    calendar: f.calendar ?? [],
    past: f.past_covariates ?? [],
    future: f.future_covariates ?? [],
    series: f.series ?? null,
  };
}

/** Whether the model reads time, covariates or a series id (the form then asks for them). */
function readsMore(info) {
  const f = featuresOf(info);
  return f.calendar.length + f.past.length + f.future.length > 0 || f.series !== null;
}

/** What a covariate needs, and what is missing (or "" when it fits). */
function need(kind, given, n, h) {
  const total = kind === "future" ? (h === null ? null : n + h) : n;
  const rule =
    kind === "future"
      ? `Known ahead: one value per value sent and per forecast step (${n} + ${h ?? "horizon"}` +
        `${total === null ? "" : ` = ${total}`}).`
      : `Known up to now: one value per value sent (${n}).`;
  let problem = "";
  if (!given) problem = "Required: this model reads it.";
  else if (total !== null && given < total) {
    problem =
      kind === "future" && given >= n
        ? `Missing ${plural(total - given, "value")} for the forecast's steps: a future ` +
          "covariate needs the horizon's values too."
        : `Missing ${plural(total - given, "value")}: ${given} given.`;
  } else if (total !== null && given > total) {
    problem = `${plural(given - total, "value")} too many: ${given} given.`;
  }
  return { rule, problem };
}

/** Wire the fields; `dom` holds them, `cells()` gives the sequence's cells as sent. */
export function createExogFields(dom, cells) {
  let inputs = []; // [{ name, kind: "past" | "future", input, hint }] of the model
  const typed = new Map(); // name -> text, kept when the model changes

  /** Build the fields for what the model reads (all hidden when it reads values only). */
  function setModel(info) {
    const more = readsMore(info);
    dom.exogBox.hidden = !more;
    for (const c of inputs) typed.set(c.name, c.input.value);
    inputs = [];
    dom.covariateFields.replaceChildren();
    if (!more) return;
    const f = featuresOf(info);
    const reads = [];
    if (f.calendar.length) reads.push(`calendar inputs computed from the timestamps (${list(f.calendar)})`);
    if (f.past.length) reads.push(`past covariates ${list(f.past)}`);
    if (f.future.length) reads.push(`future covariates ${list(f.future)}`);
    if (f.series !== null) reads.push("a series id");
    dom.exogHint.textContent = `This model reads ${reads.join(", ")}.`;
    const frequency = info.frequency ? ` (frequency ${info.frequency})` : "";
    const calendar = f.calendar.length ? " and no calendar inputs" : "";
    dom.timestampsHint.textContent =
      "ISO 8601, one per value, or only the first value's time: the others follow at the " +
      `model's frequency${frequency}. Empty: no dates${calendar}.`;
    dom.seriesField.hidden = f.series === null;
    dom.series.replaceChildren();
    for (const id of f.series ?? []) html("option", { value: id, text: id }, dom.series);
    const fields = [
      ...f.past.map((name) => ({ name, kind: "past" })),
      ...f.future.map((name) => ({ name, kind: "future" })),
    ];
    fields.forEach(({ name, kind }, k) => {
      const id = `covariate-${k}`;
      const box = html(
        "div",
        { cls: "field covariate", "data-covariate": name, "data-kind": kind },
        dom.covariateFields,
      );
      const label = html("label", { for: id, text: name }, box);
      html("span", { cls: "optional", text: ` · ${kind} covariate` }, label);
      const attrs = { id, rows: 2, spellcheck: "false", autocomplete: "off" };
      const input = html("textarea", { ...attrs, "aria-describedby": `${id}-hint` }, box);
      input.value = typed.get(name) ?? "";
      const hint = html("p", { cls: "hint", id: `${id}-hint`, "aria-live": "polite" }, box);
      input.addEventListener("input", () => count());
      inputs.push({ name, kind, input, hint });
    });
    count();
  }

  /** Say under each covariate how many values it needs, and what is missing. */
  function count() {
    const n = cells().length;
    const horizon = Number(dom.horizon.value);
    const h = Number.isInteger(horizon) && horizon > 0 ? horizon : null;
    for (const { kind, input, hint } of inputs) {
      const given = tokens(input.value).length;
      const { rule, problem } = need(kind, given, n, h);
      hint.textContent = problem ? `${problem} ${rule}` : `${given} values. ${rule}`;
      hint.classList.toggle("warn", Boolean(problem));
      input.setAttribute("aria-invalid", problem ? "true" : "false");
    }
  }

  /** Add timestamps (or start), covariates and series to a /forecast body of `n` values. */
  function addTo(body, n) {
    if (dom.exogBox.hidden) return;
    const times = timeTokens(dom.timestamps.value);
    if (times.length === 1 && n !== 1) body.start = times[0];
    else if (times.length) body.timestamps = times;
    const covariates = {};
    for (const { name, input } of inputs) {
      const given = tokens(input.value);
      if (given.length) covariates[name] = given.map(jsonValue);
    }
    if (Object.keys(covariates).length) body.covariates = covariates;
    if (!dom.seriesField.hidden && dom.series.value) body.series = dom.series.value;
  }

  /**
   * Fill the fields from a CSV: covariates from the columns of the same names (any case), the
   * timestamps from its time cells. Rows after the last value (empty value cells) are the
   * forecast's steps: they only feed the future covariates. `data` are the rows without
   * header, `values` the value cells ("NA" when empty). Returns { parts (for the note),
   * observed (rows that hold values) }.
   */
  function fromCsv(columns, data, values, times) {
    if (dom.exogBox.hidden) return { parts: [], observed: values.length };
    const byName = new Map(columns.map((c) => [c.name.trim().toLowerCase(), c.index]));
    const found = inputs.filter((c) => byName.has(c.name.toLowerCase()));
    let observed = values.length;
    if (found.some((c) => c.kind === "future")) {
      while (observed > 0 && values[observed - 1] === "NA") observed -= 1;
    }
    for (const c of found) {
      const column = byName.get(c.name.toLowerCase());
      const cellsOf = data.map((r) => (r[column] ?? "") || "NA");
      c.input.value = (c.kind === "past" ? cellsOf.slice(0, observed) : cellsOf).join(", ");
    }
    if (times) dom.timestamps.value = times.slice(0, observed).join("\n");
    const parts = [];
    if (found.length) parts.push(`covariates from columns ${list(found.map((c) => c.name))}`);
    const missing = inputs.filter((c) => !found.includes(c));
    if (missing.length) parts.push(`no column for ${list(missing.map((c) => c.name))}`);
    if (observed < values.length) {
      const extra = plural(values.length - observed, "row");
      parts.push(`${extra} after the last value: future covariates only`);
    }
    return { parts, observed };
  }

  dom.horizon.addEventListener("input", () => count());
  return { setModel, count, addTo, fromCsv };
}
