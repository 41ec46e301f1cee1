// Fleet: every machine's state now, OEE of the day (A, P, Q), health and open tickets; sortable, live.
import { api, enc } from "../api.js";
import { dayWindow, localTime, pct } from "../time.js";
import { el, section, severityChip, sortableTable, stateChip } from "../ui.js";
import { dayPicker, header, machineLink, machines } from "./common.js";

const RANK = { ok: 0, warning: 1, critical: 2 };

async function load(ctx) {
  const list = await machines();
  const window = dayWindow(ctx.day, ctx.tz);
  const [oee, twins, tickets] = await Promise.all([
    api("/fleet/oee", { query: { by: "day", ...window } }),
    Promise.all(list.map((m) => api(`/machines/${enc(m.machine_id)}/twin`).catch(() => null))),
    Promise.all(list.map((m) => api(`/machines/${enc(m.machine_id)}/tickets`, { query: { state: "active", limit: 1000 } }).catch(() => ({ items: [] })))),
  ]);
  const byMachine = Object.fromEntries((oee.machines || []).map((m) => [m.machine_id, m]));
  return list.map((m, i) => {
    const state = twins[i]?.shadows?.state?.reported || {};
    const health = twins[i]?.shadows?.health?.reported || null;
    const figures = byMachine[m.machine_id] || {};
    return {
      machine_id: m.machine_id,
      line: m.line,
      category: state.category || "unknown",
      program: state.program || "",
      last: state.last_sample_ts || null,
      oee: figures.oee ?? null,
      availability: figures.availability ?? null,
      performance: figures.performance ?? null,
      quality: figures.quality ?? null,
      severity: health ? health.severity || "ok" : null,
      score: health ? health.score : null,
      threshold: health ? health.threshold : null,
      tickets: tickets[i].items.length,
    };
  });
}

const num = (key, value) => el("span", { "data-value": value ?? "" }, pct(value));

export async function render(view, ctx) {
  header(view, "Fleet", dayPicker(ctx, (day) => ctx.go("fleet", "", { day }), "OEE of the day"));
  const status = el("p", { class: "live", id: "fleet-updated" }, "");
  const holder = el("div");
  let sort = { sortKey: "machine_id", dir: 1 };
  const columns = [
    { key: "machine_id", label: "Machine", header: true, value: (r) => r.machine_id, cell: (r) => machineLink(r.machine_id) },
    { key: "line", label: "Line", value: (r) => r.line, cell: (r) => el("a", { href: `#/line/${enc(r.line)}?day=${ctx.day}` }, r.line) },
    { key: "category", label: "State now", value: (r) => r.category, cell: (r) => el("span", { "data-value": r.category }, stateChip(r.category), r.last ? el("small", {}, ` ${r.program} · ${localTime(r.last, ctx.tz, true)}`) : "") },
    { key: "oee", label: "OEE", num: true, value: (r) => r.oee, cell: (r) => num("oee", r.oee) },
    { key: "availability", label: "A", num: true, value: (r) => r.availability, cell: (r) => num("availability", r.availability) },
    { key: "performance", label: "P", num: true, value: (r) => r.performance, cell: (r) => num("performance", r.performance) },
    { key: "quality", label: "Q", num: true, value: (r) => r.quality, cell: (r) => num("quality", r.quality) },
    { key: "health", label: "Health", value: (r) => (r.severity === null ? null : RANK[r.severity] * 1000 + (r.score || 0)), cell: (r) => (r.severity === null ? "—" : el("span", { "data-value": r.severity }, severityChip(r.severity), el("small", {}, ` ${Number(r.score).toFixed(1)} / ${Number(r.threshold).toFixed(1)}`))) },
    { key: "tickets", label: "Open tickets", num: true, value: (r) => r.tickets, cell: (r) => el("span", { "data-value": r.tickets }, String(r.tickets)) },
  ];
  const draw = async () => {
    const rows = await load(ctx);
    holder.replaceChildren(sortableTable("Machines of the fleet", columns, rows, { ...sort, rowAttrs: (r) => ({ "data-machine": r.machine_id }), onSort: (key, dir) => (sort = { sortKey: key, dir }) }));
    status.textContent = `Live: updated ${new Date().toLocaleTimeString("en-GB")}, every ${ctx.settings.refresh_s} s`;
    view.dataset.loaded = "true";
  };
  await draw();
  view.append(section("Machines now", status, holder));
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      await draw();
    } catch (error) {
      status.textContent = `Live update failed: ${error.message}`;
    } finally {
      busy = false;
    }
  }, Math.max(2, Number(ctx.settings.refresh_s) || 5) * 1000);
  return () => clearInterval(timer);
}
