import { logger } from "firebase-functions";
import { onSchedule } from "firebase-functions/v2/scheduler";
import { SWEEP_SCHEDULE } from "../shared/params";
import { rescueStranded } from "../sending/stranded";
import { runSweep, SWEEP_TIMEOUT_SECONDS } from "../sweep/run";
import { SINGLETON } from "../shared/sizing";

/**
 * The contract's scheduled `sweep`: rescues stuck and lost recipients, retires
 * stale tokens, deletes retired devices and old messages.
 *
 * The interval is the SWEEP_SCHEDULE param. `ScheduleOptions.schedule` is
 * typed as a plain string, but the function manifest takes
 * `string | Expression<string>` and firebase-tools resolves it on deploy and
 * in the emulator like any other param; only the option's type lags behind,
 * hence the cast. No retry: the next run does the same work anyway.
 */
export const sweep = onSchedule(
  {
    schedule: SWEEP_SCHEDULE as unknown as string,
    timeoutSeconds: SWEEP_TIMEOUT_SECONDS,
    retryCount: 0,
    ...SINGLETON,
    memory: "512MiB",
  },
  async () => {
    await runSweep();
    // Broadcast work whose task died for good: parts that stopped, pages sent but never recorded.
    const rescued = await rescueStranded();
    if (rescued.parts + rescued.pages + rescued.resends > 0) logger.warn("sweep: stranded broadcast work rescued", { ...rescued });
  },
);
