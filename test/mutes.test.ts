/**
 * Mutes, copied onto devices: an app user's muted categories are kept on each
 * of their devices (`mutedCategories`), so that a category's broadcast, the
 * recipients a job writes directly and estimateAudience leave the user's
 * devices out without reading preferences, and the estimate stays exact
 * however many users muted the category. Devices written before the copy
 * fall back to the preferences until `npm run ops -- migrate-mutes`.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { FieldValue } from "firebase-admin/firestore";
import { migrateMutes } from "../functions/src/ops/mutes.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { addRecipients, recipientStates, seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";

const newDevice = () => ({ deviceId: `dev-${randomUUID()}`, token: `ok-${randomUUID()}`, platform: "android" as const });
const mutesOn = async (deviceId: string): Promise<unknown> => (await adminDb().collection("devices").doc(deviceId).get()).get("mutedCategories");

describe("mutes copied onto devices", () => {
  let staff: ClientUser;
  before(async () => {
    staff = await signedInUser({ pushSender: true, pushAdmin: true });
  });
  after(async () => {
    await staff.close();
  });

  const estimate = async (request: Record<string, unknown>) => (await staff.call<{ devices: number }>("estimateAudience", request)).devices;
  /** sendMessage now, and the recipients its expansion wrote. */
  async function broadcast(request: Record<string, unknown>): Promise<{ messageId: string; recipients: number }> {
    const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Mutes", body: "check", ...request });
    return { messageId, recipients: await waitForRecipientCount(messageId) };
  }
  /** A message a job writes directly (no audience): its recipients are filtered by the dispatch. */
  async function direct(category: string, deviceIds: string[]): Promise<Map<string, number>> {
    const message = adminDb().collection("messages").doc();
    await message.set({ title: "Direct", body: "Written by a job", category, senderId: null, createdAt: FieldValue.serverTimestamp() });
    const ids = await addRecipients(message.id, deviceIds.map((deviceId) => ({ deviceId })));
    const states = await waitUntilFinal(message.id, ids.length);
    return new Map(ids.map((id, i) => [deviceIds[i] as string, states.get(id)?.status as number]));
  }

  it("a muted user's devices carry the mute, are left out of a category's broadcast, direct recipients and the estimate, and come back when unmuted", { timeout: 240_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const category = `mute-${tag}`;
    const where = { grade: `m-${tag}` };
    const muted = await signedInUser();
    const other = await signedInUser();
    try {
      for (const user of [muted, other]) await staff.call("setUserAttributes", { userId: user.uid, attributes: where });
      const [before, later, kept] = [newDevice(), newDevice(), newDevice()];
      await muted.call("registerDevice", before);
      await other.call("registerDevice", kept);
      assert.deepEqual(await mutesOn(before.deviceId), [], "a device gets its user's (empty) list when registered");

      await muted.call("setPreferences", { mutedCategories: [category, "sport"] });
      assert.deepEqual(await mutesOn(before.deviceId), [category, "sport"], "setPreferences copies the list onto the user's devices");
      assert.deepEqual(await mutesOn(kept.deviceId), [], "and onto nobody else's");
      await muted.call("registerDevice", later);
      assert.deepEqual(await mutesOn(later.deviceId), [category, "sport"], "a device registered after the mute carries it");
      const refused = await callError(muted.call("registerDevice", { ...newDevice(), mutedCategories: [] }));
      assert.equal(refused.code, "functions/invalid-argument");
      assert.equal((refused.details as { field?: string }).field, "mutedCategories", "an app cannot write the copy itself");

      assert.equal(await estimate({ audience: { where }, category }), 1, "only the other user's device");
      assert.equal(await estimate({ audience: { users: [muted.uid, other.uid] }, category }), 1);
      assert.equal(await estimate({ audience: { devices: [before.deviceId, later.deviceId, kept.deviceId] }, category }), 1);
      assert.equal(await estimate({ audience: { where } }), 3, "without a category nobody is left out");
      const sent = await broadcast({ audience: { where }, category });
      assert.equal(sent.recipients, 1);
      await waitUntilFinal(sent.messageId, 1);
      assert.deepEqual([...(await recipientStates(sent.messageId)).values()].map((r) => String(r.deviceId)), [kept.deviceId]);
      assert.equal((await acceptedFor([before.token, later.token])).length, 0, "the muted user's phones got nothing");

      const statuses = await direct(category, [before.deviceId, later.deviceId, kept.deviceId]);
      assert.deepEqual(Object.fromEntries(statuses), { [before.deviceId]: -4, [later.deviceId]: -4, [kept.deviceId]: 200 });

      await muted.call("setPreferences", { mutedCategories: [] });
      assert.deepEqual(await mutesOn(later.deviceId), []);
      assert.equal(await estimate({ audience: { where }, category }), 3, "unmuted: every device again");
      const again = await broadcast({ audience: { where }, category });
      assert.equal(again.recipients, 3);
      await waitUntilFinal(again.messageId, 3);
      assert.equal((await acceptedFor([before.token, later.token])).length, 2);
    } finally {
      await Promise.all([muted.close(), other.close()]);
    }
  });

  it("the migration copies mutes onto devices written before the copy, and the estimate is then exact with 150 users muting the category", { timeout: 300_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const category = `many-${tag}`;
    const where = { grade: `many-${tag}` };
    const mutedUsers = Array.from({ length: 150 }, (_, i) => `muted-${i}-${tag}`);
    const listeners = Array.from({ length: 4 }, (_, i) => `listener-${i}-${tag}`);
    // Preferences and devices as they were before the copy: the devices have no mutedCategories.
    const writer = adminDb().bulkWriter();
    for (const uid of mutedUsers) void writer.set(adminDb().collection("preferences").doc(uid), { mutedCategories: [category] });
    await writer.close();
    const devices = await seedDevices([...mutedUsers, ...listeners].map((userId) => ({ userId, attributes: where })));
    const [first] = devices;
    assert.ok(first);
    assert.equal(await mutesOn(first.deviceId), undefined);

    // Until the migration, sending falls back to each such user's preferences; the estimate counts their devices.
    const legacy = await broadcast({ audience: { where }, category });
    assert.equal(legacy.recipients, listeners.length, "the expansion reads the preferences of devices without the copy");
    assert.equal((await direct(category, [first.deviceId])).get(first.deviceId), -4, "and so does the dispatch");
    assert.equal(await estimate({ audience: { where }, category }), devices.length, "devices without the copy count as not muted");

    const migrated = await migrateMutes();
    assert.ok(migrated.copied >= devices.length, `every seeded device got its copy (${JSON.stringify(migrated)})`);
    assert.deepEqual(await mutesOn(first.deviceId), [category]);
    assert.deepEqual(await mutesOn(devices[devices.length - 1]?.deviceId as string), [], "a user without preferences gets an empty list");
    assert.equal((await migrateMutes()).copied, 0, "a second run changes nothing");

    assert.equal(await estimate({ audience: { where }, category }), listeners.length);
    assert.equal(await estimate({ audience: { users: [...mutedUsers, ...listeners] }, category }), listeners.length);
    assert.equal(await estimate({ audience: { where } }), devices.length);
    const sent = await broadcast({ audience: { where }, category });
    assert.equal(sent.recipients, listeners.length);
  });
});
