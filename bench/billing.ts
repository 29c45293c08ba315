/**
 * Firestore's documented billing rules, applied to what the bench measured:
 * storage sizes, index entries, and the public price list that turns counts
 * into dollars (docs/cost.md explains each figure and where it comes from).
 *
 * Storage (firebase.google.com/docs/firestore/storage-size): a string is its
 * UTF-8 bytes + 1; a document name is the sum of its collection and document
 * ids + 16; a document is its name + each field name + each value + 32
 * (booleans and nulls 1 byte, numbers and timestamps 8, maps like a
 * document's fields, arrays the sum of their elements). An entry of a
 * single-field index is the document's name + its parent document's name
 * (a collection-group index: the collection id instead) + the field name +
 * the value + 32; a composite entry the name + parent + its values + 32.
 *
 * Index entries (firebase.google.com/docs/firestore/query-data/index-overview):
 * unless firestore.indexes.json overrides a field, every value that is not
 * an array or a map has an ascending and a descending collection-scope entry,
 * maps are indexed subfield by subfield, and an array has one array-contains
 * entry per element. An override replaces that with the indexes it lists
 * (`[]`: none) for the field and the subfields under it. A composite index
 * adds one entry per document holding all its fields.
 */
import { readFileSync } from "node:fs";
import { DocumentReference, GeoPoint, Timestamp, type DocumentData } from "firebase-admin/firestore";
import { z } from "zod";
import type { Leaves } from "../tools/meter.ts";

const zIndexes = z.object({
  indexes: z.array(z.object({ collectionGroup: z.string(), queryScope: z.string(), fields: z.array(z.object({ fieldPath: z.string() })) })),
  fieldOverrides: z.array(z.object({ collectionGroup: z.string(), fieldPath: z.string(), indexes: z.array(z.object({ order: z.string().optional(), arrayConfig: z.string().optional(), queryScope: z.string().optional() })) })),
});
const config = zIndexes.parse(JSON.parse(readFileSync(new URL("../firestore.indexes.json", import.meta.url), "utf8")));

/**
 * Public list prices, USD, Firestore Standard edition, checked 2026-12-07.
 * Firestore: us-central1 (regional) and nam5 (multi-region, the usual
 * default for a US project). Cloud Functions 2nd gen bill as Cloud Run
 * (Tier 1, CPU allocated during requests). Cloud Tasks per billable operation.
 */
export const PRICES = {
  firestore: {
    "us-central1": { read: 0.03 / 1e5, write: 0.09 / 1e5, delete: 0.01 / 1e5, gibMonth: 0.15 },
    nam5: { read: 0.06 / 1e5, write: 0.18 / 1e5, delete: 0.02 / 1e5, gibMonth: 0.18 },
  },
  run: { vcpuSecond: 0.000024, gibSecond: 0.0000025, request: 0.4 / 1e6 },
  tasks: { operation: 0.4 / 1e6 },
} as const;

/** What every function is given (functions/src/shared/sizing.ts): one vCPU, at most 512 MiB. */
export const FUNCTION_SIZE = { vcpu: 1, gib: 0.5 } as const;

function stringSize(s: string): number {
  return Buffer.byteLength(s, "utf8") + 1;
}

/** A document name's size: its collection and document ids + 16. */
export function nameSize(path: string): number {
  return path.split("/").filter(Boolean).reduce((sum, id) => sum + stringSize(id), 16);
}

function parentDocument(path: string): string {
  return path.split("/").slice(0, -2).join("/");
}

function collectionId(path: string): string {
  return path.split("/").slice(-2)[0] ?? "";
}

function valueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === "boolean") return 1;
  if (typeof value === "number" || value instanceof Timestamp) return 8;
  if (typeof value === "string") return stringSize(value);
  if (value instanceof GeoPoint) return 16;
  if (value instanceof DocumentReference) return nameSize(value.path);
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + valueSize(v), 0);
  if (typeof value === "object") return fieldsSize(value);
  return 8;
}

function fieldsSize(fields: DocumentData): number {
  return Object.entries(fields).reduce((sum, [name, value]) => sum + stringSize(name) + valueSize(value), 0);
}

