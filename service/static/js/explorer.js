// The results: the series chart, one block per layer (heatmaps, or line plots for one-unit
// layers), the step slider and the step's numbers. One selected step is shared by all.
// A selected step is an internals row; row r is position first + r of the series (the model
// runs over its last `run` observed values only), and positions are what the page labels.
// Covariates and forecast dates: covariates.js.

import { legend, lineChart } from "./charts.js";
import { answerAxis, covariateCharts, forecastDates, forecastLabels, sentCovariates } from "./covariates.js";
import { heatmap } from "./heatmap.js";
import { ARTICLE_COLOURS, QUANTITIES, byKey, scaleFor } from "./quantities.js";
import { renderReadout, stepFacts } from "./readout.js";
import { fmtFixed, fmtValue, html } from "./svg.js";

const COLOURS = {
  observed: "#1d3f66",
  forecast: "#c4501a",
  band: "rgba(196, 80, 26, 0.18)",
  context: "rgba(31, 95, 191, 0.1)",
};
// One-unit plots, in the article's order: [title, quantity keys, y domain or null (symmetric)].
const UNIT_PLOTS = [
  ["Forget gate", ["forget_gate"], [0, 1]],
  ["Input gate", ["input_gate"], [0, 1]],
  ["Candidate: potential long-term memory", ["candidate"], [-1, 1]],
  ["Output gate", ["output_gate"], [0, 1]],
  [
    "Long-term memory (cell state) and short-term memory (hidden state)",
    ["cell_state", "hidden_state"],
    null,
  ],
];
const MEMORY_NAMES = { cell_state: "long-term memory", hidden_state: "short-term memory" };
const UNIT_HINT =
  "Each plot follows one quantity over the steps, in the article's colours. " +
  "The dashed line marks where generated steps begin; the ring marks the selected step.";
const HEATMAP_HINT =
  "Rows are units, columns are steps; the framed column is the selected step. The dashed line " +
  "marks where observed steps end and generated steps begin. Hover a cell, or focus a heatmap " +
  "and use the arrow keys.";

/** A level as a percentage: 0.9 -> "90", 0.975 -> "97.5". */
const percent = (level) => String(Number((level * 100).toPrecision(4)));

/** The sentence under the series chart: which observed values the model ran over. */
function contextNote(view) {
  const T = view.observed.length;
  if (view.first === 0) {
    return T === 1 ? "The model ran over the one value sent." : `The model ran over all ${T} values.`;
  }
  const span =
    view.axis.kind === "index"
      ? `steps ${view.first + 1}–${T}`
      : `${view.axis.label(view.first)} to ${view.axis.label(T - 1)}`;
  const earlier = view.first === 1 ? "the earlier one is faded" : `the ${view.first} earlier ones are faded`;
  return `The model ran over the last ${view.run} of ${T} values (${span}, shaded); ${earlier}.`;
}

