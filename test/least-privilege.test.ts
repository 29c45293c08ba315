/**
 * Least privilege, tried as an attacker would with only what a partner
 * server, a Moodle site or an app legitimately holds: each test performs the
 * attack through the public surface (the API, the Moodle endpoints, the
 * callables) and asserts that it fails with a clear error and changes nothing.
 */
import assert from "node:assert/strict";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { FieldValue } from "firebase-admin/firestore";
import { createKey } from "../functions/src/keys/service.ts";
import { migrateDevices, migrateKey } from "../functions/src/ops/tenants.ts";
import type { KeyScope } from "../functions/src/shared/contract.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { PROJECT_ID, REGION, stackEnv, stackParam } from "../tools/lib/env.ts";
import { createMessage, seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { triggerScheduledSweep } from "../tools/scheduler.ts";
import { CONTENT_REMOVED } from "../functions/src/sweep/private.ts";

const newIp = () => `203.0.113.${randomInt(1, 255)}`;

interface Reply {
  status: number;
  body: { error?: { code?: string; message?: string } | string; messageId?: string } & Record<string, unknown>;
}

async function api(path: string, secret: string, options: { method?: string; body?: unknown } = {}): Promise<Reply> {
  const res = await fetch(`${stackEnv("FUNCTIONS_EMULATOR_ORIGIN")}/${PROJECT_ID}/${REGION}/api${path}`, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers: { authorization: `Bearer ${secret}`, "x-forwarded-for": newIp(), ...(options.body !== undefined && { "content-type": "application/json" }) },
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  });
  return { status: res.status, body: (await res.json()) as Reply["body"] };
}

