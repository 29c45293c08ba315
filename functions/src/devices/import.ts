import { createHash } from "node:crypto";
import { Timestamp } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { describeZodError } from "../shared/callable";
import { APP_TENANT } from "../shared/contract";
import { DEVICES_PER_USER } from "../shared/params";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { readUserAttributes, refuseServerAttributes } from "./attributes";
import { devicesCollection } from "./collection";
import { preferencesCopy, readPreferences } from "./mutes";
import { isTenantShaped, tenantOwner, type DeviceOwner } from "./owner";
import { holdsDeadToken } from "./retire";
import { importDeviceRow, type DeviceDoc, type ImportOutcome, type ImportReport, type ImportRowResult, type RegisterDeviceInput } from "./schema";
import { heldByAnother, liveTokenHolders, otherLiveDevices, writeRegistration } from "./service";

/**
 * Bulk import of devices a tenant already has (a school system's table of
 * users and tokens, another push service's export): `npm run import` and
 * `POST /v1/devices:batchImport`. Each row is checked with the schema
 * registerDevice uses and registered in a transaction of its own, by the
 * same rules (devices/service.ts), with two differences an unattended job
 * needs:
 * - it displaces nothing: a token another live device of the tenant holds,
 *   or a user already at DEVICES_PER_USER live devices, rejects the row
 *   rather than retiring what is there — the import never makes a second
 *   device for one token, and never decides which of a user's phones is gone;
 * - a row that would change nothing writes nothing and says `unchanged`
 *   (updatedAt is not touched), so running an import again is safe and
 *   reports what it finds.
 * Everything lands in the importing tenant: user ids are stored as the
 * tenant's (devices/owner.ts), and a device id of another tenant is refused.
 */

/** The device id of a row without one: derived from the tenant and the token, so a token always lands on the same device. */
export function importedDeviceId(tenant: string, token: string): string {
  return `import-${createHash("sha256").update(`${tenant}\n${token}`).digest("base64url")}`;
}

const tokenKey = (token: string) => createHash("sha256").update(token).digest("base64url");

/**
 * Tokens and device ids already taken by earlier rows of the same import (by
 * hash: a file of a million tokens is not kept in memory as text), so a
 * duplicate is caught across batches and in a dry run, which writes nothing
 * a later row could find.
 */
export class ImportSeen {
  readonly tokens = new Map<string, number>();
  readonly devices = new Map<string, number>();
}

export interface ImportOptions {
  dryRun: boolean;
  /** Shared by the batches of one file; a request's own otherwise. */
  seen?: ImportSeen;
  /** Rows registered at the same time (each its own transaction); a user's rows always one after another. */
  concurrency?: number;
}

type Checked = { row: number; device: RegisterDeviceInput; owner: DeviceOwner };

const rejected = (row: number, field: string, reason: string, deviceId?: string): ImportRowResult => ({ row, outcome: "rejected", ...(deviceId !== undefined && { deviceId }), field, reason });

/** A row parsed and checked on its own, or why not: the reasons never quote the token. */
function checkRow(tenant: string, row: number, value: unknown): Checked | ImportRowResult {
  const parsed = importDeviceRow.safeParse(value);
  if (!parsed.success) {
    const { field, message } = describeZodError(parsed.error);
    const given = value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>)[field] : undefined;
    return rejected(row, field, given === undefined && parsed.error.issues[0]?.code === "invalid_type" ? `Missing "${field}".` : message);
  }
  const { userId, deviceId, ...rest } = parsed.data;
  try {
    refuseServerAttributes(rest.userInfo);
  } catch (err) {
    if (!(err instanceof HttpsError)) throw err;
    return rejected(row, (err.details as { field?: string } | undefined)?.field ?? "userInfo", err.message);
  }
  if (tenant === APP_TENANT && isTenantShaped(userId)) return rejected(row, "userId", `An app user's id never has the form "<tenant>:<id>".`);
  return { row, owner: tenantOwner(tenant, userId), device: { ...rest, deviceId: deviceId ?? importedDeviceId(tenant, rest.token) } };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  const left = Object.entries(a).sort(([x], [y]) => x.localeCompare(y));
  const right = Object.entries(b).sort(([x], [y]) => x.localeCompare(y));
  return left.length === right.length && left.every(([key, value], i) => right[i]?.[0] === key && sameValue(value, right[i]?.[1]));
}

/** A live device of the owner that already says everything the row says. */
function unchanged(existing: DeviceDoc, device: RegisterDeviceInput): boolean {
  const { deviceId: _deviceId, ...fields } = device;
  return !existing.retired && Object.entries(fields).every(([name, value]) => sameValue(existing[name as keyof DeviceDoc], value));
}

