import { FieldPath, Timestamp } from "firebase-admin/firestore";
import { devicesCollection } from "../devices/collection";
import { tenantUserId } from "../devices/owner";
import { SITE_USER } from "../devices/siteTokens";
import { APP_TENANT, type KeySurface } from "../shared/contract";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { createKeyInput, ownTenant } from "../keys/schema";
import { keysCollection } from "../keys/service";

/**
 * Bringing keys and devices made before keys had surfaces and tenants under
 * the new rules. Such a key is refused everywhere until it is migrated: a
 * surface and a tenant are decisions about what it may reach, which only
 * the operator can make.
 */

/** Gives a key made before surfaces its surface and tenant (by default one of its own); false when there is no such key. */
export async function migrateKey(keyId: string, surface: KeySurface, tenant?: string): Promise<{ surface: KeySurface; tenant: string } | false> {
  const ref = keysCollection().doc(keyId);
  return runTransaction("migrateKey", async (tx) => {
    const key = (await tx.get(ref)).data();
    if (!key) return false;
    if (key.surface !== undefined) throw new Error(`key ${keyId} already has surface ${key.surface} and tenant ${key.tenant ?? "(none)"}`);
    // The rules a new key is made under (a tenant name's form, what tenant "app" may hold).
    const checked = createKeyInput.parse({ name: key.name, scopes: key.scopes, ipRanges: key.ipRanges, surface, ...(tenant !== undefined && { tenant }) });
    const chosen = checked.tenant ?? ownTenant(keyId);
    tx.update(ref, { surface, tenant: chosen });
    return { surface, tenant: chosen };
  });
}

/** The legacy owner of a Moodle site's devices: `moodle:<keyId>`. */
const LEGACY_SITE_OWNER = /^moodle:([0-9a-f]{16})$/;

export interface DeviceMigration {
  /** Devices given the tenant "app": registered through registerDevice, or by a partner key that had no tenant to fence them. */
  app: number;
  /** A Moodle site's devices, given its key's tenant. */
  site: number;
  /** A Moodle site's devices whose key is not migrated yet (run this again after `migrate <keyId>`). */
  waiting: number;
}

/**
 * Gives every device without a tenant one: a Moodle site's devices (owner
 * `moodle:<keyId>`) its key's tenant and that tenant's site user; every
 * other device the apps' tenant, keeping its user id. Reads every device
 * once (in pages of 500, by document id) and writes those it changes; safe
 * to run again.
 */
export async function migrateDevices(): Promise<DeviceMigration> {
  const counts: DeviceMigration = { app: 0, site: 0, waiting: 0 };
  const tenants = new Map<string, string | undefined>();
  const tenantOfKey = async (keyId: string) => {
    if (!tenants.has(keyId)) tenants.set(keyId, (await keysCollection().doc(keyId).get()).data()?.tenant);
    return tenants.get(keyId);
  };
  const writer = db().bulkWriter();
  let cursor: string | undefined;
  for (;;) {
    let query = devicesCollection().orderBy(FieldPath.documentId()).limit(500);
    if (cursor !== undefined) query = query.startAfter(cursor);
    const page = await query.get();
    for (const doc of page.docs) {
      const device = doc.data();
      if (device.tenant !== undefined) continue;
      const siteKey = LEGACY_SITE_OWNER.exec(device.userId)?.[1];
      if (siteKey === undefined) {
        void writer.update(doc.ref, { tenant: APP_TENANT, updatedAt: Timestamp.now() });
        counts.app += 1;
        continue;
      }
      const tenant = await tenantOfKey(siteKey);
      if (tenant === undefined) {
        counts.waiting += 1;
        continue;
      }
      void writer.update(doc.ref, { tenant, userId: tenantUserId(tenant, SITE_USER), updatedAt: Timestamp.now() });
      counts.site += 1;
    }
    if (page.size < 500) break;
    cursor = page.docs[page.docs.length - 1]?.id;
  }
  await writer.close();
  return counts;
}
