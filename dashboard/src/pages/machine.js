// Machine: the day's state timeline with shifts and breaks, OEE by shift (A, P, Q) with each shift result's
// proof, the six big losses as a Pareto chart, health with its threshold and trend, tickets, the maintenance
// history with a proof badge per entry, and the usage of the billing period.
import { all, api, enc } from "../api.js";
import { proofBadge } from "../badge.js";
import { chart } from "../charts.js";
import { dayWindow, hours, localTime, nextDay, pct, zonedTime } from "../time.js";
import { CATEGORY_COLORS, el, notice, scroller, section, severityChip, simpleTable, stateChip } from "../ui.js";
import { dayPicker, header, leaseOf, machines, proofOf, select } from "./common.js";

export const SIX_LOSSES = [
  ["breakdowns", "Breakdowns"],
  ["setup_adjustments", "Setup & adjustments"],
  ["small_stops", "Small stops"],
  ["reduced_speed", "Reduced speed"],
  ["startup_rejects", "Start-up rejects"],
  ["production_rejects", "Production rejects"],
];

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function hm(text) {
  const [h, m] = text.split(":").map(Number);
  return [h, m];
}

/** The shifts and breaks of a plant day, as [name, startMs, endMs, breaks[[s, e]]]. */
export function shiftsOf(calendar, day, tz) {
  return (calendar.shifts || []).map((shift) => {
    const start = zonedTime(day, tz, ...hm(shift.start));
    let end = zonedTime(day, tz, ...hm(shift.end));
    if (end <= start) end = zonedTime(nextDay(day), tz, ...hm(shift.end));
    const breaks = (shift.breaks || []).map(([s, e]) => {
      let bs = zonedTime(day, tz, ...hm(s));
      if (bs < start) bs = zonedTime(nextDay(day), tz, ...hm(s));
      let be = zonedTime(day, tz, ...hm(e));
      if (be <= bs) be = zonedTime(nextDay(day), tz, ...hm(e));
      return [bs, be];
    });
    return { name: shift.name, start, end, breaks };
  });
}

function timeline(data, ctx) {
  const window = dayWindow(ctx.day, ctx.tz);
  const t0 = Date.parse(window.from);
  const t1 = Date.parse(window.to);
  const W = 1000;
  const x = (t) => ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * W;
  const root = svg("svg", { viewBox: `0 0 ${W} 96`, class: "timeline", role: "img", "aria-labelledby": "tl-title" });
  root.append(svg("title", { id: "tl-title" }, `State timeline of ${data.machine_id} on ${ctx.day}, with shifts and breaks`));
  root.append(svg("rect", { x: 0, y: 22, width: W, height: 44, fill: CATEGORY_COLORS.unknown }));
  const spent = {};
  for (const interval of data.intervals || []) {
    const s = Date.parse(interval.start);
    const e = Date.parse(interval.end);
    spent[interval.category] = (spent[interval.category] || 0) + (e - s) / 1000;
    const rect = svg("rect", { x: x(s), y: 22, width: Math.max(0.5, x(e) - x(s)), height: 44, fill: CATEGORY_COLORS[interval.category] || "#888", "data-category": interval.category });
    rect.append(svg("title", {}, `${interval.category} ${localTime(s, ctx.tz)}–${localTime(e, ctx.tz)} (${interval.program || ""})`));
    root.append(rect);
  }
  for (const shift of shiftsOf(ctx.calendar, ctx.day, ctx.tz)) {
    root.append(svg("rect", { x: x(shift.start), y: 2, width: x(shift.end) - x(shift.start), height: 16, fill: "#e8eef7", stroke: "#2f4f7f", "stroke-width": 1 }));
    root.append(svg("text", { x: x(shift.start) + 4, y: 14, "font-size": 11, fill: "#1a2f4f" }, `${shift.name} shift`));
    for (const [bs, be] of shift.breaks) {
      root.append(svg("rect", { x: x(bs), y: 18, width: Math.max(1, x(be) - x(bs)), height: 52, fill: "url(#hatch)", stroke: "#222", "stroke-dasharray": "3 2", class: "break" }, svg("title", {}, `break ${localTime(bs, ctx.tz)}–${localTime(be, ctx.tz)}`)));
    }
  }
  const defs = svg("defs", {}, svg("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, svg("rect", { width: 6, height: 6, fill: "rgba(255,255,255,0.35)" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#222", "stroke-width": 2 })));
  root.prepend(defs);
  for (let h = 0; h <= 24; h += 3) {
    const t = t0 + h * 3600 * 1000;
    root.append(svg("line", { x1: x(t), y1: 66, x2: x(t), y2: 72, stroke: "#444" }));
    root.append(svg("text", { x: Math.min(W - 24, x(t) + 2), y: 86, "font-size": 11, fill: "#222" }, `${String(h).padStart(2, "0")}:00`));
  }
  const legend = el("ul", { class: "legend" }, Object.entries(spent).sort((a, b) => b[1] - a[1]).map(([category, seconds]) => el("li", {}, stateChip(category), ` ${hours(seconds)}`)), el("li", {}, el("span", { class: "swatch hatch", "aria-hidden": "true" }), " break"));
  return el("div", {}, scroller(`State timeline of ${data.machine_id}`, root), legend);
}