/** Create the results area; `dom` holds its elements, `announce(text)` feeds the live region. */
export function createExplorer(dom, announce) {
  // { observed, forecast, lower, upper, level, axis, layers, steps, first, run, request }
  let view = null;
  let views = []; // drawn charts, each with setStep(step)
  let step = 0;
  let unit = null; // unit last hovered or focused in a heatmap

  /** The input series, its forecast and the interval. */
  function seriesChart() {
    const T = view.observed.length;
    const last = { x: T - 1, y: view.observed[T - 1] };
    const forecast = view.forecast.map((v, i) => ({
      x: T + i,
      y: v,
      data: view.lower ? { lower: view.lower[i], upper: view.upper[i] } : {},
    }));
    const band = view.lower
      ? {
          color: COLOURS.band,
          points: [
            { x: last.x, lo: last.y, hi: last.y },
            ...view.lower.map((lo, i) => ({ x: T + i, lo, hi: view.upper[i] })),
          ],
        }
      : null;
    const chart = lineChart(dom.seriesChart, {
      label:
        `Line chart: ${T} observed values and a ${view.forecast.length}-step forecast` +
        `${view.lower ? ` with a ${percent(view.level)}% interval` : ""}, by ${view.axis.title}.`,
      height: dom.seriesChart.clientWidth < 500 ? 220 : 280,
      n: T + view.forecast.length,
      xLabel: view.axis.label,
      xTitle: view.axis.title,
      series: [
        {
          name: "observed",
          color: COLOURS.observed,
          points: view.observed.map((y, x) => ({ x, y })),
          fadeBefore: view.first,
        },
        {
          name: "forecast",
          color: COLOURS.forecast,
          points: [last, ...forecast],
          skipFirstDot: true,
          dots: forecast.length <= 60,
        },
      ],
      band,
      boundary: T,
      context: { from: view.first, to: T },
      stepToX: (s) => view.first + s,
      xToStep: (x) => Math.max(0, Math.min(x - view.first, view.steps - 1)),
      onPick: select,
    });
    const items = [
      { name: "observed", color: COLOURS.observed },
      { name: "forecast", color: COLOURS.forecast },
    ];
    if (band) items.push({ name: `${percent(view.level)}% interval`, color: COLOURS.band, cls: "band" });
    if (view.first > 0) {
      items.push({ name: "what the model ran over", color: COLOURS.context, cls: "band" });
    }
    dom.seriesLegend.replaceChildren(legend(items));
    return chart;
  }

  /** A one-unit layer: line plots of each gate and of both memories over the steps. */
  function unitPlots(section, layer, k) {
    const grid = html("div", { cls: "unit-plots" }, section);
    for (const [title, keys, domain] of UNIT_PLOTS) {
      const cls = keys.length > 1 ? "unit-plot wide" : "unit-plot";
      const figure = html("figure", { cls, "data-layer": k, "data-quantity": keys.join(" ") }, grid);
      const caption = html("figcaption", {}, figure);
      for (const key of keys)
        html("span", { cls: "swatch" }, caption).style.backgroundColor = ARTICLE_COLOURS[key];
      caption.append(title);
      const host = html("div", { cls: "chart" }, figure);
      const columns = keys.map((key) => layer[key].map((row) => row[0]));
      const limit = Math.max(1, ...columns.flat().map(Math.abs));
      const ranges = keys.map((key, i) => {
        const [lo, hi] = [Math.min(...columns[i]), Math.max(...columns[i])];
        return `${byKey[key].article} from ${fmtValue(lo)} to ${fmtValue(hi)}`;
      });
      views.push(
        lineChart(host, {
          label: `${title}, layer ${k + 1}, over ${view.steps} steps: ${ranges.join("; ")}.`,
          height: 170,
          n: view.steps,
          xLabel: (s) => String(view.first + s + 1),
          tickOffset: view.first,
          xTitle: "step",
          yDomain: domain ?? [-limit, limit],
          yFormat: (v) => fmtFixed(v, Number.isInteger(v) ? 0 : 1),
          valueFormat: (v) => fmtFixed(v, 5),
          valueLabels: view.steps <= 6,
          series: keys.map((key) => ({
            name: keys.length > 1 ? MEMORY_NAMES[key] : key,
            color: ARTICLE_COLOURS[key],
            points: layer[key].map((row, x) => ({ x, y: row[0] })),
          })),
          boundary: view.run,
          stepToX: (s) => s,
          xToStep: (x) => x,
          onPick: select,
        }),
      );
      if (keys.length > 1) {
        figure.appendChild(
          legend(keys.map((key) => ({ name: MEMORY_NAMES[key], color: ARTICLE_COLOURS[key] }))),
        );
      }
    }
  }

  /** A wider layer: one heatmap per gate and state. */
  function heatmaps(section, layer, k) {
    const grid = html("div", { cls: "heatmaps" }, section);
    for (const q of QUANTITIES) {
      views.push(
        heatmap(grid, {
          layer: k,
          quantity: q,
          matrix: layer[q.key],
          scale: scaleFor(q, layer[q.key]),
          first: view.first,
          observed: view.run,
          onPick: select,
          onCell: (s, u, value) => {
            const changed = unit !== u;
            unit = u;
            if (changed) updateReadout(false);
            announce(
              `Layer ${k + 1} ${q.name.toLowerCase()}, step ${view.first + s + 1}, unit ${u + 1}: ` +
                `${fmtFixed(value, 4)}.`,
            );
          },
        }),
      );
    }
  }

  /** Draw everything for the current view at the current width. */
  function render() {
    views = [seriesChart()];
    views.push(...covariateCharts(dom.covariates, dom.covariateCharts, view, select));
    dom.layers.replaceChildren();
    view.layers.forEach((layer, k) => {
      const units = layer.input_gate[0].length;
      const section = html("section", { cls: "layer", "aria-labelledby": `layer-${k}-title` }, dom.layers);
      const title = html("h3", { id: `layer-${k}-title`, text: `Layer ${k + 1}` }, section);
      html(
        "span",
        { cls: "sub", text: units === 1 ? " · one unit, the article's names" : ` · ${units} units` },
        title,
      );
      const hint = units === 1 ? UNIT_HINT : HEATMAP_HINT;
      const start = view.first
        ? ` They start at step ${view.first + 1}, the first value the model ran over.`
        : "";
      html("p", { cls: "hint", text: hint + start }, section);
      if (units === 1) unitPlots(section, layer, k);
      else heatmaps(section, layer, k);
    });
    for (const v of views) v.setStep(step);
  }

  /** The step's numbers, and (when `speak`) the live region's sentence. */
  function updateReadout(speak = true) {
    const sentence = renderReadout(dom.readout, view, step, unit);
    if (speak) announce(sentence);
  }

  /** Select a step everywhere: slider, charts, heatmaps, numbers. */
  function select(next) {
    if (!view) return;
    step = Math.max(0, Math.min(view.steps - 1, next));
    dom.step.value = String(step);
    const facts = stepFacts(view, step);
    const kind = facts.generated ? "generated" : "observed";
    const last = view.first + view.steps; // the last position the LSTM reached, 1-based
    dom.stepLabel.textContent = `${facts.position + 1} / ${last} · ${kind}`;
    dom.step.setAttribute("aria-valuetext", `Step ${facts.position + 1} of ${last}, ${kind}`);
    dom.results.dataset.selectedStep = String(step);
    for (const v of views) v.setStep(step);
    // A focused heatmap announces its cell instead of the whole step.
    updateReadout(!document.activeElement?.closest?.(".heatmap"));
  }

  /** Show a /forecast response for `request`, with `axis` for the x labels; `features`: featuresOf. */
  function show(response, request, axis, features = null) {
    const internals = response.internals;
    const context = response.context ?? { first_step: 0, steps: request.sequence.length };
    view = {
      request,
      axis: answerAxis(request, response, axis),
      forecastTimes: Array.isArray(response.timestamps) ? response.timestamps : null,
      covariates: sentCovariates(request, features),
      observed: request.sequence,
      forecast: response.forecast,
      lower: response.interval ? response.interval.lower : null,
      upper: response.interval ? response.interval.upper : null,
      level: response.interval ? response.interval.level : null,
      layers: internals.layers,
      steps: internals.steps,
      first: context.first_step,
      run: context.steps,
    };
    view.forecastLabels = forecastLabels(view.axis, view.observed.length, view.forecastTimes);
    unit = null;
    dom.empty.hidden = true;
    dom.output.hidden = false;
    dom.step.max = String(view.steps - 1);
    const counts = `${view.observed.length} observed + ${view.forecast.length} forecast`;
    const shown = view.forecast.slice(0, 8).map(fmtValue).join(", ");
    const values = view.forecast.length > 8 ? `${shown}, …` : shown;
    dom.summary.textContent =
      `${response.model} · version ${response.version} · ${counts} (${view.steps} LSTM steps)` +
      ` · forecast: ${values}`;
    step = view.run - 1; // the step whose output is the first forecast
    dom.contextNote.textContent = contextNote(view);
    Object.assign(dom.contextNote.dataset, { firstStep: String(view.first), steps: String(view.run) });
    width = dom.results.clientWidth;
    render();
    forecastDates(dom.forecastDates, view);
    select(step);
  }

  dom.step.addEventListener("input", () => select(Number(dom.step.value)));
  let pending = 0;
  let width = 0;
  new ResizeObserver(() => {
    if (!view || dom.results.clientWidth === width) return;
    width = dom.results.clientWidth;
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => render());
  }).observe(dom.results);

  return { show };
}
