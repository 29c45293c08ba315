import { createReadStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parse } from "csv-parse";
import { checkRows, importDevices, ImportSeen } from "../../functions/src/devices/import.ts";
import type { ImportReport, ImportRowResult } from "../../functions/src/devices/schema.ts";

/**
 * A CSV file of devices into one tenant (`npm run import`, tools/import.ts):
 * the file is read as a stream, in batches of BATCH rows, each imported by
 * the functions' own import (devices/import.ts) with the admin SDK.
 *
 * Columns, by header: deviceId, userId, token, platform and registerDevice's
 * optional appVersion, osVersion, locale, timezone; `userInfo.<name>` columns
 * become userInfo entries (as text). Other columns are ignored (and named).
 * `map` renames a file's columns to these; `platforms` translates the
 * platform column's values; an empty cell is a field left out.
 *
 * Resumable: after each batch is committed, a progress file beside the CSV
 * (`<file>.progress.json`) records the last row done. A run that finds it
 * (same file size and tenant) goes on after that row, and removes it at the
 * end. Rows redone after a crash inside a batch come out `unchanged`, since
 * an import changes nothing twice. A dry run neither reads nor writes it.
 */

export const IMPORT_FIELDS = ["deviceId", "userId", "token", "platform", "appVersion", "osVersion", "locale", "timezone"] as const;
const USER_INFO = "userInfo.";
/** Rows per call of importDevices, and per progress-file update. */
const BATCH = 500;

export interface CsvImportOptions {
  tenant: string;
  dryRun: boolean;
  /** Our field → the file's column. */
  map?: Record<string, string>;
  /** The file's platform value → ours (`1` → `android`). */
  platforms?: Record<string, string>;
  /** The platform of rows whose platform cell is empty (or of every row, with no platform column). */
  platform?: string;
  /** Told now and then how far the import is. */
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
  rows: number;
  /** Share of the file read, 0–1. */
  done: number;
  rowsPerSecond: number;
  /** Seconds left at the current rate; undefined until there is a rate. */
  secondsLeft: number | undefined;
}

export interface CsvImportResult {
  counts: ImportReport["counts"];
  /** The rejected rows (row 1 is the line after the header), without tokens. */
  rejected: ImportRowResult[];
  /** Rows skipped because an earlier, interrupted run committed them (0 without a progress file); `counts` and `rejected` are this run's only. */
  resumedAfter: number;
  /** The file's columns the import reads, and those it ignores. */
  used: string[];
  ignored: string[];
}

interface ProgressFile {
  tenant: string;
  size: number;
  lastRow: number;
}

export const progressPath = (file: string) => `${file}.progress.json`;

function readProgress(file: string, tenant: string): ProgressFile | undefined {
  const path = progressPath(file);
  if (!existsSync(path)) return undefined;
  const progress = JSON.parse(readFileSync(path, "utf8")) as ProgressFile;
  if (progress.tenant !== tenant || progress.size !== statSync(file).size) {
    throw new Error(`${basename(path)} belongs to another import (tenant ${progress.tenant}, or the file changed since): remove it to start over.`);
  }
  return progress;
}

/** One CSV record as importDevices takes a row: our field names, empty cells left out. */
function rowOf(record: Record<string, string | undefined>, columns: Map<string, string>, options: CsvImportOptions): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  const userInfo: Record<string, string> = {};
  for (const [column, field] of columns) {
    const value = record[column]?.trim();
    if (value === undefined || value === "") continue;
    if (field.startsWith(USER_INFO)) userInfo[field.slice(USER_INFO.length)] = value;
    else row[field] = field === "platform" ? (options.platforms?.[value] ?? value) : value;
  }
  if (row.platform === undefined && options.platform !== undefined) row.platform = options.platform;
  if (Object.keys(userInfo).length > 0) row.userInfo = userInfo;
  return row;
}

