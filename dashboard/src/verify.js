// Checking proof bundles in the browser, exactly as twin_models.anchoring does in Python: the record's hash
// (keccak-256 or SHA-256 of its RFC 8785 form), the Merkle proof (OpenZeppelin StandardMerkleTree leaves:
// keccak256(keccak256(recordHash)), sorted pairs), a maintenance log's hash-chain link, and the registry's
// answers (verifyRecord, anchorOf, verifyLogEntry, logHeadAt). Pure functions but `verifyOnChain`, which
// takes a registry reader. Runs under node as well (tests/unit/test_dashboard_verifier.py).
import canonicalize from "canonicalize";
import { concat, getBytes, hexlify, keccak256, sha256, toBeHex, toUtf8Bytes, zeroPadValue } from "ethers";

/** The RFC 8785 (JCS) text of a JSON value. */
export function canonicalJson(value) {
  return canonicalize(value);
}

/** The 0x hex hash of a JSON-ready record: keccak-256 (default) or SHA-256 of its RFC 8785 UTF-8 bytes. */
export function recordHash(record, algorithm = "keccak256-jcs") {
  const bytes = toUtf8Bytes(canonicalize(record));
  if (algorithm === "keccak256-jcs") return keccak256(bytes);
  if (algorithm === "sha256-jcs") return sha256(bytes);
  throw new Error(`cannot hash a record with algorithm ${algorithm}`);
}

function node(value, what) {
  const bytes = getBytes(value);
  if (bytes.length !== 32) throw new Error(`${what} must be 32 bytes`);
  return bytes;
}

/** The leaf of a record hash: keccak256(keccak256(abi.encode(recordHash))). */
export function leafHash(hash) {
  return keccak256(keccak256(node(hash, "record hash")));
}

