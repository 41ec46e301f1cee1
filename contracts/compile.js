#!/usr/bin/env node
// Compiles every contracts/*.sol with the pinned solc-js and writes contracts/artifacts/<Name>.json
// (abi, bytecode, deployedBytecode, compiler settings) plus identical copies in
// functions/chalicelib/adapters/chain/artifacts/, which the Lambda bundle carries, and in
// twinledger/verify/artifacts/, which the wheel carries for `twinledger verify`. Imports resolve from
// contracts/ and node_modules/, so no third-party Solidity source is kept in the repository.
//
//   node contracts/compile.js            write the artifacts
//   node contracts/compile.js --check    exit 1 when a committed artifact differs from a fresh build
//   node contracts/compile.js --out DIR  write the artifacts to DIR only
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = path.resolve(__dirname, '..');
const CONTRACTS = path.join(ROOT, 'contracts');
const SETTINGS = {
  evmVersion: 'shanghai',
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function parseArgs(argv) {
  const args = {
    check: false,
    out: [
      path.join(CONTRACTS, 'artifacts'),
      path.join(ROOT, 'functions', 'chalicelib', 'adapters', 'chain', 'artifacts'),
      path.join(ROOT, 'twinledger', 'verify', 'artifacts'),
    ],
  };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--check') args.check = true;
    else if (argv[i] === '--out') args.out = [path.resolve(argv[(i += 1)])];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

function findImport(importPath) {
  const candidates = [path.join(ROOT, importPath), path.join(ROOT, 'node_modules', importPath)];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
  }
  return { error: `import not found: ${importPath}` };
}

function compile() {
  const sources = {};
  for (const name of fs.readdirSync(CONTRACTS).sort()) {
    if (name.endsWith('.sol')) {
      sources[`contracts/${name}`] = { content: fs.readFileSync(path.join(CONTRACTS, name), 'utf8') };
    }
  }
  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const message of output.errors || []) process.stderr.write(`${message.formattedMessage}\n`);
  if (errors.length > 0) throw new Error(`solc reported ${errors.length} error(s)`);
  const artifacts = {};
  for (const sourceName of Object.keys(sources)) {
    for (const [contractName, contract] of Object.entries(output.contracts[sourceName] || {})) {
      if (!contract.evm.bytecode.object) continue; // interfaces and abstract contracts
      artifacts[contractName] = {
        contractName,
        sourceName,
        compiler: { name: 'solc', version: solc.version(), settings: SETTINGS },
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      };
    }
  }
  return artifacts;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const artifacts = compile();
  let stale = 0;
  const targets = [];
  for (const dir of args.out) {
    if (!args.check) fs.mkdirSync(dir, { recursive: true });
    for (const [name, artifact] of Object.entries(artifacts)) targets.push([path.join(dir, `${name}.json`), artifact]);
  }
  for (const [file, artifact] of targets) {
    const text = `${JSON.stringify(artifact, null, 2)}\n`;
    if (args.check) {
      const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (current !== text) {
        process.stderr.write(`stale artifact: ${path.relative(ROOT, file)}\n`);
        stale += 1;
      }
    } else {
      fs.writeFileSync(file, text);
      process.stdout.write(`wrote ${path.relative(ROOT, file)}\n`);
    }
  }
  if (stale > 0) process.exit(1);
}

main();
