/**
 * The broadcast path: an expansion part sends each page of devices itself
 * (one sendEach), the page document standing as the claim, and a record task
 * writes the recipients with their outcomes behind it. Checked here: what the records say
 * and what FCM received, transient failures handed to the dispatch, dead
 * tokens retired, and a part run again over a page an earlier run left at
 * "sending" (its worker died in sendEach: sent again) or at "sent" (FCM had
 * answered: recorded, not sent again).
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Timestamp } from "firebase-admin/firestore";
import { pageIdFor } from "../functions/src/delivery/pages.ts";
import { recipientIdFor } from "../functions/src/sending/recipients.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { stackParam } from "../tools/lib/env.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor, sendAttempts } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";

interface Report {
  state: string;
  recipients: number | null;
  counts: Record<string, number>;
}

const pages = (messageId: string) => adminDb().collection("messages").doc(messageId).collection("pages");

/** Device ids starting with "0" fall into the first of the expansion's id ranges (part 0). */
const partZeroId = () => `0${randomBytes(12).toString("base64url")}`;

describe("broadcasts sent from pages", () => {
  let staff: ClientUser;
  before(async () => {
    staff = await signedInUser({ pushSender: true });
  });
  after(async () => {
    await staff.close();
  });

  it("sends each page once and records every outcome, compactly: a document only for each recipient not accepted; transient failures go to the dispatch, dead tokens are retired; one device's outcome is found either way", { timeout: 180_000 }, async () => {
    const cohort = `pages-${randomUUID()}`;
    const ok = await seedDevices(Array.from({ length: 40 }, () => ({ deviceId: randomBytes(12).toString("base64url"), attributes: { cohort } })));
    const [quota] = await seedDevices([{ deviceId: randomBytes(12).toString("base64url"), token: `quota-${randomUUID()}`, attributes: { cohort } }]);
    const [dead] = await seedDevices([{ deviceId: randomBytes(12).toString("base64url"), token: `unregistered-${randomUUID()}`, attributes: { cohort } }]);
    await seedDevices([{ deviceId: randomBytes(12).toString("base64url"), enabled: false, attributes: { cohort } }]);
    assert.ok(quota && dead);

    const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Pages", body: "From the expansion", audience: { where: { cohort } } });
    assert.equal(await waitForRecipientCount(messageId), 42, "the switched-off device is not in the audience");
    const states = await waitUntilFinal(messageId, 42, 60_000);

    const byDevice = new Map([...states.values()].map((r) => [r.deviceId as string, r]));
    for (const device of ok) {
      const record = byDevice.get(device.deviceId);
      assert.equal(record?.status, 200, device.deviceId);
      assert.equal(record?.attempts, 1);
      assert.equal(record?.id, recipientIdFor(device.deviceId));
      assert.ok(record?.sentAt instanceof Timestamp);
      assert.match(String(record?.fcmMessageId), /^projects\/.+\/messages\//);
    }
    // 429 on the page's send: written pending with its backoff, then the dispatch's attempts until they are spent.
    const attempts = stackParam("DELIVERY_MAX_ATTEMPTS");
    assert.equal(byDevice.get(quota.deviceId)?.status, 429);
    assert.equal(byDevice.get(quota.deviceId)?.attempts, attempts);
    assert.match(String(byDevice.get(quota.deviceId)?.statusMessage), new RegExp(`gave up after ${attempts} attempts`));
    assert.equal(await sendAttempts(quota.token), attempts);
    assert.equal(byDevice.get(dead.deviceId)?.status, -99);
    assert.equal((await adminDb().collection("devices").doc(dead.deviceId).get()).get("retiredReason"), "unregistered");

    const received = await acceptedFor(ok.map((d) => d.token));
    assert.equal(received.length, 40, "each live device reached once");
    assert.equal(new Set(received.map((m) => m.message.token)).size, 40);

    const docs = await waitFor("every page to be recorded", async () => {
      const all = (await pages(messageId).get()).docs;
      return all.length > 0 && all.every((d) => d.get("state") === "recorded") ? all : undefined;
    });
    assert.ok(docs.every((d) => d.get("compact") === true && d.get("attempt") === 1 && Array.isArray(d.get("outcomes"))));
    assert.equal(docs.reduce((sum, d) => sum + (d.get("accepted") as number), 0), 40, "the accepted recipients stay on their pages");
    assert.equal(docs.reduce((sum, d) => sum + (d.get("created") as number), 0), 2, "a document only for each recipient not accepted");
    // The bound, from the records: 2 recipient documents for 42 recipients (one per recipient FCM did not accept),
    // so 2 per-recipient triggers at most (one fires per document created), and one page per part's chunk.
    const documents = (await adminDb().collection("messages").doc(messageId).collection("recipients").get()).docs;
    assert.deepEqual(documents.map((d) => d.get("deviceId") as string).sort(), [quota.deviceId, dead.deviceId].sort());
    assert.ok(docs.length <= 8, `${docs.length} pages for 42 devices in 8 parts`);

    const report = await staff.call<Report>("getMessageReport", { messageId });
    assert.equal(report.state, "done");
    assert.deepEqual(report.counts, { "200": 40, "429": 1, "-99": 1 });

    // One device's outcome: from its page when accepted, from its own document otherwise; not-found for a device the message never had.
    const [first] = ok;
    assert.ok(first);
    const accepted = await staff.call<{ status: number; recordedIn: string; recipientId: string; fcmMessageId: string | null; attempts: number }>("getRecipientStatus", { messageId, deviceId: first.deviceId });
    assert.deepEqual([accepted.status, accepted.recordedIn, accepted.recipientId, accepted.attempts], [200, "page", recipientIdFor(first.deviceId), 1]);
    assert.match(String(accepted.fcmMessageId), /^projects\/.+\/messages\//);
    const retired = await staff.call<{ status: number; recordedIn: string }>("getRecipientStatus", { messageId, deviceId: dead.deviceId });
    assert.deepEqual([retired.status, retired.recordedIn], [-99, "recipient"]);
    const stranger = await callError(staff.call("getRecipientStatus", { messageId, deviceId: randomBytes(12).toString("base64url") }));
    assert.equal(stranger.code, "functions/not-found");
  });

  it("a page left at 'sending' by a run that died is sent again; one left at 'sent' is recorded without sending", { timeout: 180_000 }, async () => {
    for (const left of ["sending", "sent"] as const) {
      const cohort = `pages-${left}-${randomUUID()}`;
      const devices = await seedDevices(Array.from({ length: 6 }, () => ({ deviceId: partZeroId(), attributes: { cohort } })));
      const [first, second, ...rest] = devices;
      assert.ok(first && second);
      const messageId = `pages-${randomUUID()}`;
      const earlier = [first, second].map((d) => ({ id: recipientIdFor(d.deviceId), deviceId: d.deviceId, userId: null }));
      const now = Timestamp.now();
      // What a run of part 0 left behind: the page of its first chunk, holding two of the devices, its lease over.
      await pages(messageId).doc(pageIdFor(0, null)).create({
        state: left,
        part: 0,
        attempt: 1,
        recipients: earlier,
        leaseExpiresAt: Timestamp.fromMillis(now.toMillis() - 1000),
        updatedAt: now,
        ...(left === "sent" && { outcomes: earlier.map(() => ({ status: 200, statusMessage: null, leaseExpiresAt: null, retryAt: null, sentAt: now, fcmMessageId: "projects/earlier/messages/1" })) }),
      });
      await adminDb().collection("messages").doc(messageId).set({ title: "Again", body: "A page taken over", senderId: staff.uid, createdAt: now, audience: { where: { cohort } } });

      assert.equal(await waitForRecipientCount(messageId), 6);
      const states = await waitUntilFinal(messageId, 6, 60_000);
      assert.ok([...states.values()].every((r) => r.status === 200));
      const page = await waitFor("the page to be recorded", async () => {
        const snapshot = await pages(messageId).doc(pageIdFor(0, null)).get();
        return snapshot.get("state") === "recorded" ? snapshot : undefined;
      });
      const mine = [first, second].map((d) => states.get(recipientIdFor(d.deviceId)));
      if (left === "sending") {
        // Sent again as attempt 2 (the collapse id keeps a phone that got it before to one notification).
        assert.equal(page.get("attempt"), 2);
        assert.ok(mine.every((r) => r?.attempts === 2));
        assert.equal((await acceptedFor([first.token, second.token])).length, 2);
      } else {
        // FCM had answered: the outcomes on the page are written, nothing is sent again.
        assert.ok(mine.every((r) => r?.attempts === 1 && r.fcmMessageId === "projects/earlier/messages/1"));
        assert.equal((await acceptedFor([first.token, second.token])).length, 0);
      }
      // The devices the earlier page did not hold are written pending and sent by the dispatch, once each.
      const others = await acceptedFor(rest.map((d) => d.token));
      assert.equal(others.length, rest.length);
      assert.equal(new Set(others.map((m) => m.message.token)).size, rest.length);
      const report = await staff.call<Report>("getMessageReport", { messageId });
      assert.deepEqual(report.counts, { "200": 6 });
    }
  });
});