type DeviceSnapshot = FirebaseFirestore.QueryDocumentSnapshot<DeviceDoc>;

/**
 * What a batch's rows are decided against, found by a few queries for the
 * whole batch (tokens and users 30 at a time) rather than by queries inside
 * each row's transaction: transactions that query the devices collection
 * wait on one another's locks (on the emulator, 18 rows a second one at a
 * time and lock timeouts at eight at once, as registerDevice's own
 * transaction would give). Each row's transaction re-reads the documents
 * these queries found, by reference, and decides on what it reads.
 */
interface BatchContext {
  /** Devices holding each token (any tenant; filtered when decided). */
  holders: Map<string, DeviceSnapshot[]>;
  /** Each user's live devices. */
  owned: Map<string, DeviceSnapshot[]>;
  /** The rows' own devices as they were. */
  current: Map<string, DeviceDoc | undefined>;
  /** Devices this batch has made live per user so far (a user's rows run one after another). */
  added: Map<string, number>;
}

const IN_QUERY_MAX = 30;

/** Devices whose `field` is one of `values`, by value: `in` queries on one field, which its single-field index serves (no composite index). */
async function devicesByField(field: "token" | "userId", values: string[], live: boolean): Promise<Map<string, DeviceSnapshot[]>> {
  const found = new Map<string, DeviceSnapshot[]>(values.map((value) => [value, []]));
  const chunks = Array.from({ length: Math.ceil(values.length / IN_QUERY_MAX) }, (_, i) => values.slice(i * IN_QUERY_MAX, (i + 1) * IN_QUERY_MAX));
  await Promise.all(
    chunks.map(async (chunk) => {
      for (const doc of (await devicesCollection().where(field, "in", chunk).get()).docs) {
        if (!live || !doc.data().retired) found.get(doc.data()[field])?.push(doc);
      }
    }),
  );
  return found;
}

async function batchContext(groups: Checked[][]): Promise<BatchContext> {
  const rows = groups.flat();
  const devices = devicesCollection();
  const [holders, owned, current] = await Promise.all([
    devicesByField("token", [...new Set(rows.map((r) => r.device.token))], false),
    devicesByField("userId", [...new Set(rows.map((r) => r.owner.userId))], true),
    rows.length > 0 ? db().getAll(...rows.map((r) => devices.doc(r.device.deviceId))) : [],
  ]);
  return { holders, owned, current: new Map(current.map((doc) => [doc.id, doc.data() as DeviceDoc | undefined])), added: new Map() };
}

/**
 * One row, in a transaction that re-reads the device, the token's holders and
 * the user's live devices that the batch's queries found; a dry run decides
 * the same and writes nothing. Not seen: a device registered with the same
 * token between the batch's query and this transaction (a phone registering
 * during its own import); the next registration of either retires the other
 * as `replaced`, as registerDevice always does.
 */