/**
 * The record a shift's result was anchored as (the OEE schedule's period record), rebuilt from the figures
 * this page shows: the badge then proves the figures on the screen, not only a hash the server names.
 */
export function shiftRecord(period, figures) {
  const metrics = { ...figures };
  for (const key of ["machine_id", "line", "warnings"]) delete metrics[key];
  return { kind: "oee-period", machine_id: figures.machine_id, label: period.label, shift: period.shift, start: period.start, end: period.end, metrics };
}

/** Whether a shift is over and produced: only such a result is anchored (an open shift has no proof yet). */
function closedWithData(f) {
  return Date.parse(f.period.end) <= Date.now() && ((f.m.total_count || 0) > 0 || (f.m.run_time_s || 0) > 0);
}

function oeeByShift(report, ctx, machineId) {
  const periods = (report.periods || []).filter((p) => p.shift);
  if (!periods.length) return notice("No shift of this day has OEE figures yet.");
  const figures = periods.map((p) => ({ period: p, m: (p.machines || []).find((m) => m.machine_id === machineId) || {} }));
  const bars = chart(`OEE by shift of ${machineId}: availability, performance and quality per shift`, {
    type: "bar",
    data: {
      labels: figures.map((f) => f.period.shift),
      datasets: [
        { label: "Availability", data: figures.map((f) => (f.m.availability ?? 0) * 100), backgroundColor: "#2f6db3" },
        { label: "Performance", data: figures.map((f) => (f.m.performance ?? 0) * 100), backgroundColor: "#1f7a3a" },
        { label: "Quality", data: figures.map((f) => (f.m.quality ?? 0) * 100), backgroundColor: "#c9a227" },
      ],
    },
    options: { scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } } },
  });
  const rows = figures.map((f) => {
    const record = `oee/${machineId}/${f.period.start}`;
    return el(
      "tr",
      { "data-shift": f.period.shift, "data-record": record },
      el("th", { scope: "row" }, `${f.period.shift} (${localTime(f.period.start, ctx.tz)}–${localTime(f.period.end, ctx.tz)})`),
      ...["oee", "availability", "performance", "quality"].map((k) => el("td", { class: "num", "data-col": k, "data-value": f.m[k] ?? "" }, pct(f.m[k]))),
      el("td", { class: "num", "data-col": "good" }, `${f.m.good_count ?? 0} / ${f.m.total_count ?? 0}`),
      el("td", {}, closedWithData(f) ? proofBadge(proofOf(record).then((b) => ({ ...b, record: b.record ?? shiftRecord(f.period, f.m) })), "shift result") : el("span", { class: "hint" }, "no result to prove")),
    );
  });
  const table = scroller(
    "OEE by shift",
    el(
      "table",
      { class: "grid", id: "shift-table" },
      el("caption", { class: "sr-only" }, "OEE by shift"),
      el("thead", {}, el("tr", {}, ["Shift", "OEE", "A", "P", "Q", "Good / total", "Proof"].map((h, i) => el("th", { scope: "col", class: i && i < 6 ? "num" : null }, h)))),
      el("tbody", {}, rows),
    ),
  );
  return el("div", {}, bars, table);
}

/** The six big losses, largest first, with the cumulative share. */
export function pareto(losses) {
  const rows = SIX_LOSSES.map(([key, label]) => ({ key, label, seconds: Number(losses?.[key] || 0) })).sort((a, b) => b.seconds - a.seconds);
  const total = rows.reduce((s, r) => s + r.seconds, 0);
  let running = 0;
  for (const r of rows) {
    running += r.seconds;
    r.cumulative = total ? running / total : 0;
  }
  return rows;
}

