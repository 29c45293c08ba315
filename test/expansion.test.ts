/**
 * Background expansion of a message's audience: sendMessage writes the
 * message and returns; a trigger on the message document expands its
 * audience in parallel part tasks, whether sendMessage wrote it or a sender
 * wrote it directly (Firebase console, a script).
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { getFunctions } from "firebase-admin/functions";
import { Timestamp } from "firebase-admin/firestore";
import { connectFirestoreEmulator, doc, getFirestore, serverTimestamp, setDoc, setLogLevel, Timestamp as ClientTimestamp } from "firebase/firestore";
import { adminApp, adminDb } from "../tools/lib/admin.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { stackEnv } from "../tools/lib/env.ts";
import { recipientStates, seedDevices, waitForRecipientCount, waitForTriggersToCatchUp, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor, configureStandIn } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";

interface Report {
  state: string;
  recipients: number | null;
  prepared: number | null;
  invalid: { field: string; message: string } | null;
  counts: Record<string, number>;
}

/** Device ids as apps make them (hashes): spread over every id range. */
const spreadId = () => `${randomBytes(12).toString("base64url")}`;

async function seedCohort(size: number, idOf: (i: number) => string = spreadId) {
  const cohort = `c-${randomUUID()}`;
  const devices = await seedDevices(Array.from({ length: size }, (_, i) => ({ deviceId: idOf(i), attributes: { cohort } })));
  return { cohort, devices };
}

async function partDocs(messageId: string) {
  return (await adminDb().collection("messages").doc(messageId).collection("expansion").get()).docs;
}

