/**
 * FCM's own failures, through the real stack and the stand-in: project-level
 * answers (FCM refusing the project, not a token) stop delivery by themselves
 * and harm no device; a probe or `ops resume` lifts the stop and everything
 * held is delivered once. THIRD_PARTY_AUTH_ERROR fails a recipient without
 * retiring its device.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { after, afterEach, before, describe, it } from "node:test";
import { Timestamp } from "firebase-admin/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { addRecipients, createMessage, recipientStates, seedDevices, waitForTriggersToCatchUp, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { PROJECT_ID, stackEnv, stackParam } from "../tools/lib/env.ts";
import { acceptedFor, configureStandIn } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { triggerScheduled } from "../tools/scheduler.ts";

const run = promisify(execFile);

interface DeliveryStatus {
  paused: boolean;
  reason: string | null;
  by: string | null;
}

interface Report {
  counts: Record<string, number>;
  paused: { reason: string | null; by: string | null } | null;
}

async function ops(...args: string[]): Promise<string> {
  const { stdout } = await run("npx", ["tsx", "tools/ops.ts", ...args], { env: process.env, timeout: 60_000 });
  return stdout;
}

async function runProbe(): Promise<void> {
  const res = await triggerScheduled("fcmProbe", stackEnv("FUNCTIONS_EMULATOR_ORIGIN"), PROJECT_ID);
  assert.ok(res.ok, `fcmProbe answered ${res.status}`);
}

/** Every device as it was seeded: live, switched on, not retired. */
async function assertDevicesUntouched(deviceIds: string[]): Promise<void> {
  const snapshots = await adminDb().getAll(...deviceIds.map((id) => adminDb().collection("devices").doc(id)));
  for (const snapshot of snapshots) {
    assert.equal(snapshot.get("retired"), false, `device ${snapshot.id} retired (${String(snapshot.get("retiredReason"))})`);
    assert.equal(snapshot.get("enabled"), true, `device ${snapshot.id} switched off`);
  }
}

