import { canonicalTag, DEFAULT_TEXT, LIMITS, TRANSLATIONS_MAX, type AudienceLanguages } from "../../../functions/src/contract";
import { callableProblem, translateDraft } from "../firebase";
import { h, uid } from "../dom";

/*
 * Compose's languages: the text in other languages (a row each: title, body,
 * "Translate" to fill a draft through the Translation API, which stays
 * editable), machine translation for the rest of the audience, and the
 * audience's languages from the estimate. The checks are the schema's, run
 * by compose with the rest of the request.
 */

export interface Text {
  title: string;
  body: string;
}

export interface LanguagesField {
  element: HTMLElement;
  /** Where compose shows a `translations.*` problem. */
  error: HTMLElement;
  translations(): Record<string, Text> | undefined;
  autoTranslate(): boolean;
  /** The audience's languages, shown next to the estimate. */
  audience: HTMLElement;
  /** The estimate's languages, next to the device count. */
  showAudience(languages: AudienceLanguages | undefined): void;
}

let names: Intl.DisplayNames | undefined;
function nameOf(tag: string): string {
  if (tag === DEFAULT_TEXT) return "no usable locale";
  names ??= new Intl.DisplayNames([navigator.language, "en"], { type: "language" });
  try {
    return names.of(tag) ?? tag;
  } catch {
    return tag;
  }
}

interface Row {
  tag: string;
  title: HTMLInputElement;
  body: HTMLTextAreaElement;
  element: HTMLElement;
}

export function languagesField(defaultText: () => Text, onChange: () => void): LanguagesField {
  const rows: Row[] = [];
  const list = h("div", { class: "languages" });
  const tagInput = h("input", { type: "text", id: uid("language-tag"), spellcheck: "false", autocomplete: "off", placeholder: "es, fr-CA, zh-Hant…", list: uid("audience-languages") });
  const suggestions = h("datalist", { id: tagInput.getAttribute("list") ?? "" });
  const addButton = h("button", { type: "button", class: "quiet" }, "Add language");
  const addProblem = h("p", { class: "error", role: "alert" });
  const error = h("p", { class: "error", id: uid("translations-error") });
  const auto = h("input", { type: "checkbox", id: uid("auto-translate") });
  const audience = h("p", { class: "hint audience-languages", role: "status" });
  let spoken: AudienceLanguages | undefined;
  const changed = () => {
    renderAudience();
    onChange();
  };

  /** Which text each of the audience's languages gets as composed now: a written translation, a machine one, or the default. */
  function renderAudience(): void {
    if (!spoken || spoken.sampled === 0) {
      audience.textContent = "";
      suggestions.replaceChildren();
      return;
    }
    const sorted = Object.entries(spoken.counts).sort(([, a], [, b]) => b - a);
    const written = new Set(rows.map((row) => row.tag.split("-")[0]));
    const gets = (tag: string) => (tag === DEFAULT_TEXT ? "default text" : written.has(tag) ? "written" : auto.checked ? "machine-translated" : "default text");
    const parts = sorted.map(([tag, n]) => `${nameOf(tag)} ${n.toLocaleString()} (${gets(tag)})`);
    audience.textContent = `Audience languages (${spoken.sampled.toLocaleString()} ${spoken.sampled === 1 ? "device" : "devices"} sampled): ${parts.join(" · ")}.`;
    suggestions.replaceChildren(...sorted.filter(([tag]) => tag !== DEFAULT_TEXT).map(([tag]) => h("option", { value: tag }, nameOf(tag))));
  }

  function add(rawTag: string, text?: Text): Row | undefined {
    const tag = canonicalTag(rawTag.trim());
    if (!tag) {
      addProblem.textContent = `"${rawTag}" is not a language tag (such as es, fr-CA, zh-Hant).`;
      return undefined;
    }
    if (rows.some((row) => row.tag === tag)) {
      addProblem.textContent = `${nameOf(tag)} (${tag}) is already there.`;
      return undefined;
    }
    if (rows.length >= TRANSLATIONS_MAX) {
      addProblem.textContent = `At most ${TRANSLATIONS_MAX} languages.`;
      return undefined;
    }
    addProblem.textContent = "";
    const title = h("input", { id: uid(`title-${tag}`), maxlength: LIMITS.titleMax * 2, autocomplete: "off", lang: tag, value: text?.title ?? "" });
    const body = h("textarea", { id: uid(`body-${tag}`), rows: 3, lang: tag });
    body.value = text?.body ?? "";
    const status = h("p", { class: "hint", role: "status" });
    const translate = h("button", { type: "button", class: "quiet" }, "Translate");
    const remove = h("button", { type: "button", class: "quiet" }, "Remove");
    const element = h(
      "fieldset",
      { class: "language" },
      h("legend", {}, `${nameOf(tag)} (${tag})`),
      h("div", { class: "field" }, h("label", { for: title.id }, `Title (${tag})`), title),
      h("div", { class: "field" }, h("label", { for: body.id }, `Body (${tag})`), body),
      h("div", { class: "actions" }, translate, remove),
      status,
    );
    const row: Row = { tag, title, body, element };
    translate.addEventListener("click", () => {
      const source = defaultText();
      if (!source.title || !source.body) {
        status.textContent = "Write the default title and body first.";
        return;
      }
      translate.disabled = true;
      status.textContent = "Translating…";
      translateDraft({ ...source, to: tag })
        .then((result) => {
          title.value = result.title;
          body.value = result.body;
          status.textContent = "Machine-translated: read it over and edit it before sending.";
          changed();
        })
        .catch((err: unknown) => {
          status.textContent = `Not translated: ${callableProblem(err).message}`;
        })
        .finally(() => {
          translate.disabled = false;
        });
    });
    remove.addEventListener("click", () => {
      rows.splice(rows.indexOf(row), 1);
      element.remove();
      tagInput.focus();
      changed();
    });
    rows.push(row);
    list.append(element);
    changed();
    return row;
  }

  addButton.addEventListener("click", () => {
    const row = add(tagInput.value);
    if (!row) return;
    tagInput.value = "";
    row.title.focus();
  });
  tagInput.addEventListener("input", () => {
    addProblem.textContent = "";
  });
  auto.addEventListener("change", () => renderAudience());
  tagInput.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    addButton.click();
  });

  const headingId = uid("languages-heading");
  const element = h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h2", { id: headingId }, "Languages"),
    h("p", { class: "hint" }, "Each device gets the text in its own language when there is one (es-MX, then es), else the default above."),
    list,
    error,
    h("div", { class: "field add-language" }, h("label", { for: tagInput.id }, "Add a language"), h("div", { class: "inline" }, tagInput, addButton), suggestions, addProblem),
    h("div", { class: "choice" }, auto, h("label", { for: auto.id }, "Machine-translate into the audience's other languages when sending")),
  );

  return {
    element,
    error,
    translations() {
      if (rows.length === 0) return undefined;
      return Object.fromEntries(rows.map((row) => [row.tag, { title: row.title.value, body: row.body.value }]));
    },
    autoTranslate: () => auto.checked,
    audience,
    showAudience(languages) {
      spoken = languages;
      renderAudience();
    },
  };
}
