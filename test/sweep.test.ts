import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { Timestamp, type DocumentData } from "firebase-admin/firestore";
import { triggerScheduledSweep } from "../tools/scheduler.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser } from "../tools/lib/client.ts";
import { PROJECT_ID, REGION, stackEnv, stackParam } from "../tools/lib/env.ts";
import { createMessage, recipientStates, seedDevices, waitUntilFinal, type RecipientState } from "../tools/lib/fixtures.ts";
import { acceptedFor, configureStandIn, sendAttempts } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";

const MAX_ATTEMPTS = stackParam("DELIVERY_MAX_ATTEMPTS");
const DAY_MS = 24 * 3600 * 1000;

/** Runs the real `sweep` function the way its schedule does (see tools/scheduler.ts); 200 means the run succeeded. */
async function runScheduledSweep(): Promise<void> {
  const res = await triggerScheduledSweep(stackEnv("FUNCTIONS_EMULATOR_ORIGIN"), PROJECT_ID, REGION);
  assert.equal(res.status, 200, `the scheduled run of sweep failed: ${res.status} ${await res.text()}`);
}

function recipients(messageId: string) {
  return adminDb().collection("messages").doc(messageId).collection("recipients");
}

/** Writes recipient documents in a state of our choosing; the trigger acts only on creations at -1. */
async function writeRecipients(messageId: string, rows: Array<{ id?: string } & DocumentData>): Promise<string[]> {
  const writer = adminDb().bulkWriter();
  const ids = rows.map(({ id, ...fields }) => {
    const ref = id ? recipients(messageId).doc(id) : recipients(messageId).doc();
    void writer.create(ref, { userId: null, statusMessage: null, attempts: 0, ...fields });
    return ref.id;
  });
  await writer.close();
  return ids;
}

/** Waits until each of `ids` has a final status (the others of the message may stay open). */
async function waitUntilSettled(messageId: string, ids: string[], timeoutMs = 60_000): Promise<Map<string, RecipientState>> {
  return waitFor(
    `${ids.length} recipients of ${messageId} to reach a final status`,
    async () => {
      const states = await recipientStates(messageId);
      const settled = ids.every((id) => {
        const status = states.get(id)?.status;
        return status !== undefined && status !== -1 && status !== -2;
      });
      return settled ? states : undefined;
    },
    timeoutMs,
    500,
  );
}

async function standInStats(): Promise<{ requests: number; accepted: number; injectedFailures: number; errors: Record<string, number> }> {
  const res = await fetch(`${stackEnv("FCM_STAND_IN_URL")}/_stand-in/stats`);
  return (await res.json()) as { requests: number; accepted: number; injectedFailures: number; errors: Record<string, number> };
}

/** How many times each token was accepted by the stand-in. */
async function acceptedCounts(tokens: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const entry of await acceptedFor(tokens)) counts.set(entry.message.token as string, (counts.get(entry.message.token as string) ?? 0) + 1);
  return counts;
}

