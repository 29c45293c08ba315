import { getApps, initializeApp } from "firebase-admin/app";
import {
  getFirestore,
  Timestamp,
  type CollectionReference,
  type DocumentData,
  type Firestore,
  type FirestoreDataConverter,
  type QueryDocumentSnapshot,
} from "firebase-admin/firestore";
import { z } from "zod";

/**
 * The default admin app, created on first use rather than at import time.
 * Inside the emulator it is given a service account id: firebase-admin would
 * otherwise ask the cloud metadata server for one (to sign the task queue's
 * OIDC tokens), a request that leaves the machine and cannot succeed there.
 * In production the runtime's own account is found as usual.
 */
export function adminApp() {
  const existing = getApps().find((app) => app.name === "[DEFAULT]");
  if (existing) return existing;
  const project = process.env.GCLOUD_PROJECT;
  return process.env.FUNCTIONS_EMULATOR === "true" && project ? initializeApp({ serviceAccountId: `${project}@appspot.gserviceaccount.com` }) : initializeApp();
}

export function db(): Firestore {
  return getFirestore(adminApp());
}

/** A Firestore timestamp field. */
export const zTimestamp = z.instanceof(Timestamp);

/**
 * Reads go through the schema, so a malformed document fails loudly where it is
 * read instead of somewhere downstream. Writes are typed by the schema's input.
 */
export function converter<S extends z.ZodType<DocumentData>>(schema: S): FirestoreDataConverter<z.infer<S>, DocumentData> {
  return {
    toFirestore: (value) => value,
    fromFirestore: (snapshot: QueryDocumentSnapshot) => schema.parse(snapshot.data()),
  };
}

export function typedCollection<S extends z.ZodType<DocumentData>>(path: string, schema: S): CollectionReference<z.infer<S>, DocumentData> {
  return db().collection(path).withConverter(converter(schema));
}
