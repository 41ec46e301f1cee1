// What several pages share: the day picker, the machine list, the lease of a machine.
import { all, api, enc } from "../api.js";
import { el } from "../ui.js";

export function dayPicker(ctx, onChange, label = "Day") {
  const id = `day-${Math.random().toString(36).slice(2, 8)}`;
  const input = el("input", { type: "date", id, value: ctx.day, onchange: (e) => e.target.value && onChange(e.target.value) });
  return el("div", { class: "field" }, el("label", { for: id }, label), input);
}

export function select(label, options, value, onChange) {
  const id = `sel-${Math.random().toString(36).slice(2, 8)}`;
  const node = el("select", { id, onchange: (e) => onChange(e.target.value) }, options.map(([v, text]) => el("option", { value: v, selected: v === value }, text)));
  return el("div", { class: "field" }, el("label", { for: id }, label), node);
}

let machinesCache = null;

export async function machines() {
  if (!machinesCache) machinesCache = await all("/machines");
  return machinesCache;
}

export async function leaseOf(machineId) {
  const leases = await all("/leases");
  return leases.find((l) => (l.lease?.machine_ids || []).includes(machineId)) || null;
}

export function proofOf(recordId) {
  return api("/proofs", { query: { record_id: recordId } });
}

export const machineLink = (id) => el("a", { href: `#/machine/${enc(id)}` }, id);

export function header(view, title, ...controls) {
  view.dataset.title = title;
  view.append(el("div", { class: "pagehead" }, el("h1", {}, title), el("div", { class: "controls" }, ...controls)));
}