describe("the sweep", () => {
  after(() => configureStandIn({ latencyMs: 0, failureRate: 0 }));

  it("rescues recipients of a worker that died mid-batch: delivered exactly once, or final once their attempts are spent", async () => {
    const devices = await seedDevices(Array.from({ length: 7 }, () => ({})));
    const messageId = await createMessage({ title: "Rescued", body: "A worker died while sending this." });
    const expired = Timestamp.fromMillis(Date.now() - 10 * 60 * 1000);
    const rescued = devices.slice(0, 4);
    const [spentWithError, spentSilent, live] = devices.slice(4);
    // Claimed by a task that died: -2, one attempt spent, lease run out.
    const stuck = await writeRecipients(
      messageId,
      rescued.map((device) => ({ deviceId: device.deviceId, status: -2, attempts: 1, leaseExpiresAt: expired })),
    );
    const lastError = "messaging/server-unavailable: The service is currently unavailable. (attempt 2 of 3, will retry)";
    const [withError, silent] = await writeRecipients(messageId, [
      { deviceId: spentWithError!.deviceId, status: -2, attempts: MAX_ATTEMPTS, leaseExpiresAt: expired, statusMessage: lastError },
      { deviceId: spentSilent!.deviceId, status: -2, attempts: MAX_ATTEMPTS, leaseExpiresAt: expired },
    ]);
    // A worker still inside its lease: the sweep must leave it alone.
    const [working] = await writeRecipients(messageId, [{ deviceId: live!.deviceId, status: -2, attempts: 1, leaseExpiresAt: Timestamp.fromMillis(Date.now() + 3600_000) }]);

    await runScheduledSweep();
    const states = await waitUntilSettled(messageId, [...stuck, withError!, silent!]);

    for (const id of stuck) {
      const state = states.get(id)!;
      assert.equal(state.status, 200, state.statusMessage ?? "");
      assert.equal(state.attempts, 2, "the dead worker's attempt stays counted");
    }
    const accepted = await acceptedCounts(rescued.map((device) => device.token));
    assert.deepEqual([...accepted.values()], [1, 1, 1, 1], "each rescued recipient was sent exactly once");

    const spent = states.get(withError!)!;
    assert.equal(spent.status, 504);
    assert.equal(spent.statusMessage, `worker lease expired after ${MAX_ATTEMPTS} attempts; last error: ${lastError}`);
    const spentQuiet = states.get(silent!)!;
    assert.equal(spentQuiet.status, 504);
    assert.equal(spentQuiet.statusMessage, `worker lease expired after ${MAX_ATTEMPTS} attempts; no error was recorded`);
    assert.equal(await sendAttempts(spentWithError!.token), 0, "a recipient whose attempts are spent is not sent again");
    assert.equal(await sendAttempts(spentSilent!.token), 0);

    const untouched = states.get(working!)!;
    assert.equal(untouched.status, -2);
    assert.equal(untouched.attempts, 1);
    assert.equal(await sendAttempts(live!.token), 0);
  });

  it("two overlapping sweeps rescue each stuck recipient once", async () => {
    const devices = await seedDevices(Array.from({ length: 450 }, () => ({})));
    const messageId = await createMessage({ title: "Overlap", body: "Two sweeps at once." });
    const expired = Timestamp.fromMillis(Date.now() - 60_000);
    await writeRecipients(
      messageId,
      devices.map((device) => ({ deviceId: device.deviceId, status: -2, attempts: 1, leaseExpiresAt: expired })),
    );

    await Promise.all([runScheduledSweep(), runScheduledSweep()]);
    const states = await waitUntilFinal(messageId, devices.length, 120_000);

    for (const state of states.values()) {
      assert.equal(state.status, 200, state.statusMessage ?? "");
      assert.equal(state.attempts, 2);
    }
    const accepted = await acceptedCounts(devices.map((device) => device.token));
    assert.equal(accepted.size, devices.length);
    assert.ok([...accepted.values()].every((count) => count === 1), "no token was accepted twice");
  });

  it("delivers pending recipients whose dispatch task was lost", async () => {
    const devices = await seedDevices(Array.from({ length: 40 }, () => ({})));
    // A message written an hour ago, older than SWEEP_PENDING_AFTER_SECONDS.
    const messageId = await createMessage({ title: "Lost", body: "Its task never ran.", createdAt: Timestamp.fromMillis(Date.now() - 3600_000) });
    // A pending row with no task: created in a state the trigger ignores, then
    // updated to -1 (an update fires no creation trigger) — what a failed
    // enqueue or a task out of retries leaves behind.
    const ids = await writeRecipients(
      messageId,
      devices.map((device) => ({ deviceId: device.deviceId, status: -4 })),
    );
    const writer = adminDb().bulkWriter();
    for (const id of ids) void writer.update(recipients(messageId).doc(id), { status: -1 });
    await writer.close();

    await runScheduledSweep();
    const states = await waitUntilFinal(messageId, ids.length);

    for (const state of states.values()) {
      assert.equal(state.status, 200, state.statusMessage ?? "");
      assert.equal(state.attempts, 1);
    }
    const accepted = await acceptedCounts(devices.map((device) => device.token));
    assert.equal(accepted.size, devices.length);
    assert.ok([...accepted.values()].every((count) => count === 1));
  });

  it("deletes devices retired over 30 days ago, keeps recent ones, retires stale tokens, leaves re-registered devices alone", async () => {
    const now = Date.now();
    const [oldRetired, recentRetired, stale, reRegistered, fresh] = await seedDevices([
      { retired: true, retiredReason: "unregistered", updatedAt: Timestamp.fromMillis(now - 200 * DAY_MS) },
      { retired: true, retiredReason: "invalid", updatedAt: Timestamp.fromMillis(now - 200 * DAY_MS) },
      { updatedAt: Timestamp.fromMillis(now - 280 * DAY_MS) },
      { retired: true, retiredReason: "invalid", token: `invalid-${randomUUID()}`, userId: `user-${randomUUID()}`, updatedAt: Timestamp.fromMillis(now - 300 * DAY_MS) },
      {},
    ]);
    const devices = adminDb().collection("devices");
    await devices.doc(oldRetired!.deviceId).update({ retiredAt: Timestamp.fromMillis(now - 31 * DAY_MS) });
    await devices.doc(recentRetired!.deviceId).update({ retiredAt: Timestamp.fromMillis(now - DAY_MS) });
    await devices.doc(reRegistered!.deviceId).update({ retiredAt: Timestamp.fromMillis(now - 31 * DAY_MS) });
    // Its token was reported invalid 31 days ago; then its owner's app registered a new token.
    const owner = (await devices.doc(reRegistered!.deviceId).get()).get("userId") as string;
    const app = await signedInUser({}, owner);
    const newToken = `ok-${randomUUID()}`;
    try {
      await app.call("registerDevice", { deviceId: reRegistered!.deviceId, token: newToken, platform: "android" });
    } finally {
      await app.close();
    }

    await runScheduledSweep();
    const staleDoc = await waitFor(
      "the sweep to delete the old retired device and retire the stale one",
      async () => {
        const [gone, retired] = await Promise.all([devices.doc(oldRetired!.deviceId).get(), devices.doc(stale!.deviceId).get()]);
        return !gone.exists && retired.get("retired") === true ? retired : undefined;
      },
    );

    assert.equal(staleDoc.get("retiredReason"), "stale");
    assert.ok((staleDoc.get("retiredAt") as Timestamp).toMillis() > now - 60_000);
    const kept = await devices.doc(recentRetired!.deviceId).get();
    assert.ok(kept.exists, "a device retired yesterday is kept");
    assert.equal(kept.get("retired"), true);
    const back = await devices.doc(reRegistered!.deviceId).get();
    assert.ok(back.exists, "a re-registered device is not deleted");
    assert.equal(back.get("retired"), false);
    assert.equal(back.get("token"), newToken);
    const live = await devices.doc(fresh!.deviceId).get();
    assert.equal(live.get("retired"), false);
  });

  it("deletes messages past the retention period with all their recipients", async () => {
    const now = Date.now();
    const oldMessage = await createMessage({ createdAt: Timestamp.fromMillis(now - 91 * DAY_MS) });
    const keptMessage = await createMessage({ createdAt: Timestamp.fromMillis(now - 89 * DAY_MS) });
    // Finished long ago: written at 200, so the trigger ignores them.
    await writeRecipients(oldMessage, Array.from({ length: 650 }, (_, i) => ({ deviceId: `dev-old-${i}`, status: 200, attempts: 1 })));
    await writeRecipients(keptMessage, Array.from({ length: 3 }, (_, i) => ({ deviceId: `dev-kept-${i}`, status: 200, attempts: 1 })));

    await runScheduledSweep();
    await waitFor("the old message and its recipients to be deleted", async () => {
      const [message, left] = await Promise.all([adminDb().collection("messages").doc(oldMessage).get(), recipients(oldMessage).count().get()]);
      return !message.exists && left.data().count === 0 ? true : undefined;
    });

    assert.ok((await adminDb().collection("messages").doc(keptMessage).get()).exists);
    assert.equal((await recipients(keptMessage).count().get()).data().count, 3);
  });

  it("soak: 2,000 recipients, 30% transient failures, sweeps running alongside: every recipient final, nothing lost, nothing accepted twice", async () => {
    const MESSAGES = 5;
    const PER_MESSAGE = 400;
    const total = MESSAGES * PER_MESSAGE;
    const before = await standInStats();
    const started = Date.now();
    await configureStandIn({ latencyMs: 50, failureRate: 0.3 });
    try {
      const devices = await seedDevices(Array.from({ length: total }, () => ({})));
      const tokenOf = new Map(devices.map((device) => [device.deviceId, device.token]));
      const messageIds: string[] = [];
      for (let m = 0; m < MESSAGES; m++) {
        const messageId = await createMessage({ title: `Soak ${m + 1}`, body: "Load with failures." });
        // A job inserting its rows in batched commits, as a nightly job would.
        const rows = devices.slice(m * PER_MESSAGE, (m + 1) * PER_MESSAGE);
        for (let start = 0; start < rows.length; start += 500) {
          const batch = adminDb().batch();
          for (const device of rows.slice(start, start + 500)) {
            batch.create(recipients(messageId).doc(), { deviceId: device.deviceId, userId: null, status: -1, statusMessage: null, attempts: 0 });
          }
          await batch.commit();
        }
        messageIds.push(messageId);
      }

      let lastSweep = 0;
      await waitFor(
        `${total} soak recipients to reach a final status`,
        async () => {
          // The schedule keeps running while deliveries are under way.
          if (Date.now() - lastSweep > 15_000) {
            lastSweep = Date.now();
            await runScheduledSweep();
          }
          const open = await Promise.all(messageIds.map((id) => recipients(id).where("status", "in", [-1, -2]).count().get()));
          const sizes = await Promise.all(messageIds.map((id) => recipients(id).count().get()));
          const stillOpen = open.reduce((sum, snapshot) => sum + snapshot.data().count, 0);
          const present = sizes.reduce((sum, snapshot) => sum + snapshot.data().count, 0);
          return stillOpen === 0 && present === total ? true : undefined;
        },
        8 * 60_000,
        2_000,
      );
      const seconds = (Date.now() - started) / 1000;

      const states: RecipientState[] = [];
      for (const messageId of messageIds) states.push(...(await waitUntilFinal(messageId, PER_MESSAGE)).values());
      assert.equal(states.length, total, "no recipient lost");
      const byStatus: Record<string, number> = {};
      for (const state of states) byStatus[state.status] = (byStatus[state.status] ?? 0) + 1;
      const retries = states.reduce((sum, state) => sum + state.attempts, 0) - total;

      const accepted = await acceptedCounts(devices.map((device) => device.token));
      const twice = [...accepted.values()].filter((count) => count > 1).length;
      assert.equal(twice, 0, "no token was accepted twice");
      for (const state of states) {
        const token = tokenOf.get(state.deviceId as string)!;
        if (state.status === 200) assert.equal(accepted.get(token), 1, `recipient ${state.id} is 200 and was accepted once`);
        else assert.equal(accepted.get(token) ?? 0, 0, `recipient ${state.id} ended ${state.status} and was never accepted`);
        assert.ok(state.status === 200 || [429, 500, 503].includes(state.status), `recipient ${state.id}: unexpected final ${state.status} ${state.statusMessage ?? ""}`);
      }

      const afterStats = await standInStats();
      console.log(
        "soak figures:",
        JSON.stringify({
          recipients: total,
          messages: MESSAGES,
          sendRequests: afterStats.requests - before.requests,
          injectedFailures: afterStats.injectedFailures - before.injectedFailures,
          retries,
          finalByStatus: byStatus,
          acceptedByStandIn: accepted.size,
          seconds: Math.round(seconds),
        }),
      );
    } finally {
      await configureStandIn({ latencyMs: 0, failureRate: 0 });
    }
  });
});
