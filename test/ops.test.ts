import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { AggregateField, Timestamp } from "firebase-admin/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { addRecipients, createMessage, recipientStates, seedDevices, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { stackEnv } from "../tools/lib/env.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";

const run = promisify(execFile);

interface DeliveryStatus {
  paused: boolean;
  reason: string | null;
  by: string | null;
  at: string | null;
  queues: Array<{ name: string; state: string | null; tasks: number | null; error?: string }>;
}

interface Report {
  state: string;
  recipients: number;
  counts: Record<string, number>;
  paused: { reason: string | null } | null;
}

interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

const QUEUE = `projects/${stackEnv("GCLOUD_PROJECT")}/locations/us-central1/queues/dispatchBatch`;

async function tasksAdminRequests(clear = false): Promise<RecordedRequest[]> {
  const res = await fetch(`${stackEnv("CLOUD_TASKS_ADMIN_URL")}/_stand-in/requests`, { method: clear ? "DELETE" : "GET" });
  return ((await res.json()) as { requests: RecordedRequest[] }).requests;
}

/** The ops command, as an operator runs it beside the stack. */
async function ops(...args: string[]): Promise<string> {
  const { stdout } = await run("npx", ["tsx", "tools/ops.ts", ...args], { env: process.env, timeout: 60_000 });
  return stdout;
}

/**
 * The hours' metrics summed by code, and a recount of the recipients holding
 * each code, read at one instant (a read-only transaction at a fixed read
 * time). Every final status is committed together with its metrics increment,
 * so at any instant both sides moved by the same amount, whatever deliveries
 * of earlier suites are still running.
 */
async function totalsAt(codes: number[]): Promise<{ metrics: Record<string, number>; recount: Record<string, number> }> {
  const db = adminDb();
  const readTime = Timestamp.fromMillis(Date.now() - 1000);
  return db.runTransaction(
    async (t) => {
      const metrics: Record<string, number> = {};
      for (const doc of (await t.get(db.collection("metrics"))).docs) {
        for (const [code, n] of Object.entries((doc.get("counts") ?? {}) as Record<string, number>)) metrics[code] = (metrics[code] ?? 0) + n;
      }
      const recount: Record<string, number> = {};
      for (const code of codes) recount[String(code)] = (await t.get(db.collectionGroup("recipients").where("status", "==", code).count())).data().count;
      // A broadcast's accepted recipients are recorded on their pages (compactly), counted there in the same commit as the metrics.
      const compact = (await t.get(db.collectionGroup("pages").where("compact", "==", true).aggregate({ accepted: AggregateField.sum("accepted") }))).data().accepted;
      if (codes.includes(200)) recount["200"] = (recount["200"] ?? 0) + compact;
      return { metrics, recount };
    },
    { readOnly: true, readTime },
  );
}

