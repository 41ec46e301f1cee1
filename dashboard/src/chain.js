// The chain, asked by the browser itself over JSON-RPC (ethers): the AnchorRegistry's read-only calls a proof
// check makes, and the PayPerUseLease calls of the Lease page. The ABI fragments are the published
// interfaces' (contracts/interfaces/*.sol), so nothing here depends on the server that produced a proof.
import { BrowserProvider, Contract, JsonRpcProvider, Network, keccak256, toUtf8Bytes } from "ethers";

const REGISTRY_ABI = [
  "function verifyRecord(bytes32 root, bytes32 recordHash, bytes32[] proof) view returns (bool)",
  "function anchorOf(bytes32 root) view returns (tuple(uint64 anchoredAt, uint64 blockNumber, uint64 recordCount))",
  "function verifyLogEntry(bytes32 machineId, uint256 index, bytes32 previousHead, bytes32 entryHash) view returns (bool)",
  "function logHeadAt(bytes32 machineId, uint256 index) view returns (bytes32)",
];

const LEASE_ABI = [
  "function lessee() view returns (address)",
  "function periodCount() view returns (uint256)",
  "function period(uint256 index) view returns (tuple(uint64 startsAt, uint64 endsAt, uint64 postedAt, uint32 revision, uint8 status, bytes32 usageRoot, bytes32 invoiceHash, uint256 amount, bytes32 disputeReason))",
  "function effectiveStatus(uint256 index) view returns (uint8)",
  "function disputeWindow() view returns (uint64)",
  "function acknowledge(uint256 index)",
  "function dispute(uint256 index, bytes32 reasonHash)",
];

/** IPayPerUseLease.PeriodStatus, by its number. */
export const PERIOD_STATUS = ["none", "posted", "acknowledged", "disputed", "deemed accepted"];

let current = null;

/** The chain of the settings ({rpc_url, chain_id, anchor_registry}); null without an RPC URL. */
export function connectChain(settings) {
  if (!settings || !settings.rpc_url) return null;
  const key = `${settings.rpc_url}|${settings.chain_id}|${settings.anchor_registry}`;
  if (current && current.key === key) return current;
  const network = settings.chain_id ? Network.from(Number(settings.chain_id)) : undefined;
  const provider = new JsonRpcProvider(settings.rpc_url, network, { staticNetwork: network, polling: false, batchMaxCount: 1 });
  const registry = settings.anchor_registry ? new Contract(settings.anchor_registry, REGISTRY_ABI, provider) : null;
  current = { key, settings, provider, registry };
  return current;
}

/** A registry reader for verify.js's verifyBundle. */
export function registryReader(chain) {
  const contract = chain.registry;
  return {
    address: chain.settings.anchor_registry,
    chainId: async () => (await chain.provider.getNetwork()).chainId,
    anchorOf: async (root) => {
      const anchored = await contract.anchorOf(root);
      return { anchoredAt: Number(anchored.anchoredAt), blockNumber: Number(anchored.blockNumber) };
    },
    verifyRecord: (root, hash, proof) => contract.verifyRecord(root, hash, proof),
    verifyLogEntry: (machine, index, previous, hash) => contract.verifyLogEntry(machine, index, previous, hash),
    logHeadAt: (machine, index) => contract.logHeadAt(machine, index),
  };
}

/** The lease contract at address, read-only. */
export function leaseContract(chain, address) {
  return new Contract(address, LEASE_ABI, chain.provider);
}

/** A period's state on the lease contract: {status, effective, invoiceHash, postedAt, amount}. */
export async function leasePeriod(chain, address, index) {
  const lease = leaseContract(chain, address);
  const period = await lease.period(index);
  const effective = Number(await lease.effectiveStatus(index));
  return {
    status: PERIOD_STATUS[Number(period.status)] || String(period.status),
    effective: PERIOD_STATUS[effective] || String(effective),
    invoiceHash: period.invoiceHash,
    postedAt: Number(period.postedAt),
    amount: period.amount,
  };
}

/**
 * The lessee answers a period on the contract, signing with its own account: an injected wallet when the
 * browser has one, else the node's unlocked account that the contract names as lessee (a local devnet).
 */
export async function answerPeriod(chain, address, index, answer, reason = "") {
  const lease = leaseContract(chain, address);
  const lessee = await lease.lessee();
  let signer;
  if (globalThis.ethereum) {
    signer = await new BrowserProvider(globalThis.ethereum).getSigner();
  } else {
    signer = await chain.provider.getSigner(lessee);
  }
  const connected = lease.connect(signer);
  const tx = answer === "acknowledge" ? await connected.acknowledge(index) : await connected.dispute(index, keccak256(toUtf8Bytes(reason)));
  const receipt = await tx.wait();
  return receipt.hash;
}
