/**
 * `npm run bench:watch`: what the console's live view of one message costs.
 * Seeds WATCH_RECIPIENTS (5,000) devices, sends them one message through
 * sendMessage, and listens exactly as the message page does (the message
 * document and its counters collection, JS SDK onSnapshot), counting the
 * documents each snapshot delivers — which is what Firestore bills a
 * listener — until every recipient is final.
 */
import { randomUUID } from "node:crypto";
import { collection, connectFirestoreEmulator, doc, getFirestore, onSnapshot } from "firebase/firestore";
import { idempotentMessageId } from "../functions/src/sending/send.ts";
import { signedInUser } from "../tools/lib/client.ts";
import { stackEnv } from "../tools/lib/env.ts";
import { seedDevices } from "../tools/lib/fixtures.ts";
import { waitFor } from "../tools/lib/wait.ts";

const size = Number(process.env.WATCH_RECIPIENTS ?? 5000);
const tag = `watch-${randomUUID().slice(0, 8)}`;
for (let i = 0; i < size; i += 1000) await seedDevices(Array.from({ length: Math.min(1000, size - i) }, () => ({ attributes: { bench: tag } })));

const staff = await signedInUser({ pushSender: true });
const db = getFirestore(staff.app);
const [host, port] = stackEnv("FIRESTORE_EMULATOR_HOST").split(":");
connectFirestoreEmulator(db, host as string, Number(port));

// The id is known before sending (it derives from the idempotency key), so the listeners see every change.
const key = `bench-${tag}`;
const messageId = idempotentMessageId(staff.uid as string, key);
let messageReads = 0;
let counterReads = 0;
let final = 0;
const stopMessage = onSnapshot(doc(db, "messages", messageId), () => (messageReads += 1));
const stopCounters = onSnapshot(collection(db, "messages", messageId, "counters"), (snapshot) => {
  // The first snapshot delivers every document; later ones only those that changed.
  counterReads += snapshot.docChanges().length;
  final = snapshot.docs.reduce((sum, d) => sum + Object.values((d.get("counts") ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0), 0);
});
const started = Date.now();
await staff.call("sendMessage", { title: "Watch", body: "cost", audience: { where: { bench: tag } }, idempotencyKey: key }, 540_000);
await waitFor("every recipient to be final", () => (final >= size ? true : undefined), 600_000, 250);
const seconds = (Date.now() - started) / 1000;
stopMessage();
stopCounters();
console.log(`watching a message of ${size} recipients until done (${seconds.toFixed(1)} s):`);
console.log(`  counter documents read: ${counterReads} (${((counterReads / size) * 1000).toFixed(2)} per 1,000 recipients → ${Math.round((counterReads / size) * 100_000)} for 100,000)`);
console.log(`  message document read: ${messageReads} times; recipients read by the page: 0`);
await staff.close();
process.exit(0);
