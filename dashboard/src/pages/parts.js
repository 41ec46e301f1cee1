// Parts: the parts of a production order or material lot, and one part's quality proof with its EPCIS events.
import { api, enc } from "../api.js";
import { proofBadge } from "../badge.js";
import { localTime } from "../time.js";
import { el, notice, section, simpleTable } from "../ui.js";
import { header, machines, select } from "./common.js";

function partDetail(bundle, ctx) {
  const r = bundle.record;
  const facts = [
    ["Part", r.part_id],
    ["EPC", r.epc],
    ["Result", r.result],
    ["Order / lot", `${r.order_id || "—"} / ${r.material_lot || "—"}`],
    ["Cycle", `${localTime(r.cycle_start, ctx.tz, true)} – ${localTime(r.cycle_end, ctx.tz)} (${r.cycle_time_s} s)`],
    ["Tool", `${r.tool_id} (wear ${r.tool_wear_pct} %)`],
    ["Spindle load", `${r.process?.spindle_load_pct?.mean} % mean`],
    ["Energy", `${r.process?.energy_kwh} kWh`],
  ];
  return el(
    "div",
    { id: "part-detail", "data-part": r.part_id },
    el("p", {}, "Quality proof: ", proofBadge(Promise.resolve(bundle.proof), "part record")),
    el("dl", { class: "facts" }, facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])),
    el("h3", {}, "EPCIS events"),
    simpleTable("EPCIS events of the part", ["Type", "Action", "Business step", "Time", "Event id"], (bundle.events || []).map((e) => [e.type, e.action || "", e.bizStep || "", localTime(e.eventTime, ctx.tz, true), el("code", { class: "wrap" }, e.eventID)])),
  );
}

export async function render(view, ctx) {
  const list = await machines();
  const machineId = ctx.params.get("machine") || list[0]?.machine_id;
  const order = ctx.params.get("order") || "";
  const lot = ctx.params.get("lot") || "";
  const partId = ctx.params.get("part") || "";
  const orderInput = el("input", { id: "order", name: "order", value: order });
  const lotInput = el("input", { id: "lot", name: "lot", value: lot });
  const form = el(
    "form",
    { class: "filters", onsubmit: (e) => { e.preventDefault(); ctx.go("parts", "", { machine: machineId, order: orderInput.value.trim(), lot: lotInput.value.trim() }); } },
    el("div", { class: "field" }, el("label", { for: "order" }, "Production order"), orderInput),
    el("div", { class: "field" }, el("label", { for: "lot" }, "Material lot"), lotInput),
    el("button", { type: "submit" }, "Show parts"),
  );
  header(view, "Parts", select("Machine", list.map((m) => [m.machine_id, m.machine_id]), machineId, (id) => ctx.go("parts", "", { machine: id, order, lot })));
  view.append(form);
  if (!machineId) return;
  const page = await api(`/machines/${enc(machineId)}/parts`, { query: { order, lot, limit: 50 } });
  const link = (p) => el("a", { href: `#/parts?${new URLSearchParams({ machine: machineId, order, lot, part: p.part_id })}` }, p.part_id);
  view.append(
    section(
      `Parts of ${machineId}${order ? `, order ${order}` : ""}${lot ? `, lot ${lot}` : ""}`,
      page.items.length ? el("div", {}, el("p", { id: "part-count", "data-value": page.items.length }, `${page.items.length}${page.next ? "+" : ""} part(s)`), simpleTable("Parts", ["Part", "Result", "Order", "Lot", "Cycle end"], page.items.map((p) => [link(p), p.result, p.order_id || "—", p.material_lot || "—", localTime(p.cycle_end, ctx.tz, true)]))) : notice("No parts match."),
    ),
  );
  if (partId) {
    const bundle = await api(`/parts/${enc(partId)}`);
    view.append(section(`Part ${partId}`, partDetail(bundle, ctx)));
  }
  view.dataset.loaded = "true";
}
