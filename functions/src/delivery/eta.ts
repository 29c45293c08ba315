/**
 * How long until a task's scheduled time, from the `X-CloudTasks-TaskETA`
 * value firebase-functions hands over as `request.scheduledTime` (seconds since
 * the epoch from Cloud Tasks; the Cloud Tasks emulator passes the ISO date it
 * was given, or milliseconds when none was).
 */
export function msUntilEta(scheduledTime: string | undefined, nowMs = Date.now()): number {
  if (!scheduledTime) return 0;
  const numeric = Number(scheduledTime);
  const at = Number.isFinite(numeric) ? (numeric > 1e11 ? numeric : numeric * 1000) : Date.parse(scheduledTime);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : 0;
}

/** The longest a dispatch task that arrived before its time waits it out (only the emulator delivers early). */
export const DISPATCH_EARLY_WAIT_MS = 15_000;

/**
 * Cloud Tasks never runs a task before its scheduled time, and the dispatch
 * relies on that (a window's task that exists has not run yet; a retry waits
 * out its backoff). The Cloud Tasks emulator runs every task at once, so a
 * task that arrives early waits out the difference here; in production this
 * never waits. Waits longer than `maxMs` (a `sendAt` days ahead) are not
 * served: the dispatch's own checks hold such a message back.
 */
export async function waitForEta(scheduledTime: string | undefined, maxMs: number): Promise<void> {
  const early = msUntilEta(scheduledTime);
  if (early > 0 && early <= maxMs) await new Promise((resolve) => setTimeout(resolve, early));
}