/** A plain map (not a Firestore type): indexed subfield by subfield. */
function isMap(value: unknown): value is DocumentData {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Timestamp) && !(value instanceof GeoPoint) && !(value instanceof DocumentReference) && !(value instanceof Uint8Array);
}

/** Leaf fields of a stored document, with their values. */
function leafValues(fields: DocumentData, prefix = "", out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  for (const [name, value] of Object.entries(fields)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (isMap(value)) leafValues(value, path, out);
    else out.push([path, value]);
  }
  return out;
}

/** The override that governs a field: its own, or the nearest map above it. */
function overrideFor(collection: string, path: string) {
  return config.fieldOverrides
    .filter((o) => o.collectionGroup === collection && (path === o.fieldPath || path.startsWith(`${o.fieldPath}.`)))
    .sort((a, b) => b.fieldPath.length - a.fieldPath.length)[0];
}

interface Entry {
  /** The field (or a composite's fields). */
  field: string;
  collectionGroup: boolean;
}

/** The single-field entries one leaf makes: `elements` is an array's length, null for a single value. */
function singleFieldEntries(collection: string, field: string, elements: number | null): Entry[] {
  const override = overrideFor(collection, field);
  const indexes = override?.indexes ?? [
    { order: "ASCENDING", queryScope: "COLLECTION" },
    { order: "DESCENDING", queryScope: "COLLECTION" },
    { arrayConfig: "CONTAINS", queryScope: "COLLECTION" },
  ];
  const entries: Entry[] = [];
  for (const index of indexes) {
    const times = index.arrayConfig ? (elements ?? 0) : elements === null ? 1 : 0;
    for (let i = 0; i < times; i++) entries.push({ field, collectionGroup: index.queryScope === "COLLECTION_GROUP" });
  }
  return entries;
}

/** Composite entries: one per composite index of the collection whose fields are all among `fields` (any, for a partial write). */
function compositeEntries(collection: string, fields: string[], partial: boolean): Entry[] {
  const has = (path: string) => fields.some((f) => f === path || f.startsWith(`${path}.`));
  return config.indexes
    .filter((index) => index.collectionGroup === collection && (partial ? index.fields.some((f) => has(f.fieldPath)) : index.fields.every((f) => has(f.fieldPath))))
    .map((index) => ({ field: index.fields.map((f) => f.fieldPath).join(","), collectionGroup: index.queryScope === "COLLECTION_GROUP" }));
}

/** Index entries one metered write puts in place (a partial update: those of the fields it changes). */
export function entriesWritten(path: string, leaves: Leaves, partial: boolean): number {
  const collection = collectionId(path);
  const single = leaves.flatMap(([field, elements]) => singleFieldEntries(collection, field, elements));
  return single.length + compositeEntries(collection, leaves.map(([field]) => field), partial).length;
}

export interface StoredSize {
  documentBytes: number;
  indexEntries: number;
  indexBytes: number;
}

/** A stored document's size and that of its index entries, by the rules above. */
export function storedSize(path: string, data: DocumentData): StoredSize {
  const name = nameSize(path);
  const collection = collectionId(path);
  const scopeBytes = (entry: Entry) => (entry.collectionGroup ? stringSize(collection) : nameSize(parentDocument(path)));
  const leaves = leafValues(data);
  let indexBytes = 0;
  let indexEntries = 0;
  for (const [field, value] of leaves) {
    const elements = Array.isArray(value) ? value : null;
    for (const entry of singleFieldEntries(collection, field, elements ? new Set(elements.map((e) => JSON.stringify(e))).size : null)) {
      indexEntries += 1;
      // An array-contains entry holds one element; the elements are taken as equal in size.
      const indexed = elements ? valueSize(elements) / Math.max(1, elements.length) : valueSize(value);
      indexBytes += name + scopeBytes(entry) + stringSize(field) + indexed + 32;
    }
  }
  const values = new Map(leaves);
  for (const entry of compositeEntries(collection, leaves.map(([field]) => field), false)) {
    indexEntries += 1;
    indexBytes += name + scopeBytes(entry) + entry.field.split(",").reduce((sum, f) => sum + valueSize(values.get(f)), 0) + 32;
  }
  return { documentBytes: name + fieldsSize(data) + 32, indexEntries, indexBytes };
}
