// A proof badge: the browser checks the bundle itself (verify.js) and asks the chain (chain.js).
import { connectChain, registryReader } from "./chain.js";
import { settings } from "./settings.js";
import { el } from "./ui.js";
import { verifyBundle, verifyOffline } from "./verify.js";

const LABELS = {
  checking: "checking…",
  valid: "verified",
  invalid: "invalid",
  pending: "not anchored yet",
  offline: "proof ok, chain not reached",
};

function paint(badge, state, detail) {
  badge.dataset.badge = state;
  badge.className = `badge badge-${state}`;
  badge.replaceChildren(el("span", { "aria-hidden": "true" }, { valid: "✔ ", invalid: "✘ ", pending: "… ", offline: "○ ", checking: "" }[state]), LABELS[state]);
  badge.title = detail || LABELS[state];
  badge.setAttribute("aria-label", `proof ${LABELS[state]}${detail ? `: ${detail}` : ""}`);
}

/**
 * A badge for a proof bundle (or a promise of one; null while not anchored). Resolves the bundle, checks it
 * off line, then on chain; the result is on the element: data-badge = valid | invalid | pending | offline.
 */
export function proofBadge(bundleOrPromise, what = "record") {
  const badge = el("span", { class: "badge", role: "status", "data-what": what });
  paint(badge, "checking");
  (async () => {
    let bundle;
    try {
      bundle = await bundleOrPromise;
    } catch (error) {
      paint(badge, error && error.status === 409 ? "pending" : "invalid", error && error.message);
      return;
    }
    if (!bundle) {
      paint(badge, "pending", "no anchored proof yet");
      return;
    }
    const offline = verifyOffline(bundle);
    if (!offline.ok) {
      paint(badge, "invalid", offline.reason);
      return;
    }
    const chain = connectChain(settings());
    if (!chain || !chain.registry) {
      paint(badge, "offline", "no chain JSON-RPC configured");
      return;
    }
    try {
      const result = await verifyBundle(bundle, registryReader(chain));
      if (result.ok) paint(badge, "valid", `on chain ${settings().chain_id ?? ""}${result.blockNumber ? `, block ${result.blockNumber}` : ""}`);
      else paint(badge, "invalid", result.reasons.join("; "));
      badge.dataset.block = result.blockNumber ?? "";
    } catch (error) {
      paint(badge, "offline", `the chain did not answer: ${error.shortMessage || error.message}`);
    }
  })();
  return badge;
}
