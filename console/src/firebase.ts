/**
 * The console's one door to Firebase: sign-in, the staff callables, and the
 * Firestore reads that firestore.rules allows a `pushSender` user. Screens
 * call these functions and never touch the SDK themselves.
 */
import { initializeApp, type FirebaseApp, type FirebaseOptions } from "firebase/app";
import {
  browserLocalPersistence,
  browserSessionPersistence,
  connectAuthEmulator,
  indexedDBLocalPersistence,
  initializeAuth,
  onAuthStateChanged,
  signInWithEmailAndPassword,
  signOut as authSignOut,
  type Auth,
  type User,
} from "firebase/auth";
import { connectFunctionsEmulator, getFunctions, httpsCallable, type Functions } from "firebase/functions";
import {
  collection,
  connectFirestoreEmulator,
  doc,
  getCountFromServer,
  getDocs,
  getFirestore,
  limit,
  onSnapshot,
  orderBy,
  query,
  startAfter,
  Timestamp,
  where,
  type DocumentSnapshot,
  type Firestore,
  type QueryConstraint,
  type QueryDocumentSnapshot,
} from "firebase/firestore";
import {
  COLLECTIONS,
  counterDoc,
  RECEIPTS_SUMMARY_ID,
  STATUS,
  type CounterDoc,
  type DeliveryStatus,
  type EstimateAudienceRequest,
  type EstimateAudienceResult,
  type TranslateDraftRequest,
  type TranslateDraftResult,
  type GetDeliveryStatsRequest,
  type HourRow,
  type ListRecipientsByReceiptRequest,
  type MessageReport,
  type ReceiptListPage,
  type ResendFailedRequest,
  type SendMessageRequest,
  type SendResult,
  type SetDeliveryPausedRequest,
} from "../../functions/src/contract";

const REGION = "us-central1";

/**
 * Written by the local stack (tools/stack.ts) beside the build: the emulators'
 * addresses, which move with STACK_PORT_OFFSET. Only read when the page is
 * served from this machine.
 */
interface StackConfig {
  projectId: string;
  emulators: { auth: string; functions: string; firestore: string };
}

interface Backend {
  app: FirebaseApp;
  auth: Auth;
  functions: Functions;
  db: Firestore;
}

let backend: Backend | undefined;

function servedLocally(): boolean {
  return ["127.0.0.1", "localhost", "[::1]"].includes(location.hostname);
}

async function fetchJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { cache: "no-store" });
  // Hosting rewrites unknown paths to index.html: anything but JSON means "not there".
  if (!res.ok || !res.headers.get("content-type")?.includes("json")) throw new Error(`${path} is not available (HTTP ${res.status})`);
  return (await res.json()) as T;
}

function hostAndPort(value: string): [string, number] {
  const url = new URL(`http://${value}`);
  return [url.hostname, Number(url.port)];
}

/** Connects once: to the emulators when the local stack serves the page, else to the project Hosting names in /__/firebase/init.json. */
export async function connect(): Promise<void> {
  if (backend) return;
  let options: FirebaseOptions;
  let stack: StackConfig | undefined;
  if (servedLocally()) {
    stack = await fetchJson<StackConfig>("/stack.json");
    options = { projectId: stack.projectId, apiKey: "demo-key", appId: "demo-console" };
  } else {
    options = await fetchJson<FirebaseOptions>("/__/firebase/init.json");
  }
  const app = initializeApp(options);
  // getAuth's persistence without its popup/redirect resolver: staff sign in
  // with email and password, and on phones and Safari that resolver loads
  // Google's gapi script and an authDomain iframe up front, which the
  // console's Content-Security-Policy (firebase.json) refuses.
  const auth = initializeAuth(app, { persistence: [indexedDBLocalPersistence, browserLocalPersistence, browserSessionPersistence] });
  const functions = getFunctions(app, REGION);
  const db = getFirestore(app);
  if (stack) {
    connectAuthEmulator(auth, `http://${stack.emulators.auth}`, { disableWarnings: true });
    connectFunctionsEmulator(functions, ...hostAndPort(stack.emulators.functions));
    connectFirestoreEmulator(db, ...hostAndPort(stack.emulators.firestore));
  }
  backend = { app, auth, functions, db };
}

