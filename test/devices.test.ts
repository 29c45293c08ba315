import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Timestamp } from "firebase-admin/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { anonymousClient, callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";

const newDeviceId = () => `dev-${randomUUID()}`;
const newToken = () => `token-${randomUUID()}`;
const deviceDoc = (id: string) => adminDb().collection("devices").doc(id);

describe("device registration", () => {
  let alice: ClientUser;
  let bob: ClientUser;

  before(async () => {
    alice = await signedInUser();
    bob = await signedInUser();
  });
  after(async () => {
    await alice.close();
    await bob.close();
  });

  it("registers a new device with its fields and an enabled, zero-badge, live state", async () => {
    const deviceId = newDeviceId();
    const token = newToken();
    const result = await alice.call("registerDevice", {
      deviceId,
      token,
      platform: "ios",
      appVersion: "3.2.1",
      osVersion: "17.4",
      locale: "fr-FR",
      timezone: "Europe/Paris",
      userInfo: { theme: "dark", fontScale: 2, newsDigest: false },
    });
    assert.deepEqual(result, { deviceId, created: true });
    const doc = (await deviceDoc(deviceId).get()).data();
    assert.ok(doc);
    assert.equal(doc.userId, alice.uid);
    assert.equal(doc.token, token);
    assert.equal(doc.platform, "ios");
    assert.equal(doc.enabled, true);
    assert.equal(doc.badge, 0);
    assert.equal(doc.retired, false);
    assert.equal(doc.locale, "fr-FR");
    assert.equal(doc.timezone, "Europe/Paris");
    assert.deepEqual(doc.userInfo, { theme: "dark", fontScale: 2, newsDigest: false });
    // The school set no attributes for this user (yet): the device's copy is empty.
    assert.deepEqual(doc.attributes, {});
    assert.ok(doc.createdAt instanceof Timestamp && doc.updatedAt instanceof Timestamp);
  });

  it("requires a signed-in caller for every device callable", async () => {
    const anonymous = anonymousClient();
    try {
      for (const name of ["registerDevice", "unregisterDevice", "setDeviceEnabled", "listDevices", "resetBadge"]) {
        const err = await callError(anonymous.call(name, { deviceId: newDeviceId(), token: newToken(), platform: "android" }));
        assert.equal(err.code, "functions/unauthenticated", name);
      }
    } finally {
      await anonymous.close();
    }
  });

  const invalidCases: Array<[string, Record<string, unknown>, string]> = [
    ["a device ID with a slash", { deviceId: "abc/defgh123" }, "deviceId"],
    ["a device ID that is too short", { deviceId: "abc" }, "deviceId"],
    ["a device ID that is too long", { deviceId: "x".repeat(129) }, "deviceId"],
    ["a missing token", { token: undefined }, "token"],
    ["a token that is too short", { token: "abc" }, "token"],
    ["a token that is too long", { token: "t".repeat(1025) }, "token"],
    ["an unknown platform", { platform: "symbian" }, "platform"],
    ["a malformed locale", { locale: "not a locale!" }, "locale"],
    ["a time zone that is not IANA", { timezone: "Mars/Olympus_Mons" }, "timezone"],
    ["a UTC offset instead of a time zone", { timezone: "+05:00" }, "timezone"],
    ["userInfo with 21 entries", { userInfo: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) }, "userInfo"],
    ["userInfo with a nested object", { userInfo: { nested: { a: 1 } } }, "userInfo.nested"],
    ["userInfo with a key that cannot be a field path", { userInfo: { "bad.key": 1 } }, "userInfo.bad.key"],
    ["an unknown field", { favouriteColour: "blue" }, "favouriteColour"],
  ];
  for (const [label, patch, field] of invalidCases) {
    it(`rejects ${label} with invalid-argument naming "${field}" and writes nothing`, async () => {
      const deviceId = newDeviceId();
      const input = { deviceId, token: newToken(), platform: "android", ...patch };
      const countBefore = (await adminDb().collection("devices").where("userId", "==", alice.uid).count().get()).data().count;
      const err = await callError(alice.call("registerDevice", input));
      assert.equal(err.code, "functions/invalid-argument");
      assert.equal((err.details as { field?: string }).field, field);
      assert.match(err.message, new RegExp(field.split(".")[0] ?? field));
      const countAfter = (await adminDb().collection("devices").where("userId", "==", alice.uid).count().get()).data().count;
      assert.equal(countAfter, countBefore, "nothing was written");
    });
  }

  it("refuses a live device owned by another user, telling the user to reinstall", async () => {
    const deviceId = newDeviceId();
    const token = newToken();
    await alice.call("registerDevice", { deviceId, token, platform: "android" });
    const err = await callError(bob.call("registerDevice", { deviceId, token: newToken(), platform: "android" }));
    assert.equal(err.code, "functions/failed-precondition");
    assert.match(err.message, /reinstall/i);
    const doc = (await deviceDoc(deviceId).get()).data();
    assert.equal(doc?.userId, alice.uid);
    assert.equal(doc?.token, token);
  });

  it("lets another user take over a retired device", async () => {
    const deviceId = newDeviceId();
    await alice.call("registerDevice", { deviceId, token: newToken(), platform: "android" });
    await deviceDoc(deviceId).update({ retired: true, retiredAt: Timestamp.now(), retiredReason: "unregistered" });
    const token = newToken();
    assert.deepEqual(await bob.call("registerDevice", { deviceId, token, platform: "web" }), { deviceId, created: true });
    const doc = (await deviceDoc(deviceId).get()).data();
    assert.equal(doc?.userId, bob.uid);
    assert.equal(doc?.token, token);
    assert.equal(doc?.retired, false);
  });

  it("updates the token and updatedAt and un-retires when the owner re-registers", async () => {
    const deviceId = newDeviceId();
    await alice.call("registerDevice", { deviceId, token: newToken(), platform: "ios", locale: "en-US" });
    await deviceDoc(deviceId).update({ retired: true, retiredAt: Timestamp.now(), retiredReason: "invalid", badge: 4, enabled: false });
    const before = (await deviceDoc(deviceId).get()).data();
    const token = newToken();
    assert.deepEqual(await alice.call("registerDevice", { deviceId, token, platform: "ios" }), { deviceId, created: false });
    const doc = (await deviceDoc(deviceId).get()).data();
    assert.equal(doc?.token, token);
    assert.equal(doc?.retired, false);
    assert.equal(doc?.retiredReason, null);
    assert.equal(doc?.locale, "en-US", "fields not sent again are kept");
    assert.equal(doc?.enabled, false, "the user's switch is kept");
    assert.equal(doc?.badge, 4, "the badge counter is kept");
    assert.ok((doc?.updatedAt as Timestamp).toMillis() > (before?.updatedAt as Timestamp).toMillis());
    assert.equal((doc?.createdAt as Timestamp).toMillis(), (before?.createdAt as Timestamp).toMillis());
  });

  it("retires another device document holding the same token as replaced", async () => {
    const oldDevice = newDeviceId();
    const newDevice = newDeviceId();
    const token = newToken();
    await alice.call("registerDevice", { deviceId: oldDevice, token, platform: "android" });
    await bob.call("registerDevice", { deviceId: newDevice, token, platform: "android" });
    const old = (await deviceDoc(oldDevice).get()).data();
    assert.equal(old?.retired, true);
    assert.equal(old?.retiredReason, "replaced");
    assert.ok(old?.retiredAt instanceof Timestamp);
    const live = await adminDb().collection("devices").where("token", "==", token).where("retired", "==", false).get();
    assert.deepEqual(live.docs.map((d) => d.id), [newDevice]);
  });

  it("leaves one consistent document when the same device registers twice at once", async () => {
    const deviceId = newDeviceId();
    const tokens = [newToken(), newToken()];
    const results = await Promise.all(tokens.map((token) => alice.call<{ created: boolean }>("registerDevice", { deviceId, token, platform: "android" })));
    assert.equal(results.filter((r) => r.created).length, 1, "exactly one registration created the document");
    const doc = (await deviceDoc(deviceId).get()).data();
    assert.ok(tokens.includes(String(doc?.token)));
    assert.equal(doc?.userId, alice.uid);
    assert.equal(doc?.retired, false);
  });

  it("lets exactly one of two users racing for a new device win", async () => {
    const deviceId = newDeviceId();
    const outcomes = await Promise.allSettled([alice, bob].map((user) => user.call("registerDevice", { deviceId, token: newToken(), platform: "ios" })));
    assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
    const rejected = outcomes.find((o) => o.status === "rejected");
    assert.equal((rejected?.reason as { code?: string }).code, "functions/failed-precondition");
    const winner = outcomes[0]?.status === "fulfilled" ? alice.uid : bob.uid;
    assert.equal((await deviceDoc(deviceId).get()).data()?.userId, winner);
  });

  it("unregisters only the caller's own device", async () => {
    const deviceId = newDeviceId();
    await alice.call("registerDevice", { deviceId, token: newToken(), platform: "android" });
    assert.equal((await callError(bob.call("unregisterDevice", { deviceId }))).code, "functions/permission-denied");
    assert.equal((await deviceDoc(deviceId).get()).exists, true);
    assert.deepEqual(await alice.call("unregisterDevice", { deviceId }), { deviceId, deleted: true });
    assert.equal((await deviceDoc(deviceId).get()).exists, false);
    assert.equal((await callError(alice.call("unregisterDevice", { deviceId }))).code, "functions/not-found");
    const invalid = await callError(alice.call("unregisterDevice", { deviceId: "no" }));
    assert.equal(invalid.code, "functions/invalid-argument");
    assert.equal((invalid.details as { field: string }).field, "deviceId");
  });

  it("switches a device off and on for its owner only", async () => {
    const deviceId = newDeviceId();
    await alice.call("registerDevice", { deviceId, token: newToken(), platform: "android" });
    assert.deepEqual(await alice.call("setDeviceEnabled", { deviceId, enabled: false }), { deviceId, enabled: false });
    assert.equal((await deviceDoc(deviceId).get()).data()?.enabled, false);
    assert.equal((await callError(bob.call("setDeviceEnabled", { deviceId, enabled: true }))).code, "functions/permission-denied");
    assert.equal((await deviceDoc(deviceId).get()).data()?.enabled, false);
    const notBoolean = await callError(alice.call("setDeviceEnabled", { deviceId, enabled: "yes" }));
    assert.equal(notBoolean.code, "functions/invalid-argument");
    assert.equal((notBoolean.details as { field: string }).field, "enabled");
    assert.equal((await callError(alice.call("setDeviceEnabled", { deviceId: newDeviceId(), enabled: true }))).code, "functions/not-found");
    await alice.call("setDeviceEnabled", { deviceId, enabled: true });
    assert.equal((await deviceDoc(deviceId).get()).data()?.enabled, true);
  });

  it("resets the badge of the caller's device", async () => {
    const deviceId = newDeviceId();
    await alice.call("registerDevice", { deviceId, token: newToken(), platform: "ios" });
    await deviceDoc(deviceId).update({ badge: 9 });
    assert.equal((await callError(bob.call("resetBadge", { deviceId }))).code, "functions/permission-denied");
    assert.equal((await deviceDoc(deviceId).get()).data()?.badge, 9);
    assert.deepEqual(await alice.call("resetBadge", { deviceId }), { deviceId, badge: 0 });
    assert.equal((await deviceDoc(deviceId).get()).data()?.badge, 0);
  });

  it("lists the caller's devices without their tokens", async () => {
    const carol = await signedInUser();
    try {
      const ids = [newDeviceId(), newDeviceId()];
      const tokens = [newToken(), newToken()];
      await carol.call("registerDevice", { deviceId: ids[0], token: tokens[0], platform: "ios" });
      await carol.call("registerDevice", { deviceId: ids[1], token: tokens[1], platform: "web", userInfo: { campus: "east" } });
      await alice.call("registerDevice", { deviceId: newDeviceId(), token: newToken(), platform: "android" });
      const { devices } = await carol.call<{ devices: Array<Record<string, unknown>> }>("listDevices", {});
      assert.deepEqual(devices.map((d) => d.deviceId).sort(), [...ids].sort());
      const web = devices.find((d) => d.deviceId === ids[1]);
      assert.equal(web?.platform, "web");
      assert.deepEqual(web?.userInfo, { campus: "east" });
      assert.equal(web?.enabled, true);
      const text = JSON.stringify(devices);
      for (const token of tokens) assert.equal(text.includes(token), false, "no token in the answer");
      assert.equal(devices.some((d) => "token" in d), false);
      assert.equal((await callError(carol.call("listDevices", { extra: 1 }))).code, "functions/invalid-argument");
    } finally {
      await carol.close();
    }
  });
});