/** The file's columns the import reads (column → our field), from the header and `map`. */
function columnsOf(header: string[], map: Record<string, string>): { columns: Map<string, string>; ignored: string[] } {
  const renamed = new Map(Object.entries(map).map(([field, column]) => [column, field]));
  const columns = new Map<string, string>();
  const ignored: string[] = [];
  for (const column of header) {
    const field = renamed.get(column) ?? (Object.values(map).includes(column) ? undefined : column);
    if (field !== undefined && ((IMPORT_FIELDS as readonly string[]).includes(field) || field.startsWith(USER_INFO))) columns.set(column, field);
    else ignored.push(column);
  }
  return { columns, ignored };
}

/** A file without a token or user column (after `map`) is refused before any row is looked at. */
function requireColumns(columns: Map<string, string>, options: CsvImportOptions): void {
  const fields = new Set(columns.values());
  const missing = ["userId", "token", ...(options.platform === undefined ? ["platform"] : [])].filter((field) => !fields.has(field));
  if (missing.length > 0) {
    throw new Error(`The file has no ${missing.join(", ")} column (columns it reads: ${[...columns.keys()].join(", ") || "none"}): name the column with --map ${missing[0]}=<column>${missing.includes("platform") ? ", or give --platform" : ""}.`);
  }
}

export async function importCsv(file: string, options: CsvImportOptions): Promise<CsvImportResult> {
  const size = statSync(file).size;
  const progress = options.dryRun ? undefined : readProgress(file, options.tenant);
  const resumedAfter = progress?.lastRow ?? 0;
  const counts = { imported: 0, updated: 0, unchanged: 0, rejected: 0 };
  const rejected: ImportRowResult[] = [];
  const seen = new ImportSeen();
  let columns = new Map<string, string>();
  let ignored: string[] = [];
  const parser = createReadStream(file).pipe(
    parse({
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
      columns: (header: string[]) => {
        ({ columns, ignored } = columnsOf(header.map((h) => h.trim()), options.map ?? {}));
        return header.map((h) => h.trim());
      },
    }),
  );
  const started = Date.now();
  let lastReport = 0;
  let row = 0;
  let bytes = 0;
  let batch: Array<{ row: number; value: unknown }> = [];
  const report = (force: boolean) => {
    const now = Date.now();
    if (!options.onProgress || (!force && now - lastReport < 2000)) return;
    lastReport = now;
    const seconds = (now - started) / 1000;
    const rate = seconds > 0 ? (row - resumedAfter) / seconds : 0;
    const done = size > 0 ? Math.min(1, bytes / size) : 1;
    options.onProgress({ rows: row, done, rowsPerSecond: rate, secondsLeft: rate > 0 && done > 0 ? (seconds * (1 - done)) / done : undefined });
  };
  const flush = async () => {
    if (batch.length === 0) return;
    const result = await importDevices(options.tenant, batch, { dryRun: options.dryRun, seen });
    for (const key of Object.keys(counts) as Array<keyof typeof counts>) counts[key] += result.counts[key];
    rejected.push(...result.rows.filter((r) => r.outcome === "rejected"));
    const lastRow = batch[batch.length - 1]!.row;
    batch = [];
    // Only now is every row up to lastRow committed: a run after a crash starts after it.
    if (!options.dryRun) writeFileSync(progressPath(file), JSON.stringify({ tenant: options.tenant, size, lastRow } satisfies ProgressFile));
    report(false);
  };
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string | undefined>; info: { bytes: number } }>) {
    row++;
    bytes = info.bytes;
    if (row === 1) requireColumns(columns, options);
    const value = rowOf(record, columns, options);
    if (row <= resumedAfter) {
      // Done by the interrupted run: only remembered, so a later duplicate of it is still caught.
      checkRows(options.tenant, [{ row, value }], seen);
      continue;
    }
    batch.push({ row, value });
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  report(true);
  if (!options.dryRun && existsSync(progressPath(file))) rmSync(progressPath(file));
  return { counts, rejected, resumedAfter, used: [...columns.keys()], ignored };
}
