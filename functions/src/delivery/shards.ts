/**
 * A message's recipients are split into disjoint ranges of document ID so that
 * several tasks can claim from one message at once without touching each
 * other's documents.
 *
 * Boundaries are single ASCII characters: comparing an ID with one gives the
 * same answer in JavaScript as in Firestore's byte order, whatever the ID holds.
 * Auto-generated IDs (A–Z, a–z, 0–9) spread evenly over the ranges.
 */
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export interface ShardRange {
  shard: number;
  /** Inclusive lower bound, or undefined for the first shard. */
  from?: string;
  /** Exclusive upper bound, or undefined for the last shard. */
  to?: string;
}

function boundaries(shards: number): string[] {
  const count = Math.max(1, Math.min(shards, ALPHABET.length));
  const bounds: string[] = [];
  for (let i = 1; i < count; i++) bounds.push(ALPHABET[Math.floor((i * ALPHABET.length) / count)] ?? "z");
  return bounds;
}

export function shardRange(shard: number, shards: number): ShardRange {
  const bounds = boundaries(shards);
  return { shard, from: shard === 0 ? undefined : bounds[shard - 1], to: bounds[shard] };
}

export function shardOf(recipientId: string, shards: number): number {
  const bounds = boundaries(shards);
  let shard = 0;
  while (shard < bounds.length && recipientId >= (bounds[shard] ?? "")) shard++;
  return shard;
}

export function shardCount(shards: number): number {
  return boundaries(shards).length + 1;
}