describe("operations: the emergency stop, queue administration, hourly metrics", () => {
  let admin: ClientUser;
  let sender: ClientUser;
  before(async () => {
    admin = await signedInUser({ pushSender: true, pushAdmin: true });
    sender = await signedInUser({ pushSender: true });
  });
  after(async () => {
    // Whatever happens, leave delivery running for the suites after this one.
    await admin.call("setDeliveryPaused", { paused: false });
    await admin.close();
    await sender.close();
  });

  it("lets only pushAdmin users pause, and refuses bad input with the field", async () => {
    const switchDoc = adminDb().collection("ops").doc("delivery");
    const before = await switchDoc.get();
    assert.equal((await callError(sender.call("setDeliveryPaused", { paused: true, reason: "x" }))).code, "functions/permission-denied");
    assert.equal((await callError(sender.call("getDeliveryStatus", {}))).code, "functions/permission-denied");
    assert.equal((await callError(sender.call("getDeliveryStats", { hours: 24 }))).code, "functions/permission-denied");
    for (const [input, field] of [[{ hours: 0 }, "hours"], [{ hours: 1.5 }, "hours"], [{ hours: 745 }, "hours"], [{ hours: "24" }, "hours"], [{ days: 1 }, "days"]] as const) {
      const error = await callError(admin.call("getDeliveryStats", input));
      assert.equal(error.code, "functions/invalid-argument", JSON.stringify(input));
      assert.equal((error.details as { field?: string }).field, field);
    }
    assert.equal((await callError(admin.call("getDeliveryStatus", { extra: true }))).code, "functions/invalid-argument");
    const cases: Array<[unknown, string]> = [
      [{}, "paused"],
      [{ paused: "yes" }, "paused"],
      [{ paused: true, reason: "" }, "reason"],
      [{ paused: true, reason: "x".repeat(501) }, "reason"],
      [{ paused: true, extra: 1 }, "extra"],
    ];
    for (const [input, field] of cases) {
      const error = await callError(admin.call("setDeliveryPaused", input));
      assert.equal(error.code, "functions/invalid-argument", JSON.stringify(input));
      assert.equal((error.details as { field?: string }).field, field);
    }
    const after = await switchDoc.get();
    assert.equal(after.exists, before.exists, "no refused call changed the switch");
    assert.equal(after.updateTime?.toMillis(), before.updateTime?.toMillis(), "no refused call changed the switch");

    // The ops command prints nothing but its JSON with --json, and refuses a pause without a reason.
    const paused = JSON.parse(await ops("pause", "--reason", "checking the command", "--json")) as DeliveryStatus;
    assert.equal(paused.paused, true);
    assert.equal(paused.reason, "checking the command");
    assert.match(String(paused.by), /^ops-cli:/);
    const resumed = JSON.parse(await ops("resume", "--json")) as DeliveryStatus;
    assert.equal(resumed.paused, false);
    await assert.rejects(ops("pause"), (err: { code?: number; stderr?: string }) => err.code === 2 && /--reason/.test(String(err.stderr)));
  });

  it("while paused, sends nothing and keeps 300 directly written recipients pending; resume delivers each once", { timeout: 120_000 }, async () => {
    await tasksAdminRequests(true);
    const paused = await admin.call<DeliveryStatus>("setDeliveryPaused", { paused: true, reason: "wrong broadcast under review" });
    assert.equal(paused.paused, true);
    assert.equal(paused.reason, "wrong broadcast under review");
    assert.equal(paused.by, admin.uid);
    assert.deepEqual(
      paused.queues.map((q) => [q.name, q.state]),
      [[QUEUE, "PAUSED"]],
    );

    const devices = await seedDevices(Array.from({ length: 300 }, () => ({})));
    const messageId = await createMessage({ title: "While stopped" });
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    // Ten seconds of nothing: no FCM send, every recipient still -1 with no attempt spent.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 0, "nothing reached FCM while paused");
    const waiting = [...(await recipientStates(messageId)).values()];
    assert.equal(waiting.length, 300);
    assert.ok(waiting.every((r) => r.status === -1 && r.attempts === 0), "all pending, no attempt burned");
    const report = await sender.call<Report>("getMessageReport", { messageId });
    assert.equal(report.paused?.reason, "wrong broadcast under review");
    assert.equal(report.counts["-1"], 300);

    const status = JSON.parse(await ops("status", "--json")) as DeliveryStatus;
    assert.equal(status.paused, true);
    assert.equal(status.reason, "wrong broadcast under review");
    assert.equal(status.queues[0]?.state, "PAUSED");

    const resumed = await admin.call<DeliveryStatus>("setDeliveryPaused", { paused: false });
    assert.equal(resumed.paused, false);
    assert.equal(resumed.queues[0]?.state, "RUNNING");
    const states = await waitUntilFinal(messageId, 300, 60_000);
    assert.ok([...states.values()].every((r) => r.status === 200 && r.attempts === 1), "every recipient accepted on its first attempt");
    const accepted = await acceptedFor(devices.map((d) => d.token));
    assert.equal(accepted.length, 300);
    assert.equal(new Set(accepted.map((a) => a.message.token)).size, 300, "each device reached exactly once");
    assert.equal((await sender.call<Report>("getMessageReport", { messageId })).paused, null);

    // The queue administration requests, exactly: pause then read, resume then read, and the status read in between.
    const requests = (await tasksAdminRequests()).map((r) => `${r.method} ${r.path}${r.query.readMask ? `?readMask=${r.query.readMask}` : ""}`);
    const base = `/v2beta3/${QUEUE}`;
    assert.deepEqual(requests, [`POST ${base}:pause`, `GET ${base}?readMask=name,state,stats`, `GET ${base}?readMask=name,state,stats`, `POST ${base}:resume`, `GET ${base}?readMask=name,state,stats`]);
    await retire(devices.map((d) => d.deviceId));
  });

  it("a switch document written wrong by hand counts as paused, says why, and a resume through the callable releases it", { timeout: 120_000 }, async () => {
    await adminDb().collection("ops").doc("delivery").set({ paused: "yes", reason: "typed in the Firebase console" });
    const devices = await seedDevices(Array.from({ length: 5 }, () => ({})));
    const messageId = await createMessage({ title: "Stopped by hand" });
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));

    const status = await admin.call<DeliveryStatus>("getDeliveryStatus", {});
    assert.equal(status.paused, true);
    assert.match(status.reason ?? "", /ops\/delivery document is malformed \(paused\)/);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 0, "nothing reached FCM");
    assert.ok([...(await recipientStates(messageId)).values()].every((r) => r.status === -1 && r.attempts === 0));
    assert.match((await sender.call<Report>("getMessageReport", { messageId })).paused?.reason ?? "", /malformed/);

    assert.equal((await admin.call<DeliveryStatus>("setDeliveryPaused", { paused: false })).paused, false);
    const states = await waitUntilFinal(messageId, 5, 60_000);
    assert.ok([...states.values()].every((r) => r.status === 200));
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 5);
    await retire(devices.map((d) => d.deviceId));
  });

  it("a pause in the middle of a 3,000-device broadcast stops sends within 3 s; resume reaches every device once", { timeout: 240_000 }, async () => {
    const cohort = `ops-${randomUUID()}`;
    const devices = await seedDevices(Array.from({ length: 3000 }, () => ({ attributes: { cohort } })));
    const tokens = devices.map((d) => d.token);
    const { messageId } = await sender.call<{ messageId: string }>("sendMessage", { title: "Broadcast", body: "To a cohort", audience: { where: { cohort } } }, 300_000);
    await waitFor("the broadcast to start reaching FCM", async () => ((await acceptedFor(tokens)).length >= 200 ? true : undefined), 120_000, 100);
    const pausedAt = Date.now();
    await admin.call("setDeliveryPaused", { paused: true, reason: "stop the broadcast" });
    const returnedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const atThreeSeconds = await acceptedFor(tokens);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const later = await acceptedFor(tokens);
    assert.equal(later.length, atThreeSeconds.length, `the count stopped growing within 3 s of the pause (${atThreeSeconds.length} then ${later.length})`);
    const lastStarted = Math.max(...atThreeSeconds.map((a) => Date.parse(a.receivedAt)));
    console.log(`pause figures: pause call took ${returnedAt - pausedAt} ms; last send reached FCM ${lastStarted - returnedAt} ms after it returned; ${atThreeSeconds.length} of 3000 sent before the stop`);
    assert.ok(atThreeSeconds.length < 3000, "the pause landed mid-broadcast");

    await admin.call("setDeliveryPaused", { paused: false });
    const states = await waitUntilFinal(messageId, 3000, 180_000);
    assert.ok([...states.values()].every((r) => r.status === 200), "every recipient accepted");
    const accepted = await acceptedFor(tokens);
    assert.equal(accepted.length, 3000, "no device reached twice");
    assert.equal(new Set(accepted.map((a) => a.message.token)).size, 3000);
    // The report comes from the outcome counters; they equal a recount of the documents. The last expansion
    // part records itself just after writing its recipients, so "done" may follow the last delivery by a moment.
    const report = await waitFor("the report to say done", async () => {
      const r = await sender.call<Report>("getMessageReport", { messageId });
      return r.state === "done" ? r : undefined;
    }, 30_000, 500);
    assert.deepEqual(report.counts, { "200": 3000 });
    await retire(devices.map((d) => d.deviceId));
  });

  it("keeps hourly metrics that equal a recount of the recipients they cover, and prints them", { timeout: 300_000 }, async () => {
    const codes = [200, -99, -4, -3, 400, 403];
    const before = await totalsAt(codes);
    const devices = await seedDevices([{}, {}, { token: `unregistered-${randomUUID()}` }, { enabled: false }, { token: `invalid-${randomUUID()}` }, { token: `mismatch-${randomUUID()}` }]);
    const messageId = await createMessage();
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    await waitUntilFinal(messageId, 6);
    const cancelled = await createMessage({ sendAt: new Date(Date.now() + 3_600_000) });
    await addRecipients(cancelled, devices.slice(0, 2).map((d) => ({ deviceId: d.deviceId })));
    await admin.call("cancelMessage", { messageId: cancelled });
    await waitUntilFinal(cancelled, 2);

    // The read time is a second back: let it pass the test's last outcome.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const after = await totalsAt(codes);
    const moved = (side: Record<string, number>, was: Record<string, number>, code: number) => (side[String(code)] ?? 0) - (was[String(code)] ?? 0);
    for (const code of codes) {
      assert.equal(moved(after.metrics, before.metrics, code), moved(after.recount, before.recount, code), `metrics for ${code} moved with the recipients`);
    }
    assert.ok(moved(after.metrics, before.metrics, 200) >= 2);
    assert.ok(moved(after.metrics, before.metrics, -3) >= 2);
    const metricsAfter = after.metrics;
    const table = await ops("stats", "--hours", "2");
    assert.match(table, /hour \(UTC\)\s+accepted\s+failed\s+unregistered\s+skipped\s+cancelled/);
    const json = JSON.parse(await ops("stats", "--hours", "2", "--json")) as { hours: Array<{ summary: { accepted: number; cancelled: number } }> };
    assert.equal(json.hours.length, 2);
    const accepted = json.hours.reduce((sum, h) => sum + h.summary.accepted, 0);
    // Read after the snapshot: at least what it held, at most what the hours hold now.
    const upper = async () => {
      const docs = (await adminDb().collection("metrics").get()).docs;
      return docs.reduce((sum, doc) => sum + (((doc.get("counts") ?? {}) as Record<string, number>)["200"] ?? 0), 0);
    };
    assert.ok(accepted >= (metricsAfter["200"] ?? 0) && accepted <= (await upper()), `ops stats: ${accepted} accepted`);
    // The console's panel reads the same through the callable.
    const viaCallable = await admin.call<{ hours: Array<{ counts: Record<string, number> }> }>("getDeliveryStats", { hours: 2 });
    assert.equal(viaCallable.hours.length, 2);
    const viaCallableAccepted = viaCallable.hours.reduce((sum, h) => sum + (h.counts["200"] ?? 0), 0);
    assert.ok(viaCallableAccepted >= (metricsAfter["200"] ?? 0) && viaCallableAccepted <= (await upper()), `getDeliveryStats: ${viaCallableAccepted} accepted`);
    const status = await admin.call<DeliveryStatus>("getDeliveryStatus", {});
    assert.equal(status.paused, false);
    assert.equal(status.queues[0]?.state, "RUNNING");
    await retire(devices.map((d) => d.deviceId));
  });
});

/** Takes the test's devices out of later suites' `{ all: true }` audiences. */
async function retire(deviceIds: string[]): Promise<void> {
  const writer = adminDb().bulkWriter();
  for (const id of deviceIds) void writer.update(adminDb().collection("devices").doc(id), { retired: true, retiredReason: "replaced" });
  await writer.close();
}