/** Waits until all `count` recipients exist and wait at -1 with no attempt spent. */
async function waitUntilHeld(messageId: string, count: number): Promise<void> {
  let seen = "nothing yet";
  await waitFor(
    `${count} recipients of ${messageId} held pending with no attempt spent (last seen: status/attempts → n)`,
    async () => {
      const states = [...(await recipientStates(messageId)).values()];
      const tally = new Map<string, number>();
      for (const r of states) tally.set(`${r.status}/${r.attempts}`, (tally.get(`${r.status}/${r.attempts}`) ?? 0) + 1);
      seen = JSON.stringify(Object.fromEntries(tally));
      const failed = states.filter((r) => r.status > 0 || r.status === -99);
      assert.deepEqual(failed.map((r) => [r.status, r.statusMessage]), [], "no recipient ended during a project fault");
      return states.length === count && states.every((r) => r.status === -1 && r.attempts === 0) ? true : undefined;
    },
    120_000,
    500,
  ).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; last seen ${seen}`);
  });
}

describe("FCM project-level faults and third-party auth errors", () => {
  let admin: ClientUser;
  let sender: ClientUser;
  before(async () => {
    admin = await signedInUser({ pushSender: true, pushAdmin: true });
    sender = await signedInUser({ pushSender: true });
  });
  afterEach(async () => {
    // A failed test must not leave FCM refusing or delivery stopped for the next.
    await configureStandIn({ projectFault: null });
    await admin.call("setDeliveryPaused", { paused: false });
  });
  after(async () => {
    await configureStandIn({ projectFault: null });
    await admin.call("setDeliveryPaused", { paused: false });
    await admin.close();
    await sender.close();
    // Broadcasts of hundreds of devices leave recipient triggers queued in the Functions emulator.
    await waitForTriggersToCatchUp();
  });

  it("403 without a detail during a 300-device broadcast: delivery stops by itself, no device is harmed, the probe lifts it, each device is reached once", { timeout: 300_000 }, async () => {
    const cohort = `fault-${randomUUID()}`;
    const devices = await seedDevices(Array.from({ length: 300 }, () => ({ attributes: { cohort } })));
    const tokens = devices.map((d) => d.token);
    await configureStandIn({ projectFault: "permission-denied" });
    const { messageId } = await sender.call<{ messageId: string }>("sendMessage", { title: "Snow day", body: "School is closed", audience: { where: { cohort } } }, 120_000);

    const stopped = await waitFor(
      "delivery to be stopped by FCM",
      async () => {
        const status = await admin.call<DeliveryStatus>("getDeliveryStatus", {});
        return status.paused && status.by === "fcm" ? status : undefined;
      },
      120_000,
      500,
    );
    assert.match(stopped.reason ?? "", /^FCM refused the project \(HTTP 403, permission-denied\): PERMISSION_DENIED: Permission 'cloudmessaging\.messages\.create' denied/);
    await waitUntilHeld(messageId, 300);
    await assertDevicesUntouched(devices.map((d) => d.deviceId));
    assert.equal((await acceptedFor(tokens)).length, 0);

    // Everyone who looks sees why: the report, the ops command.
    const report = await sender.call<Report>("getMessageReport", { messageId });
    assert.equal(report.paused?.by, "fcm");
    assert.match(report.paused?.reason ?? "", /HTTP 403/);
    assert.equal(report.counts["-1"], 300);
    const status = JSON.parse(await ops("status", "--json")) as DeliveryStatus;
    assert.equal(status.by, "fcm");
    assert.match(await ops("status"), /FCM refused the project/);
    await assert.rejects(ops("probe"), (err: { code?: number; stdout?: string }) => err.code === 1 && /FCM refuses project/.test(String(err.stdout)));

    // A probe while FCM still refuses changes nothing.
    await runProbe();
    assert.equal((await admin.call<DeliveryStatus>("getDeliveryStatus", {})).by, "fcm");

    await configureStandIn({ projectFault: null });
    assert.match(await ops("probe"), /FCM accepts project/);
    await runProbe();
    const resumed = await admin.call<DeliveryStatus>("getDeliveryStatus", {});
    assert.equal(resumed.paused, false);
    assert.equal(resumed.by, "fcm-probe");
    const states = await waitUntilFinal(messageId, 300, 120_000);
    assert.deepEqual([...new Set([...states.values()].map((r) => `${r.status}/${r.attempts}`))], ["200/1"], "every recipient accepted on its first counted attempt");
    const accepted = await acceptedFor(tokens);
    assert.equal(accepted.length, 300);
    assert.equal(new Set(accepted.map((a) => a.message.token)).size, 300, "each device reached exactly once");
  });

  for (const [fault, status, liftedBy] of [
    ["unauthenticated", 401, "ops resume"],
    ["not-found", 404, "the probe"],
  ] as const) {
    it(`${status} (${fault}) for directly written recipients: stopped, nothing harmed, lifted by ${liftedBy}, each reached once`, { timeout: 240_000 }, async () => {
      const devices = await seedDevices(Array.from({ length: 60 }, () => ({})));
      const tokens = devices.map((d) => d.token);
      await configureStandIn({ projectFault: fault });
      const messageId = await createMessage({ title: `Fault ${fault}` });
      await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
      const stopped = await waitFor(
        "delivery to be stopped by FCM",
        async () => {
          const current = await admin.call<DeliveryStatus>("getDeliveryStatus", {});
          return current.paused && current.by === "fcm" ? current : undefined;
        },
        120_000,
        500,
      );
      assert.match(stopped.reason ?? "", new RegExp(`^FCM refused the project \\(HTTP ${status}, ${fault}\\)`));
      await waitUntilHeld(messageId, 60);
      await assertDevicesUntouched(devices.map((d) => d.deviceId));
      await configureStandIn({ projectFault: null });
      if (liftedBy === "ops resume") {
        assert.equal((JSON.parse(await ops("resume", "--json")) as DeliveryStatus).paused, false);
      } else {
        await runProbe();
        assert.equal((await admin.call<DeliveryStatus>("getDeliveryStatus", {})).by, "fcm-probe");
      }
      const states = await waitUntilFinal(messageId, 60, 120_000);
      assert.deepEqual([...new Set([...states.values()].map((r) => `${r.status}/${r.attempts}`))], ["200/1"]);
      const accepted = await acceptedFor(tokens);
      assert.equal(new Set(accepted.map((a) => a.message.token)).size, 60);
      assert.equal(accepted.length, 60, "each device reached exactly once");
    });
  }

  it("the project over FCM's quota during an 800-device broadcast: the whole project waits FCM's Retry-After, nobody fails, every device is reached once", { timeout: 300_000 }, async () => {
    const cohort = `quota-${randomUUID()}`;
    const devices = await seedDevices(Array.from({ length: 800 }, () => ({ attributes: { cohort } })));
    const tokens = devices.map((d) => d.token);
    // FCM's Retry-After is 60 s; the stand-in answers 20 here, so the test waits a third of that.
    await configureStandIn({ projectFault: "quota", quotaRetryAfterSeconds: 20 });
    const { messageId } = await sender.call<{ messageId: string }>("sendMessage", { title: "Field trip", body: "Forms due Friday", audience: { where: { cohort } } }, 120_000);
    const until = await waitFor(
      "the project to wait for FCM's quota",
      async () => {
        const wait: unknown = (await adminDb().collection("ops").doc("fcmQuota").get()).get("until");
        return wait instanceof Timestamp && wait.toMillis() > Date.now() ? wait.toMillis() : undefined;
      },
      120_000,
      500,
    );
    // The wait is the Retry-After from when it was met.
    assert.ok(until - Date.now() > 10_000 && until - Date.now() <= 21_000, `waits ${Math.round((until - Date.now()) / 1000)} s`);
    assert.equal((await admin.call<DeliveryStatus>("getDeliveryStatus", {})).paused, false, "quota slows delivery down, it does not stop it");
    await configureStandIn({ projectFault: null, quotaRetryAfterSeconds: 60 });
    const states = await waitUntilFinal(messageId, 800, 240_000);
    const outcomes = [...new Set([...states.values()].map((r) => `${r.status}/${r.attempts}`))];
    assert.deepEqual(outcomes, ["200/1"], "nobody failed for quota, and waiting for it spent no attempt");
    const accepted = await acceptedFor(tokens);
    assert.equal(accepted.length, 800);
    assert.equal(new Set(accepted.map((a) => a.message.token)).size, 800, "each device reached exactly once");
    const first = Math.min(...accepted.map((a) => Date.parse(a.receivedAt)));
    assert.ok(first >= until - 1000, "nothing was sent before the wait was over");
  });

  it("one FCM rate for the whole project: a broadcast's pages and a job's batches together send no more than a window's share, and the rest goes in the next windows, each once, no attempt spent", { timeout: 180_000 }, async () => {
    // 120 a minute, counted in the local stack's 10-second windows: 20 per window.
    const perMinute = 120;
    const windowMs = stackParam("FCM_RATE_WINDOW_SECONDS") * 1000;
    const perWindow = (perMinute * windowMs) / 60_000;
    const cohort = `rate-${randomUUID()}`;
    const broadcastDevices = await seedDevices(Array.from({ length: 30 }, () => ({ attributes: { cohort } })));
    const jobDevices = await seedDevices(Array.from({ length: 20 }, () => ({})));
    assert.match(await ops("fcm-rate", String(perMinute)), /FCM rate: 120 sends a minute/);
    try {
      // A new rate holds from the next window: leases an instance took this window (the previous test's sends) stay good until it ends.
      await new Promise((resolve) => setTimeout(resolve, windowMs + 200 - (Date.now() % windowMs)));
      const startWindow = Math.floor(Date.now() / windowMs);
      const { messageId: broadcast } = await sender.call<{ messageId: string }>("sendMessage", { title: "Picture day", body: "Thursday", audience: { where: { cohort } } }, 120_000);
      const job = await createMessage({ title: "Lunch balance", body: "Low" });
      await addRecipients(job, jobDevices.map((d) => ({ deviceId: d.deviceId })));
      const [broadcastStates, jobStates] = await Promise.all([waitUntilFinal(broadcast, 30, 120_000), waitUntilFinal(job, 20, 120_000)]);
      const outcomes = [...new Set([...broadcastStates.values(), ...jobStates.values()].map((r) => `${r.status}/${r.attempts}`))];
      assert.deepEqual(outcomes, ["200/1"], "nobody failed for the rate, and waiting for it spent no attempt");
      const accepted = await acceptedFor([...broadcastDevices, ...jobDevices].map((d) => d.token));
      assert.equal(new Set(accepted.map((a) => a.message.token)).size, 50, "each device reached");
      assert.equal(accepted.length, 50, "each device reached once");
      const perClockWindow = new Map<number, number>();
      for (const a of accepted) {
        const window = Math.floor(Date.parse(a.receivedAt) / windowMs);
        perClockWindow.set(window, (perClockWindow.get(window) ?? 0) + 1);
      }
      const first = perClockWindow.get(startWindow) ?? 0;
      // (It may send nothing: on a cold stack the first worker processes start after it ends.)
      assert.ok(first <= perWindow, `the first window sent ${first}, at most its share of ${perWindow}`);
      // Arrivals trail their grants by milliseconds, so a window may show a send granted at the end of the one before: bound the running total.
      const last = Math.max(...perClockWindow.keys());
      let sum = 0;
      for (let window = startWindow; window <= last; window++) {
        sum += perClockWindow.get(window) ?? 0;
        assert.ok(sum <= (window - startWindow + 1) * perWindow, `${sum} sent by the end of window ${window - startWindow}, more than ${(window - startWindow + 1) * perWindow}`);
      }
      assert.ok([...perClockWindow.values()].filter((n) => n > 0).length >= 3, "50 sends at 20 a window take three windows at least");
    } finally {
      await ops("fcm-rate", "default");
    }
  });

  it("THIRD_PARTY_AUTH_ERROR fails the recipient with 401 and its code, keeps the device live, and does not stop delivery", { timeout: 120_000 }, async () => {
    const devices = await seedDevices([...Array.from({ length: 3 }, () => ({ token: `third-party-auth-${randomUUID()}`, platform: "ios" as const })), {}, {}]);
    const messageId = await createMessage({ title: "APNs key expired" });
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    const states = [...(await waitUntilFinal(messageId, 5, 60_000)).values()];
    const byDevice = new Map(states.map((r) => [r.deviceId as string, r]));
    for (const device of devices) {
      const state = byDevice.get(device.deviceId);
      if (device.token.startsWith("third-party-auth-")) {
        assert.equal(state?.status, 401);
        assert.match(state?.statusMessage ?? "", /^THIRD_PARTY_AUTH_ERROR: /);
      } else assert.equal(state?.status, 200);
    }
    await assertDevicesUntouched(devices.map((d) => d.deviceId));
    assert.equal((await admin.call<DeliveryStatus>("getDeliveryStatus", {})).paused, false);
  });

  it("a burst of \"token dead\" answers: retirements are held as suspect until an operator confirms them", { timeout: 180_000 }, async () => {
    const devices = await seedDevices(Array.from({ length: 400 }, () => ({ token: `unregistered-${randomUUID()}` })));
    const messageId = await createMessage({ title: "Wrong sender?" });
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    try {
      const states = [...(await waitUntilFinal(messageId, 400, 120_000)).values()];
      assert.ok(states.every((r) => r.status === -99), "FCM's answer is recorded for every recipient");
      const guard = JSON.parse(await ops("retirements", "--json")) as { holding: boolean; reason: string | null; held: number };
      assert.equal(guard.holding, true);
      assert.match(guard.reason ?? "", /sends in the last minute were answered "token dead"/);
      const retiredNow = async () => (await adminDb().getAll(...devices.map((d) => adminDb().collection("devices").doc(d.deviceId)))).filter((s) => s.get("retired") === true).length;
      const retiredBefore = await retiredNow();
      assert.ok(guard.held > 0 && retiredBefore < 400, `held ${guard.held}, retired ${retiredBefore}`);
      assert.equal(guard.held + retiredBefore, 400, "every dead token is either retired (before the guard tripped) or held");
      assert.match(await ops("status"), /Retirements HELD since/);

      const confirmed = await ops("retirements", "--confirm");
      assert.match(confirmed, new RegExp(`Confirmed ${guard.held} held retirement\\(s\\); ${guard.held} device\\(s\\) retired`));
      assert.equal(await retiredNow(), 400);
      const after = JSON.parse(await ops("retirements", "--json")) as { holding: boolean; held: number };
      assert.deepEqual([after.holding, after.held], [false, 0]);
    } finally {
      await ops("retirements", "--discard");
    }
  });
});
