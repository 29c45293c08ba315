/**
 * The callables the staff console adds, through the JS SDK as the console
 * calls them: estimateAudience (counted with aggregations, equal to what
 * sendMessage then writes) and resendFailed (exactly the failed recipients of
 * a finished message, linked to it).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Timestamp } from "firebase-admin/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { createMessage, recipientStates, seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";

interface SendResult {
  messageId: string;
  recipients: number;
}

const later = () => new Date(Date.now() + 3_600_000).toISOString();

describe("console callables: estimateAudience and resendFailed", () => {
  let staff: ClientUser;
  before(async () => {
    staff = await signedInUser({ pushSender: true });
  });
  after(async () => {
    await staff.close();
  });

  it("refuses non-staff and bad input with the failing field", async () => {
    const user = await signedInUser();
    try {
      assert.equal((await callError(user.call("estimateAudience", { audience: { all: true } }))).code, "functions/permission-denied");
      assert.equal((await callError(user.call("resendFailed", { messageId: "abc" }))).code, "functions/permission-denied");
    } finally {
      await user.close();
    }
    const cases: Array<[string, unknown, string]> = [
      ["estimateAudience", { audience: { users: [] } }, "audience.users"],
      ["estimateAudience", { audience: { all: true }, category: "bad category!" }, "category"],
      ["estimateAudience", { audience: { all: true }, extra: 1 }, "extra"],
      ["resendFailed", { messageId: "not/an/id" }, "messageId"],
      ["resendFailed", { messageId: "abc", idempotencyKey: "with space" }, "idempotencyKey"],
    ];
    for (const [name, input, field] of cases) {
      const error = await callError(staff.call(name, input));
      assert.equal(error.code, "functions/invalid-argument", `${name} ${JSON.stringify(input)}`);
      assert.equal((error.details as { field?: string }).field, field);
    }
  });

  it("estimates exactly what sendMessage then writes, for users, devices and where audiences, with disabled, retired and muted devices present", { timeout: 300_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const category = `news-${tag}`;
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((n) => `${n}-${tag}`) as [string, string, string];
    const grade = { grade: `g-${tag}` };
    const club = { club: `c-${tag}` };
    const seeded = await seedDevices([
      { userId: alice, attributes: grade },
      { userId: alice, attributes: { ...grade, ...club } },
      { userId: alice, attributes: grade, enabled: false },
      { userId: bob, attributes: club },
      { userId: bob, attributes: grade, retired: true },
      { userId: carol, attributes: grade },
      { userId: carol, attributes: club },
      // An app's claim to the same attributes (a user no `users` audience names): matched by no `where`.
      { userId: `dave-${tag}`, userInfo: { ...grade, ...club } },
    ]);
    // Carol muted the category (in the app, which copies it onto her devices): they are left out of every audience of it.
    const carolInApp = await signedInUser({}, carol);
    try {
      await carolInApp.call("setPreferences", { mutedCategories: [category] });
    } finally {
      await carolInApp.close();
    }
    const audiences: unknown[] = [
      { users: [alice, bob, carol, alice] },
      { devices: [...seeded.map((d) => d.deviceId), seeded[0]?.deviceId, "no-such-device-1"] },
      { where: grade },
      { where: { ...grade, ...club }, match: "any" },
      { where: { ...grade, ...club }, match: "all" },
      // { all: true } is estimated in all-audience.test.ts, where the project's devices are few: here it would write a recipient for every device earlier tests left.
    ];
    // Every audience, with and without the category, at once: each is its own message.
    const requests = audiences.flatMap((audience) => [true, false].map((withCategory) => ({ audience, ...(withCategory && { category }) })));
    await Promise.all(
      requests.map(async (request) => {
        const { devices } = await staff.call<{ devices: number }>("estimateAudience", request);
        // Scheduled an hour ahead, so the recipients are written and nothing is sent; cancelled after.
        const sent = await staff.call<SendResult>("sendMessage", { title: "Estimate", body: "check", ...request, sendAt: later() }, 120_000);
        const count = await waitForRecipientCount(sent.messageId);
        const written = (await recipientStates(sent.messageId)).size;
        await staff.call("cancelMessage", { messageId: sent.messageId });
        assert.equal(devices, count, `estimate of ${JSON.stringify(request)}`);
        assert.equal(devices, written, `recipients written for ${JSON.stringify(request)}`);
      }),
    );
    const { devices: expectedUsers } = await staff.call<{ devices: number }>("estimateAudience", { audience: { users: [alice, bob, carol] }, category });
    assert.equal(expectedUsers, 3, "alice's two enabled devices and bob's live one");
    const { devices: byGrade } = await staff.call<{ devices: number }>("estimateAudience", { audience: { where: grade } });
    assert.equal(byGrade, 3, "alice's two enabled devices and carol's one; not dave's, whose app only claimed the grade");
  });

  it("resends to exactly the failed recipients of a finished message, linked to it, once per idempotency key", { timeout: 90_000 }, async () => {
    const userId = `user-${randomUUID()}`;
    const devices = await seedDevices(Array.from({ length: 7 }, () => ({ userId })));
    const original = await createMessage({ title: "Bus {{stop}}", body: "Leaves at {{time}}", link: "app://bus", senderId: staff.uid, recipientsWrittenAt: Timestamp.now() });
    const finals = [200, 400, 403, 503, -99, -3, -4];
    const recipients = adminDb().collection("messages").doc(original).collection("recipients");
    await Promise.all(
      finals.map((status, i) =>
        recipients.doc(`r${i}`).set({ deviceId: devices[i]?.deviceId, userId, vars: { stop: `S${i}`, time: "8:00" }, status, statusMessage: status === 200 ? null : "failed before", attempts: 1 }),
      ),
    );
    const before = (await adminDb().collection("messages").doc(original).get()).updateTime;

    const key = `resend-${randomUUID()}`;
    const first = await staff.call<SendResult>("resendFailed", { messageId: original, idempotencyKey: key });
    assert.equal(first.recipients, 3);
    const again = await staff.call<SendResult>("resendFailed", { messageId: original, idempotencyKey: key });
    assert.deepEqual(again, first, "a repeat with the same key returns the first resend");

    const resent = (await adminDb().collection("messages").doc(first.messageId).get()).data();
    assert.equal(resent?.resendOf, original);
    assert.equal(resent?.title, "Bus {{stop}}");
    assert.equal(resent?.link, "app://bus");
    // The recipients are written in the background: the count is set once they all are.
    assert.equal(await waitForRecipientCount(first.messageId), 3);
    const states = await waitUntilFinal(first.messageId, 3);
    assert.deepEqual([...states.values()].map((r) => String(r.deviceId)).sort(), [1, 2, 3].map((i) => devices[i]?.deviceId).sort());
    assert.ok([...states.values()].every((r) => r.status === 200));
    const delivered = await acceptedFor(devices.map((d) => d.token));
    assert.deepEqual(delivered.map((m) => (m.message.notification as { title: string }).title).sort(), ["Bus S1", "Bus S2", "Bus S3"]);
    assert.deepEqual((await adminDb().collection("messages").doc(original).get()).updateTime, before, "the original is left unchanged");
  });

  it("refuses to resend a message still sending, or one with no failure", async () => {
    const pending = await createMessage({ senderId: staff.uid });
    await adminDb().collection("messages").doc(pending).collection("recipients").doc("r").set({ deviceId: "nowhere-00", userId: null, status: -2, statusMessage: null, attempts: 1 });
    assert.equal((await callError(staff.call("resendFailed", { messageId: pending }))).code, "functions/failed-precondition");
    const fine = await createMessage({ senderId: staff.uid });
    await adminDb().collection("messages").doc(fine).collection("recipients").doc("r").set({ deviceId: "nowhere-01", userId: null, status: 200, statusMessage: null, attempts: 1 });
    assert.equal((await callError(staff.call("resendFailed", { messageId: fine }))).code, "functions/failed-precondition");
    assert.equal((await callError(staff.call("resendFailed", { messageId: `missing-${randomUUID()}` }))).code, "functions/not-found");
  });
});
