// Lease: invoices with their lines, usage against the tariff's tiers, each invoice's state on the lease
// contract (read from the chain by this browser), and the lessee's acknowledge and dispute buttons.
import { all, api, enc } from "../api.js";
import { answerPeriod, connectChain, leasePeriod } from "../chain.js";
import { localTime } from "../time.js";
import { el, notice, section, simpleTable } from "../ui.js";
import { invoiceHash } from "../verify.js";
import { header, select } from "./common.js";

function tierRows(component, quantity) {
  const tiers = component.tiers || [];
  if (!tiers.length) return null;
  let lower = 0;
  return tiers.map((tier) => {
    const upper = tier.up_to === null || tier.up_to === undefined ? null : Number(tier.up_to);
    const used = Math.max(0, Math.min(quantity, upper ?? Infinity) - lower);
    const span = upper === null ? Math.max(used, 1) : upper - lower;
    const row = el(
      "div",
      { class: "tier", "data-tier-from": lower },
      el("span", { class: "tier-label" }, `${lower}–${upper ?? "∞"} at ${tier.unit_price}`),
      el("span", { class: "tier-bar", role: "img", "aria-label": `${used} of ${upper === null ? "no limit" : span} used in this tier` }, el("span", { class: "tier-fill", style: `width:${Math.min(100, (used / span) * 100)}%` })),
      el("span", { class: "tier-used" }, `${used}`),
    );
    lower = upper ?? lower;
    return row;
  });
}

function usageAgainstTiers(lease, invoice) {
  const parts = [];
  for (const component of lease.tariff?.components || []) {
    if (!component.meter) continue;
    const quantity = (invoice?.lines || []).filter((l) => l.component === component.id && l.kind === "usage").reduce((s, l) => s + Number(l.quantity), 0);
    const tiers = tierRows(component, quantity);
    parts.push(el("div", { class: "tariff" }, el("h3", {}, `${component.description} (${component.meter})`), el("p", {}, `${quantity} ${component.unit || ""} this period · `, component.unit_price ? `flat ${component.unit_price} per unit` : `${component.pricing} pricing`), tiers ? el("div", { class: "tiers" }, tiers) : null));
  }
  return parts.length ? parts : [notice("The tariff has no metered component.")];
}

async function contractState(doc, chain) {
  if (!chain) return { text: "chain not configured", state: null };
  if (!doc.anchor || doc.anchor.index === null || doc.anchor.index === undefined || !doc.evidence?.contract_address) return { text: "not posted to the contract yet", state: null };
  const period = await leasePeriod(chain, doc.evidence.contract_address, doc.anchor.index);
  const matches = period.invoiceHash.toLowerCase() === doc.invoice.hash.toLowerCase() && invoiceHash(doc.invoice).toLowerCase() === doc.invoice.hash.toLowerCase();
  return { ...period, matches };
}

