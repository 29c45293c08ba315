#!/usr/bin/env node
// First-run setup shared by `npm start`, `npm test`, `npm run with-stack` and
// `npm run bench`: install what is missing, then build the functions and the
// staff console (which Hosting serves), and make sure a browser is there for
// the console's tests.
// Plain JavaScript with no dependencies, because it runs before anything is installed.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
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
say("building the staff console…");
run(join(root, "node_modules", ".bin", "vite"), ["build", "console", "--logLevel", "warn"], root);
ensureBrowser();

/**
 * The console's browser tests drive Debian's chromium (or CHROME_PATH). Install
 * it with apt when it is missing and we may (root); otherwise say what to do —
 * the tests then fail with the same advice, they never skip.
 */
function ensureBrowser() {
  if (process.env.CHROME_PATH || findBrowser()) return;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (!root || !findOnPath("apt-get")) {
    console.warn("[setup] no chromium found: install it (apt-get install chromium) or set CHROME_PATH, or the console's browser tests fail.");
    return;
  }
  say("installing chromium for the console's browser tests (first run only)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const quietly = { stdio: quiet ? ["ignore", "ignore", "inherit"] : "inherit", env };
  spawnSync("apt-get", ["update", "-qq"], quietly);
  const installed = spawnSync("apt-get", ["install", "-y", "-qq", "chromium"], quietly);
  if (installed.status !== 0 || !findBrowser()) console.warn("[setup] apt-get could not install chromium; the console's browser tests will fail until it is installed or CHROME_PATH is set.");
}

function findBrowser() {
  return ["chromium", "chromium-browser", "google-chrome"].map(findOnPath).find(Boolean);
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
