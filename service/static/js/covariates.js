// What the request carried besides its values, drawn with the answer: the covariates as
// small line charts under the series chart (same positions and steps), and the forecast's
// dates from the response's `timestamps`.

import { lineChart } from "./charts.js";
import { fmtValue, html } from "./svg.js";
import { stampAxis } from "./time.js";

const COLOURS = { past: "#6b3fa0", future: "#1b7a5a" };

/**
 * The chart's axis once the answer is in: the sent timestamps followed by the forecast's own
 * (so the forecast positions carry the API's dates), else the axis the form gave.
 */
export function answerAxis(request, response, axis) {
  const sent = Array.isArray(request.timestamps) ? request.timestamps : null;
  if (!sent || !Array.isArray(response.timestamps)) return axis;
  const title = axis.kind === "index" ? "time" : axis.title;
  return stampAxis([...sent, ...response.timestamps], title) ?? axis;
}

/** Labels for the forecast's dates: the axis's own when it carries them, else the times'. */
export function forecastLabels(axis, observed, times) {
  if (!times) return null;
  if (axis.kind === "time") return times.map((_, i) => axis.label(observed + i));
  const own = stampAxis(times);
  return times.map((time, i) => (own ? own.label(i) : time));
}

/** The covariates the request carried, as [{ name, kind, values }] (numbers only). */
export function sentCovariates(request, features) {
  const kinds = Object.fromEntries((features?.past ?? []).map((n) => [n, "past"]));
  for (const n of features?.future ?? []) kinds[n] = "future";
  return Object.entries(request.covariates ?? {})
    .filter(([, values]) => Array.isArray(values) && values.every((v) => typeof v === "number"))
    .map(([name, values]) => ({ name, kind: kinds[name] ?? "past", values }));
}

/**
 * One small chart per covariate into `host`, on the series chart's positions (observed values,
 * then the forecast's steps), `panel` hidden when there is none; returns the charts, each with
 * setStep(step).
 * view: { covariates, observed, forecast, axis, first, steps }; pick(step) selects a step.
 */
export function covariateCharts(panel, host, view, pick) {
  host.replaceChildren();
  panel.hidden = view.covariates.length === 0;
  const T = view.observed.length;
  const n = T + view.forecast.length;
  return view.covariates.map((c) => {
    const figure = html(
      "figure",
      { cls: "covariate-chart", "data-covariate": c.name, "data-kind": c.kind },
      host,
    );
    const caption = html("figcaption", {}, figure);
    html("span", { cls: "swatch" }, caption).style.backgroundColor = COLOURS[c.kind];
    caption.append(c.name);
    const known = c.kind === "future" ? "known ahead, over the forecast too" : "known up to the last value";
    html("span", { cls: "sub", text: ` · ${c.kind} covariate, ${known}` }, caption);
    const points = c.values.slice(0, n).map((y, x) => ({ x, y }));
    const range = `from ${fmtValue(Math.min(...c.values))} to ${fmtValue(Math.max(...c.values))}`;
    return lineChart(html("div", { cls: "chart" }, figure), {
      label: `Line chart: covariate ${c.name}, ${points.length} values ${range}, by ${view.axis.title}.`,
      height: 130,
      n,
      xLabel: view.axis.label,
      xTitle: view.axis.title,
      series: [{ name: c.name, color: COLOURS[c.kind], points, dots: n <= 40 }],
      boundary: T,
      stepToX: (s) => view.first + s,
      xToStep: (x) => Math.max(0, Math.min(x - view.first, view.steps - 1)),
      onPick: pick,
    });
  });
}

/** The forecast's dates, as the API gave them, next to its values (a list into `host`). */
export function forecastDates(host, view) {
  const times = view.forecastTimes;
  host.hidden = !times;
  host.replaceChildren();
  if (!times) return;
  times.forEach((time, i) => {
    const item = html("li", { "data-time": time, "data-value": view.forecast[i], title: time }, host);
    html("span", { cls: "date", text: view.forecastLabels[i] }, item);
    item.append(` ${fmtValue(view.forecast[i])}`);
  });
}
