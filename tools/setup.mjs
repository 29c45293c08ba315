#!/usr/bin/env node
// First-run setup shared by `npm start`, `npm test`, `npm run with-stack` and
// `npm run bench`: install what is missing, then build the functions.
// Plain JavaScript with no dependencies, because it runs before anything is installed.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");

function say(line) {
  if (!quiet) console.log(`[setup] ${line}`);
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: quiet ? ["ignore", "ignore", "inherit"] : "inherit" });
  if (result.status !== 0) {
    console.error(`[setup] \`${command} ${args.join(" ")}\` failed in ${cwd} (exit ${result.status ?? result.signal}).`);
    process.exit(result.status || 1);
  }
}

/** Installs a package folder when its node_modules is missing or older than its lock file. */
function ensureInstalled(dir, label) {
  const lock = join(dir, "package-lock.json");
  const marker = join(dir, "node_modules", ".package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say(`installing ${label} dependencies (first run only)…`);
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], dir);
}

ensureInstalled(root, "tooling and test");
ensureInstalled(join(root, "functions"), "functions");
say("building functions…");
run("npm", ["run", "--silent", "build"], join(root, "functions"));
