// The dashboard's verifier (src/verify.js) as a line protocol on standard input and output, so the Python
// tests can check that the browser computes exactly what twin_models computes. One JSON request a line:
//   {"op": "hash", "record": ..., "algorithm": "keccak256-jcs"}      -> {"hash": "0x..."}
//   {"op": "canonical", "value": ...}                               -> {"text": "..."}
//   {"op": "proof", "root": "0x..", "hash": "0x..", "proof": [...]} -> {"ok": bool, "root": "0x.."}
//   {"op": "link", "previous": "0x..", "entry": "0x..", "index": n}  -> {"head": "0x.."}
//   {"op": "offline", "bundle": {...}}                              -> {"ok": bool, "reason": "..."}
//   {"op": "invoice", "invoice": {...}}                             -> {"hash": "0x.."}
import { createInterface } from "node:readline";
import { canonicalJson, chainLink, invoiceHash, leafHash, processProof, recordHash, verifyOffline, verifyProof } from "../src/verify.js";

function answer(request) {
  switch (request.op) {
    case "hash":
      return { hash: recordHash(request.record, request.algorithm || "keccak256-jcs") };
    case "canonical":
      return { text: canonicalJson(request.value) };
    case "proof":
      return { ok: verifyProof(request.root, request.hash, request.proof), root: processProof(leafHash(request.hash), request.proof) };
    case "link":
      return { head: chainLink(request.previous, request.entry, request.index) };
    case "offline":
      return verifyOffline(request.bundle);
    case "invoice":
      return { hash: invoiceHash(request.invoice) };
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  let reply;
  try {
    reply = answer(JSON.parse(line));
  } catch (error) {
    reply = { error: String(error && error.message) };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
});
