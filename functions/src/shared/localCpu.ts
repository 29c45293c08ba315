import { setPriority } from "node:os";

/*
 * On the local stack every function shares the machine's cores; deployed,
 * each instance has its own CPU (shared/sizing.ts), so a broadcast's
 * expansion and record tasks never take CPU from the instance serving a
 * teacher's one-line message. The Functions emulator runs each function in
 * worker processes of its own, so the bulk functions' workers lower their
 * own CPU priority (nice 10) once: with idle cores nothing changes, and on a
 * busy machine the priority lane's call gets the CPU first, as its own
 * instance would. Never done when deployed.
 */

let lowered = false;

/** In the Functions emulator only: this worker process yields the CPU to other work (bulk functions call it). */
export function yieldCpuLocally(): void {
  if (lowered || process.env.FUNCTIONS_EMULATOR !== "true") return;
  lowered = true;
  try {
    setPriority(10);
  } catch {
    // Not permitted here: the worker keeps its priority.
  }
}