function the(): Backend {
  if (!backend) throw new Error("connect() first");
  return backend;
}

// ------------------------------------------------------------------ sign-in

export interface Staff {
  uid: string;
  email: string | null;
  /** The `pushSender` custom claim: without it the callables and reads are refused. */
  mayPush: boolean;
  /** The `pushAdmin` custom claim: the operations panel (emergency stop, queues, hourly metrics). */
  isAdmin: boolean;
  /** The `pushEmergency` custom claim: may send `urgency: "emergency"` (the compose screen shows the switch only then). */
  mayEmergency: boolean;
}

export function onSignedIn(listener: (user: Staff | null) => void): () => void {
  return onAuthStateChanged(the().auth, (user: User | null) => {
    if (!user) return listener(null);
    void user.getIdTokenResult().then((token) => listener({ uid: user.uid, email: user.email, mayPush: token.claims.pushSender === true, isAdmin: token.claims.pushAdmin === true, mayEmergency: token.claims.pushEmergency === true }));
  });
}

export async function signIn(email: string, password: string): Promise<void> {
  await signInWithEmailAndPassword(the().auth, email, password);
}

export async function signOut(): Promise<void> {
  await authSignOut(the().auth);
}

// ---------------------------------------------------------------- callables

async function call<Req, Res>(name: string, data: Req): Promise<Res> {
  return (await httpsCallable<Req, Res>(the().functions, name, { timeout: 540_000 })(data)).data;
}

export const estimateAudience = (request: EstimateAudienceRequest) => call<EstimateAudienceRequest, EstimateAudienceResult>("estimateAudience", request);
export const translateDraft = (request: TranslateDraftRequest) => call<TranslateDraftRequest, TranslateDraftResult>("translateDraft", request);
export const sendMessage = (request: SendMessageRequest) => call<SendMessageRequest, SendResult>("sendMessage", request);
export const cancelMessage = (messageId: string) => call<{ messageId: string }, { messageId: string; cancelled: number }>("cancelMessage", { messageId });
export const resendFailed = (request: ResendFailedRequest) => call<ResendFailedRequest, SendResult>("resendFailed", request);

/** What `getRecipientStatus` answers: one device's outcome for one message, from its recipient document or its broadcast page. */
export interface RecipientOutcome {
  deviceId: string;
  status: number;
  statusMessage: string | null;
  attempts: number;
  sentAt: string | null;
  recordedIn: "recipient" | "page";
  /** When the device's app reported the notification arrived, and was tapped. */
  receivedAt: string | null;
  openedAt: string | null;
  /** The text the device got: a translation's tag, or "default"; null when nothing was sent. */
  language: string | null;
}
export const messageReport = (messageId: string) => call<{ messageId: string }, MessageReport>("getMessageReport", { messageId });
export const recipientStatus = (messageId: string, deviceId: string) => call<{ messageId: string; deviceId: string }, RecipientOutcome>("getRecipientStatus", { messageId, deviceId });
export const recipientsByReceipt = (request: ListRecipientsByReceiptRequest) => call<ListRecipientsByReceiptRequest, ReceiptListPage>("listRecipientsByReceipt", request);
export const setDeliveryPaused = (request: SetDeliveryPausedRequest) => call<SetDeliveryPausedRequest, DeliveryStatus>("setDeliveryPaused", request);
export const getDeliveryStatus = () => call<Record<string, never>, DeliveryStatus>("getDeliveryStatus", {});
export const getDeliveryStats = (request: GetDeliveryStatsRequest) => call<GetDeliveryStatsRequest, { hours: HourRow[] }>("getDeliveryStats", request);

/** The user-facing text of a callable's error: its message, and the field it names. */
export function callableProblem(err: unknown): { message: string; field?: string } {
  const e = err as { message?: string; details?: { field?: string } };
  return { message: e.message ?? String(err), field: e.details?.field };
}

// -------------------------------------------------------------------- reads

