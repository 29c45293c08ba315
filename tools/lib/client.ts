import { randomUUID } from "node:crypto";
import { deleteApp, initializeApp, type FirebaseApp } from "firebase/app";
import { CustomProvider, initializeAppCheck } from "firebase/app-check";
import { connectAuthEmulator, getAuth, signInWithCustomToken } from "firebase/auth";
import { connectFunctionsEmulator, getFunctions, httpsCallable, type FunctionsError } from "firebase/functions";
import { adminAuth } from "./admin.ts";
import { emulatorAppCheckToken, TEST_APP_ID } from "./appCheck.ts";
import { PROJECT_ID, REGION, stackEnv } from "./env.ts";

/** An app instance as a phone or a staff console has it, signed in (or not) to the Auth emulator. */
export interface ClientUser {
  uid: string | null;
  app: FirebaseApp;
  /** Calls a callable; `timeoutMs` overrides the SDK's 70-second default for long calls. */
  call<R = unknown>(name: string, data?: unknown, timeoutMs?: number): Promise<R>;
  close(): Promise<void>;
}

/** An app as a phone has it: with App Check (unless `appCheck` is false, for a test of an app without it). */
function newClientApp(appCheck = true): FirebaseApp {
  const app = initializeApp({ projectId: PROJECT_ID, apiKey: "demo-key", appId: TEST_APP_ID }, `client-${randomUUID()}`);
  if (appCheck) {
    const provider = new CustomProvider({ getToken: () => Promise.resolve({ token: emulatorAppCheckToken(), expireTimeMillis: Date.now() + 3_600_000 }) });
    initializeAppCheck(app, { provider, isTokenAutoRefreshEnabled: false });
  }
  connectAuthEmulator(getAuth(app), `http://${stackEnv("FIREBASE_AUTH_EMULATOR_HOST")}`, { disableWarnings: true });
  const functionsOrigin = new URL(stackEnv("FUNCTIONS_EMULATOR_ORIGIN"));
  connectFunctionsEmulator(getFunctions(app, REGION), functionsOrigin.hostname, Number(functionsOrigin.port));
  return app;
}

function wrap(app: FirebaseApp, uid: string | null): ClientUser {
  const functions = getFunctions(app, REGION);
  return {
    uid,
    app,
    call: async <R>(name: string, data: unknown = {}, timeoutMs?: number) =>
      (await httpsCallable<unknown, R>(functions, name, timeoutMs ? { timeout: timeoutMs } : undefined)(data)).data,
    close: () => deleteApp(app),
  };
}

/** A user signed in with a custom token minted by the Auth emulator; `claims` become custom claims. */
export async function signedInUser(claims: Record<string, unknown> = {}, uid = `user-${randomUUID()}`, { appCheck = true } = {}): Promise<ClientUser> {
  const app = newClientApp(appCheck);
  const token = await adminAuth().createCustomToken(uid, claims);
  await signInWithCustomToken(getAuth(app), token);
  return wrap(app, uid);
}

export function anonymousClient(): ClientUser {
  return wrap(newClientApp(), null);
}

/** The error a callable rejected with, for asserting on its code, message and details. */
export async function callError(promise: Promise<unknown>): Promise<FunctionsError> {
  try {
    await promise;
  } catch (err) {
    return err as FunctionsError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}
