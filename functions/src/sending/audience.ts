import { FieldPath, Filter, type DocumentData, type DocumentSnapshot, type Query } from "firebase-admin/firestore";
import { COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";
import type { PartSpec } from "./parts";
import type { Audience } from "./schema";

/** Devices read per query page: bounded memory however large the audience. */
export const AUDIENCE_PAGE = 500;
/** Firestore's limit on the values of one `in` filter. */
const IN_LIMIT = 30;

export interface AudienceDevice {
  deviceId: string;
  userId: string;
}

// Devices are read raw, field by field: one malformed device document (they may
// be written by scripts) must not fail a whole send.
type DeviceQuery = Query<DocumentData>;

function audienceDevice(snapshot: DocumentSnapshot): AudienceDevice | undefined {
  const userId: unknown = snapshot.get("userId");
  return typeof userId === "string" ? { deviceId: snapshot.id, userId } : undefined;
}

/** Only live devices the owner has not switched off are in any audience. */
function live(query: DeviceQuery): DeviceQuery {
  return query.where("retired", "==", false).where("enabled", "==", true);
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One page of a part's devices, and the cursor to go on from (undefined: the part is done). */
export interface PartPage {
  devices: AudienceDevice[];
  next: string | undefined;
}

function whereFilter(audience: Extract<Audience, { where: unknown }>): Filter {
  const pairs = Object.entries(audience.where).map(([key, value]) => Filter.where(new FieldPath("userInfo", key), "==", value));
  return audience.match === "any" ? Filter.or(...pairs) : Filter.and(...pairs);
}

/**
 * The page of a part's devices after `cursor` (a device id; undefined to
 * start). Same filters and order as audienceDevices: equality filters ordered
 * by document id, bounded by the part's id range, so no composite index.
 */
export async function partPage(audience: Audience, spec: PartSpec, cursor: string | undefined): Promise<PartPage> {
  const devices = db().collection(COLLECTIONS.devices);
  if (spec.kind === "devices") {
    const snapshots = spec.devices.length > 0 ? await devices.firestore.getAll(...spec.devices.map((id) => devices.doc(id))) : [];
    const page: AudienceDevice[] = [];
    for (const snapshot of snapshots) {
      const device = snapshot.exists ? audienceDevice(snapshot) : undefined;
      if (device && snapshot.get("retired") === false && snapshot.get("enabled") === true) page.push(device);
    }
    return { devices: page, next: undefined };
  }
  let query: DeviceQuery;
  if (spec.kind === "users") query = live(devices.where("userId", "in", spec.users));
  else query = live("where" in audience ? devices.where(whereFilter(audience)) : devices);
  if (spec.kind === "range" && spec.from !== undefined) query = query.where(FieldPath.documentId(), ">=", spec.from);
  if (spec.kind === "range" && spec.to !== undefined) query = query.where(FieldPath.documentId(), "<", spec.to);
  query = query.orderBy(FieldPath.documentId()).limit(AUDIENCE_PAGE);
  if (cursor !== undefined) query = query.startAfter(cursor);
  const snapshot = await query.get();
  const last = snapshot.docs[snapshot.size - 1]?.id;
  return { devices: snapshot.docs.map(audienceDevice).filter((d) => d !== undefined), next: snapshot.size < AUDIENCE_PAGE ? undefined : last };
}

/** The users who muted `category`: the only preference documents the count reads. */
async function usersWhoMuted(category: string): Promise<string[]> {
  const snapshot = await db().collection(COLLECTIONS.preferences).where("mutedCategories", "array-contains", category).select().get();
  return snapshot.docs.map((doc) => doc.id);
}

async function countOf(query: DeviceQuery): Promise<number> {
  return (await query.count().get()).data().count;
}

async function sumOf(queries: DeviceQuery[]): Promise<number> {
  return (await Promise.all(queries.map(countOf))).reduce((a, b) => a + b, 0);
}

/**
 * How many recipients audienceDevices and the recipient writer would create
 * for this audience and category, with count() aggregations only: no device
 * document is read. Muted users' devices are counted the same way and taken
 * away. Firestore allows 30 disjunctions per query, which sizes the `in`
 * chunks (an `any` match of n pairs times k users is n × k disjunctions).
 */
export async function countAudience(audience: Audience, category?: string): Promise<number> {
  const devices = db().collection(COLLECTIONS.devices);
  const muted = category ? await usersWhoMuted(category) : [];
  if ("users" in audience) {
    const mutedSet = new Set(muted);
    const users = [...new Set(audience.users)].filter((uid) => !mutedSet.has(uid));
    return sumOf(chunks(users, IN_LIMIT).map((chunk) => live(devices.where("userId", "in", chunk))));
  }
  if ("devices" in audience) {
    const listed = chunks([...new Set(audience.devices)], IN_LIMIT);
    const all = await sumOf(listed.map((chunk) => live(devices.where(FieldPath.documentId(), "in", chunk))));
    // One muted user per query: the id list already uses the 30 disjunctions.
    const mutedQueries = muted.flatMap((uid) => listed.map((chunk) => live(devices.where(FieldPath.documentId(), "in", chunk).where("userId", "==", uid))));
    return all - (await sumOf(mutedQueries));
  }
  let base: DeviceQuery;
  let pairsPerQuery = 1;
  if ("all" in audience) {
    base = live(devices);
  } else {
    if (audience.match === "any") pairsPerQuery = Object.keys(audience.where).length;
    base = live(devices.where(whereFilter(audience)));
  }
  const mutedChunk = Math.max(1, Math.floor(IN_LIMIT / pairsPerQuery));
  const all = await countOf(base);
  return all - (await sumOf(chunks(muted, mutedChunk).map((chunk) => base.where("userId", "in", chunk))));
}
