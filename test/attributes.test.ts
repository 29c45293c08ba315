/**
 * Attributes with an owner: what an app says about itself (`userInfo`) is
 * kept apart from what only the school may say about a user (role, school,
 * grade, class…), which staff (`pushAdmin`) or a key with `users:write` set,
 * which is copied onto the user's devices as `attributes`, and which is all
 * a `where` audience matches.
 */
import assert from "node:assert/strict";
import { randomInt, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { userAttributesId } from "../functions/src/devices/attributes.ts";
import { createKey } from "../functions/src/keys/service.ts";
import type { KeyScope } from "../functions/src/shared/contract.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { PROJECT_ID, REGION, stackEnv } from "../tools/lib/env.ts";
import { seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";

interface Reply {
  status: number;
  body: { error?: { code?: string; message?: string; field?: string }; messageId?: string } & Record<string, unknown>;
}

async function api(path: string, secret: string, options: { method?: string; body?: unknown } = {}): Promise<Reply> {
  const res = await fetch(`${stackEnv("FUNCTIONS_EMULATOR_ORIGIN")}/${PROJECT_ID}/${REGION}/api${path}`, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers: { authorization: `Bearer ${secret}`, "x-forwarded-for": `198.18.${randomInt(0, 256)}.${randomInt(1, 255)}`, ...(options.body !== undefined && { "content-type": "application/json" }) },
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  });
  return { status: res.status, body: (await res.json()) as Reply["body"] };
}

const partnerKey = (scopes: KeyScope[], tenant?: string) => createKey({ name: `attributes ${randomUUID()}`, scopes, surface: "api", ...(tenant !== undefined && { tenant }) });
const newDevice = () => ({ deviceId: `dev-${randomUUID()}`, token: `ok-${randomUUID()}`, platform: "android" as const });
const deviceData = async (deviceId: string) => (await adminDb().collection("devices").doc(deviceId).get()).data();
const userAttributes = async (storedUserId: string) => (await adminDb().collection("userAttributes").doc(userAttributesId(storedUserId)).get()).data();
const putAttributes = (secret: string, userId: string, attributes: Record<string, unknown>) =>
  api(`/v1/users/${encodeURIComponent(userId)}/attributes`, secret, { method: "PUT", body: { attributes } });

describe("attributes with an owner", () => {
  const clients: ClientUser[] = [];
  let admin: ClientUser;
  let sender: ClientUser;
  const client = async (claims: Record<string, unknown> = {}) => {
    const c = await signedInUser(claims);
    clients.push(c);
    return c;
  };
  before(async () => {
    admin = await client({ pushSender: true, pushAdmin: true });
    sender = await client({ pushSender: true });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it("an app that sends an attribute only the school sets gets a clear error, and nothing changes", async () => {
    const student = await client();
    const own = newDevice();
    await student.call("registerDevice", { ...own, userInfo: { theme: "dark" } });
    const before = await adminDb().collection("devices").doc(own.deviceId).get();

    for (const [userInfo, field] of [
      [{ theme: "light", role: "teacher" }, "userInfo.role"],
      [{ schoolId: "another-school" }, "userInfo.schoolId"],
      // Compared without regard to case: "Grade" is the school's "grade".
      [{ Grade: 12 }, "userInfo.Grade"],
    ] as const) {
      const refused = await callError(student.call("registerDevice", { ...own, token: `ok-${randomUUID()}`, userInfo }));
      assert.equal(refused.code, "functions/invalid-argument", JSON.stringify(userInfo));
      assert.equal((refused.details as { field?: string }).field, field);
      assert.match(refused.message, /only the school sets/);
    }
    const after = await adminDb().collection("devices").doc(own.deviceId).get();
    assert.deepEqual(after.data(), before.data(), "the registered device is unchanged");
    assert.equal(after.updateTime?.toMillis(), before.updateTime?.toMillis());

    const fresh = newDevice();
    const refused = await callError(student.call("registerDevice", { ...fresh, userInfo: { class: "7b" } }));
    assert.equal((refused.details as { field?: string }).field, "userInfo.class");
    assert.equal(await deviceData(fresh.deviceId), undefined, "no device was created");

    // A partner's server registering a device for its user is held to the same rule.
    const partner = await partnerKey(["devices:write"]);
    const viaApi = newDevice();
    const answer = await api("/v1/devices", partner.secret, { body: { userId: "s-1", ...viaApi, userInfo: { role: "teacher" } } });
    assert.deepEqual([answer.status, answer.body.error?.code, answer.body.error?.field], [400, "invalid-argument", "userInfo.role"]);
    assert.equal(await deviceData(viaApi.deviceId), undefined);
  });

  it("staff set a user's role: a where audience reaches that user's devices (one registered later too), never a device whose app claimed it", { timeout: 180_000 }, async () => {
    const school = `school-${randomUUID()}`;
    const teacher = await client();
    const student = await client();
    const first = newDevice();
    await teacher.call("registerDevice", first);
    const studentDevice = newDevice();
    await student.call("registerDevice", { ...studentDevice, userInfo: { theme: "dark" } });
    // A device whose app put the claim into userInfo before attributes had owners.
    const [claimed] = await seedDevices([{ userId: student.uid!, userInfo: { role: "teacher", schoolId: school } }]);

    // Sending is not enough: setting attributes needs pushAdmin.
    const denied = await callError(sender.call("setUserAttributes", { userId: sender.uid!, attributes: { role: "teacher", schoolId: school } }));
    assert.equal(denied.code, "functions/permission-denied");
    assert.match(denied.message, /pushAdmin/);
    assert.equal(await userAttributes(sender.uid!), undefined);

    const set = await admin.call("setUserAttributes", { userId: teacher.uid!, attributes: { role: "teacher", schoolId: school } });
    assert.deepEqual(set, { userId: teacher.uid!, attributes: { role: "teacher", schoolId: school }, devices: 1 });
    assert.deepEqual((await deviceData(first.deviceId))?.attributes, { role: "teacher", schoolId: school });
    const stored = await userAttributes(teacher.uid!);
    assert.deepEqual([stored?.userId, stored?.tenant, stored?.updatedBy], [teacher.uid!, "app", admin.uid!]);

    // Registered after the attributes were set: the registration copies them.
    const later = newDevice();
    await teacher.call("registerDevice", { ...later, platform: "ios" });
    assert.deepEqual((await deviceData(later.deviceId))?.attributes, { role: "teacher", schoolId: school });
    assert.deepEqual((await deviceData(studentDevice.deviceId))?.attributes, {});

    const audience = { where: { role: "teacher", schoolId: school } };
    assert.deepEqual(await sender.call("estimateAudience", { audience }), { devices: 2 });
    const { messageId } = await sender.call<{ messageId: string }>("sendMessage", { title: "Staff meeting", body: "At four, in the library", audience });
    assert.equal(await waitForRecipientCount(messageId), 2);
    // A page sent by the expansion has its recipient documents written after the send: wait for them.
    const recipients = [...(await waitUntilFinal(messageId, 2)).values()].map((r) => r.deviceId as string).sort();
    assert.deepEqual(recipients, [first.deviceId, later.deviceId].sort());
    assert.equal((await acceptedFor([first.token, later.token])).length, 2);
    assert.equal((await acceptedFor([studentDevice.token, claimed!.token])).length, 0, "the student's devices got nothing");
  });

  it("changes merge (a value sets, null removes, the rest stays), every copy follows, and a user holds at most 20", { timeout: 120_000 }, async () => {
    const userId = `u-${randomUUID()}`;
    const devices = await seedDevices([{ userId }, { userId, retired: true }, { userId, userInfo: { theme: "dark" } }]);
    const [stranger] = await seedDevices([{ userId: `u-${randomUUID()}` }]);
    const copies = async () => Promise.all(devices.map(async (d) => (await deviceData(d.deviceId))?.attributes as unknown));

    assert.equal((await admin.call<{ devices: number }>("setUserAttributes", { userId, attributes: { role: "student", grade: 7, class: "7b" } })).devices, 3);
    const merged = await admin.call<{ attributes: unknown; devices: number }>("setUserAttributes", { userId, attributes: { grade: 8, class: null } });
    assert.deepEqual(merged, { userId, attributes: { role: "student", grade: 8 }, devices: 3 });
    assert.deepEqual(await copies(), Array.from({ length: 3 }, () => ({ role: "student", grade: 8 })));
    assert.deepEqual((await deviceData(devices[2]!.deviceId))?.userInfo, { theme: "dark" }, "the app's own userInfo is left alone");
    assert.equal((await deviceData(stranger!.deviceId))?.attributes, undefined, "another user's device is not touched");

    // The same again changes no device.
    assert.equal((await admin.call<{ devices: number }>("setUserAttributes", { userId, attributes: { grade: 8 } })).devices, 0);

    const tooMany = Object.fromEntries(Array.from({ length: 19 }, (_, i) => [`extra${i}`, i]));
    const refused = await callError(admin.call("setUserAttributes", { userId, attributes: tooMany }));
    assert.equal(refused.code, "functions/invalid-argument");
    assert.equal((refused.details as { field?: string }).field, "attributes");
    assert.deepEqual((await userAttributes(userId))?.attributes, { role: "student", grade: 8 });
    const badName = await callError(admin.call("setUserAttributes", { userId, attributes: { "a.b": 1 } }));
    assert.equal((badName.details as { field?: string }).field, "attributes.a.b");
  });

  it("a key with users:write sets its own tenant's users only; a key without the scope is refused", { timeout: 180_000 }, async () => {
    const tag = `t-${randomUUID()}`;
    // One user id, three users: partner A's, partner B's, and the app user whose uid it is.
    const id = `s-${randomInt(1e9)}`;
    const [a, b] = await Promise.all([
      partnerKey(["devices:write", "messages:send", "messages:broadcast", "users:write"]),
      partnerKey(["devices:write", "messages:send", "users:write"]),
    ]);
    const [ofA, ofB] = [newDevice(), newDevice()];
    assert.equal((await api("/v1/devices", a.secret, { body: { userId: id, ...ofA } })).status, 201);
    assert.equal((await api("/v1/devices", b.secret, { body: { userId: id, ...ofB } })).status, 201);
    const [appUser] = await seedDevices([{ userId: id }]);

    const noScope = await partnerKey(["devices:write", "messages:send", "messages:broadcast"]);
    const refused = await putAttributes(noScope.secret, id, { role: "teacher" });
    assert.deepEqual([refused.status, refused.body.error?.code], [403, "permission-denied"]);
    assert.match(String(refused.body.error?.message), /users:write/);
    assert.equal(await userAttributes(`${noScope.tenant}:${id}`), undefined);

    const set = await putAttributes(a.secret, id, { role: "teacher", schoolId: tag });
    assert.equal(set.status, 200);
    assert.deepEqual(set.body, { userId: id, attributes: { role: "teacher", schoolId: tag }, devices: 1 });
    assert.deepEqual((await deviceData(ofA.deviceId))?.attributes, { role: "teacher", schoolId: tag });
    assert.deepEqual((await deviceData(ofB.deviceId))?.attributes, {}, "another tenant's user of that id is someone else");
    assert.equal((await deviceData(appUser!.deviceId))?.attributes, undefined, "so is the app user of that uid");
    assert.equal((await userAttributes(`${a.tenant}:${id}`))?.updatedBy, `key:${a.keyId}`);

    const sent = await api("/v1/messages", a.secret, { body: { title: "Teachers", body: "Only", audience: { where: { role: "teacher", schoolId: tag } } } });
    assert.equal(sent.status, 201);
    await waitUntilFinal(String(sent.body.messageId), 1);
    assert.equal((await acceptedFor([ofA.token])).length, 1);
    assert.equal((await acceptedFor([ofB.token, appUser!.token])).length, 0);

    // A roster job's key of tenant "app" sets the apps' users' attributes by uid, and cannot name another tenant's user.
    const roster = await partnerKey(["users:write"], "app");
    const byUid = await putAttributes(roster.secret, id, { grade: 9 });
    assert.deepEqual([byUid.status, byUid.body.devices], [200, 1]);
    assert.deepEqual((await deviceData(appUser!.deviceId))?.attributes, { grade: 9 });
    const posing = await putAttributes(roster.secret, `${a.tenant}:${id}`, { role: "student" });
    assert.deepEqual([posing.status, posing.body.error?.code, posing.body.error?.field], [400, "invalid-argument", "userId"]);
    assert.deepEqual((await deviceData(ofA.deviceId))?.attributes, { role: "teacher", schoolId: tag });

    await assert.rejects(createKey({ name: "site", scopes: ["devices:write", "users:write"], surface: "moodle" }), /users:write/);
  });

  it("copies a user's attributes onto all of many devices", { timeout: 180_000 }, async () => {
    const userId = `busy-${randomUUID()}`;
    const count = 450;
    await seedDevices(Array.from({ length: count }, () => ({ userId })));
    const set = await admin.call<{ devices: number }>("setUserAttributes", { userId, attributes: { group: "choir" } }, 120_000);
    assert.equal(set.devices, count);
    const copied = await adminDb().collection("devices").where("userId", "==", userId).where("attributes.group", "==", "choir").count().get();
    assert.equal(copied.data().count, count);
  });
});
