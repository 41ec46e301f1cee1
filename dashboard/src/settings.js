// What the browser needs beyond the API: the chain's JSON-RPC URL and the registry. The local server offers
// them in /dashboard/config.json; the person may set their own node and registry (kept in this browser), so a
// badge need not trust the server that produced the proof.
const KEY = "twinledger.chain";
let loaded = {};

export async function loadSettings() {
  try {
    const answer = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
    loaded = answer.ok ? await answer.json() : {};
  } catch {
    loaded = {};
  }
  return settings();
}

export function settings() {
  let own = {};
  try {
    own = JSON.parse(localStorage.getItem(KEY) || "{}");
  } catch {
    own = {};
  }
  return { refresh_s: 5, ...loaded, ...own };
}

export function setChain(rpcUrl, registry) {
  const own = {};
  if (rpcUrl) own.rpc_url = rpcUrl;
  if (registry) own.anchor_registry = registry;
  if (rpcUrl && rpcUrl !== loaded.rpc_url) own.chain_id = null;
  if (Object.keys(own).length) localStorage.setItem(KEY, JSON.stringify(own));
  else localStorage.removeItem(KEY);
}