/** A message document as the console shows it. */
export interface MessageView {
  id: string;
  title: string;
  body: string;
  senderId: string | null;
  createdAt: Date | null;
  sendAt: Date | null;
  cancelledAt: Date | null;
  /** How many recipients it has; null while they are being written. */
  recipientCount: number | null;
  /** A message a script wrote directly has no recipientCount field: its recipients must be counted. */
  countMissing: boolean;
  /** False while the audience is still being expanded into recipients; a message written directly without an audience counts as written. */
  recipientsWritten: boolean;
  /** A message document that failed validation: the first failing field and why (nothing is sent). */
  invalid: { field: string; message: string } | null;
  resendOf: string | null;
  category: string | null;
  /** Delivery at this wall-clock time in each recipient's own zone (`YYYY-MM-DDTHH:MM`). */
  sendAtLocal: string | null;
  emergency: boolean;
  /** The sender's translations, by tag, and whether machine translation was asked for. */
  translations: Record<string, { title: string; body: string }>;
  autoTranslate: boolean;
}

const asDate = (value: unknown) => (value instanceof Timestamp ? value.toDate() : null);
const asString = (value: unknown) => (typeof value === "string" ? value : null);

/** The reason written on a message document that failed validation, if any. */
function invalidOf(value: unknown): MessageView["invalid"] {
  if (!value || typeof value !== "object") return null;
  const { field, message } = value as { field?: unknown; message?: unknown };
  return { field: typeof field === "string" ? field : "", message: typeof message === "string" ? message : "" };
}

function messageView(snapshot: DocumentSnapshot): MessageView | null {
  const d = snapshot.data();
  if (!d) return null;
  return {
    id: snapshot.id,
    title: String(d.title ?? ""),
    body: String(d.body ?? ""),
    senderId: asString(d.senderId),
    createdAt: asDate(d.createdAt),
    sendAt: asDate(d.sendAt),
    cancelledAt: asDate(d.cancelledAt),
    recipientCount: typeof d.recipientCount === "number" ? d.recipientCount : null,
    countMissing: !("recipientCount" in d),
    recipientsWritten: d.recipientsWrittenAt instanceof Timestamp || (!("audience" in d) && d.recipientsWrittenAt === undefined),
    invalid: invalidOf(d.invalid),
    resendOf: asString(d.resendOf),
    category: asString(d.category),
    sendAtLocal: asString(d.sendAtLocal),
    emergency: d.urgency === "emergency",
    translations: translationsOf(d.translations),
    autoTranslate: d.autoTranslate === true,
  };
}

function translationsOf(value: unknown): Record<string, { title: string; body: string }> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).flatMap(([tag, text]) => {
      const t = text as { title?: unknown; body?: unknown } | null;
      return t && typeof t.title === "string" && typeof t.body === "string" ? [[tag, { title: t.title, body: t.body }]] : [];
    }),
  );
}

/** A machine translation made for a message (messages/{id}/translations/{language}): what was sent, or why not. */
export interface MachineTranslation {
  language: string;
  state: string;
  title?: string;
  body?: string;
  reason?: string;
}

/** The message's machine translations: one small document per language, read once (not watched). */
export async function machineTranslations(messageId: string): Promise<MachineTranslation[]> {
  const snapshot = await getDocs(collection(the().db, COLLECTIONS.messages, messageId, COLLECTIONS.translations));
  return snapshot.docs.map((d) => {
    const data = d.data();
    return {
      language: d.id,
      state: String(data.state ?? ""),
      ...(typeof data.title === "string" && { title: data.title }),
      ...(typeof data.body === "string" && { body: data.body }),
      ...(typeof data.reason === "string" && { reason: data.reason }),
    };
  });
}

function counters(snapshots: QueryDocumentSnapshot[]): CounterDoc[] {
  return snapshots.flatMap((s) => {
    if (s.id === RECEIPTS_SUMMARY_ID) return [];
    const parsed = counterDoc.safeParse(s.data());
    return parsed.success ? [parsed.data] : [];
  });
}

/** What the apps reported for a message, as its last tally counted it (up to RECEIPT_TALLY_SECONDS behind). */
export interface ReceiptCounts {
  received: number;
  opened: number;
}

