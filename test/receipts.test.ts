/**
 * Receipts: the app of a device's owner reports that a notification arrived
 * (`received`) and that it was tapped (`opened`) with ackMessage; each counts
 * once per message, device and event, however often the app repeats it, in
 * the report, the per-recipient lookup and the hourly metrics (a tally task
 * per message and window: RECEIPT_TALLY_SECONDS, 2 s on the local stack).
 * Another user's ack, an ack for a message the device never got and
 * malformed acks change nothing. The console's funnel and its "not opened
 * yet" list follow the acks.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Timestamp } from "firebase-admin/firestore";
import type { Browser } from "playwright-core";
import { analyticsLabelOf } from "../functions/src/fcm/payload.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { ensureStaff } from "../tools/seed.ts";
import { hostingOrigin, launchBrowser } from "./support/browser.ts";

const SHOTS = ".cache/console";
const PHONE = { width: 390, height: 844 };

interface Report {
  counts: Record<string, number>;
  receipts: { received: number; opened: number };
}
interface Lookup {
  status: number;
  receivedAt: string | null;
  openedAt: string | null;
}
interface Ack {
  counted: boolean;
}
interface ListPage {
  items: Array<{ deviceId: string; userId: string | null; receivedAt: string | null; openedAt: string | null }>;
  nextPageToken: string | null;
}
interface Hour {
  received: number;
  opened: number;
}

const newDevice = () => ({ deviceId: `dev-${randomUUID()}`, token: `ok-${randomUUID()}`, platform: "android" as const });
const details = (err: { details?: unknown }) => (err.details ?? {}) as { field?: string };

describe("receipts (ackMessage, the tally, the report, the lookup, the metrics, the console)", () => {
  let staff: ClientUser;
  let owner: ClientUser;
  let stranger: ClientUser;
  /** The owner's phone, the one recipient of `messageId`; and another of the owner's devices that got nothing. */
  const phone = newDevice();
  const spare = newDevice();
  let messageId: string;

  const report = (id = messageId) => staff.call<Report>("getMessageReport", { messageId: id });
  const lookup = (deviceId: string, id = messageId) => staff.call<Lookup>("getRecipientStatus", { messageId: id, deviceId });
  const ack = (user: ClientUser, event: string, deviceId = phone.deviceId, id = messageId) => user.call<Ack>("ackMessage", { messageId: id, deviceId, event });
  /** The receipts the last two hours' metrics hold, all messages together (this stack runs this file alone). */
  async function metricReceipts(): Promise<Hour> {
    const { hours } = await staff.call<{ hours: Hour[] }>("getDeliveryStats", { hours: 2 });
    return hours.reduce((sum, h) => ({ received: sum.received + h.received, opened: sum.opened + h.opened }), { received: 0, opened: 0 });
  }
  /** Waits for the report's receipts to read `want` (a tally lands within a window of 2 s and its task's start). */
  const tallied = (want: Report["receipts"], id = messageId) =>
    waitFor(`receipts ${JSON.stringify(want)} in the report of ${id}`, async () => {
      const got = (await report(id)).receipts;
      return got.received === want.received && got.opened === want.opened ? got : undefined;
    }, 30_000, 300);
  const receiptDocs = async (id = messageId) => (await adminDb().collection(`messages/${id}/receipts`).get()).docs.map((d) => d.id).sort();

  before(async () => {
    staff = await signedInUser({ pushSender: true, pushAdmin: true });
    owner = await signedInUser();
    stranger = await signedInUser();
    await owner.call("registerDevice", phone);
    await owner.call("registerDevice", spare);
    ({ messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Receipts", body: "Trip tomorrow", audience: { devices: [phone.deviceId] } }));
    await waitUntilFinal(messageId, 1);
  });
  after(async () => {
    await Promise.all([staff, owner, stranger].map((user) => user?.close()));
  });

  it("labels every FCM message with its message id (fcmOptions.analyticsLabel, at the message's top level)", async () => {
    const [sent] = await acceptedFor([phone.token]);
    assert.ok(sent, "the stand-in got the phone's message");
    assert.deepEqual(sent.message.fcmOptions, { analyticsLabel: messageId });
    assert.equal((sent.message.data as Record<string, string>).messageId, messageId, "and the app finds the id to ack in data.messageId");
  });

  it("derives a label FCM accepts from any message id, the id itself when it fits", () => {
    const fcmLabel = /^[a-zA-Z0-9\-_.~%]{1,50}$/;
    for (const id of ["AbC123xyz09876543210", "0123456789abcdef0123456789abcdef01234567"]) assert.equal(analyticsLabelOf(id), id);
    const odd = ["job:2026/12/07 weekly", "x".repeat(128), "é", "x".repeat(127) + "y"];
    const labels = odd.map(analyticsLabelOf);
    for (const label of labels) assert.match(label, fcmLabel);
    assert.equal(new Set(labels).size, labels.length, "ids that differ get labels that differ");
  });

  it("counts received, then opened, once each however often the app repeats them: report, lookup and metrics", { timeout: 90_000 }, async () => {
    const before = await metricReceipts();
    assert.deepEqual((await report()).receipts, { received: 0, opened: 0 }, "nothing reported yet");
    assert.deepEqual(await lookup(phone.deviceId).then((r) => [r.receivedAt, r.openedAt]), [null, null]);

    assert.equal((await ack(owner, "received")).counted, true, "the first received counts");
    assert.equal((await ack(owner, "received")).counted, false, "a repeat does not");
    await tallied({ received: 1, opened: 0 });
    const received = await lookup(phone.deviceId);
    assert.ok(received.receivedAt && received.openedAt === null, "the lookup has the arrival only");

    assert.equal((await ack(owner, "opened")).counted, true, "the first opened counts");
    const repeats = await Promise.all([ack(owner, "opened"), ack(owner, "opened"), ack(owner, "received")]);
    assert.deepEqual(repeats.map((r) => r.counted), [false, false, false], "repeats, in parallel too, count nothing");
    await tallied({ received: 1, opened: 1 });
    const opened = await lookup(phone.deviceId);
    assert.equal(opened.status, 200);
    assert.equal(opened.receivedAt, received.receivedAt, "the arrival keeps its first time");
    assert.ok(opened.openedAt && opened.openedAt >= opened.receivedAt);

    // Every tally asked for has run by now (2 s windows): the metrics hold each receipt once.
    const metrics = await waitFor("the metrics to hold the receipts", async () => {
      const now = await metricReceipts();
      return now.opened - before.opened >= 1 ? now : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.deepEqual(await metricReceipts(), metrics, "no later tally adds them again");
    assert.deepEqual({ received: metrics.received - before.received, opened: metrics.opened - before.opened }, { received: 1, opened: 1 });
    assert.deepEqual((await report()).receipts, { received: 1, opened: 1 });
    assert.deepEqual(await receiptDocs(), [phone.deviceId], "one receipt document, the device's");
  });

  it("refuses another user's ack, an ack for a message the device never got, and malformed acks, changing nothing", { timeout: 60_000 }, async () => {
    const receiptsBefore = await receiptDocs();
    const reportBefore = (await report()).receipts;
    const metricsBefore = await metricReceipts();

    const theirs = await callError(ack(stranger, "opened"));
    assert.equal(theirs.code, "functions/permission-denied");
    assert.equal(details(theirs).field, "deviceId");
    const unknownDevice = await callError(ack(stranger, "received", `dev-${randomUUID()}`));
    assert.equal(unknownDevice.code, "functions/not-found");
    assert.equal(details(unknownDevice).field, "deviceId");

    const notSent = await callError(ack(owner, "received", spare.deviceId));
    assert.equal(notSent.code, "functions/not-found", "the owner's other device was not a recipient");
    assert.equal(details(notSent).field, "messageId");
    const noMessage = await callError(ack(owner, "received", phone.deviceId, `no-such-${randomUUID()}`));
    assert.equal(noMessage.code, "functions/not-found");

    const malformed: Array<[Record<string, unknown>, string]> = [
      [{ messageId, deviceId: phone.deviceId, event: "clicked" }, "event"],
      [{ messageId, deviceId: phone.deviceId }, "event"],
      [{ messageId, event: "opened" }, "deviceId"],
      [{ messageId: "a/b", deviceId: phone.deviceId, event: "opened" }, "messageId"],
      [{ messageId, deviceId: "x", event: "opened" }, "deviceId"],
      [{ messageId, deviceId: phone.deviceId, event: "opened", count: 5 }, "count"],
    ];
    for (const [input, field] of malformed) {
      const err = await callError(owner.call("ackMessage", input));
      assert.equal(err.code, "functions/invalid-argument", JSON.stringify(input));
      assert.equal(details(err).field, field, JSON.stringify(input));
    }
    const numeric = await callError(owner.call("ackMessage", { messageId, deviceId: phone.deviceId, event: 1 }));
    assert.equal(numeric.code, "functions/invalid-argument");

    assert.deepEqual(await receiptDocs(), receiptsBefore, "no receipt written");
    assert.deepEqual(await receiptDocs(`no-such-${randomUUID()}`), []);
    assert.equal((await adminDb().doc(`messages/${messageId}/receipts/${spare.deviceId}`).get()).exists, false);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.deepEqual((await report()).receipts, reportBefore, "the counts stand");
    assert.deepEqual(await metricReceipts(), metricsBefore, "and so do the metrics");
  });

  it("limits a device's acks per minute (ACKS_PER_DEVICE_PER_MINUTE, 20 here) with resource-exhausted", { timeout: 60_000 }, async () => {
    // The spare device is the owner's but no recipient: each ack counts toward its rate and is refused as not-found.
    // A burst may straddle two minutes, so the limit is reached within twice the limit and one.
    let refused: { code: string; details?: unknown } | undefined;
    for (let i = 0; i < 41 && !refused; i++) {
      const err = await callError(ack(owner, "received", spare.deviceId));
      if (err.code === "functions/resource-exhausted") refused = err;
      else assert.equal(err.code, "functions/not-found");
    }
    assert.ok(refused, "the device's acks were limited");
    assert.equal(details(refused).field, "deviceId");
    assert.ok(((refused.details as { retryAfterSeconds?: number }).retryAfterSeconds ?? 0) > 0);
    assert.equal((await callError(ack(owner, "opened", spare.deviceId))).code, "functions/resource-exhausted", "and stays limited for the minute");
    assert.deepEqual((await ack(owner, "received")).counted, false, "another device of the same user is not limited by it");
  });

  describe("a broadcast (compact pages)", () => {
    const tag = randomUUID().slice(0, 8);
    let broadcastId: string;
    let reader: { deviceId: string };
    let unread: { deviceId: string };

    before(async () => {
      // Three of the owner's devices share an attribute of their own; one has a dead token.
      await seedDevices([
        { userId: owner.uid as string, attributes: { club: `r-${tag}` } },
        { userId: owner.uid as string, attributes: { club: `r-${tag}` } },
        { userId: owner.uid as string, attributes: { club: `r-${tag}` }, token: `unregistered-${randomUUID()}` },
      ]);
      ({ messageId: broadcastId } = await staff.call<{ messageId: string }>("sendMessage", { title: `Club ${tag}`, body: "Meeting moved", audience: { where: { club: `r-${tag}` } } }));
      assert.equal(await waitForRecipientCount(broadcastId), 3);
      const states = await waitUntilFinal(broadcastId, 3);
      const accepted = [...states.values()].filter((r) => r.status === 200);
      assert.equal(accepted.length, 2);
      assert.ok(accepted.every((r) => r.recordedIn === "page"), "the accepted ones have no document of their own");
      [reader, unread] = accepted.map((r) => ({ deviceId: String(r.deviceId) })) as [{ deviceId: string }, { deviceId: string }];
    });

    it("acks a device found on its page, and lists the accepted recipients by stage", { timeout: 60_000 }, async () => {
      assert.equal((await ack(owner, "opened", reader.deviceId, broadcastId)).counted, true, "an open without an arrival counts as both");
      assert.equal((await ack(owner, "received", reader.deviceId, broadcastId)).counted, false);
      await tallied({ received: 1, opened: 1 }, broadcastId);
      const found = await lookup(reader.deviceId, broadcastId);
      assert.ok(found.receivedAt && found.openedAt && found.receivedAt === found.openedAt);

      const list = async (stage: string) => {
        const items: ListPage["items"] = [];
        let pageToken: string | undefined;
        for (let calls = 0; calls < 10; calls++) {
          const page = await staff.call<ListPage>("listRecipientsByReceipt", { messageId: broadcastId, stage, ...(pageToken && { pageToken }) });
          items.push(...page.items);
          if (!page.nextPageToken) return items.map((i) => i.deviceId).sort();
          pageToken = page.nextPageToken;
        }
        throw new Error("the list did not end");
      };
      assert.deepEqual(await list("not-opened"), [unread.deviceId]);
      assert.deepEqual(await list("not-received"), [unread.deviceId]);
      assert.deepEqual(await list("opened"), [reader.deviceId]);
      const notStaff = await callError(owner.call("listRecipientsByReceipt", { messageId: broadcastId, stage: "opened" }));
      assert.equal(notStaff.code, "functions/permission-denied");
      const badToken = await callError(staff.call("listRecipientsByReceipt", { messageId: broadcastId, stage: "opened", pageToken: "bm90LWEtY3Vyc29y" }));
      assert.equal(badToken.code, "functions/invalid-argument");
      assert.equal(details(badToken).field, "pageToken");
    });

    it("accepts an ack from a device its page lists before the page's outcomes are stored", async () => {
      // The spare device is rate limited this minute (the test above): a fresh device of the owner.
      const fresh = newDevice();
      await owner.call("registerDevice", fresh);
      // A page as an expansion part creates it before its sendEach: recipients listed, no outcomes yet.
      const message = adminDb().collection("messages").doc();
      await message.set({ title: "Sending", body: "Page in flight", senderId: null, createdAt: Timestamp.now() });
      await message.collection("pages").doc("00-inflight").set({
        state: "sending",
        part: 0,
        attempt: 1,
        recipients: [{ id: "r-inflight", deviceId: fresh.deviceId, userId: owner.uid }],
        lastDeviceId: fresh.deviceId,
        leaseExpiresAt: Timestamp.fromMillis(Date.now() + 60_000),
        updatedAt: Timestamp.now(),
      });
      assert.equal((await ack(owner, "received", fresh.deviceId, message.id)).counted, true);
      assert.deepEqual(await receiptDocs(message.id), [fresh.deviceId]);
    });

    it("shows the funnel and the \"not opened yet\" list in the console (desktop and phone)", { timeout: 120_000 }, async () => {
      const email = `receipts-${tag}@example.com`;
      const password = "password-123";
      await ensureStaff(email, password);
      mkdirSync(SHOTS, { recursive: true });
      let browser: Browser | undefined;
      try {
        browser = await launchBrowser();
        const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" })).newPage();
        await page.goto(`${hostingOrigin()}/`);
        await page.getByLabel("Email").fill(email);
        await page.keyboard.press("Tab");
        await page.keyboard.type(password);
        await page.keyboard.press("Enter");
        await page.getByLabel("Title").waitFor();
        await page.goto(`${hostingOrigin()}/#/messages/${broadcastId}`);
        const stage = (name: string) => page.locator(`ol.funnel li[data-stage="${name}"]`);
        await stage("opened").locator(".stage-count").filter({ hasText: /^1$/ }).waitFor({ timeout: 30_000 });
        assert.equal(await stage("recipients").locator(".stage-count").textContent(), "3");
        assert.equal(await stage("accepted").locator(".stage-count").textContent(), "2");
        assert.equal(await stage("received").locator(".stage-count").textContent(), "1");
        assert.equal(await stage("accepted").locator(".stage-rate").textContent(), "67% of recipients");
        assert.equal(await stage("received").locator(".stage-rate").textContent(), "50% of accepted");
        assert.equal(await stage("opened").locator(".stage-rate").textContent(), "100% of received");

        assert.equal(await page.getByRole("combobox", { name: "Recipients" }).inputValue(), "not-opened", "\"not opened yet\" is the list offered first");
        await page.getByRole("button", { name: "List", exact: true }).click();
        const table = page.getByRole("table", { name: "Recipients: Not opened yet" });
        await table.getByRole("cell", { name: unread.deviceId }).waitFor();
        assert.equal(await table.getByRole("cell", { name: reader.deviceId }).count(), 0, "the one who opened it is not listed");
        await page.getByText("1 not opened yet").waitFor();
        await page.screenshot({ path: `${SHOTS}/receipts-desktop.png`, fullPage: true });
        await page.setViewportSize(PHONE);
        await page.screenshot({ path: `${SHOTS}/receipts-phone.png`, fullPage: true });

        await page.getByRole("combobox", { name: "Recipients" }).selectOption("opened");
        await page.getByRole("button", { name: "List", exact: true }).click();
        await page.getByRole("table", { name: "Recipients: Opened" }).getByRole("cell", { name: reader.deviceId }).waitFor();
      } finally {
        await browser?.close();
      }
    });
  });
});
