// Line: the line's time-weighted OEE of the day, its machines, and the worst losses across them.
import { api, enc } from "../api.js";
import { chart } from "../charts.js";
import { dayWindow, hours, pct } from "../time.js";
import { el, notice, section, simpleTable } from "../ui.js";
import { dayPicker, header, machineLink, machines, select } from "./common.js";
import { SIX_LOSSES } from "./machine.js";

/** Every (machine, loss) of the line, largest first. */
export function worstLosses(machineFigures, count = 8) {
  const rows = [];
  for (const m of machineFigures) for (const [key, label] of SIX_LOSSES) rows.push({ machine_id: m.machine_id, key, label, seconds: Number(m.losses_s?.[key] || 0) });
  return rows.filter((r) => r.seconds > 0).sort((a, b) => b.seconds - a.seconds).slice(0, count);
}

export async function render(view, ctx) {
  const lines = [...new Set((await machines()).map((m) => m.line))].sort();
  const lineId = ctx.id || lines[0];
  header(view, `Line ${lineId || ""}`, select("Line", lines.map((l) => [l, l]), lineId, (id) => ctx.go("line", id, { day: ctx.day })), dayPicker(ctx, (day) => ctx.go("line", lineId, { day })));
  if (!lineId) {
    view.append(notice("No line is visible to you."));
    return;
  }
  const report = await api(`/lines/${enc(lineId)}/oee`, { query: { by: "day", ...dayWindow(ctx.day, ctx.tz) } });
  const figures = (report.lines || []).find((l) => l.line === lineId) || report.total || {};
  const kpi = (key, label) => el("div", { class: "kpi" }, el("span", { class: "kpi-label" }, label), el("span", { class: "kpi-value", "data-kpi": key, "data-value": figures[key] ?? "" }, pct(figures[key])));
  view.append(section("Line OEE (time-weighted)", el("div", { class: "kpis" }, kpi("oee", "OEE"), kpi("availability", "Availability"), kpi("performance", "Performance"), kpi("quality", "Quality")), el("p", { class: "hint" }, `Weighted by planned production time over ${(report.machines || []).length} machine(s) on ${ctx.day}.`)));
  const ms = report.machines || [];
  view.append(section("Machines", simpleTable("Machines of the line", ["Machine", "OEE", "A", "P", "Q", "Planned time"], ms.map((m) => [machineLink(m.machine_id), pct(m.oee), pct(m.availability), pct(m.performance), pct(m.quality), hours(m.planned_production_time_s || 0)]), [1, 2, 3, 4, 5])));
  const worst = worstLosses(ms);
  view.append(
    section(
      "Worst losses across machines",
      worst.length
        ? el(
            "div",
            {},
            chart(`Worst losses of line ${lineId}`, { type: "bar", data: { labels: worst.map((w) => `${w.machine_id} ${w.label}`), datasets: [{ label: "Loss (h)", data: worst.map((w) => w.seconds / 3600), backgroundColor: "#b3261e" }] }, options: { indexAxis: "y", plugins: { legend: { display: false } } } }, 40 + worst.length * 30),
            simpleTable("Worst losses", ["Machine", "Loss", "Hours"], worst.map((w) => [w.machine_id, w.label, el("span", { "data-value": w.seconds }, hours(w.seconds))]), [2]),
          )
        : notice("No losses on this day."),
    ),
  );
  view.dataset.loaded = "true";
}
