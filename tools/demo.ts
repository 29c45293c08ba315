/**
 * `npm run demo`: a tour of the running local stack (start it with `npm start`
 * in another terminal). Signs in a student and a staff member on the Auth
 * emulator, registers the student's phone, sends a message to the student
 * through the sendMessage callable, waits for delivery and prints the report
 * and what the FCM stand-in received.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Beside `npm start` nothing is exported: take the addresses from firebase.json.
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const emulators = (JSON.parse(readFileSync(join(root, "firebase.json"), "utf8")) as { emulators: Record<string, { host: string; port: number }> }).emulators;
const at = (name: string) => `${emulators[name]?.host}:${emulators[name]?.port}`;
process.env.FIRESTORE_EMULATOR_HOST ??= at("firestore");
process.env.FIREBASE_AUTH_EMULATOR_HOST ??= at("auth");
process.env.FUNCTIONS_EMULATOR_ORIGIN ??= `http://${at("functions")}`;
process.env.FCM_STAND_IN_URL ??= `http://127.0.0.1:${Number(process.env.FCM_STAND_IN_PORT ?? 9399)}`;

const { signedInUser } = await import("./lib/client.ts");
const { acceptedFor } = await import("./lib/stand-in.ts");
const { waitFor } = await import("./lib/wait.ts");

try {
  await fetch(`${process.env.FUNCTIONS_EMULATOR_ORIGIN}/`);
} catch {
  console.error(`No local stack answers at ${process.env.FUNCTIONS_EMULATOR_ORIGIN}: run \`npm start\` in another terminal first.`);
  process.exit(1);
}

const student = await signedInUser({}, `demo-student-${Date.now()}`);
const staff = await signedInUser({ pushSender: true }, `demo-staff-${Date.now()}`);
const token = `demo-token-${Date.now()}`;
const deviceId = `demo-phone-${Date.now()}`;
console.log("registerDevice →", await student.call("registerDevice", { deviceId, token, platform: "android", locale: "en-GB", timezone: "Europe/London" }));
// recipients is null: the call returns before the audience is expanded (the report below counts them).
const sent = await staff.call<{ messageId: string; recipients: number | null }>("sendMessage", {
  title: "Hello {{name}}",
  body: "Your timetable for next week is online.",
  link: "https://school.example/timetable",
  audience: { users: [student.uid] },
  vars: { [student.uid ?? ""]: { name: "Sam" } },
});
console.log("sendMessage →", sent);
const report = await waitFor(
  "the message to be delivered",
  async () => {
    const answer = await staff.call<{ state: string }>("getMessageReport", { messageId: sent.messageId });
    return answer.state === "done" ? answer : undefined;
  },
  30_000,
  500,
);
console.log("getMessageReport →", JSON.stringify(report));
const [received] = await acceptedFor([token]);
console.log("the FCM stand-in received →", JSON.stringify(received?.message, null, 2));
await student.close();
await staff.close();
process.exit(0);