function paretoChart(total, machineId) {
  const rows = pareto(total.losses_s);
  if (!rows.some((r) => r.seconds > 0)) return notice("No losses recorded on this day.");
  const figure = chart(`Six big losses of ${machineId}, largest first, with the cumulative share`, {
    data: {
      labels: rows.map((r) => r.label),
      datasets: [
        { type: "bar", label: "Loss (h)", data: rows.map((r) => r.seconds / 3600), backgroundColor: "#b3261e", yAxisID: "y" },
        { type: "line", label: "Cumulative %", data: rows.map((r) => r.cumulative * 100), borderColor: "#222", backgroundColor: "#222", yAxisID: "y1" },
      ],
    },
    options: { scales: { y: { title: { display: true, text: "hours" }, beginAtZero: true }, y1: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "%" } } } },
  });
  const table = simpleTable("Six big losses", ["Loss", "Hours", "Cumulative"], rows.map((r) => [r.label, el("span", { "data-loss": r.key, "data-value": r.seconds }, hours(r.seconds)), pct(r.cumulative)]), [1, 2]);
  return el("div", { id: "pareto" }, figure, el("details", {}, el("summary", {}, "Losses as a table"), table));
}

function healthPanel(health, statistics) {
  if (!health) return notice("No health scoring for this machine yet.");
  const max = Math.max(health.critical || 0, health.score || 0) * 1.15 || 1;
  const w = (v) => `${Math.min(100, (v / max) * 100)}%`;
  const gauge = el(
    "div",
    { class: "gauge", role: "img", "aria-label": `health score ${health.score} against threshold ${health.threshold} and critical level ${health.critical}` },
    el("div", { class: "gauge-fill", style: `width:${w(health.score)}` }),
    el("div", { class: "gauge-mark", style: `left:${w(health.threshold)}`, title: "threshold" }),
    el("div", { class: "gauge-mark critical", style: `left:${w(health.critical)}`, title: "critical" }),
  );
  const trend = (statistics?.health_trend || []).map((t) =>
    el(
      "li",
      { "data-component": t.component },
      `${t.component}: ${t.status}`,
      t.projected_critical_at ? ` — critical projected ${new Date(t.projected_critical_at).toISOString().slice(0, 16).replace("T", " ")} UTC` : "",
      t.interval_h ? ` (in ${t.interval_h[0]}–${t.interval_h[1] ?? "open"} h)` : "",
      ` · slope ${Number(t.slope_per_h).toFixed(3)}/h, ${t.points} points over ${t.window_h} h, r² ${t.r2}`,
    ),
  );
  return el(
    "div",
    { id: "health" },
    el("p", {}, severityChip(health.severity), " score ", el("strong", { "data-value": health.score, id: "health-score" }, Number(health.score).toFixed(2)), ` · threshold ${Number(health.threshold).toFixed(2)} · critical ${Number(health.critical).toFixed(2)}`),
    gauge,
    health.action_text ? el("p", {}, health.action_text) : null,
    el("h3", {}, "Trend and projection"),
    trend.length ? el("ul", {}, trend) : el("p", {}, "No trend: too few scorings in the window."),
  );
}

function ticketsTable(tickets, ctx) {
  if (!tickets.length) return notice("No tickets.");
  return simpleTable("Tickets", ["Ticket", "State", "Severity", "Component", "Opened"], tickets.map((t) => [t.ticket_id, t.state, severityChip(t.severity), t.component, localTime(t.opened_at, ctx.tz, true)]));
}

function historyList(entries, ctx) {
  if (!entries.length) return notice("The maintenance log is empty.");
  return el(
    "ol",
    { class: "history" },
    entries.map((e) =>
      el(
        "li",
        { "data-entry": e.entry.entry_id },
        el("div", { class: "row" }, el("strong", {}, e.entry.kind.replace("_", " ")), el("span", {}, ` ${localTime(e.entry.occurred_at, ctx.tz, true)} · ${e.entry.author?.role || ""} ${e.entry.author?.tenant || ""}`), proofBadge(api(`/maintenance/${enc(e.entry.entry_id)}`).then((w) => w.proof), "maintenance entry")),
        e.entry.text ? el("p", {}, e.entry.text) : null,
      ),
    ),
  );
}