function receiptCounts(snapshots: QueryDocumentSnapshot[]): ReceiptCounts {
  const summary = snapshots.find((s) => s.id === RECEIPTS_SUMMARY_ID)?.data();
  const count = (value: unknown) => (typeof value === "number" && value >= 0 ? value : 0);
  return { received: count(summary?.received), opened: count(summary?.opened) };
}

/**
 * The live view of a message: its document and its few counter documents
 * (the receipts' summary among them). Neither grows with the audience, so
 * watching costs the same for 10 or 100,000 recipients (a read per counter
 * document that changes).
 */
export function watchMessage(
  messageId: string,
  onChange: (message: MessageView | null, counts: CounterDoc[], receipts: ReceiptCounts) => void,
  onError: (err: Error) => void,
): () => void {
  const { db } = the();
  let message: MessageView | null | undefined;
  let counts: CounterDoc[] | undefined;
  let receipts: ReceiptCounts = { received: 0, opened: 0 };
  const emit = () => {
    if (message === undefined || counts === undefined) return;
    if (!message?.countMissing) return onChange(message, counts, receipts);
    // Only for messages written directly: one count() aggregation (a read per
    // 1,000 recipients) per change, as getMessageReport does for them.
    const [seen, seenCounts] = [message, counts];
    void getCountFromServer(collection(db, COLLECTIONS.messages, messageId, COLLECTIONS.recipients)).then(
      (total) => onChange({ ...seen, recipientCount: total.data().count }, seenCounts, receipts),
      onError,
    );
  };
  const stopMessage = onSnapshot(doc(db, COLLECTIONS.messages, messageId), (s) => ((message = messageView(s)), emit()), onError);
  const stopCounters = onSnapshot(collection(db, COLLECTIONS.messages, messageId, COLLECTIONS.counters), (s) => ((counts = counters(s.docs)), (receipts = receiptCounts(s.docs)), emit()), onError);
  return () => {
    stopMessage();
    stopCounters();
  };
}

export interface FailedRecipient {
  id: string;
  deviceId: string;
  userId: string | null;
  status: number;
  statusMessage: string | null;
}

export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; undefined on the last one. */
  next?: QueryDocumentSnapshot;
}

/**
 * One page of the failed recipients, by status then id. FCM's failures are
 * HTTP errors (400 and up), so "above 200" is every failure there is.
 */
export async function failedRecipients(messageId: string, pageSize: number, after?: QueryDocumentSnapshot): Promise<Page<FailedRecipient>> {
  const constraints: QueryConstraint[] = [where("status", ">", STATUS.accepted), orderBy("status"), limit(pageSize + 1)];
  if (after) constraints.splice(2, 0, startAfter(after));
  const snapshot = await getDocs(query(collection(the().db, COLLECTIONS.messages, messageId, COLLECTIONS.recipients), ...constraints));
  const docs = snapshot.docs.slice(0, pageSize);
  return {
    items: docs.map((s) => ({ id: s.id, deviceId: String(s.get("deviceId")), userId: asString(s.get("userId")), status: Number(s.get("status")), statusMessage: asString(s.get("statusMessage")) })),
    next: snapshot.size > pageSize ? docs[docs.length - 1] : undefined,
  };
}

export interface HistoryRow {
  message: MessageView;
  counts: CounterDoc[];
}

/** Messages newest first, a page at a time; `senderId` keeps one sender's. Each row's counters are read once. */
export async function history(pageSize: number, senderId?: string, after?: QueryDocumentSnapshot): Promise<Page<HistoryRow>> {
  const { db } = the();
  const constraints: QueryConstraint[] = [orderBy("createdAt", "desc"), limit(pageSize + 1)];
  if (senderId) constraints.unshift(where("senderId", "==", senderId));
  if (after) constraints.splice(constraints.length - 1, 0, startAfter(after));
  const snapshot = await getDocs(query(collection(db, COLLECTIONS.messages), ...constraints));
  const docs = snapshot.docs.slice(0, pageSize);
  const items = await Promise.all(
    docs.map(async (s) => ({
      message: messageView(s) as MessageView,
      counts: counters((await getDocs(collection(db, COLLECTIONS.messages, s.id, COLLECTIONS.counters))).docs),
    })),
  );
  return { items, next: snapshot.size > pageSize ? docs[docs.length - 1] : undefined };
}
