import { Agent } from "node:https";
import { connect } from "node:net";
import { getApps, initializeApp, type Credential } from "firebase-admin/app";
import { getMessaging, type Messaging } from "firebase-admin/messaging";
import { adminApp } from "../shared/firestore";

const STAND_IN_APP = "fcm-stand-in";

/**
 * The Messaging client the delivery code sends through.
 *
 * In production this is the default app's client, talking to FCM. FCM has no
 * emulator, so when the functions run in the Emulator Suite and the local stack
 * names an FCM stand-in, a second app sends there instead: its HTTPS agent
 * opens a plain TCP connection to the stand-in and the legacy HTTP/1.1 transport
 * (which honours the agent) is switched on. Everything above the socket —
 * `sendEach`, request building, error mapping — is firebase-admin's own code.
 */
export function messagingClient(): Messaging {
  const standIn = standInAddress();
  if (!standIn) return getMessaging(adminApp());
  return standInMessaging(standIn, adminApp().options.projectId ?? requiredProject());
}

/** The project the emulator runs (it always sets GCLOUD_PROJECT). */
function requiredProject(): string {
  const project = process.env.GCLOUD_PROJECT;
  if (!project) throw new Error("GCLOUD_PROJECT is not set: the FCM stand-in is only used inside the Functions emulator");
  return project;
}

/** A Messaging client whose requests go to the FCM stand-in at `url` (the local stack's seam; see above). */
export function standInMessaging(url: URL, projectId: string): Messaging {
  const name = `${STAND_IN_APP}-${url.host}`;
  const existing = getApps().find((app) => app.name === name);
  if (existing) return getMessaging(existing);
  const credential: Credential = {
    getAccessToken: () => Promise.resolve({ access_token: "stand-in", expires_in: 3600 }),
  };
  const httpAgent = new Agent({ keepAlive: true });
  // The agent's createConnection is how the request leaves for the stand-in instead of fcm.googleapis.com.
  (httpAgent as unknown as { createConnection: () => ReturnType<typeof connect> }).createConnection = () =>
    connect({ host: url.hostname, port: Number(url.port) });
  const app = initializeApp({ projectId, credential, httpAgent }, name);
  const messaging = getMessaging(app);
  messaging.enableLegacyHttpTransport();
  return messaging;
}

/** The stand-in's address, honoured only inside the Functions emulator so production can never be redirected. */
function standInAddress(): URL | undefined {
  const url = process.env.FCM_STAND_IN_URL;
  if (!url || process.env.FUNCTIONS_EMULATOR !== "true") return undefined;
  return new URL(url);
}
