import { FieldPath, Filter, type DocumentData, type DocumentSnapshot, type Query } from "firebase-admin/firestore";
import { APP_TENANT, COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";
import { mutesCopy } from "../devices/mutes";
import { tenantUserId } from "../devices/owner";
import { deviceDoc, type DeviceDoc } from "../devices/schema";
import type { PartSpec } from "./parts";
import type { Audience } from "./schema";
import { AUDIENCE_LANGUAGE_SAMPLE, type AudienceLanguages } from "../languages/report";
import { DEFAULT_TEXT, deviceLanguage } from "../languages/tags";

/**
 * Devices per chunk of a part: one chunk's recipients are written (one
 * BulkWriter) before the part's
 * cursor moves past it, so it is also how much a retried part task redoes.
 */
export const AUDIENCE_CHUNK = 500;
/**
 * The first chunk of a part, from its start: smaller, so that the first
 * notifications of a broadcast go out as soon as its parts have read a few
 * devices, not 500.
 */
export const FIRST_CHUNK = 100;
/** Firestore's limit on the values of one `in` filter. */
const IN_LIMIT = 30;

/**
 * A message's audience in the terms of the tenant it was sent in (the
 * message's `tenant`, set for a key's message): the user ids it names become
 * the stored ones (devices/owner.ts), so a key reaches its tenant's users and
 * nobody else's. Staff messages (no tenant) name app users by uid. The
 * message's `vars` stay keyed as the sender wrote them (localUserId).
 */
export function inTenant(tenant: string | undefined, audience: Audience): Audience {
  if (tenant === undefined || tenant === APP_TENANT || !("users" in audience)) return audience;
  return { users: audience.users.map((userId) => tenantUserId(tenant, userId)) };
}

/** A message's `tenant` field as written by the server (anything else is no tenant). */
export function messageTenant(raw: unknown): string | undefined {
  return typeof raw === "string" ? raw : undefined;
}

export interface AudienceDevice {
  deviceId: string;
  userId: string;
  /** The device's tenant (absent on devices registered before tenants). */
  tenant?: string;
  /** The device's copy of its user's muted categories (devices/mutes.ts); absent on devices written before the copy. */
  mutedCategories?: string[];
  /** The device document as the audience's query read it. */
  device?: DeviceDoc;
}

// Devices are read raw, field by field: one malformed device document (they may
// be written by scripts) must not fail a whole send.
type DeviceQuery = Query<DocumentData>;

function audienceDevice(snapshot: DocumentSnapshot): AudienceDevice | undefined {
  const userId: unknown = snapshot.get("userId");
  if (typeof userId !== "string") return undefined;
  const tenant: unknown = snapshot.get("tenant");
  const mutedCategories = mutesCopy(snapshot.get("mutedCategories"));
  // The document as read, for a page sent at once (a malformed one is read again, and ended, by the send).
  const parsed = deviceDoc.safeParse(snapshot.data());
  return {
    deviceId: snapshot.id,
    userId,
    ...(typeof tenant === "string" && { tenant }),
    ...(mutedCategories && { mutedCategories }),
    ...(parsed.success && { device: parsed.data }),
  };
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

/** One chunk of a part's devices, and the cursor to go on from (undefined: the part is done). */
export interface PartPage {
  devices: AudienceDevice[];
  next: string | undefined;
}

/**
 * A `where` audience matches the attributes the school set (`attributes`,
 * devices/attributes.ts), never what an app said about itself (`userInfo`):
 * an app cannot put itself into an audience by claiming a role or a class.
 */
function whereFilter(audience: Extract<Audience, { where: unknown }>): Filter {
  const pairs = Object.entries(audience.where).map(([key, value]) => Filter.where(new FieldPath("attributes", key), "==", value));
  return audience.match === "any" ? Filter.or(...pairs) : Filter.and(...pairs);
}

/**
 * The query of a part's devices after `cursor` (a device id; undefined to
 * start): the audience's equality filters, the tenant's (a key's broadcast
 * reaches its own tenant only; users are fenced by their stored ids) and the
 * live filters, bounded by the part's id range and ordered by document id.
 * In Firestore that is served from the single-field indexes (equality
 * filters merged in document order), no composite index, and only audience
 * devices are read.
 */
function partQuery(audience: Audience, spec: Exclude<PartSpec, { kind: "devices" }>, cursor: string | undefined, tenant: string | undefined): DeviceQuery {
  const devices = db().collection(COLLECTIONS.devices);
  let query: DeviceQuery;
  if (spec.kind === "users") query = live(devices.where("userId", "in", spec.users));
  else {
    const inTenant = tenant === undefined ? devices : devices.where("tenant", "==", tenant);
    query = live("where" in audience ? inTenant.where(whereFilter(audience)) : inTenant);
  }
  if (spec.kind === "range" && spec.from !== undefined) query = query.where(FieldPath.documentId(), ">=", spec.from);
  if (spec.kind === "range" && spec.to !== undefined) query = query.where(FieldPath.documentId(), "<", spec.to);
  query = query.orderBy(FieldPath.documentId());
  return cursor === undefined ? query : query.startAfter(cursor);
}

/**
 * A part's devices after `cursor`, in chunks of AUDIENCE_CHUNK, the last one
 * (possibly empty) with `next` undefined. `devices` parts read their ids
 * with one getAll. The others are ONE query streamed to its end, not a query
 * per chunk: a query costs a round trip and an index seek in Firestore, and
 * the emulator serves every query by scanning the devices collection (one
 * query over 100,000 devices takes ~2.2 s whatever its limit; see
 * `npm run bench:expansion`), so pages of 500 made a 100,000-device part
 * take a minute of reads where one stream takes ~3 s. The consumer writes each
 * chunk before asking for the next, so the stream waits (flow control) and
 * memory stays at one chunk. A stream broken by a transient error is resumed
 * by the client from its last document; the task's time budget keeps it far
 * under the query's deadline.
 */
export async function* partPages(audience: Audience, spec: PartSpec, cursor: string | undefined, tenant: string | undefined): AsyncGenerator<PartPage> {
  if (spec.kind === "devices") {
    const devices = db().collection(COLLECTIONS.devices);
    const snapshots = spec.devices.length > 0 ? await db().getAll(...spec.devices.map((id) => devices.doc(id))) : [];
    const page: AudienceDevice[] = [];
    for (const snapshot of snapshots) {
      const device = snapshot.exists ? audienceDevice(snapshot) : undefined;
      const reachable = tenant === undefined || device?.tenant === tenant;
      if (device && reachable && snapshot.get("retired") === false && snapshot.get("enabled") === true) page.push(device);
    }
    yield { devices: page, next: undefined };
    return;
  }
  let chunk: AudienceDevice[] = [];
  let read = 0;
  // Chunk boundaries depend only on the cursor, so a part run again from it reads the same chunks.
  let boundary = cursor === undefined ? FIRST_CHUNK : AUDIENCE_CHUNK;
  // Query.stream() is typed as a plain readable; it yields document snapshots.
  for await (const item of partQuery(audience, spec, cursor, tenant).stream()) {
    const snapshot = item as unknown as DocumentSnapshot;
    read += 1;
    const device = audienceDevice(snapshot);
    if (device) chunk.push(device);
    if (read === boundary) {
      yield { devices: chunk, next: snapshot.id };
      chunk = [];
      boundary += AUDIENCE_CHUNK;
    }
  }
  yield { devices: chunk, next: undefined };
}

async function countOf(query: DeviceQuery): Promise<number> {
  return (await query.count().get()).data().count;
}

/**
 * The devices of `query` an audience of `category` reaches: all of them less
 * those whose copy of their user's mutes holds the category (devices/mutes.ts),
 * two aggregations whatever the number of users who muted it. A device
 * written before the copy existed (`npm run ops -- migrate-mutes` gives it
 * one) is counted as not muted, though the expansion leaves it out if its
 * user muted the category.
 */
async function countReached(query: DeviceQuery, category: string | undefined): Promise<number> {
  if (!category) return countOf(query);
  const [all, muted] = await Promise.all([countOf(query), countOf(query.where("mutedCategories", "array-contains", category))]);
  return all - muted;
}

/**
 * How many recipients audienceDevices and the recipient writer would create
 * for this audience and category, with count() aggregations only: no device
 * or preference document is read. Firestore allows 30 disjunctions per
 * query, which sizes the `in` chunks of `users` and `devices` audiences.
 */
export async function countAudience(audience: Audience, category?: string): Promise<number> {
  return (await Promise.all(audienceQueries(audience).map((query) => countReached(query, category)))).reduce((a, b) => a + b, 0);
}

/** The live devices of an audience, as queries (`in` chunks for lists). */
function audienceQueries(audience: Audience): DeviceQuery[] {
  const devices = db().collection(COLLECTIONS.devices);
  if ("users" in audience) return chunks([...new Set(audience.users)], IN_LIMIT).map((chunk) => live(devices.where("userId", "in", chunk)));
  if ("devices" in audience) return chunks([...new Set(audience.devices)], IN_LIMIT).map((chunk) => live(devices.where(FieldPath.documentId(), "in", chunk)));
  if ("all" in audience) return [live(devices)];
  return [live(devices.where(whereFilter(audience)))];
}

/**
 * The languages an audience reads (languages/report.ts): the `locale` of at
 * most AUDIENCE_LANGUAGE_SAMPLE of its devices, read with `select` (one read
 * each), so an estimate of a broadcast costs a bounded few hundred reads.
 * Mutes are not applied: it describes the audience, not the exact recipients.
 */
export async function audienceLanguageSample(audience: Audience): Promise<AudienceLanguages> {
  const counts: Record<string, number> = {};
  let sampled = 0;
  for (const query of audienceQueries(audience)) {
    const left = AUDIENCE_LANGUAGE_SAMPLE - sampled;
    if (left <= 0) break;
    const snapshot = await query.select("locale").limit(left).get();
    for (const doc of snapshot.docs) {
      const locale: unknown = doc.get("locale");
      const language = deviceLanguage(typeof locale === "string" ? locale : undefined) ?? DEFAULT_TEXT;
      counts[language] = (counts[language] ?? 0) + 1;
      sampled += 1;
    }
  }
  return { counts, sampled };
}
