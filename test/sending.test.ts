import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { recipientStates, seedDevices, waitForRecipientCount, waitUntilFinal, type DeviceSeed } from "../tools/lib/fixtures.ts";
import { acceptedFor, sendAttempts } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { PROJECT_ID, stackEnv, stackParam } from "../tools/lib/env.ts";
import { triggerScheduledSweep } from "../tools/scheduler.ts";

const FUNCTION_LOG = fileURLToPath(new URL("../.cache/functions.log", import.meta.url));
const PENDING_AFTER_SECONDS = stackParam("SWEEP_PENDING_AFTER_SECONDS");

interface SendResult {
  messageId: string;
  /** null: sendMessage returns before the audience is expanded. */
  recipients: number | null;
}

interface Report {
  messageId: string;
  state: "preparing" | "scheduled" | "sending" | "done" | "cancelled" | "invalid";
  recipients: number | null;
  counts: Record<string, number>;
  other: number;
}

/** The device ids that got a recipient in the message. */
async function recipientDevices(messageId: string): Promise<string[]> {
  return [...(await recipientStates(messageId)).values()].map((r) => r.deviceId as string).sort();
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

describe("sending to audiences (staff callables)", () => {
  let staff: ClientUser;
  /**
   * sendMessage, then its recipient count once the background expansion has
   * written them all and every one is recorded (a sent page's recipients are
   * recorded by a task of their own, a moment after the expansion is done).
   */
  async function send(input: Record<string, unknown>, timeoutMs = 120_000): Promise<{ messageId: string; recipients: number }> {
    const { messageId, recipients } = await staff.call<SendResult>("sendMessage", input);
    assert.equal(recipients, null, "sendMessage returns before the audience is expanded");
    const count = await waitForRecipientCount(messageId, timeoutMs);
    await waitFor(`${count} recipients of ${messageId} recorded`, async () => ((await recipientStates(messageId)).size >= count ? true : undefined), timeoutMs, 250);
    return { messageId, recipients: count };
  }
  before(async () => {
    staff = await signedInUser({ pushSender: true });
  });
  after(async () => {
    await staff.close();
  });

  it("refuses callers without the pushSender claim, and bad input with the failing field", async () => {
    const user = await signedInUser();
    try {
      const denied = await callError(user.call("sendMessage", { title: "Hi", body: "There", audience: { all: true } }));
      assert.equal(denied.code, "functions/permission-denied");
      for (const name of ["cancelMessage", "getMessageReport"]) {
        assert.equal((await callError(user.call(name, { messageId: "abc" }))).code, "functions/permission-denied");
      }
    } finally {
      await user.close();
    }
    const cases: Array<[unknown, string]> = [
      [{ title: "x".repeat(51), body: "b", audience: { all: true } }, "title"],
      [{ title: "t", body: "b", audience: { users: [] } }, "audience.users"],
      [{ title: "t", body: "b", audience: { where: { grade: 9 }, match: "some" } }, "audience.match"],
      [{ title: "t", body: "b", audience: { everyone: true } }, "audience"],
      [{ title: "t", body: "b", audience: { all: true }, sendAt: new Date(Date.now() + 31 * 86_400_000).toISOString() }, "sendAt"],
      [{ title: "t", body: "é".repeat(1800), data: { extra: "x".repeat(1000) }, audience: { all: true } }, "body"],
      [{ title: "t", body: "b", audience: { all: true }, surprise: 1 }, "surprise"],
    ];
    for (const [input, field] of cases) {
      const error = await callError(staff.call("sendMessage", input));
      assert.equal(error.code, "functions/invalid-argument", `${field}: ${error.message}`);
      assert.equal((error.details as { field?: string }).field, field, error.message);
    }
  });

  it("{ users } reaches every live, enabled device of each user, leaves out muted users, fills per-user vars", { timeout: 180_000 }, async () => {
    const ann = `ann-${randomUUID()}`;
    const bob = `bob-${randomUUID()}`;
    const muted = await signedInUser();
    try {
      assert.deepEqual(await muted.call("setPreferences", { mutedCategories: ["news", "news", "sport"] }), { mutedCategories: ["news", "sport"] });
      const seeds: Array<DeviceSeed & { expect: boolean }> = [
        { userId: ann, platform: "android", expect: true },
        { userId: ann, platform: "ios", expect: true },
        { userId: ann, enabled: false, expect: false },
        { userId: bob, platform: "web", expect: true },
        { userId: bob, retired: true, expect: false },
        { userId: muted.uid as string, expect: false },
      ];
      const devices = await seedDevices(seeds);
      const result = await send({
        title: "Hello {{name}}",
        body: "Your grade: {{grade}}",
        category: "news",
        audience: { users: [ann, bob, muted.uid, ann] },
        vars: { [ann]: { name: "Ann", grade: "A" }, [bob]: { name: "Bob", grade: 2 }, [muted.uid as string]: { name: "M", grade: "C" } },
      });
      const wanted = devices.filter((_, i) => seeds[i]?.expect);
      assert.equal(result.recipients, wanted.length);
      assert.deepEqual(await recipientDevices(result.messageId), sorted(wanted.map((d) => d.deviceId)));
      const states = await waitUntilFinal(result.messageId, wanted.length);
      assert.ok([...states.values()].every((r) => r.status === 200));
      const received = await acceptedFor(devices.map((d) => d.token));
      assert.equal(received.length, wanted.length);
      const bodies = received.map((m) => (m.message.notification as { title: string; body: string }).title + " / " + (m.message.notification as { body: string }).body).sort();
      assert.deepEqual(bodies, ["Hello Ann / Your grade: A", "Hello Ann / Your grade: A", "Hello Bob / Your grade: 2"]);

      // Without a category (or another one) the muted user is reached.
      const other = await send({ title: "t", body: "b", category: "weather", audience: { users: [muted.uid] } });
      assert.equal(other.recipients, 1);
    } finally {
      await muted.close();
    }
  });

  it("{ devices } reaches only the named devices that are live and enabled, once each", { timeout: 180_000 }, async () => {
    const [live, disabled, retired, second] = await seedDevices([{}, { enabled: false }, { retired: true }, {}]);
    const named = [live, disabled, retired, second].map((d) => d!.deviceId);
    const result = await send({ title: "t", body: "b", audience: { devices: [...named, named[0], `missing-${randomUUID()}`] } });
    assert.equal(result.recipients, 2);
    assert.deepEqual(await recipientDevices(result.messageId), sorted([live!.deviceId, second!.deviceId]));
    await waitUntilFinal(result.messageId, 2);
    assert.equal((await acceptedFor([live!.token, second!.token, disabled!.token, retired!.token])).length, 2);
  });

  it("{ where } matches the school's attributes with AND (match: all) or OR (match: any), never the app's userInfo", { timeout: 180_000 }, async () => {
    const grade = `g-${randomUUID()}`;
    const school = `s-${randomUUID()}`;
    const [both, gradeOnly, schoolOnly, neither, bothDisabled, appClaimed] = await seedDevices([
      { attributes: { grade, school, extra: 1 } },
      { attributes: { grade } },
      { attributes: { school } },
      { attributes: { grade: "other", school: "other" } },
      { attributes: { grade, school }, enabled: false },
      // What an app said about itself (or wrote before attributes had owners): no audience trusts it.
      { userInfo: { grade, school } },
    ]);
    void neither;
    void bothDisabled;
    void appClaimed;
    const and = await send({ title: "t", body: "b", audience: { where: { grade, school } } });
    assert.deepEqual(await recipientDevices(and.messageId), [both!.deviceId]);
    const or = await send({ title: "t", body: "b", audience: { where: { grade, school }, match: "any" } });
    assert.deepEqual(await recipientDevices(or.messageId), sorted([both!.deviceId, gradeOnly!.deviceId, schoolOnly!.deviceId]));
    await waitUntilFinal(or.messageId, 3);
  });

  it("returns the first message for a repeated idempotencyKey and sends once; a different body with the key is refused", { timeout: 120_000 }, async () => {
    const userId = `u-${randomUUID()}`;
    const devices = await seedDevices([{ userId }, { userId }]);
    const key = `nightly-${randomUUID()}`;
    const input = { title: "Report ready", body: "Your report is ready.", audience: { users: [userId] }, idempotencyKey: key };
    const first = await staff.call<SendResult>("sendMessage", input);
    const again = await staff.call<SendResult>("sendMessage", { ...input });
    assert.equal(again.messageId, first.messageId);
    assert.equal(await waitForRecipientCount(first.messageId), 2);
    // Once known, a repeat also returns the recipient count.
    assert.deepEqual(await staff.call<SendResult>("sendMessage", { ...input }), { messageId: first.messageId, recipients: 2 });
    await waitUntilFinal(first.messageId, 2);
    const conflict = await callError(staff.call("sendMessage", { ...input, body: "Something else" }));
    assert.equal(conflict.code, "functions/already-exists");
    assert.equal((conflict.details as { field?: string }).field, "idempotencyKey");
    // Another sender with the same key sends its own message.
    const otherStaff = await signedInUser({ pushSender: true });
    try {
      const theirs = await otherStaff.call<SendResult>("sendMessage", input);
      assert.notEqual(theirs.messageId, first.messageId);
      await waitUntilFinal(theirs.messageId, 2);
    } finally {
      await otherStaff.close();
    }
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 4);
  });

  it("holds a scheduled message until sendAt with a few held tasks, not a loop, then delivers it", { timeout: 180_000 }, async () => {
    const userId = `u-${randomUUID()}`;
    const devices = await seedDevices([{ userId }, { userId }]);
    // Further ahead than dispatchBatch waits for a task that arrives early (15 s), which the emulator's held task does.
    const sendAt = new Date(Date.now() + 20_000);
    const { messageId, recipients } = await staff.call<SendResult>("sendMessage", { title: "Later", body: "Scheduled", audience: { users: [userId] }, sendAt: sendAt.toISOString() });
    assert.equal(recipients, null);
    // Scheduled from the start, while the audience is being expanded too.
    assert.equal((await staff.call<Report>("getMessageReport", { messageId })).state, "scheduled");
    assert.equal(await waitForRecipientCount(messageId, 120_000), 2);

    // Until it is due, its shards are only held: each task that finds sendAt ahead asks for the one held
    // task of its shard, and that task, run early by the emulator, finds itself already there.
    await waitFor("sendAt to pass", () => (Date.now() > sendAt.getTime() ? true : undefined), 60_000, 250);
    const held = readFileSync(FUNCTION_LOG, "utf8").split("\n").filter((line) => line.includes(messageId) && line.includes("shard held until sendAt")).length;
    assert.ok(held >= 1 && held <= 12, `dispatch ran ${held} times for a message held 20 s`);

    // Locally the sweep releases it once sendAt is SWEEP_PENDING_AFTER_SECONDS past; deployed, its held tasks run at sendAt.
    await waitFor("the message to be due for the sweep", () => (Date.now() > sendAt.getTime() + (PENDING_AFTER_SECONDS + 1) * 1000 ? true : undefined), 120_000, 250);
    const res = await triggerScheduledSweep(stackEnv("FUNCTIONS_EMULATOR_ORIGIN"), PROJECT_ID);
    assert.equal(res.status, 200);

    // The order is read from the outcomes, not from the clock of this test: nothing reached FCM before sendAt.
    const states = await waitUntilFinal(messageId, 2, 120_000);
    for (const state of states.values()) {
      assert.equal(state.status, 200);
      assert.ok((state.sentAt as { toMillis(): number }).toMillis() >= sendAt.getTime(), "sent before sendAt");
    }
    const received = await acceptedFor(devices.map((d) => d.token));
    assert.equal(received.length, 2);
    for (const entry of received) assert.ok(Date.parse(entry.receivedAt) >= sendAt.getTime(), `the stand-in received it at ${entry.receivedAt}, before ${sendAt.toISOString()}`);
    assert.equal((await staff.call<Report>("getMessageReport", { messageId })).state, "done");
  });

  it("cancels a scheduled message: every recipient -3, nothing sent", { timeout: 120_000 }, async () => {
    const userId = `u-${randomUUID()}`;
    const devices = await seedDevices([{ userId }, { userId }, { userId }]);
    // Far enough ahead for the background expansion to finish before the cancel on a busy emulator.
    const sendAt = new Date(Date.now() + 15_000);
    const { messageId } = await send({ title: "t", body: "b", audience: { users: [userId] }, sendAt: sendAt.toISOString() });
    assert.equal(await waitForRecipientCount(messageId, 15_000), 3);
    const cancelled = await staff.call<{ cancelled: number }>("cancelMessage", { messageId });
    assert.equal(cancelled.cancelled, 3);
    const report = await staff.call<Report>("getMessageReport", { messageId });
    assert.equal(report.state, "cancelled");
    assert.deepEqual(report.counts, { "-3": 3 });
    // Past sendAt, the held tasks run and find nothing to send.
    await waitFor("sendAt to pass", () => (Date.now() > sendAt.getTime() + 4000 ? true : undefined), 60_000, 250);
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 0);
    assert.equal((await callError(staff.call("cancelMessage", { messageId: "no-such-message" }))).code, "functions/not-found");
  });

  it("cancels mid-flight: sent recipients stay 200, ones waiting to retry become -3", { timeout: 120_000 }, async () => {
    const userId = `u-${randomUUID()}`;
    const tag = randomUUID().slice(0, 8);
    const devices = await seedDevices([
      ...Array.from({ length: 4 }, (_, i) => ({ userId, token: `ok-${tag}-${i}` })),
      ...Array.from({ length: 4 }, (_, i) => ({ userId, token: `quota-${tag}-${i}` })),
    ]);
    const { messageId } = await send({ title: "t", body: "b", audience: { users: [userId] } });
    const byDevice = new Map(devices.map((d) => [d.deviceId, d.token]));
    // Wait until the ok ones are sent and the quota ones are back at -1, backing off (Retry-After: 1).
    await waitFor("first attempts done", async () => {
      const states = [...(await recipientStates(messageId)).values()];
      const ok = states.filter((r) => byDevice.get(r.deviceId as string)?.startsWith("ok-"));
      const quota = states.filter((r) => byDevice.get(r.deviceId as string)?.startsWith("quota-"));
      return ok.every((r) => r.status === 200) && quota.every((r) => r.status === -1 && r.attempts === 1) ? true : undefined;
    }, 30_000, 100);
    await staff.call("cancelMessage", { messageId });
    const states = await waitUntilFinal(messageId, 8);
    const quotaStatuses: number[] = [];
    for (const r of states.values()) {
      const token = byDevice.get(r.deviceId as string) as string;
      if (token.startsWith("ok-")) assert.equal(r.status, 200);
      else quotaStatuses.push(r.status);
    }
    // A retry already claimed (-2) when the cancel landed is let finish; the rest are cancelled.
    assert.ok(quotaStatuses.every((s) => s === -3 || s === 429), `quota statuses ${quotaStatuses.join(",")}`);
    assert.ok(quotaStatuses.includes(-3), `quota statuses ${quotaStatuses.join(",")}`);
    const attempts = await Promise.all(devices.filter((d) => d.token.startsWith("quota-")).map((d) => sendAttempts(d.token)));
    assert.ok(attempts.every((a) => a <= 2), `attempts ${attempts.join(",")}`);
    assert.equal((await staff.call<Report>("getMessageReport", { messageId })).state, "cancelled");
  });

  it("reports counts per status that match the recipient documents", { timeout: 180_000 }, async () => {
    const userId = `u-${randomUUID()}`;
    const tag = randomUUID().slice(0, 8);
    await seedDevices([
      { userId, token: `ok-${tag}-1` },
      { userId, token: `ok-${tag}-2` },
      { userId, token: `unregistered-${tag}` },
      { userId, token: `invalid-${tag}` },
      { userId, token: `mismatch-${tag}` },
    ]);
    const { messageId } = await send({ title: "t", body: "b", audience: { users: [userId] } });
    const states = await waitUntilFinal(messageId, 5);
    const fromDocs: Record<string, number> = {};
    for (const r of states.values()) fromDocs[String(r.status)] = (fromDocs[String(r.status)] ?? 0) + 1;
    const report = await staff.call<Report>("getMessageReport", { messageId });
    assert.deepEqual(report.counts, fromDocs);
    assert.deepEqual(fromDocs, { "200": 2, "-99": 1, "400": 1, "403": 1 });
    assert.equal(report.recipients, 5);
    assert.equal(report.other, 0);
    assert.equal(report.state, "done");
    assert.equal((await callError(staff.call("getMessageReport", { messageId: "no-such-message" }))).code, "functions/not-found");
  });
});
