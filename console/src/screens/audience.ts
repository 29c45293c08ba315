import { LIMITS, type AudienceRequest } from "../../../functions/src/contract";
import { h, uid } from "../dom";
import { parseUsersCsv } from "../csv";

type Kind = "all" | "users" | "devices" | "where";
type Vars = Record<string, Record<string, string>>;

export interface AudienceField {
  element: HTMLElement;
  /** The audience as sendMessage takes it (the schema then judges it). */
  value(): AudienceRequest;
  /** Per-user placeholder values loaded from a CSV file, for the users still listed. */
  vars(): Vars | undefined;
}

/** IDs pasted one per line or comma-separated. */
function idList(text: string): string[] {
  return text
    .split(/[\n,;]+/)
    .map((id) => id.trim().replace(/^"(.*)"$/, "$1"))
    .filter(Boolean);
}

/** Attribute values: numbers and true/false are matched as such, "quoted" text as text. */
function attributeValue(raw: string): string | number | boolean {
  const text = raw.trim();
  if (/^".*"$/.test(text)) return text.slice(1, -1);
  if (text === "true" || text === "false") return text === "true";
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

export function audienceField(onChange: () => void): AudienceField {
  let kind: Kind = "all";
  let csvVars: Vars = {};
  const name = uid("audience");
  const panels = new Map<Kind, HTMLElement>();

  const choice = (value: Kind, label: string) => {
    const id = uid("aud");
    const input = h("input", { type: "radio", name, id, value, checked: value === kind });
    input.addEventListener("change", () => {
      kind = value;
      for (const [k, panel] of panels) panel.hidden = k !== kind;
      onChange();
    });
    return h("span", { class: "choice" }, input, h("label", { for: id }, label));
  };

  const usersId = uid("users");
  const users = h("textarea", { id: usersId, rows: 4, spellcheck: "false", "aria-describedby": `${usersId}-hint` });
  const csvId = uid("csv");
  const csv = h("input", { id: csvId, type: "file", accept: ".csv,text/csv" });
  const csvNote = h("p", { class: "hint" });
  csv.addEventListener("change", () => {
    const file = csv.files?.[0];
    if (!file) return;
    void file.text().then((text) => {
      const parsed = parseUsersCsv(text);
      users.value = parsed.users.join("\n");
      csvVars = parsed.vars;
      csvNote.textContent = `Loaded ${parsed.users.length} user IDs${parsed.columns.length ? ` with values for ${parsed.columns.map((c) => `{{${c}}}`).join(", ")}` : ""}.`;
      onChange();
    });
  });
  panels.set(
    "users",
    h(
      "div",
      { class: "panel" },
      h("label", { for: usersId }, "User IDs"),
      users,
      h("p", { class: "hint", id: `${usersId}-hint` }, `One per line or comma-separated, at most ${LIMITS.audienceListMax}. Each user's live, enabled devices receive it.`),
      h("label", { for: csvId }, "Load a CSV file"),
      csv,
      h("p", { class: "hint" }, "First column user IDs; a header row such as userId,name adds values for {{name}}."),
      csvNote,
    ),
  );

  const devicesId = uid("devices");
  const devices = h("textarea", { id: devicesId, rows: 4, spellcheck: "false" });
  panels.set("devices", h("div", { class: "panel" }, h("label", { for: devicesId }, "Device IDs"), devices, h("p", { class: "hint" }, `One per line or comma-separated, at most ${LIMITS.audienceListMax}.`)));

  const rows = h("div", { class: "rows" });
  const matchName = uid("match");
  const matchAll = h("input", { type: "radio", name: matchName, id: `${matchName}-all`, value: "all", checked: true });
  const matchAny = h("input", { type: "radio", name: matchName, id: `${matchName}-any`, value: "any" });
  const addRow = (key = "", value = "") => {
    const n = rows.children.length + 1;
    const keyInput = h("input", { id: uid("attr-key"), class: "attr-key", value: key, spellcheck: "false" });
    const valueInput = h("input", { id: uid("attr-value"), class: "attr-value", value, spellcheck: "false" });
    const row = h(
      "div",
      { class: "row" },
      h("label", { for: keyInput.id }, `Attribute ${n} key`),
      keyInput,
      h("label", { for: valueInput.id }, `Attribute ${n} value`),
      valueInput,
      h("button", { type: "button", class: "quiet", "aria-label": `Remove attribute ${n}`, onclick: () => (row.remove(), onChange()) }, "Remove"),
    );
    rows.append(row);
  };
  addRow();
  panels.set(
    "where",
    h(
      "div",
      { class: "panel" },
      rows,
      h("button", { type: "button", class: "quiet", onclick: () => (addRow(), onChange()) }, "Add attribute"),
      h(
        "fieldset",
        { class: "inline" },
        h("legend", {}, "Combine the pairs"),
        h("span", { class: "choice" }, matchAll, h("label", { for: matchAll.id }, "all of them")),
        h("span", { class: "choice" }, matchAny, h("label", { for: matchAny.id }, "any of them")),
      ),
      h("p", { class: "hint" }, `Matched against the attributes the school set for each user (role, grade, class…; setUserAttributes or the partner API), never what apps report about themselves; at most ${LIMITS.audienceWhereMax} pairs. Numbers and true/false match as such; "quote" text that looks like one.`),
    ),
  );
  for (const [k, panel] of panels) panel.hidden = k !== kind;

  const element = h(
    "fieldset",
    { class: "audience" },
    h("legend", {}, "Audience"),
    h("div", { class: "choices" }, choice("all", "Everyone"), choice("users", "Users"), choice("devices", "Devices"), choice("where", "Attributes")),
    ...panels.values(),
  );
  element.addEventListener("input", onChange);

  return {
    element,
    value(): AudienceRequest {
      if (kind === "users") return { users: idList(users.value) };
      if (kind === "devices") return { devices: idList(devices.value) };
      if (kind === "where") {
        const where: Record<string, string | number | boolean> = {};
        for (const row of rows.querySelectorAll(".row")) {
          const key = (row.querySelector(".attr-key") as HTMLInputElement).value.trim();
          const value = (row.querySelector(".attr-value") as HTMLInputElement).value;
          if (key) where[key] = attributeValue(value);
        }
        return { where, match: matchAny.checked ? "any" : "all" };
      }
      return { all: true };
    },
    vars(): Vars | undefined {
      if (kind !== "users") return undefined;
      const listed = new Set(idList(users.value));
      const kept = Object.entries(csvVars).filter(([userId]) => listed.has(userId));
      return kept.length > 0 ? Object.fromEntries(kept) : undefined;
    },
  };
}
