/**
 * Delivery at a decent hour, through the real stack: a user's quiet hours
 * hold a normal message until they end and let an emergency through at once
 * (with its high-priority payload); `sendAtLocal` reaches each device at that
 * wall-clock time in its own zone; who may send an emergency; bad input.
 *
 * The holds are made to end at the next minute, a few seconds away: the
 * tests wait for second 47 of a minute before sending, so the held
 * recipients' retry task (which the emulator delivers at once) waits out the
 * rest itself, as Cloud Tasks would schedule it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, it } from "node:test";
import { createKey } from "../functions/src/keys/service.ts";
import type { MessageReport, SendResult } from "../functions/src/sending/schema.ts";
import { instantOf, wallTimeAt } from "../functions/src/shared/zones.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { seedDevices, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { api, errorCode } from "./support/api.ts";

const pad = (n: number) => String(n).padStart(2, "0");
const hhmm = (ms: number, zone: string) => {
  const wall = wallTimeAt(ms, zone);
  return `${pad(wall.hour)}:${pad(wall.minute)}`;
};
const localTime = (ms: number, zone: string) => {
  const wall = wallTimeAt(ms, zone);
  return `${wall.year}-${pad(wall.month)}-${pad(wall.day)}T${pad(wall.hour)}:${pad(wall.minute)}`;
};
/** The start of the next minute, from a moment at least 47 s into the current one (waiting for it if need be). */
async function nextMinuteSoon(): Promise<number> {
  await waitFor("second 47 of a minute", () => (new Date().getUTCSeconds() >= 47 && new Date().getUTCSeconds() < 50 ? true : undefined), 65_000, 100);
  return Math.ceil(Date.now() / 60_000) * 60_000;
}

async function withZones(devices: Array<{ deviceId: string }>, zones: Array<string | undefined>): Promise<void> {
  await Promise.all(devices.flatMap((d, i) => (zones[i] ? [adminDb().collection("devices").doc(d.deviceId).update({ timezone: zones[i] })] : [])));
}

async function messagesOf(senderId: string): Promise<number> {
  return (await adminDb().collection("messages").where("senderId", "==", senderId).count().get()).data().count;
}

