import { randomUUID } from "node:crypto";
import { FieldValue, Timestamp, type DocumentData } from "firebase-admin/firestore";
import { adminDb } from "./admin.ts";
import { waitFor } from "./wait.ts";

export interface DeviceSeed {
  deviceId?: string;
  token?: string;
  userId?: string;
  platform?: "ios" | "android" | "web";
  enabled?: boolean;
  retired?: boolean;
  retiredReason?: string;
  badge?: number;
  /** What the app said about itself: never matched by an audience. */
  userInfo?: Record<string, string | number | boolean>;
  /** The school's attributes of the user, as setUserAttributes copies them onto the device: what `where` audiences match. */
  attributes?: Record<string, string | number | boolean>;
  updatedAt?: Timestamp;
  /** The device's tenant: "app" (an app user's) unless given; null writes none, as on a device registered before tenants. */
  tenant?: string | null;
  /** The locale the app reported (`es_MX`, `fr-CA`): picks the translation the device gets. */
  locale?: string;
}

/** Writes a device document directly, as registerDevice would have left it. */
export async function seedDevices(seeds: DeviceSeed[]): Promise<Array<Required<Pick<DeviceSeed, "deviceId" | "token">>>> {
  const db = adminDb();
  const writer = db.bulkWriter();
  const created = seeds.map((seed) => {
    const deviceId = seed.deviceId ?? `dev-${randomUUID()}`;
    const token = seed.token ?? `ok-${randomUUID()}`;
    void writer.set(db.collection("devices").doc(deviceId), {
      userId: seed.userId ?? `user-${randomUUID()}`,
      ...(seed.tenant !== null && { tenant: seed.tenant ?? "app" }),
      token,
      platform: seed.platform ?? "android",
      enabled: seed.enabled ?? true,
      badge: seed.badge ?? 0,
      ...(seed.userInfo && { userInfo: seed.userInfo }),
      ...(seed.attributes && { attributes: seed.attributes }),
      ...(seed.locale && { locale: seed.locale }),
      createdAt: seed.updatedAt ?? Timestamp.now(),
      updatedAt: seed.updatedAt ?? Timestamp.now(),
      retired: seed.retired ?? false,
      retiredAt: seed.retired ? Timestamp.now() : null,
      retiredReason: seed.retired ? (seed.retiredReason ?? "unregistered") : null,
    });
    return { deviceId, token };
  });
  await writer.close();
  return created;
}

/** Writes a message document directly, the way a script or console does. */
export async function createMessage(fields: DocumentData = {}): Promise<string> {
  const ref = adminDb().collection("messages").doc();
  await ref.set({ title: "Hello", body: "A test message", senderId: null, createdAt: FieldValue.serverTimestamp(), ...fields });
  return ref.id;
}

export interface RecipientSeed {
  deviceId: string;
  userId?: string | null;
  vars?: Record<string, string | number | boolean>;
  recipientId?: string;
}

/** Adds recipient documents with the contract's writer fields only: status -1, statusMessage null. */
export async function addRecipients(messageId: string, seeds: RecipientSeed[]): Promise<string[]> {
  const collection = adminDb().collection("messages").doc(messageId).collection("recipients");
  const writer = adminDb().bulkWriter();
  const ids = seeds.map((seed) => {
    const ref = seed.recipientId ? collection.doc(seed.recipientId) : collection.doc();
    void writer.create(ref, { deviceId: seed.deviceId, userId: seed.userId ?? null, ...(seed.vars && { vars: seed.vars }), status: -1, statusMessage: null, attempts: 0 });
    return ref.id;
  });
  await writer.close();
  return ids;
}

export interface RecipientState extends DocumentData {
  id: string;
  status: number;
  statusMessage: string | null;
  attempts: number;
}

/**
 * Every recipient of the message as recorded: each recipient document, and
 * each accepted recipient of a broadcast page recorded compactly (no document
 * of its own: delivery/pages.ts), as its page holds it (`recordedIn: "page"`).
 */
export async function recipientStates(messageId: string): Promise<Map<string, RecipientState>> {
  const message = adminDb().collection("messages").doc(messageId);
  const [snapshot, pages] = await Promise.all([message.collection("recipients").get(), message.collection("pages").where("compact", "==", true).get()]);
  const states = new Map(snapshot.docs.map((doc) => [doc.id, { ...(doc.data() as Omit<RecipientState, "id">), id: doc.id } as RecipientState]));
  for (const page of pages.docs) {
    const recipients = page.get("recipients") as Array<{ id: string; deviceId: string; userId: string | null }>;
    const outcomes = page.get("outcomes") as Array<DocumentData & { status: number }>;
    recipients.forEach((recipient, i) => {
      const outcome = outcomes[i];
      if (states.has(recipient.id) || outcome?.status !== 200) return;
      states.set(recipient.id, { ...outcome, deviceId: recipient.deviceId, userId: recipient.userId, attempts: (outcome.attempts as number | undefined) ?? (page.get("attempt") as number), statusMessage: outcome.statusMessage as string | null, id: recipient.id, status: 200, recordedIn: "page" });
    });
  }
  return states;
}

/** Waits until every recipient of the message has a final status (not -1 or -2), then returns them all. */
export async function waitUntilFinal(messageId: string, expected: number, timeoutMs = 120_000): Promise<Map<string, RecipientState>> {
  return waitFor(
    `${expected} recipients of ${messageId} to reach a final status`,
    async () => {
      const states = await recipientStates(messageId);
      const open = [...states.values()].filter((r) => r.status === -1 || r.status === -2).length;
      return states.size === expected && open === 0 ? states : undefined;
    },
    timeoutMs,
    500,
  );
}

/**
 * Waits for a message's audience to be expanded (the background expansion
 * sets recipientsWrittenAt) and returns its recipientCount.
 */
export async function waitForRecipientCount(messageId: string, timeoutMs = 120_000): Promise<number> {
  return waitFor(
    `recipientCount of message ${messageId}`,
    async () => {
      const snapshot = await adminDb().collection("messages").doc(messageId).get();
      const count: unknown = snapshot.get("recipientCount");
      return snapshot.get("recipientsWrittenAt") instanceof Timestamp && typeof count === "number" ? count : undefined;
    },
    timeoutMs,
  );
}

/**
 * Waits until the Functions emulator has caught up with the Firestore
 * triggers already queued. The emulator runs every trigger as its own
 * invocation, one queue for all of them (tens per second on a busy machine),
 * so a test that wrote thousands of recipients leaves thousands of
 * onRecipientCreated runs behind it, and a later message's own trigger waits
 * for them. A message document whose audience matches no device is expanded
 * (recipientCount 0) only when its trigger's turn comes.
 */
export async function waitForTriggersToCatchUp(timeoutMs = 300_000): Promise<void> {
  const ref = adminDb().collection("messages").doc();
  await ref.set({ title: "Barrier", body: "Matches no device", senderId: null, createdAt: Timestamp.now(), audience: { devices: [`none-${randomUUID()}`] } });
  await waitForRecipientCount(ref.id, timeoutMs);
}