function compare(a, b) {
  for (let i = 0; i < 32; i += 1) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** An inner node: keccak-256 of the two children, the smaller first. */
export function hashPair(a, b) {
  const x = node(a, "node");
  const y = node(b, "node");
  return compare(x, y) <= 0 ? keccak256(concat([x, y])) : keccak256(concat([y, x]));
}

/** The root a proof leads to from a leaf. */
export function processProof(leaf, proof) {
  let current = hexlify(node(leaf, "leaf"));
  for (const sibling of proof) current = hashPair(current, sibling);
  return current;
}

/** Whether the proof shows that recordHash belongs to the tree with root. */
export function verifyProof(root, hash, proof) {
  return processProof(leafHash(hash), proof).toLowerCase() === hexlify(node(root, "root")).toLowerCase();
}

/** The head after appending entryHash at index: keccak256(abi.encode(previousHead, entryHash, index)). */
export function chainLink(previousHead, entryHash, index) {
  return keccak256(concat([node(previousHead, "previous head"), node(entryHash, "entry hash"), zeroPadValue(toBeHex(index), 32)]));
}

/** The 32-byte machine id on chain: keccak-256 of its name. */
export function machineKey(machineId) {
  return keccak256(toUtf8Bytes(machineId));
}

const same = (a, b) => typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();

function chainAlgorithm(bundle) {
  return bundle.hash_algorithm === "none" ? "keccak256-jcs" : bundle.hash_algorithm || "keccak256-jcs";
}

/** The hash the Merkle proof starts from: record_hash, or the last chain_after record's. */
export function anchoredHash(bundle) {
  const after = bundle.chain_after || [];
  return after.length ? recordHash(after[after.length - 1], chainAlgorithm(bundle)) : bundle.record_hash;
}

/** The off-line check of ProofBundle.verify_offline: {ok, reason}. */
export function verifyOffline(bundle) {
  try {
    const algorithm = bundle.hash_algorithm || "keccak256-jcs";
    if (bundle.record !== null && bundle.record !== undefined && algorithm !== "none") {
      if (!same(recordHash(bundle.record, algorithm), bundle.record_hash)) {
        return { ok: false, reason: `the record does not hash to record_hash (${algorithm})` };
      }
    }
    const proof = bundle.proof || [];
    const after = bundle.chain_after || [];
    if (after.length) {
      if (bundle.log_index !== null && bundle.log_index !== undefined) {
        return { ok: false, reason: "a bundle follows either chain_after or the registry's log" };
      }
      let previous = bundle.record_hash;
      for (let i = 0; i < after.length; i += 1) {
        if (!after[i] || typeof after[i] !== "object" || !same(after[i].prev_hash, previous)) {
          return { ok: false, reason: `chain_after[${i}] does not link to the record before it (prev_hash)` };
        }
        previous = recordHash(after[i], chainAlgorithm(bundle));
      }
      if (!verifyProof(bundle.root, anchoredHash(bundle), proof)) {
        return { ok: false, reason: "the proof does not lead from the anchored record to root" };
      }
      return { ok: true, reason: "" };
    }
    if (bundle.log_index !== null && bundle.log_index !== undefined) {
      if (proof.length !== 1 || !bundle.log_machine) {
        return { ok: false, reason: "a log entry's bundle needs log_machine and the previous head" };
      }
      if (!same(chainLink(proof[0], bundle.record_hash, bundle.log_index), bundle.root)) {
        return { ok: false, reason: "the entry does not link the previous head to root" };
      }
      return { ok: true, reason: "" };
    }
    if (!verifyProof(bundle.root, bundle.record_hash, proof)) {
      return { ok: false, reason: "the proof does not lead from record_hash to root" };
    }
    return { ok: true, reason: "" };
  } catch (error) {
    return { ok: false, reason: `malformed bundle: ${error.message}` };
  }
}

/**
 * verify_bundle: the off-line check and the registry's answers. `registry` reads the chain:
 * {address, chainId(), anchorOf(root) -> {anchoredAt, blockNumber}, verifyRecord(root, hash, proof),
 * verifyLogEntry(machine, index, previous, hash), logHeadAt(machine, index)}.
 */
export async function verifyBundle(bundle, registry) {
  const reasons = [];
  const offline = verifyOffline(bundle);
  if (!offline.ok) reasons.push(offline.reason);
  if (bundle.contract && !same(bundle.contract, registry.address)) {
    reasons.push(`the bundle names registry ${bundle.contract}, not ${registry.address}`);
  }
  const chainId = await registry.chainId();
  if (bundle.chain_id !== null && bundle.chain_id !== undefined && Number(bundle.chain_id) !== Number(chainId)) {
    reasons.push(`the bundle names chain ${bundle.chain_id}, the node is chain ${chainId}`);
  }
  if (bundle.log_index !== null && bundle.log_index !== undefined) {
    const machine = machineKey(bundle.log_machine || "");
    let onChain = (bundle.proof || []).length === 1 && (await registry.verifyLogEntry(machine, bundle.log_index, bundle.proof[0], bundle.record_hash));
    if (onChain && !same(await registry.logHeadAt(machine, bundle.log_index), bundle.root)) onChain = false;
    if (!onChain) reasons.push(`the chain of ${bundle.log_machine} does not hold this entry at ${bundle.log_index}`);
    return { ok: !reasons.length && onChain, offlineOk: offline.ok, onChain, blockNumber: null, reasons };
  }
  let onChain = false;
  let stored = null;
  try {
    onChain = await registry.verifyRecord(bundle.root, anchoredHash(bundle), bundle.proof || []);
    stored = await registry.anchorOf(bundle.root);
  } catch (error) {
    if (!offline.ok) return { ok: false, offlineOk: false, onChain: false, blockNumber: null, reasons };
    throw error;
  }
  if (!stored || !stored.anchoredAt) reasons.push("the root is not anchored in this registry");
  else if (!onChain) reasons.push("the registry rejects the proof for this record");
  if (stored && stored.anchoredAt && bundle.block_number != null && Number(stored.blockNumber) !== Number(bundle.block_number)) {
    reasons.push(`the root was anchored in block ${stored.blockNumber}, not ${bundle.block_number}`);
  }
  return {
    ok: !reasons.length && onChain,
    offlineOk: offline.ok,
    onChain,
    blockNumber: stored && stored.anchoredAt ? Number(stored.blockNumber) : null,
    anchoredAt: stored && stored.anchoredAt ? new Date(Number(stored.anchoredAt) * 1000).toISOString() : null,
    reasons,
  };
}

/** An invoice's own hash: SHA-256 of the RFC 8785 form of everything but `hash`. */
export function invoiceHash(invoice) {
  const body = { ...invoice };
  delete body.hash;
  return recordHash(body, "sha256-jcs");
}