/** A Moodle site's request, as in test/moodle.test.ts (through Hosting, Moodle's headers, a form body). */
async function moodle(path: string, secret: string, form: Record<string, string> = {}, ip = newIp()): Promise<Reply> {
  const res = await fetch(`${stackEnv("HOSTING_ORIGIN")}${path}`, {
    method: "POST",
    headers: { "x-an-app-name": "commoodlemoodlemobile", "x-an-app-key": secret, "x-forwarded-for": ip, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Reply["body"] };
}

const partnerKey = (scopes: KeyScope[], tenant?: string) => createKey({ name: `partner ${randomUUID()}`, scopes, surface: "api", ...(tenant !== undefined && { tenant }) });
const device = (userId: string) => ({ userId, deviceId: `dev-${randomUUID()}`, token: `ok-${randomUUID()}`, platform: "android" });
const code = (reply: Reply) => (typeof reply.body.error === "object" ? reply.body.error.code : undefined);
const messagesOf = async (keyId: string) => (await adminDb().collection("messages").where("senderId", "==", `key:${keyId}`).count().get()).data().count;

describe("least privilege", () => {
  const clients: ClientUser[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it("a Moodle key is refused on /v1 and a partner key on the Moodle endpoints, and neither writes anything", async () => {
    const site = await createKey({ name: `site ${randomUUID()}`, scopes: ["devices:write", "messages:send", "messages:broadcast"], surface: "moodle" });
    const onApi = await api("/v1/devices", site.secret, { body: device("42") });
    assert.deepEqual([onApi.status, code(onApi)], [403, "permission-denied"]);
    assert.match(String((onApi.body.error as { message: string }).message), /Moodle/);
    const broadcast = await api("/v1/messages", site.secret, { body: { title: "t", body: "b", audience: { all: true } } });
    assert.equal(broadcast.status, 403);
    assert.equal(await messagesOf(site.keyId), 0);

    const partner = await partnerKey(["devices:write", "messages:send"]);
    const token = `ok-${randomUUID()}`;
    const onMoodle = await moodle(`/tokens/${token}`, partner.secret, { device: "Android-fcm" });
    assert.equal(onMoodle.status, 403);
    assert.match(onMoodle.body.error as string, /partner API, not for Moodle/);
    assert.equal((await adminDb().collection("devices").where("token", "==", token).count().get()).data().count, 0);
  });

  it("a partner key cannot bind a device to an app user, take an app user's device id, or delete an app user's device", { timeout: 120_000 }, async () => {
    const uid = `student-${randomUUID()}`;
    const [victim] = await seedDevices([{ userId: uid }]);
    const attacker = await partnerKey(["devices:write", "messages:send", "messages:broadcast"]);

    // Registering under the app user's uid makes a device of the attacker's own tenant, not of that user.
    const squat = device(uid);
    const registered = await api("/v1/devices", attacker.secret, { body: squat });
    assert.equal(registered.status, 201);
    assert.equal((await adminDb().collection("devices").doc(squat.deviceId).get()).get("userId"), `${attacker.tenant}:${uid}`);

    // The app user's device id: refused, unchanged.
    const taken = await api("/v1/devices", attacker.secret, { body: { ...device(uid), deviceId: victim!.deviceId } });
    assert.deepEqual([taken.status, code(taken)], [409, "failed-precondition"]);
    const gone = await api(`/v1/devices/${victim!.deviceId}`, attacker.secret, { method: "DELETE" });
    assert.deepEqual([gone.status, code(gone)], [404, "not-found"]);
    const kept = (await adminDb().collection("devices").doc(victim!.deviceId).get()).data();
    assert.deepEqual([kept?.userId, kept?.token, kept?.retired, kept?.tenant], [uid, victim!.token, false, "app"]);

    // A message to the app user (a key of tenant "app", the district's SIS) reaches the app user's phone only.
    const sis = await partnerKey(["messages:send"], "app");
    const sent = await api("/v1/messages", sis.secret, { body: { title: "Report card", body: "Ready", audience: { users: [uid] } } });
    assert.equal(sent.status, 201);
    await waitUntilFinal(String(sent.body.messageId), 1);
    assert.equal((await acceptedFor([victim!.token])).length, 1);
    // The attacker's own send to "that user" reaches only its own device.
    const own = await api("/v1/messages", attacker.secret, { body: { title: "Mine", body: "Only mine", audience: { users: [uid] } } });
    await waitUntilFinal(String(own.body.messageId), 1);
    assert.equal((await acceptedFor([squat.token])).length, 1, "only the attacker's own message reached its token");
    assert.equal((await acceptedFor([victim!.token])).length, 1, "nothing of the attacker's reached the app user");
  });

  it("each tenant's user ids are its own: \"42\" of one partner is not \"42\" of another", { timeout: 120_000 }, async () => {
    const [a, b] = await Promise.all([partnerKey(["devices:write", "messages:send"]), partnerKey(["devices:write", "messages:send"])]);
    const [ofA, ofB] = [device("42"), device("42")];
    assert.equal((await api("/v1/devices", a.secret, { body: ofA })).status, 201);
    assert.equal((await api("/v1/devices", b.secret, { body: ofB })).status, 201);
    // B cannot send to A's device by its id, nor delete it.
    const byId = await api("/v1/messages", b.secret, { body: { title: "t", body: "b", audience: { devices: [ofA.deviceId] } } });
    assert.equal(byId.status, 201);
    assert.equal(await waitForRecipientCount(String(byId.body.messageId)), 0, "another tenant's device id reached nobody");
    assert.equal((await api(`/v1/devices/${ofA.deviceId}`, b.secret, { method: "DELETE" })).status, 404);

    const sent = await api("/v1/messages", a.secret, { body: { title: "t", body: "b", audience: { users: ["42"] } } });
    await waitUntilFinal(String(sent.body.messageId), 1);
    assert.equal((await acceptedFor([ofA.token])).length, 1);
    assert.equal((await acceptedFor([ofB.token])).length, 0);
  });

  it("a where audience is a broadcast: refused without messages:broadcast, and with it reaches only the key's tenant", { timeout: 120_000 }, async () => {
    const tag = `grade-${randomUUID()}`;
    const [appDevice] = await seedDevices([{ attributes: { cohort: tag } }]);
    const plain = await partnerKey(["devices:write", "messages:send"]);
    const refused = await api("/v1/messages", plain.secret, { body: { title: "t", body: "b", audience: { where: { cohort: tag } } } });
    assert.deepEqual([refused.status, code(refused)], [403, "permission-denied"]);
    assert.match(String((refused.body.error as { message: string }).message), /messages:broadcast/);
    assert.equal(await messagesOf(plain.keyId), 0);

    const broadcaster = await partnerKey(["devices:write", "messages:send", "messages:broadcast", "users:write"]);
    const own = device("7");
    assert.equal((await api("/v1/devices", broadcaster.secret, { body: own })).status, 201);
    const set = await api("/v1/users/7/attributes", broadcaster.secret, { method: "PUT", body: { attributes: { cohort: tag } } });
    assert.deepEqual([set.status, set.body.devices], [200, 1]);
    const sent = await api("/v1/messages", broadcaster.secret, { body: { title: "t", body: "b", audience: { where: { cohort: tag } } } });
    assert.equal(sent.status, 201);
    await waitUntilFinal(String(sent.body.messageId), 1);
    assert.equal((await acceptedFor([own.token])).length, 1);
    assert.equal((await acceptedFor([appDevice!.token])).length, 0, "an app user's device with the same attribute was not reached");
  });

  it("a key of tenant \"app\" sends to the apps' users and can never register or delete their devices", async () => {
    await assert.rejects(createKey({ name: "sis", scopes: ["devices:write", "messages:send"], surface: "api", tenant: "app" }), /devices:write/);
    await assert.rejects(createKey({ name: "sis", scopes: ["messages:send"], surface: "moodle", tenant: "app" }), /partner API keys/);
    await assert.rejects(createKey({ name: "sis", scopes: ["messages:send"], surface: "api", tenant: "key-0123456789abcdef" }), /must not start with/);
    // A key migrated into tenant "app" with devices:write still registers nothing.
    const legacy = await partnerKey(["devices:write", "messages:send"]);
    await adminDb().collection("accessKeys").doc(legacy.keyId).update({ tenant: "app" });
    const [target] = await seedDevices([{}]);
    const register = await api("/v1/devices", legacy.secret, { body: device("someone") });
    const remove = await api(`/v1/devices/${target!.deviceId}`, legacy.secret, { method: "DELETE" });
    assert.deepEqual([register.status, remove.status], [403, 403]);
    assert.equal((await adminDb().collection("devices").doc(target!.deviceId).get()).exists, true);
  });

  it("a key made before surfaces and tenants is refused until migrated, then reaches only its tenant", async () => {
    const old = await partnerKey(["devices:write", "messages:send"]);
    await adminDb().collection("accessKeys").doc(old.keyId).update({ surface: FieldValue.delete(), tenant: FieldValue.delete() });
    const refused = await api("/v1/devices", old.secret, { body: device("1") });
    assert.equal(refused.status, 403);
    assert.match(String((refused.body.error as { message: string }).message), /npm run keys -- migrate/);
    assert.deepEqual(await migrateKey(old.keyId, "api"), { surface: "api", tenant: `key-${old.keyId}` });
    await assert.rejects(migrateKey(old.keyId, "moodle"), /already has surface/);
    const mine = device("1");
    assert.equal((await api("/v1/devices", old.secret, { body: mine })).status, 201);
    assert.equal((await adminDb().collection("devices").doc(mine.deviceId).get()).get("tenant"), `key-${old.keyId}`);

    // Devices from before tenants: a Moodle site's go to its key's tenant, every other to the apps' users.
    const site = await createKey({ name: "old site", scopes: ["devices:write", "messages:send"], surface: "moodle" });
    const [appLegacy, siteLegacy] = await seedDevices([{ tenant: null }, { tenant: null, userId: `moodle:${site.keyId}` }]);
    const counts = await migrateDevices();
    assert.ok(counts.app >= 1 && counts.site >= 1, JSON.stringify(counts));
    const [appDoc, siteDoc] = await Promise.all([appLegacy, siteLegacy].map(async (d) => (await adminDb().collection("devices").doc(d!.deviceId).get()).data()));
    assert.equal(appDoc?.tenant, "app");
    assert.deepEqual([siteDoc?.tenant, siteDoc?.userId], [site.tenant, `${site.tenant}:moodle`]);
  });

  it("self-service Moodle keys: parallel requests from one address get exactly the daily quota, each key its own tenant", { timeout: 60_000 }, async () => {
    const quota = stackParam("MOODLE_KEYS_PER_ADDRESS_PER_DAY");
    const ip = newIp();
    const form = { url: `https://moodle-${randomUUID()}.example.org`, siteid: "s" };
    const answers = await Promise.all(Array.from({ length: quota + 4 }, () => moodle("/accesskeys/", "", form, ip)));
    const issued = answers.filter((a) => a.status === 200);
    assert.equal(issued.length, quota, JSON.stringify(answers.map((a) => a.status)));
    assert.ok(answers.every((a) => a.status === 200 || a.status === 429));
    const secret = String(issued[0]!.body.accesskey);
    const keyDoc = (await adminDb().collection("accessKeys").doc(secret.split("_")[1]!).get()).data();
    assert.deepEqual([keyDoc?.surface, keyDoc?.tenant], ["moodle", `key-${secret.split("_")[1]}`]);
    assert.equal((await api("/v1/devices", secret, { body: device("1") })).status, 403, "a self-service key does not work on the partner API");
  });

  it("a Moodle key creates at most its daily allowance of new devices; tokens it already has keep working", { timeout: 60_000 }, async () => {
    const site = await createKey({ name: `site ${randomUUID()}`, scopes: ["devices:write", "messages:send"], surface: "moodle", newDevicesPerDay: 3 });
    const tokens = Array.from({ length: 4 }, () => `ok-${randomUUID()}`);
    const answers: Reply[] = [];
    for (const token of tokens) answers.push(await moodle(`/tokens/${token}`, site.secret, { device: "Android-fcm" }));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 429]);
    assert.match(answers[3]!.body.error as string, /as many new devices as it may today/);
    assert.equal((await adminDb().collection("devices").where("token", "==", tokens[3]).count().get()).data().count, 0);
    assert.deepEqual((await moodle(`/tokens/${tokens[0]}`, site.secret, { device: "Android-fcm" })).body, { status: "token exists" });
  });

  it("one user holds at most DEVICES_PER_USER live devices: one more retires the least recently registered as replaced", { timeout: 120_000 }, async () => {
    const cap = stackParam("DEVICES_PER_USER");
    const user = await signedInUser();
    clients.push(user);
    const ids = Array.from({ length: cap + 1 }, (_, i) => `dev-${i}-${randomUUID()}`);
    for (const deviceId of ids) await user.call("registerDevice", { deviceId, token: `ok-${randomUUID()}`, platform: "android" });
    const devices = await adminDb().collection("devices").where("userId", "==", user.uid).get();
    const live = devices.docs.filter((d) => d.get("retired") === false).map((d) => d.id);
    assert.equal(live.length, cap);
    assert.deepEqual(new Set(live), new Set(ids.slice(1)));
    const first = devices.docs.find((d) => d.id === ids[0])?.data();
    assert.deepEqual([first?.retired, first?.retiredReason], [true, "replaced"]);
  });

  it("an app re-registering a token FCM declared dead is refused until the token changes; an account shaped like a partner's user registers nothing", async () => {
    const user = await signedInUser();
    clients.push(user);
    const deviceId = `dev-${randomUUID()}`;
    const token = `ok-${randomBytes(8).toString("hex")}`;
    await user.call("registerDevice", { deviceId, token, platform: "android" });
    await adminDb().collection("devices").doc(deviceId).update({ retired: true, retiredReason: "unregistered" });
    const dead = await callError(user.call("registerDevice", { deviceId, token, platform: "android" }));
    assert.equal(dead.code, "functions/failed-precondition");
    assert.match(dead.message, /new token/);
    assert.equal((await adminDb().collection("devices").doc(deviceId).get()).get("retired"), true);
    await user.call("registerDevice", { deviceId, token: `${token}-new`, platform: "android" });
    assert.equal((await adminDb().collection("devices").doc(deviceId).get()).get("retired"), false);

    const posing = await signedInUser({}, `key-0123456789abcdef:42`);
    clients.push(posing);
    const refused = await callError(posing.call("registerDevice", { deviceId: `dev-${randomUUID()}`, token: `ok-${randomUUID()}`, platform: "android" }));
    assert.equal(refused.code, "functions/failed-precondition");
  });

  it("App Check (enforced on the local stack): an app without a token, or with one that names no app, is refused on every app callable and writes nothing; staff callables do not ask for it", async () => {
    const withoutAppCheck = await signedInUser({ pushSender: true }, `user-${randomUUID()}`, { appCheck: false });
    const genuine = await signedInUser();
    clients.push(withoutAppCheck, genuine);
    const deviceId = `dev-${randomUUID()}`;
    const register = { deviceId, token: `ok-${randomUUID()}`, platform: "android" };
    for (const [name, data] of [["registerDevice", register], ["unregisterDevice", { deviceId }], ["setDeviceEnabled", { deviceId, enabled: false }], ["listDevices", {}], ["resetBadge", { deviceId }], ["setPreferences", { mutedCategories: ["x"] }]] as const) {
      const err = await callError(withoutAppCheck.call(name, data));
      assert.equal(err.code, "functions/unauthenticated", name);
      assert.match(err.message, /App Check/, name);
    }
    // A header the emulator decodes but that names no app (a forged or malformed token) is refused alike.
    const idToken = await (await import("firebase/auth")).getAuth(genuine.app).currentUser?.getIdToken();
    const forged = await fetch(`${stackEnv("FUNCTIONS_EMULATOR_ORIGIN")}/${PROJECT_ID}/${REGION}/registerDevice`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${idToken}`, "x-firebase-appcheck": "not-a-token" },
      body: JSON.stringify({ data: register }),
    });
    assert.equal(forged.status, 401);
    assert.match(JSON.stringify(await forged.json()), /App Check/);
    assert.equal((await adminDb().collection("devices").doc(deviceId).get()).exists, false, "nothing was registered");
    assert.equal((await adminDb().collection("preferences").doc(withoutAppCheck.uid as string).get()).exists, false, "no preference was written");
    // The same call from a genuine app registers the device; a staff callable needs no App Check.
    await genuine.call("registerDevice", register);
    assert.equal((await adminDb().collection("devices").doc(deviceId).get()).get("userId"), genuine.uid);
    assert.ok((await withoutAppCheck.call<{ devices: number }>("estimateAudience", { audience: { users: [genuine.uid] } })).devices >= 1);
  });

  it("a Moodle private message is delivered, then its text and fields are removed once final, and staff cannot resend it", { timeout: 90_000 }, async () => {
    const site = await createKey({ name: `site ${randomUUID()}`, scopes: ["devices:write", "messages:send"], surface: "moodle" });
    const token = `ok-${randomUUID()}`;
    const extra = { processor: "moodle", component: "core", name: "messagecontactrequests", notification: 0, sitefullname: "Example University", smallmessage: "Meet me after class", fullmessage: "Meet me after class, room 12", userfromfullname: "Ana", usertoid: "7" };
    const res = await fetch(`${stackEnv("HOSTING_ORIGIN")}/api/v2/push/`, {
      method: "POST",
      headers: { "x-an-app-name": "commoodlemoodlemobile", "x-an-app-key": site.secret, "x-forwarded-for": newIp(), "content-type": "application/x-www-form-urlencoded" },
      body: JSON.stringify({ device: "Android-fcm", token, extra }),
    });
    assert.equal(res.status, 202);
    const [got] = await waitFor("the private message at the stand-in", async () => ((await acceptedFor([token])).length > 0 ? acceptedFor([token]) : undefined));
    const message = got!.message as { notification: { body: string }; data: Record<string, string> };
    assert.equal(message.notification.body, "Meet me after class");
    assert.equal(message.data.fullmessage, extra.fullmessage);
    const messageId = message.data.messageId!;
    await waitUntilFinal(messageId, 1);
    assert.equal((await adminDb().collection("messages").doc(messageId).get()).get("privateContent"), true);

    const swept = await triggerScheduledSweep(stackEnv("FUNCTIONS_EMULATOR_ORIGIN"), PROJECT_ID, REGION);
    assert.equal(swept.status, 200);
    const kept = (await adminDb().collection("messages").doc(messageId).get()).data();
    assert.deepEqual([kept?.title, kept?.body, kept?.data, kept?.privateContent], ["Example University", CONTENT_REMOVED, undefined, false]);
    assert.ok(kept?.contentRemovedAt, "the removal is recorded");
    const [status] = [...(await waitUntilFinal(messageId, 1)).values()].map((r) => r.status);
    assert.equal(status, 200, "the outcome stays");

    const staff = await signedInUser({ pushSender: true });
    clients.push(staff);
    const refused = await callError(staff.call("resendFailed", { messageId }));
    assert.equal(refused.code, "functions/failed-precondition");
  });

  it("a user's mute holds for recipients written directly, as it does for an audience", { timeout: 60_000 }, async () => {
    const [muting, listening] = await Promise.all([signedInUser(), signedInUser()]);
    clients.push(muting, listening);
    const category = `trips-${randomUUID().slice(0, 8)}`;
    await muting.call("setPreferences", { mutedCategories: [category] });
    const [mutedDevice, openDevice] = await seedDevices([{ userId: muting.uid! }, { userId: listening.uid! }]);
    const messageId = await createMessage({ category, senderId: `staff-${randomUUID()}` });
    const recipients = adminDb().collection("messages").doc(messageId).collection("recipients");
    await Promise.all(
      [[mutedDevice!, muting.uid!], [openDevice!, listening.uid!]].map(([device, userId]) =>
        recipients.doc(`r-${(device as { deviceId: string }).deviceId}`).set({ deviceId: (device as { deviceId: string }).deviceId, userId, status: -1, statusMessage: null, attempts: 0 }),
      ),
    );
    const final = await waitUntilFinal(messageId, 2);
    const byDevice = new Map([...final.values()].map((r) => [r.deviceId, r]));
    assert.deepEqual([byDevice.get(mutedDevice!.deviceId)?.status, byDevice.get(mutedDevice!.deviceId)?.statusMessage], [-4, "the user muted this category"]);
    assert.equal(byDevice.get(openDevice!.deviceId)?.status, 200);
    assert.equal((await acceptedFor([mutedDevice!.token])).length, 0);
  });
});