describe("quiet hours, local time and urgency", () => {
  let staff: ClientUser;
  let emergencyStaff: ClientUser;

  before(async () => {
    [staff, emergencyStaff] = await Promise.all([signedInUser({ pushSender: true }), signedInUser({ pushSender: true, pushEmergency: true })]);
    // Warm the functions the timed part calls: a cold start would eat the seconds a hold lasts.
    const warm = await staff.call<SendResult>("sendMessage", { title: "t", body: "b", audience: { users: [`nobody-${randomUUID()}`] } });
    await staff.call<SendResult>("sendMessage", { title: "t", body: "b", audience: { where: { group: `none-${randomUUID()}` } } });
    await Promise.all([staff.call("getMessageReport", { messageId: warm.messageId }), staff.call("getRecipientStatus", { messageId: warm.messageId, deviceId: "none" }).catch(() => undefined), (await signedInUser()).call("setPreferences", { mutedCategories: [] })]);
  });

  it("holds a normal message until the user's quiet hours end, sends an emergency at once at high priority, and sendAtLocal reaches each zone at its own hour", { timeout: 150_000 }, async () => {
    const parent = await signedInUser();
    const zone = "Asia/Kolkata";
    const group = `g-${randomUUID()}`;
    const quiet = await seedDevices([{ userId: parent.uid!, platform: "android", attributes: { group } }, { userId: parent.uid!, platform: "ios", attributes: { group } }]);
    await withZones(quiet, [zone, zone]);
    // Three devices of another user for the local-time send: its moment comes in seconds (Kolkata), has passed (Kiritimati, UTC+14), is hours away (Los Angeles).
    const traveller = `u-${randomUUID()}`;
    const zoned = await seedDevices([{ userId: traveller }, { userId: traveller }, { userId: traveller }]);
    await withZones(zoned, ["Asia/Kolkata", "Pacific/Kiritimati", "America/Los_Angeles"]);

    const end = await nextMinuteSoon();
    const answer = await parent.call<{ quietHours: { start: string; end: string } | null }>("setPreferences", { quietHours: { start: hhmm(Date.now() - 3600_000, zone), end: hhmm(end, zone) } });
    assert.deepEqual(answer.quietHours, { start: hhmm(Date.now() - 3600_000, zone), end: hhmm(end, zone) });

    const normal = await staff.call<SendResult>("sendMessage", { title: "Bake sale", body: "Tomorrow in the gym", audience: { users: [parent.uid] } });
    // The same through the broadcast path (an expansion part's page): held devices are written pending, not sent with the page.
    const broadcast = await staff.call<SendResult>("sendMessage", { title: "Newsletter", body: "This week", audience: { where: { group } } });
    const emergency = await emergencyStaff.call<SendResult>("sendMessage", { title: "Lockdown", body: "Stay inside", audience: { users: [parent.uid] }, urgency: "emergency" });
    const sendAtLocal = localTime(end, "Asia/Kolkata");
    const local = await staff.call<SendResult>("sendMessage", { title: "Good morning", body: "Assembly at nine", audience: { users: [traveller] }, sendAtLocal });

    // The normal one waits, and its report says for what and until when.
    const report = await staff.call<MessageReport>("getMessageReport", { messageId: normal.messageId });
    assert.equal(Date.now() < end, true, "the test was too slow to see the hold");
    assert.deepEqual(report.held.quietHours, { devices: 2, until: new Date(end).toISOString() });
    assert.equal(report.counts["-1"], 2);
    const lookup = await staff.call<{ heldFor: string | null; heldUntil: string | null }>("getRecipientStatus", { messageId: normal.messageId, deviceId: quiet[0]!.deviceId });
    assert.deepEqual([lookup.heldFor, lookup.heldUntil], ["quietHours", new Date(end).toISOString()]);

    // The emergency is through at once, with the high-priority settings of each platform.
    const urgentStates = await waitUntilFinal(emergency.messageId, 2, 30_000);
    for (const state of urgentStates.values()) assert.ok((state.sentAt as { toMillis(): number }).toMillis() < end, "the emergency waited for quiet hours");
    const urgent = (await acceptedFor(quiet.map((d) => d.token))).filter((entry) => (entry.message.data as Record<string, string>).messageId === emergency.messageId);
    assert.equal(urgent.length, 2);
    const android = urgent.find((entry) => entry.message.android)?.message as { android: { priority: string }; data: Record<string, string> };
    const ios = urgent.find((entry) => entry.message.apns)?.message as { apns: { headers: Record<string, string>; payload: { aps: Record<string, unknown> } } };
    assert.equal(android.android.priority, "high");
    assert.equal(android.data.urgency, "emergency");
    assert.equal(ios.apns.headers["apns-priority"], "10");
    assert.equal(ios.apns.payload.aps["interruption-level"], "time-sensitive");

    // Kiritimati's 'sendAtLocal' is long past: at once. Kolkata's comes at `end`, Los Angeles' hours later.
    const lateMoment = instantOf(wallTimeAt(end, "Asia/Kolkata"), "America/Los_Angeles");
    const localReport = await staff.call<MessageReport>("getMessageReport", { messageId: local.messageId });
    assert.equal(localReport.sendAtLocal, sendAtLocal);
    assert.deepEqual(localReport.held.localTime, { devices: 2, until: new Date(lateMoment).toISOString() });

    // Then quiet hours end: the normal message goes out, none of it before.
    const states = await waitUntilFinal(normal.messageId, 2, 60_000);
    for (const state of states.values()) {
      assert.equal(state.status, 200);
      assert.ok((state.sentAt as { toMillis(): number }).toMillis() >= end, "sent inside quiet hours");
    }
    for (const state of (await waitUntilFinal(broadcast.messageId, 2, 30_000)).values()) assert.ok((state.sentAt as { toMillis(): number }).toMillis() >= end, "a broadcast sent inside quiet hours");
    const [kolkata, kiritimati, losAngeles] = zoned;
    const reached = async (device: { token: string }) => (await acceptedFor([device.token])).filter((entry) => (entry.message.data as Record<string, string>).messageId === local.messageId);
    await waitFor("the Kolkata device's local moment", async () => ((await reached(kolkata!)).length === 1 ? true : undefined), 60_000);
    assert.ok(Date.parse((await reached(kolkata!))[0]!.receivedAt) >= end);
    assert.equal((await reached(kiritimati!)).length, 1);
    assert.equal((await reached(losAngeles!)).length, 0);
    const after = await staff.call<MessageReport>("getMessageReport", { messageId: local.messageId });
    assert.deepEqual(after.held.localTime, { devices: 1, until: new Date(lateMoment).toISOString() });
    // Cancel still stops a held recipient.
    assert.equal((await staff.call<{ cancelled: number }>("cancelMessage", { messageId: local.messageId })).cancelled, 1);
  });

  it("refuses an emergency from a sender without the right, and bad input, writing nothing", { timeout: 60_000 }, async () => {
    const userId = `u-${randomUUID()}`;
    const before = await messagesOf(staff.uid!);
    const denied = await callError(staff.call("sendMessage", { title: "t", body: "b", audience: { users: [userId] }, urgency: "emergency" }));
    assert.equal(denied.code, "functions/permission-denied");
    assert.match(denied.message, /pushEmergency/);
    for (const [input, field] of [
      [{ sendAtLocal: "2030-01-31 08:00" }, "sendAtLocal"],
      [{ sendAtLocal: "2030-02-30T08:00" }, "sendAtLocal"],
      [{ sendAtLocal: "2030-01-31T08:00Z" }, "sendAtLocal"],
      [{ sendAtLocal: localTime(Date.now() + 40 * 86_400_000, "UTC") }, "sendAtLocal"],
      [{ sendAtLocal: localTime(Date.now() + 3600_000, "UTC"), sendAt: new Date(Date.now() + 3600_000).toISOString() }, "sendAtLocal"],
      [{ urgency: "critical" }, "urgency"],
    ] as const) {
      const err = await callError(staff.call("sendMessage", { title: "t", body: "b", audience: { users: [userId] }, ...input }));
      assert.equal(err.code, "functions/invalid-argument", JSON.stringify(input));
      assert.equal((err.details as { field?: string }).field, field, JSON.stringify(input));
    }
    assert.equal(await messagesOf(staff.uid!), before, "a refused send wrote a message");

    const parent = await signedInUser();
    for (const quietHours of [{ start: "9pm", end: "07:00" }, { start: "21:00" }, "21:00-07:00", { start: "24:00", end: "07:00" }]) {
      const err = await callError(parent.call("setPreferences", { quietHours }));
      assert.equal(err.code, "functions/invalid-argument", JSON.stringify(quietHours));
      assert.match(String((err.details as { field?: string }).field), /^quietHours/);
    }
    assert.equal((await adminDb().collection("preferences").doc(parent.uid!).get()).exists, false, "a refused preference was stored");

    // A key needs the messages:emergency scope; with it, the emergency is accepted.
    const plain = await createKey({ name: `k ${randomUUID()}`, scopes: ["messages:send"], surface: "api" });
    const refused = await api("/v1/messages", { key: plain.secret, body: { title: "t", body: "b", audience: { users: [userId] }, urgency: "emergency" } });
    assert.equal(refused.status, 403);
    assert.equal(errorCode(refused), "permission-denied");
    assert.match(refused.text, /messages:emergency/);
    const allowed = await createKey({ name: `k ${randomUUID()}`, scopes: ["messages:send", "messages:emergency"], surface: "api" });
    const accepted = await api("/v1/messages", { key: allowed.secret, body: { title: "t", body: "b", audience: { users: [userId] }, urgency: "emergency" } });
    assert.equal(accepted.status, 201, accepted.text);
    await assert.rejects(createKey({ name: "site", scopes: ["messages:send", "messages:emergency"], surface: "moodle" }), /messages:emergency is for partner API keys/);
  });
});
