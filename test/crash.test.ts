/**
 * Workers die and FCM goes down, under the soak's 30% transient failures:
 * nothing is lost, and nothing is delivered twice except what a killed worker
 * had sent but not yet recorded (the crash-after-accept window, counted).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { QueryDocumentSnapshot } from "firebase-admin/firestore";
import { triggerScheduledSweep } from "../tools/scheduler.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { PROJECT_ID, REGION, stackEnv, stackParam } from "../tools/lib/env.ts";
import { createMessage, recipientStates, seedDevices, type RecipientState } from "../tools/lib/fixtures.ts";
import { acceptedFor, attemptTimes, configureStandIn, sendAttempts, type AcceptedMessage } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { killStackWorkers, stackWorkers, type Worker } from "./support/workers.ts";

const LEASE_SECONDS = stackParam("DELIVERY_LEASE_SECONDS");
/** The functions that claim and send: the task, and the trigger that sends a window's first batch inline. */
const DISPATCHERS = ["dispatchBatch", "onRecipientCreated"] as const;
/** Transient FCM answers that become final once the attempts are spent. */
const TRANSIENT_FINAL = [429, 500, 503];
/** What the sweep gives a recipient whose lease ran out with no attempts left. */
const LEASE_EXPIRED = 504;
/** The soak's failure rate: 10% each of 503 (retried inside sendEach too), 500 and 429. */
const FAILURE_RATE = 0.3;
const SOAK_LATENCY_MS = 50;

function recipients(messageId: string) {
  return adminDb().collection("messages").doc(messageId).collection("recipients");
}

/** Writes pending recipients the way a job does (batched commits of the contract's writer fields). */
async function writePending(messageId: string, devices: Array<{ deviceId: string }>): Promise<void> {
  for (let start = 0; start < devices.length; start += 500) {
    const batch = adminDb().batch();
    for (const device of devices.slice(start, start + 500)) {
      batch.create(recipients(messageId).doc(), { deviceId: device.deviceId, userId: null, status: -1, statusMessage: null, attempts: 0 });
    }
    await batch.commit();
  }
}

async function runScheduledSweep(): Promise<void> {
  const res = await triggerScheduledSweep(stackEnv("FUNCTIONS_EMULATOR_ORIGIN"), PROJECT_ID, REGION);
  assert.equal(res.status, 200, `the scheduled run of sweep failed: ${res.status} ${await res.text()}`);
}

/** When a claimed (-2) recipient was claimed: its lease minus the lease length. */
function claimedAtMs(doc: QueryDocumentSnapshot): number {
  const lease = doc.get("leaseExpiresAt") as { toMillis(): number } | null | undefined;
  return lease ? lease.toMillis() - LEASE_SECONDS * 1000 : Number.NaN;
}

type Settled = RecipientState & { messageId: string };

/**
 * Waits until every recipient of `messageIds` is final, running the sweep as
 * its schedule would (every 15 s here) while deliveries go on.
 */
async function settleAll(messageIds: string[], total: number, timeoutMs: number): Promise<Settled[]> {
  let lastSweep = 0;
  await waitFor(
    `${total} recipients to reach a final status`,
    async () => {
      if (Date.now() - lastSweep > 15_000) {
        lastSweep = Date.now();
        await runScheduledSweep();
      }
      const [open, present] = await Promise.all([
        Promise.all(messageIds.map((id) => recipients(id).where("status", "in", [-1, -2]).count().get())),
        Promise.all(messageIds.map((id) => recipients(id).count().get())),
      ]);
      const stillOpen = open.reduce((sum, snapshot) => sum + snapshot.data().count, 0);
      const written = present.reduce((sum, snapshot) => sum + snapshot.data().count, 0);
      return stillOpen === 0 && written === total ? true : undefined;
    },
    timeoutMs,
    1_000,
  );
  const states: Settled[] = [];
  for (const messageId of messageIds) for (const state of (await recipientStates(messageId)).values()) states.push({ ...state, messageId });
  return states;
}

