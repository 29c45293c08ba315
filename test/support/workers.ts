/**
 * The Functions emulator's worker processes of THIS stack, found through
 * /proc and killed with SIGKILL (what an out-of-memory kill or a lost machine
 * does to a Cloud Functions instance: no handler runs, no write is flushed).
 *
 * The emulator runs each invocation in a child process whose environment
 * names the function it serves (`FUNCTION_TARGET`) and the stack it belongs
 * to (`FIRESTORE_EMULATOR_HOST`, `FUNCTIONS_EMULATOR_ORIGIN`, which carry the
 * stack's ports). A worker is ours only when both match this test's stack, so
 * another stack on the same machine (another port offset) is never touched.
 */
import { readdirSync, readFileSync } from "node:fs";
import { stackEnv } from "../../tools/lib/env.ts";

export interface Worker {
  pid: number;
  /** The function the worker serves. */
  target: string;
}

function environmentOf(pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    // Gone already, or another user's process: not ours either way.
    return undefined;
  }
  const env = new Map<string, string>();
  for (const entry of raw.split("\0")) {
    const at = entry.indexOf("=");
    if (at > 0) env.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return env;
}

/** This stack's worker processes serving any of `targets`. */
export function stackWorkers(targets: readonly string[]): Worker[] {
  const firestore = stackEnv("FIRESTORE_EMULATOR_HOST");
  const functions = stackEnv("FUNCTIONS_EMULATOR_ORIGIN");
  const found: Worker[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const env = environmentOf(pid);
    const target = env?.get("FUNCTION_TARGET");
    if (!env || target === undefined || !targets.includes(target)) continue;
    if (env.get("FIRESTORE_EMULATOR_HOST") !== firestore || env.get("FUNCTIONS_EMULATOR_ORIGIN") !== functions) continue;
    found.push({ pid, target });
  }
  return found;
}

/** SIGKILLs this stack's workers serving `targets`; returns the ones that were alive to be killed. */
export function killStackWorkers(targets: readonly string[]): Worker[] {
  const killed: Worker[] = [];
  for (const worker of stackWorkers(targets)) {
    try {
      process.kill(worker.pid, "SIGKILL");
      killed.push(worker);
    } catch (err) {
      // ESRCH: it finished and exited between the scan and the signal.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }
  return killed;
}