describe("background audience expansion", () => {
  let staff: ClientUser;
  before(async () => {
    setLogLevel("silent");
    staff = await signedInUser({ pushSender: true });
  });
  after(async () => {
    // A failed test must not leave FCM slow for the next.
    await configureStandIn({ latencyMs: 0 });
    await staff.close();
  });

  it("returns before the recipients exist, reports preparing with the number written so far, then delivers to every device", { timeout: 600_000 }, async () => {
    const size = 1000;
    const { cohort, devices } = await seedCohort(size);
    // FCM answering in 1.5 s holds each part's pages for that long, so the expansion is surely still going when the report is asked for.
    await configureStandIn({ latencyMs: 1500 });
    const started = Date.now();
    const sent = await staff.call<{ messageId: string; recipients: number | null }>("sendMessage", { title: "Broadcast", body: "To a cohort", audience: { where: { cohort } } });
    const callMs = Date.now() - started;
    const recipients = adminDb().collection("messages").doc(sent.messageId).collection("recipients");
    const atReturn = (await recipients.count().get()).data().count;
    assert.equal(sent.recipients, null);
    assert.ok(atReturn < size, `${atReturn} of ${size} recipients existed when the call returned`);

    const preparing = await staff.call<Report>("getMessageReport", { messageId: sent.messageId });
    await configureStandIn({ latencyMs: 0 });
    assert.equal(preparing.state, "preparing");
    assert.equal(preparing.recipients, null);
    assert.equal(typeof preparing.prepared, "number");
    const final = Object.entries(preparing.counts).filter(([code]) => code !== "-1" && code !== "-2").reduce((sum, [, n]) => sum + n, 0);
    assert.equal((preparing.counts["-1"] ?? 0) + (preparing.counts["-2"] ?? 0), Math.max(0, (preparing.prepared ?? 0) - final), "pending = prepared − final");

    assert.equal(await waitForRecipientCount(sent.messageId), size);
    const parts = await partDocs(sent.messageId);
    assert.equal(parts.length, 8);
    assert.ok(parts.every((p) => p.get("done") === true));
    assert.equal(parts.reduce((sum, p) => sum + (p.get("written") as number), 0), size);
    const states = await waitUntilFinal(sent.messageId, size, 100_000);
    assert.ok([...states.values()].every((r) => r.status === 200));
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, size);
    const done = await staff.call<Report>("getMessageReport", { messageId: sent.messageId });
    assert.equal(done.state, "done");
    assert.equal(done.recipients, size);
    assert.equal(done.prepared, null);
    console.log(`expansion figures: sendMessage to ${size} devices returned in ${callMs} ms with ${atReturn} recipients written`);
    // A thousand recipient triggers still run after the batches sent them: let the emulator catch up before the next test.
    await waitForTriggersToCatchUp();
  });

  it("expands and delivers a message document a sender writes directly, muted users left out, vars filled, sendAt a Timestamp", { timeout: 180_000 }, async () => {
    const db = getFirestore(staff.app);
    const [host, port] = stackEnv("FIRESTORE_EMULATOR_HOST").split(":");
    connectFirestoreEmulator(db, host as string, Number(port));
    const muted = await signedInUser();
    try {
      await muted.call("setPreferences", { mutedCategories: ["news"] });
      const ann = `ann-${randomUUID()}`;
      const devices = await seedDevices([{ userId: ann }, { userId: ann }, { userId: muted.uid as string }]);
      const messageId = `direct-${randomUUID()}`;
      await setDoc(doc(db, "messages", messageId), {
        title: "Hello {{name}}",
        body: "Written in the console",
        senderId: staff.uid,
        createdAt: serverTimestamp(),
        category: "news",
        audience: { users: [ann, muted.uid] },
        vars: { [ann]: { name: "Ann" } },
        sendAt: ClientTimestamp.fromMillis(Date.now() - 1000),
      });
      assert.equal(await waitForRecipientCount(messageId), 2);
      const states = await waitUntilFinal(messageId, 2);
      assert.ok([...states.values()].every((r) => r.status === 200));
      const received = await acceptedFor(devices.map((d) => d.token));
      assert.deepEqual(received.map((m) => (m.message.notification as { title: string }).title), ["Hello Ann", "Hello Ann"]);
      assert.equal((await staff.call<Report>("getMessageReport", { messageId })).state, "done");
    } finally {
      await muted.close();
    }
  });

  it("writes the reason on an invalid message document and sends nothing", { timeout: 180_000 }, async () => {
    const [device] = await seedDevices([{}]);
    assert.ok(device);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ title: "x".repeat(51), audience: { devices: [device.deviceId] } }, "title"],
      [{ audience: { users: [] } }, "audience.users"],
      [{ audience: { everyone: true } }, "audience"],
      [{ audience: { devices: [device.deviceId] }, sendAt: Timestamp.fromMillis(Date.now() + 40 * 86_400_000) }, "sendAt"],
    ];
    for (const [fields, field] of cases) {
      const ref = adminDb().collection("messages").doc();
      await ref.set({ title: "Bad", body: "A bad message", senderId: staff.uid, createdAt: Timestamp.now(), ...fields });
      const invalid = await waitFor(`the reason on ${field}`, async () => ((await ref.get()).get("invalid") as Report["invalid"]) ?? undefined);
      assert.equal(invalid?.field, field, invalid?.message);
      const report = await staff.call<Report>("getMessageReport", { messageId: ref.id });
      assert.equal(report.state, "invalid");
      assert.deepEqual(report.invalid, invalid);
      assert.equal((await ref.collection("recipients").count().get()).data().count, 0);
      assert.equal((await partDocs(ref.id)).length, 0);
    }
    assert.equal((await acceptedFor([device.token])).length, 0);
  });

  it("a cancel during the expansion stops it; everything written ends sent or cancelled", { timeout: 240_000 }, async () => {
    // Ids sharing a first character fall into one part, which then takes several pages in a row.
    const size = 3000;
    const { cohort, devices } = await seedCohort(size, () => `k${spreadId()}`);
    const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Oops", body: "Wrong cohort", audience: { where: { cohort } } });
    await staff.call("cancelMessage", { messageId });
    const written = await waitForRecipientCount(messageId);
    assert.ok(written < size, `the expansion wrote ${written} of ${size} after the cancel`);
    const stopped = (await partDocs(messageId)).filter((p) => p.get("stopped") === "cancelled");
    assert.ok(stopped.length >= 1, "a part says it stopped for the cancel");
    const states = await waitUntilFinal(messageId, written, 60_000);
    const sent = [...states.values()].filter((r) => r.status === 200).length;
    assert.ok([...states.values()].every((r) => r.status === 200 || r.status === -3));
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, sent);
    assert.equal((await staff.call<Report>("getMessageReport", { messageId })).state, "cancelled");
  });

  it("a part task run again from its start creates nothing twice and sends nothing twice", { timeout: 180_000 }, async () => {
    const { cohort, devices } = await seedCohort(60);
    const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Once", body: "Each", audience: { where: { cohort } } });
    assert.equal(await waitForRecipientCount(messageId), 60);
    await waitUntilFinal(messageId, 60);
    // As if the task had died after writing its page and before recording it: Cloud Tasks runs it again.
    const parts = await partDocs(messageId);
    const busiest = parts.reduce((a, b) => ((a.get("written") as number) >= (b.get("written") as number) ? a : b));
    assert.ok((busiest.get("written") as number) > 0);
    await busiest.ref.update({ cursor: null, written: 0, done: false });
    await getFunctions(adminApp()).taskQueue("expandAudience").enqueue({ messageId, part: Number(busiest.id), generation: 0 });
    const before = busiest.get("written") as number;
    await waitFor("the part to be done again", async () => ((await busiest.ref.get()).get("done") === true ? true : undefined));
    // Its page was found already sent: the rerun's checkpoint counts it again (the reset forgot it), and sends nothing.
    assert.equal((await busiest.ref.get()).get("written"), before);
    assert.equal((await recipientStates(messageId)).size, 60);
    assert.equal(await waitForRecipientCount(messageId), 60);
    const received = await acceptedFor(devices.map((d) => d.token));
    assert.equal(received.length, 60);
    assert.equal(new Set(received.map((m) => m.message.token)).size, 60);
  });
});
