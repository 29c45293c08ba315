import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { Timestamp } from "firebase-admin/firestore";
import { COLLECTIONS, KEY_SCOPES, type KeyScope, type KeySurface } from "../shared/contract";
import { typedCollection } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { accessKeyDoc, createKeyInput, ownTenant, type AccessKeyDoc, type CreateKeyInput } from "./schema";

/**
 * Access keys of the HTTPS API. The secret a partner holds is
 * `pk_<keyId>_<secret>`: the key id finds the document directly (no query
 * over hashes), and the document holds only SHA-256 of the whole secret.
 *
 * Why SHA-256 and not bcrypt/scrypt: those slow hashes protect secrets people
 * choose, which can be guessed. This secret is 32 random bytes (256 bits);
 * no number of guesses finds it, fast hash or not, and a slow hash would cost
 * tens of milliseconds of CPU on every API request.
 */
const SECRET = /^pk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function keysCollection() {
  return typedCollection(COLLECTIONS.accessKeys, accessKeyDoc);
}

function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

export interface CreatedKey {
  keyId: string;
  /** Shown once; only its hash is stored. */
  secret: string;
  name: string;
  scopes: KeyScope[];
  ipRanges: string[];
  surface: KeySurface;
  tenant: string;
}

/** A key for one surface and one tenant (by default a tenant of its own, `key-<keyId>`). */
export async function createKey(input: CreateKeyInput): Promise<CreatedKey> {
  const { name, scopes, ipRanges, surface, tenant: chosen, newDevicesPerDay } = createKeyInput.parse(input);
  const keyId = randomBytes(8).toString("hex");
  const secret = `pk_${keyId}_${randomBytes(32).toString("base64url")}`;
  const unique = KEY_SCOPES.filter((scope) => scopes.includes(scope));
  const tenant = chosen ?? ownTenant(keyId);
  await keysCollection().doc(keyId).create({
    name,
    hash: hashSecret(secret).toString("hex"),
    scopes: unique,
    ipRanges,
    surface,
    tenant,
    ...(newDevicesPerDay !== undefined && { newDevicesPerDay }),
    disabled: false,
    createdAt: Timestamp.now(),
    revokedAt: null,
  });
  return { keyId, secret, name, scopes: unique, ipRanges, surface, tenant };
}

export interface KeySummary {
  keyId: string;
  name: string;
  scopes: string[];
  ipRanges: string[];
  /** null: a key made before surfaces and tenants, refused until migrated. */
  surface: KeySurface | null;
  tenant: string | null;
  disabled: boolean;
  createdAt: string;
  revokedAt: string | null;
}

export async function listKeys(): Promise<KeySummary[]> {
  const snapshot = await keysCollection().orderBy("createdAt").get();
  return snapshot.docs.map((doc) => {
    const key = doc.data();
    return {
      keyId: doc.id,
      name: key.name,
      scopes: key.scopes,
      ipRanges: key.ipRanges,
      surface: key.surface ?? null,
      tenant: key.tenant ?? null,
      disabled: key.disabled,
      createdAt: key.createdAt.toDate().toISOString(),
      revokedAt: key.revokedAt ? key.revokedAt.toDate().toISOString() : null,
    };
  });
}

/** Disables a key for good; returns false when there is no such key. */
export async function revokeKey(keyId: string): Promise<boolean> {
  const ref = keysCollection().doc(keyId);
  return runTransaction("accessKey", async (tx) => {
    const snapshot = await tx.get(ref);
    if (!snapshot.exists) return false;
    tx.update(ref, { disabled: true, revokedAt: Timestamp.now() });
    return true;
  });
}

export interface VerifiedKey {
  keyId: string;
  key: AccessKeyDoc;
}

/** The tenant of a key that passed the guards (guards/access.ts refuses a key without one). */
export function tenantOf(key: VerifiedKey): string {
  if (key.key.tenant === undefined) throw new Error(`key ${key.keyId} has no tenant`);
  return key.key.tenant;
}

/** A stand-in hash compared against when there is no key, so a miss costs what a hit does. */
const NO_KEY_HASH = hashSecret("pk_0000000000000000_no-such-key");

/**
 * The live key a presented secret belongs to, or undefined: malformed, unknown,
 * wrong and disabled all answer the same, so a caller learns nothing about
 * which keys exist. Hashes are compared in constant time.
 */
export async function verifyKey(presented: string): Promise<VerifiedKey | undefined> {
  const match = SECRET.exec(presented);
  const keyId = match?.[1];
  const snapshot = keyId ? await keysCollection().doc(keyId).get() : undefined;
  const key = snapshot?.data();
  const stored = key ? Buffer.from(key.hash, "hex") : NO_KEY_HASH;
  const equal = stored.length === 32 && timingSafeEqual(stored, hashSecret(presented));
  if (!keyId || !key || !equal || key.disabled) return undefined;
  return { keyId, key };
}