function countBy<T>(items: T[], key: (item: T) => string | number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** Accepted messages per token. */
function acceptsByToken(accepted: AcceptedMessage[]): Map<string, AcceptedMessage[]> {
  const byToken = new Map<string, AcceptedMessage[]>();
  for (const entry of accepted) {
    const token = entry.message.token as string;
    byToken.set(token, [...(byToken.get(token) ?? []), entry]);
  }
  return byToken;
}

describe("workers die and FCM goes down", () => {
  after(() => configureStandIn({ latencyMs: 0, failureRate: 0, outage: false }));

  it("kill -9 of the dispatch workers mid-batch, three times: every recipient final, duplicates only in the crash-after-accept window", async () => {
    const KILLS = 3;
    const PER_KILL = 120;
    const total = KILLS * PER_KILL;
    const started = Date.now();
    // A slow FCM keeps each batch in flight (sent, answer not yet back) for seconds.
    await configureStandIn({ latencyMs: 1500, failureRate: FAILURE_RATE });

    const devices = await seedDevices(Array.from({ length: total }, () => ({})));
    const tokenOf = new Map(devices.map((device) => [device.deviceId, device.token]));
    const messageId = await createMessage({ title: "Crash", body: "Its workers are killed while sending." });

    const killedWorkers: Worker[] = [];
    let lastKillAt = 0;
    for (let kill = 1; kill <= KILLS; kill++) {
      await writePending(messageId, devices.slice((kill - 1) * PER_KILL, kill * PER_KILL));
      const since = lastKillAt;
      // A batch mid-send: claimed after the last kill, and the stand-in has received
      // its sends but holds the answers back, so nothing is written yet.
      await waitFor(
        `a batch in flight before kill ${kill}`,
        async () => {
          const claimed = await recipients(messageId).where("status", "==", -2).get();
          const fresh = claimed.docs.filter((doc) => claimedAtMs(doc) > since).map((doc) => tokenOf.get(doc.get("deviceId") as string) ?? "");
          if (fresh.length === 0) return undefined;
          const sent = await Promise.all(fresh.slice(0, 25).map((token) => sendAttempts(token)));
          return sent.some((n) => n > 0) ? true : undefined;
        },
        120_000,
        100,
      );
      lastKillAt = Date.now();
      const killed = killStackWorkers(DISPATCHERS);
      assert.ok(killed.length > 0, `kill ${kill}: no dispatch worker of this stack was found to kill`);
      killedWorkers.push(...killed);
    }

    // Back to the soak's pace. The killed workers' claims stay at -2 until their
    // lease runs out (every one was made before the last kill); only then may the
    // sweep take them back. A live worker finishes far inside its lease, so what
    // is still at -2 with a lapsed lease is exactly what the dead workers held.
    await configureStandIn({ latencyMs: SOAK_LATENCY_MS, failureRate: FAILURE_RATE });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastKillAt + LEASE_SECONDS * 1000 - Date.now()) + 1_000));
    const lapsed = await recipients(messageId).where("status", "==", -2).get();
    const killedClaims = new Map(
      lapsed.docs.filter((doc) => claimedAtMs(doc) + LEASE_SECONDS * 1000 < Date.now()).map((doc) => [doc.id, doc.get("deviceId") as string] as const),
    );
    assert.ok(killedClaims.size > 0, "the killed workers held claims");
    const sweptFrom = Date.now();
    const states = await settleAll([messageId], total, 180_000);
    const seconds = (Date.now() - started) / 1000;

    assert.equal(states.length, total, "no recipient lost");
    const accepted = acceptsByToken(await acceptedFor(devices.map((device) => device.token)));
    // The window: killed claims whose message the stand-in had accepted before the
    // sweep took them back. Nothing else could send them in between (they stayed at -2).
    const window = new Set(
      [...killedClaims].filter(([, deviceId]) => (accepted.get(tokenOf.get(deviceId) ?? "") ?? []).some((entry) => Date.parse(entry.receivedAt) < sweptFrom)).map(([id]) => id),
    );
    assert.ok(window.size > 0, "some killed worker had been accepted by FCM without writing its outcome");
    const duplicates: string[] = [];
    for (const state of states) {
      const times = accepted.get(tokenOf.get(state.deviceId as string) ?? "")?.length ?? 0;
      const label = `recipient ${state.id} (${state.status} ${state.statusMessage ?? ""}, accepted ${times}×)`;
      assert.ok(state.status !== -1 && state.status !== -2, `${label} is not final`);
      if (times > 1) duplicates.push(state.id);
      if (window.has(state.id)) {
        // Accepted by the killed worker; sent again after the sweep unless its attempts were spent.
        assert.ok(times <= 2, label);
        assert.ok(state.status === 200 || state.status === LEASE_EXPIRED || TRANSIENT_FINAL.includes(state.status), label);
        if (state.status !== 200) assert.equal(times, 1, label);
      } else if (state.status === 200) {
        assert.equal(times, 1, `${label}: a 200 is accepted exactly once`);
      } else {
        assert.equal(times, 0, `${label}: a failed recipient was never accepted`);
        assert.ok(TRANSIENT_FINAL.includes(state.status) || (state.status === LEASE_EXPIRED && killedClaims.has(state.id)), label);
        assert.ok(state.statusMessage, `${label} says why`);
      }
    }
    assert.ok(duplicates.length <= window.size, `${duplicates.length} duplicates, window ${window.size}`);
    assert.deepEqual(duplicates.filter((id) => !window.has(id)), [], "no duplicate outside the crash-after-accept window");

    console.log(
      "crash figures:",
      JSON.stringify({
        kills: KILLS,
        workersKilled: countBy(killedWorkers, (worker) => worker.target),
        // The emulator replaces a dead worker with a new process for the next request.
        newWorkersAfter: stackWorkers(DISPATCHERS).filter((worker) => !killedWorkers.some((dead) => dead.pid === worker.pid)).length,
        recipients: total,
        killedClaims: killedClaims.size,
        crashAfterAcceptWindow: window.size,
        duplicates: duplicates.length,
        finalByStatus: countBy(states, (state) => state.status),
        killedClaimsFinal: countBy(states.filter((state) => killedClaims.has(state.id)), (state) => state.status),
        leaseSeconds: LEASE_SECONDS,
        seconds: Math.round(seconds),
      }),
    );
  });

  it("FCM answers every send 503 for 15 seconds, then recovers: every recipient final, none lost, nothing twice", async () => {
    // Far longer than every retry a recipient gets on the local stack (3 attempts, backoff from 200 ms), so some spend them all in it.
    const OUTAGE_MS = 15_000;
    const started = Date.now();
    await configureStandIn({ latencyMs: SOAK_LATENCY_MS, failureRate: FAILURE_RATE, outage: false });
    const devices = await seedDevices(Array.from({ length: 350 }, () => ({})));
    const tokenOf = new Map(devices.map((device) => [device.deviceId, device.token]));
    const [before, during, afterwards] = [devices.slice(0, 150), devices.slice(150, 250), devices.slice(250)];

    // Deliveries under way when FCM goes down.
    const beforeId = await createMessage({ title: "Before", body: "Sent as FCM goes down." });
    await writePending(beforeId, before);
    await waitFor("deliveries to be under way", async () => ((await acceptedFor(before.map((d) => d.token))).length >= 20 ? true : undefined), 60_000, 250);

    let outageStart = 0;
    let outageEnd = 0;
    const duringId = await createMessage({ title: "During", body: "Sent while FCM is down." });
    try {
      await configureStandIn({ outage: true });
      outageStart = Date.now();
      await writePending(duringId, during);
      // Sweeps keep running through the outage, as scheduled.
      for (let waited = 0; waited < OUTAGE_MS; waited += 7_500) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(7_500, OUTAGE_MS - waited)));
        await runScheduledSweep();
      }
    } finally {
      outageEnd = Date.now();
      await configureStandIn({ outage: false });
    }
    const afterId = await createMessage({ title: "After", body: "Sent once FCM is back." });
    await writePending(afterId, afterwards);

    const states = await settleAll([beforeId, duringId, afterId], devices.length, 180_000);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(states.length, devices.length, "no recipient lost");

    const allAccepted = await acceptedFor(devices.map((device) => device.token));
    assert.deepEqual(
      allAccepted.filter((entry) => Date.parse(entry.receivedAt) > outageStart && Date.parse(entry.receivedAt) < outageEnd).map((entry) => entry.message.token),
      [],
      "nothing was accepted during the outage",
    );
    const accepted = acceptsByToken(allAccepted);
    for (const state of states) {
      const times = accepted.get(tokenOf.get(state.deviceId as string) ?? "")?.length ?? 0;
      const label = `recipient ${state.id} (${state.status} ${state.statusMessage ?? ""}, accepted ${times}×)`;
      if (state.status === 200) {
        assert.equal(times, 1, `${label}: a 200 is accepted exactly once`);
      } else {
        assert.ok(TRANSIENT_FINAL.includes(state.status), `${label}: final with a transient FCM status`);
        assert.equal(times, 0, `${label}: a failed recipient was never accepted`);
        // FCM's own code (UNAVAILABLE, INTERNAL…), or firebase-admin's for an error with no HTTP answer (a timeout).
        assert.match(state.statusMessage ?? "", /^([A-Z_]+|[a-z]+\/[a-z-]+): /, `${label}: its statusMessage gives the last error`);
      }
    }
    // Every send request a recipient got, by arrival time: one whose requests all fell
    // inside the outage spent its attempts there, and must end 503 with FCM's error.
    const requestTimes = new Map(await Promise.all(devices.map(async (device) => [device.token, await attemptTimes(device.token)] as const)));
    const inOutage = (t: number) => t > outageStart && t < outageEnd;
    let attemptedInOutage = 0;
    const spentInOutage: Settled[] = [];
    for (const state of states) {
      const times = requestTimes.get(tokenOf.get(state.deviceId as string) ?? "") ?? [];
      if (times.some(inOutage)) attemptedInOutage += 1;
      if (times.length > 0 && times.every(inOutage)) {
        spentInOutage.push(state);
        assert.equal(state.status, 503, `recipient ${state.id} was only ever sent during the outage`);
        assert.match(state.statusMessage ?? "", /^UNAVAILABLE: /, `recipient ${state.id}`);
      }
    }
    assert.ok(attemptedInOutage > 0, "sends were attempted during the outage");
    const byMessage = (messageId: string) => states.filter((state) => state.messageId === messageId);
    assert.ok(byMessage(afterId).some((state) => state.status === 200), "delivery works again once FCM is back");

    const outcome = (list: RecipientState[]) => {
      const afterRecovery = list.filter((state) => (accepted.get(tokenOf.get(state.deviceId as string) ?? "") ?? []).some((entry) => Date.parse(entry.receivedAt) >= outageEnd));
      return { recipients: list.length, finalByStatus: countBy(list, (state) => state.status), deliveredAfterRecovery: afterRecovery.length };
    };
    console.log(
      "outage figures:",
      JSON.stringify({
        outageSeconds: Math.round((outageEnd - outageStart) / 1000),
        recipients: devices.length,
        attemptedInOutage,
        attemptsSpentInOutage: spentInOutage.length,
        sentAsOutageBegan: outcome(byMessage(beforeId)),
        writtenDuringOutage: outcome(byMessage(duringId)),
        writtenAfterRecovery: outcome(byMessage(afterId)),
        acceptedTwice: [...accepted.values()].filter((list) => list.length > 1).length,
        seconds: Math.round(seconds),
      }),
    );
  });
});