function importOne({ row, device, owner }: Checked, dryRun: boolean, context: BatchContext): Promise<ImportRowResult> {
  const ref = devicesCollection().doc(device.deviceId);
  const result = (outcome: ImportOutcome): ImportRowResult => ({ row, outcome, deviceId: device.deviceId });
  const holders = (context.holders.get(device.token) ?? []).filter((other) => other.id !== device.deviceId);
  // A row that changes nothing writes nothing: said from the batch's reads, without a transaction (a re-run is mostly these).
  const before = context.current.get(device.deviceId);
  if (before && before.userId === owner.userId && !heldByAnother(before, owner) && unchanged(before, device) && liveTokenHolders(holders, device.deviceId, owner.tenant).length === 0) {
    return Promise.resolve(result("unchanged"));
  }
  const holderRefs = holders.map((other) => other.ref);
  const ownedRefs = (context.owned.get(owner.userId) ?? []).filter((other) => other.id !== device.deviceId).map((other) => other.ref);
  return runTransaction("importDevice", async (tx) => {
    const [[snapshot, ...others], attributes, preferences] = await Promise.all([
      tx.getAll(ref, ...holderRefs, ...ownedRefs),
      readUserAttributes(tx, owner.userId),
      owner.tenant === APP_TENANT ? readPreferences(tx, owner.userId).then(preferencesCopy) : undefined,
    ]);
    const existing = snapshot!.data();
    const read = others.filter((doc): doc is FirebaseFirestore.QueryDocumentSnapshot<DeviceDoc> => doc.exists);
    if (heldByAnother(existing, owner)) return rejected(row, "deviceId", "This device id is registered to another user (or another tenant).", device.deviceId);
    const holder = liveTokenHolders(read.filter((doc) => doc.data().token === device.token), device.deviceId, owner.tenant)[0];
    if (holder) return rejected(row, "token", `This token is already registered on device ${holder.id}; a token has one device.`, device.deviceId);
    const refreshing = existing !== undefined && existing.userId === owner.userId;
    if (refreshing && existing.token === device.token && holdsDeadToken(existing)) {
      return rejected(row, "token", "FCM reported this token as no longer valid; only a new token from the device brings it back.", device.deviceId);
    }
    if (refreshing && unchanged(existing, device)) return result("unchanged");
    const becomesLive = !refreshing || existing.retired;
    if (becomesLive) {
      const owned = read.filter((doc) => doc.data().userId === owner.userId && !doc.data().retired);
      const live = new Set(otherLiveDevices(owned, device).map((doc) => doc.id)).size + (context.added.get(owner.userId) ?? 0);
      const cap = Math.max(1, DEVICES_PER_USER.value());
      if (live + 1 > cap) return rejected(row, "userId", `This user already has ${live} live devices (DEVICES_PER_USER is ${cap}); an import retires none of them.`, device.deviceId);
    }
    if (!dryRun) writeRegistration(tx, ref, owner, device, { refreshing, attributes, preferences, now: Timestamp.now() });
    return result(refreshing ? "updated" : "imported");
  }).then((outcome) => {
    // Counted once the transaction is through (a retried body must not count twice).
    const madeLive = outcome.outcome === "imported" || (outcome.outcome === "updated" && !(context.owned.get(owner.userId) ?? []).some((other) => other.id === device.deviceId));
    if (madeLive) context.added.set(owner.userId, (context.added.get(owner.userId) ?? 0) + 1);
    return outcome;
  });
}

/** Runs `work` over groups, `limit` groups at a time, each group's items one after another. */
async function inGroups<T, R>(groups: T[][], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    for (let group = groups[next++]; group; group = groups[next++]) for (const item of group) results.push(await work(item));
  };
  await Promise.all(Array.from({ length: Math.min(limit, groups.length) }, worker));
  return results;
}

/**
 * The first half of an import, which reads nothing: each row parsed and
 * checked (schema, school-owned userInfo names, the tenant's user id) and
 * compared with the earlier rows (`seen`: the same token or device id again
 * is rejected). Returns the rejected rows and the rest grouped by user. A
 * resumed file import runs this alone over the rows done before, so that
 * `seen` knows them.
 */
export function checkRows(tenant: string, rows: Array<{ row: number; value: unknown }>, seen: ImportSeen): { rejected: ImportRowResult[]; byUser: Checked[][] } {
  const refused: ImportRowResult[] = [];
  const byUser = new Map<string, Checked[]>();
  for (const { row, value } of rows) {
    const checked = checkRow(tenant, row, value);
    if (!("owner" in checked)) {
      refused.push(checked);
      continue;
    }
    const { deviceId, token } = checked.device;
    const sameToken = seen.tokens.get(tokenKey(token));
    const sameDevice = seen.devices.get(deviceId);
    if (sameToken !== undefined) refused.push(rejected(row, "token", `The same token as row ${sameToken}; a token has one device.`, deviceId));
    else if (sameDevice !== undefined) refused.push(rejected(row, "deviceId", `The same device id as row ${sameDevice}.`, deviceId));
    else {
      seen.tokens.set(tokenKey(token), row);
      seen.devices.set(deviceId, row);
      const group = byUser.get(checked.owner.userId) ?? [];
      if (group.length === 0) byUser.set(checked.owner.userId, group);
      group.push(checked);
    }
  }
  return { rejected: refused, byUser: [...byUser.values()] };
}

/**
 * Imports a batch of rows into a tenant and reports every row's outcome, in
 * row order: every row is checked first (checkRows), then the good ones are
 * registered, each in its own transaction.
 */
export async function importDevices(tenant: string, rows: Array<{ row: number; value: unknown }>, options: ImportOptions): Promise<ImportReport> {
  const { rejected: refused, byUser } = checkRows(tenant, rows, options.seen ?? new ImportSeen());
  const context = await batchContext(byUser);
  const results = [...refused, ...(await inGroups(byUser, options.concurrency ?? 16, (checked) => importOne(checked, options.dryRun, context)))];
  results.sort((a, b) => a.row - b.row);
  const counts = { imported: 0, updated: 0, unchanged: 0, rejected: 0 };
  for (const result of results) counts[result.outcome]++;
  return { dryRun: options.dryRun, counts, rows: results };
}