export async function render(view, ctx) {
  const leases = await all("/leases");
  const leaseId = ctx.id || ctx.settings.lease_id || leases[0]?.lease_id;
  header(view, "Lease", leases.length ? select("Lease", leases.map((l) => [l.lease_id, l.lease_id]), leaseId, (id) => ctx.go("lease", id)) : "");
  const record = leases.find((l) => l.lease_id === leaseId);
  if (!record) {
    view.append(notice("No lease is visible to you."));
    return;
  }
  const lease = record.lease;
  const invoices = await all(`/leases/${enc(leaseId)}/invoices`);
  const chosen = ctx.params.get("invoice") || invoices[invoices.length - 1]?.invoice_id;
  view.append(el("p", { class: "summary" }, `${lease.lessor} → ${lease.lessee} · ${lease.machine_ids.join(", ")} · billed ${lease.billing_interval} in ${lease.currency} · contract `, el("code", {}, record.contract_address || "none")));
  view.append(
    section(
      "Invoices",
      invoices.length
        ? simpleTable("Invoices of the lease", ["Invoice", "Period", "Total", "Status", "Contract"], invoices.map((i) => [el("a", { href: `#/lease/${enc(leaseId)}?invoice=${enc(i.invoice_id)}`, "aria-current": i.invoice_id === chosen ? "true" : null }, i.invoice_id), i.period, `${i.total} ${i.currency}`, i.status, i.anchor_status]), [2])
        : notice("No invoice issued yet."),
    ),
  );
  if (!chosen) return;
  const doc = await api(`/invoices/${enc(chosen)}`);
  const inv = doc.invoice;
  view.dataset.invoice = chosen;
  view.append(
    section(
      `Invoice ${chosen}`,
      el("p", {}, `${localTime(inv.period_start, lease.timezone, true)} – ${localTime(inv.period_end, lease.timezone, true)} · status `, el("strong", { id: "invoice-status" }, doc.status)),
      simpleTable("Invoice lines", ["Line", "Quantity", "Unit price", "Amount"], inv.lines.map((l) => [l.description, `${l.quantity} ${l.unit || ""}`, l.unit_price ?? "", el("span", { "data-line": l.component, "data-value": l.amount }, l.amount)]), [1, 2, 3]),
      el("p", { class: "totals" }, `Subtotal ${inv.subtotal} · tax ${inv.tax} (${Number(inv.tax_rate) * 100} %) · total `, el("strong", { id: "invoice-total", "data-value": inv.total }, `${inv.total} ${inv.currency}`)),
    ),
  );
  view.append(section("Usage against the tariff", ...usageAgainstTiers(lease, inv)));
  const chain = connectChain(ctx.settings);
  const stateBox = el("div", { id: "contract-state" });
  const drawState = async () => {
    try {
      const state = await contractState(doc, chain);
      stateBox.dataset.state = state.effective || "";
      const children = [el("p", {}, "On the contract: ", el("strong", { "data-contract-status": state.effective || "" }, state.effective || state.text))];
      if (state.effective) {
        children.push(el("p", { class: state.matches ? "ok" : "bad" }, state.matches ? "✔ the invoice hashes (in this browser) to the hash posted on the contract" : "✘ the invoice does not match the hash posted on the contract"));
        children.push(el("p", { class: "hint" }, `period ${doc.anchor.index}, posted ${new Date(state.postedAt * 1000).toISOString().replace(".000Z", "Z")}`));
      }
      const lessee = ctx.claims?.role === "lessee";
      if (lessee && state.effective === "posted") {
        const reason = el("input", { id: "dispute-reason", type: "text", placeholder: "what is wrong" });
        const message = el("p", { role: "status", id: "answer-status" });
        const act = async (answer) => {
          for (const b of stateBox.querySelectorAll("button")) b.disabled = true;
          message.textContent = answer === "acknowledge" ? "Acknowledging on the contract…" : "Disputing on the contract…";
          try {
            if (answer === "dispute" && !reason.value.trim()) throw new Error("a dispute needs a reason");
            const tx = await answerPeriod(chain, doc.evidence.contract_address, doc.anchor.index, answer, reason.value.trim());
            await api(`/invoices/${enc(chosen)}/${answer}`, { method: "POST", body: answer === "dispute" ? { reason: reason.value.trim() } : undefined });
            message.textContent = `Done: transaction ${tx}`;
            ctx.refresh();
          } catch (error) {
            message.textContent = `Not done: ${error.shortMessage || error.message}`;
            for (const b of stateBox.querySelectorAll("button")) b.disabled = false;
          }
        };
        children.push(
          el("div", { class: "actions" }, el("button", { type: "button", class: "primary", id: "acknowledge", onclick: () => act("acknowledge") }, "Acknowledge"), el("div", { class: "field" }, el("label", { for: "dispute-reason" }, "Dispute reason"), reason), el("button", { type: "button", id: "dispute", onclick: () => act("dispute") }, "Dispute")),
          message,
        );
      }
      stateBox.replaceChildren(...children);
    } catch (error) {
      stateBox.replaceChildren(notice(`The contract could not be read: ${error.shortMessage || error.message}`, "error"));
    }
  };
  await drawState();
  view.append(section("State on the lease contract", stateBox));
  view.dataset.loaded = "true";
}
