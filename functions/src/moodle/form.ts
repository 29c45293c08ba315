/**
 * Form bodies as Moodle's curl class posts them: a PHP array becomes
 * `multipart/form-data` (what current sites send); older sites and other
 * clients send `application/x-www-form-urlencoded`. Only text fields matter
 * here (url, siteid, contact, description, device), so a part with a file name
 * is skipped. Parsed from the raw bytes: the platform parses urlencoded bodies
 * itself but not multipart ones, and one path for both is easier to trust.
 */
export type FormFields = Record<string, string>;

/** Larger text fields than this are cut: nothing Moodle sends comes close. */
const FIELD_MAX_CHARS = 4096;

export function parseForm(contentType: string | undefined, raw: Buffer | undefined): FormFields {
  const body = raw ?? Buffer.alloc(0);
  if (body.length === 0) return {};
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("multipart/form-data")) {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
    const value = boundary?.[1] ?? boundary?.[2];
    return value ? parseMultipart(body, value) : {};
  }
  // Urlencoded, or no content type at all (curl's default for a string body is urlencoded too).
  const fields: FormFields = {};
  for (const [name, value] of new URLSearchParams(body.toString("utf8"))) {
    if (!(name in fields)) fields[name] = value.slice(0, FIELD_MAX_CHARS);
  }
  return fields;
}

/**
 * RFC 7578: parts separated by `--boundary` lines, each with its headers, a
 * blank line and the content; the last boundary ends with `--`.
 */
function parseMultipart(body: Buffer, boundary: string): FormFields {
  const fields: FormFields = {};
  const text = body.toString("latin1"); // byte-preserving; each value is decoded as UTF-8 below
  const delimiter = `--${boundary}`;
  const sections = text.split(delimiter);
  // sections[0] is the preamble; a section starting with "--" is the epilogue after the close delimiter.
  for (const section of sections.slice(1)) {
    if (section.startsWith("--")) break;
    const part = section.replace(/^\r?\n/, "");
    const split = /\r?\n\r?\n/.exec(part);
    if (!split) continue;
    const headers = part.slice(0, split.index);
    const content = part.slice(split.index + split[0].length).replace(/\r?\n$/, "");
    const disposition = /^content-disposition:\s*form-data\s*;(.*)$/im.exec(headers)?.[1] ?? "";
    const name = /(?:^|;)\s*name="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined || /(?:^|;)\s*filename\*?=/i.test(disposition)) continue;
    if (!(name in fields)) fields[name] = Buffer.from(content, "latin1").toString("utf8").slice(0, FIELD_MAX_CHARS);
  }
  return fields;
}