/** The billing period of a lease that holds a plant day: [start, end) in the lease's zone. */
export function billingPeriod(lease, day) {
  const tz = lease.timezone || "UTC";
  if (lease.billing_interval === "monthly") {
    const first = `${day.slice(0, 7)}-01`;
    const [y, m] = day.split("-").map(Number);
    const next = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
    return { label: day.slice(0, 7), from: new Date(zonedTime(first, tz)).toISOString(), to: new Date(zonedTime(next, tz)).toISOString() };
  }
  if (lease.billing_interval === "weekly") {
    const [y, m, d] = day.split("-").map(Number);
    const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
    const monday = nextDay(day, -weekday);
    return { label: `week of ${monday}`, from: new Date(zonedTime(monday, tz)).toISOString(), to: new Date(zonedTime(nextDay(monday, 7), tz)).toISOString() };
  }
  return { label: day, from: new Date(zonedTime(day, tz)).toISOString(), to: new Date(zonedTime(nextDay(day), tz)).toISOString() };
}

async function usagePanel(machineId, ctx) {
  const record = await leaseOf(machineId);
  if (!record) return notice("No lease covers this machine.");
  const period = billingPeriod(record.lease, ctx.day);
  const usage = await api(`/leases/${enc(record.lease_id)}/usage`, { query: { from: period.from, to: period.to, machine_id: machineId, limit: 1 } });
  const rows = Object.entries(usage.totals).map(([meter, quantity]) => [meter.replace("_", " "), el("span", { "data-meter": meter, "data-value": quantity }, quantity)]);
  return el("div", { id: "usage" }, el("p", {}, `Lease ${record.lease_id}, billing period ${period.label} (${record.lease.billing_interval}). `, el("a", { href: `#/lease/${enc(record.lease_id)}` }, "Invoices")), rows.length ? simpleTable("Usage this billing period", ["Meter", "Quantity"], rows, [1]) : notice("No usage metered in this period."));
}

export async function render(view, ctx) {
  const list = await machines();
  const machineId = ctx.id || list[0]?.machine_id;
  if (!machineId) {
    header(view, "Machine");
    view.append(notice("No machine is visible to you."));
    return;
  }
  const device = list.find((m) => m.machine_id === machineId) || { machine_id: machineId };
  header(
    view,
    `Machine ${machineId}`,
    select("Machine", list.map((m) => [m.machine_id, m.machine_id]), machineId, (id) => ctx.go("machine", id, { day: ctx.day })),
    dayPicker(ctx, (day) => ctx.go("machine", machineId, { day })),
  );
  view.dataset.machine = machineId;
  const window = dayWindow(ctx.day, ctx.tz);
  const [twin, line, report, tickets, entries, statistics] = await Promise.all([
    api(`/machines/${enc(machineId)}/twin`),
    api(`/machines/${enc(machineId)}/timeline`, { query: window }),
    api(`/machines/${enc(machineId)}/oee`, { query: { by: "shift", ...window } }),
    all(`/machines/${enc(machineId)}/tickets`),
    all(`/machines/${enc(machineId)}/maintenance`),
    api(`/machines/${enc(machineId)}/statistics`).catch(() => null),
  ]);
  const state = twin.shadows?.state?.reported || {};
  const health = twin.shadows?.health?.reported || null;
  view.append(el("p", { class: "summary" }, `${device.line || ""} · ${device.site || ""} · now `, stateChip(state.category || "unknown"), state.last_sample_ts ? ` since the sample of ${localTime(state.last_sample_ts, ctx.tz, true)}` : ""));
  const total = (report.machines || [])[0] || {};
  view.append(
    el(
      "div",
      { class: "cards" },
      section(`State timeline, ${ctx.day}`, timeline(line, ctx)),
      section("OEE by shift", oeeByShift(report, ctx, machineId)),
      section("Six big losses", el("p", {}, "Day total: OEE ", el("strong", { id: "day-oee", "data-value": total.oee ?? "" }, pct(total.oee))), paretoChart(total, machineId)),
      section("Health", healthPanel(health, statistics)),
      section("Tickets", ticketsTable(tickets, ctx)),
      section("Maintenance history", historyList(entries, ctx)),
      section("Usage this billing period", await usagePanel(machineId, ctx)),
    ),
  );
  view.dataset.loaded = "true";
}
