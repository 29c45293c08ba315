import {
  fillPlaceholders,
  largestPayloadBytes,
  LIMITS,
  MAX_TTL_SECONDS,
  sendMessageInput,
  type SendMessageRequest,
} from "../../../functions/src/contract";
import { callableProblem, estimateAudience, sendMessage, type Staff } from "../firebase";
import { bothZones, h, uid } from "../dom";
import type { Cleanup } from "../main";
import { audienceField } from "./audience";
import { languagesField } from "./languages";

/** Fields whose problems are shown next to them; anything else (vars, data) is shown by the audience or the button. */
const FIELDS = ["title", "body", "link", "imageUrl", "category", "priority", "badge", "ttlSeconds", "collapseKey", "sendAt", "sendAtLocal", "urgency", "audience", "translations"] as const;
type Field = (typeof FIELDS)[number];

/** `YYYY-MM-DDTHH:mm` in local time, as datetime-local inputs take it. */
function localInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

const plural = (n: number, one: string, many: string) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

export function renderCompose(main: HTMLElement, staff: Staff): Cleanup {
  const errors = new Map<Field, HTMLElement>();
  const touched = new Set<Field>();
  const field = (name: Field, label: string, control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, hint?: string | HTMLElement) => {
    const id = control.id || uid(name);
    control.id = id;
    control.name = name;
    const error = h("p", { class: "error", id: `${id}-error` });
    errors.set(name, error);
    const described = [`${id}-error`];
    let hintEl: HTMLElement | undefined;
    if (hint) {
      hintEl = typeof hint === "string" ? h("p", { class: "hint" }, hint) : hint;
      hintEl.id ||= `${id}-hint`;
      described.push(hintEl.id);
    }
    control.setAttribute("aria-describedby", described.join(" "));
    control.addEventListener("input", () => touched.add(name));
    return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl, error);
  };

  const title = h("input", { maxlength: LIMITS.titleMax * 2, autocomplete: "off" });
  const titleCount = h("span", { class: "count" });
  const body = h("textarea", { rows: 5 });
  const bodyCount = h("span", { class: "count" });
  const budget = h("meter", { min: 0, max: LIMITS.fcmPayloadBytes, high: LIMITS.fcmPayloadBytes * 0.9, "aria-label": "Payload size" });
  const budgetText = h("span", { class: "count" });
  const link = h("input", { type: "text", inputmode: "url", placeholder: "app://… or https://…" });
  const imageUrl = h("input", { type: "url", placeholder: "https://…" });
  const category = h("input", { type: "text", spellcheck: "false" });
  const priority = h("select", {}, h("option", { value: "" }, "Default"), h("option", { value: "normal" }, "Normal"), h("option", { value: "high" }, "High"));
  const badge = h("input", { type: "text", inputmode: "numeric", placeholder: "a number, or increment" });
  const ttl = h("input", { type: "number", min: 0, max: MAX_TTL_SECONDS, step: 1 });
  const collapseKey = h("input", { type: "text", spellcheck: "false" });
  const sendAt = h("input", { type: "datetime-local" });
  const sendAtText = h("p", { class: "hint", id: uid("send-at-hint") });
  // "At this time in each recipient's time zone": the same wall-clock time, reached zone by zone (sendAtLocal).
  const localTime = h("input", { type: "checkbox", id: uid("send-at-local") });
  const localTimeRow = h("p", { class: "check" }, localTime, h("label", { for: localTime.id }, "At this time in each recipient's time zone"));
  // Shown only to staff with the pushEmergency claim: past quiet hours, local times and mutes, at high priority.
  const emergency = h("input", { type: "checkbox", id: uid("urgency") });
  const emergencyCard = h(
    "section",
    { class: "card emergency", hidden: !staff.mayEmergency },
    h("p", { class: "check" }, emergency, h("label", { for: emergency.id }, h("strong", {}, "Emergency"))),
    h("p", { class: "hint" }, "Goes to every device at once, at high priority: past quiet hours, local-time scheduling and muted categories. For lockdowns, closures and safety alerts only."),
  );
  const estimate = h("p", { role: "status", class: "estimate" }, "Choose an audience to see how many devices will receive it.");
  const preview = h("div", { class: "preview", "aria-label": "Preview" });
  const sendButton = h("button", { type: "submit", class: "primary" }, "Send");
  const formProblem = h("p", { class: "error", role: "alert" });
  const audience = audienceField(() => (touched.add("audience"), update()));
  const languages = languagesField(() => ({ title: title.value, body: body.value }), () => (touched.add("translations"), update()));
  errors.set("translations", languages.error);

  const dialogTitle = uid("confirm-title");
  const dialogText = h("p", {});
  const dialogProblem = h("p", { class: "error", role: "alert" });
  const confirm = h("button", { type: "button", class: "primary" }, "Confirm");
  const back = h("button", { type: "button", class: "quiet" }, "Back");
  const dialogHeading = h("h2", { id: dialogTitle }, "Send this message?");
  const dialog = h("dialog", { "aria-labelledby": dialogTitle }, dialogHeading, dialogText, dialogProblem, h("div", { class: "actions" }, back, confirm));

  const form = h(
    "form",
    { class: "compose", novalidate: true },
    h("h1", {}, "New message"),
    h(
      "div",
      { class: "columns" },
      h(
        "div",
        {},
        field("title", "Title", title, titleCount),
        field("body", "Body", body, bodyCount),
        h("p", { class: "budget" }, h("span", {}, "FCM payload "), budget, " ", budgetText),
        h("p", { class: "hint" }, "Write {{name}} to fill in each recipient's value (from a CSV of users)."),
        languages.element,
        h(
          "details",
          {},
          h("summary", {}, "More options"),
          field("link", "Link", link, "The page the app opens on tap."),
          field("imageUrl", "Image URL", imageUrl),
          field("category", "Category", category, "Users who muted this category get nothing."),
          field("priority", "Priority", priority),
          field("badge", "Badge", badge, "A number to show, or increment."),
          field("ttlSeconds", "Time to live (seconds)", ttl, "Dropped if not delivered within this time (at most 28 days)."),
          field("collapseKey", "Collapse key", collapseKey, "Messages with the same key replace each other on the phone."),
        ),
      ),
      h(
        "div",
        {},
        audience.element,
        (() => {
          const error = h("p", { class: "error", id: uid("audience-error") });
          errors.set("audience", error);
          return error;
        })(),
        estimate,
        languages.audience,
        field("sendAt", "Send at", sendAt, sendAtText),
        localTimeRow,
        emergencyCard,
        h("section", { class: "card" }, h("h2", {}, "Preview"), preview),
      ),
    ),
    formProblem,
    h("div", { class: "actions" }, sendButton),
    dialog,
  );
  main.replaceChildren(form);

  /** The request as composed; the schema (the functions' own) then says what is wrong with it. */
  function request(): SendMessageRequest {
    const r: SendMessageRequest = { title: title.value, body: body.value, audience: audience.value() };
    if (link.value.trim()) r.link = link.value.trim();
    if (imageUrl.value.trim()) r.imageUrl = imageUrl.value.trim();
    if (category.value.trim()) r.category = category.value.trim();
    if (priority.value === "normal" || priority.value === "high") r.priority = priority.value;
    const badgeText = badge.value.trim();
    if (badgeText) r.badge = badgeText === "increment" ? "increment" : /^\d+$/.test(badgeText) ? Number(badgeText) : (badgeText as "increment");
    if (ttl.value !== "") r.ttlSeconds = Number(ttl.value);
    if (collapseKey.value.trim()) r.collapseKey = collapseKey.value.trim();
    const translations = languages.translations();
    if (translations) r.translations = translations;
    if (languages.autoTranslate()) r.autoTranslate = true;
    const vars = audience.vars();
    if (vars) r.vars = vars;
    if (sendAt.value && localTime.checked) r.sendAtLocal = sendAt.value.slice(0, 16);
    else if (sendAt.value) {
      const at = new Date(sendAt.value);
      r.sendAt = Number.isNaN(at.getTime()) ? sendAt.value : at.toISOString();
    }
    if (staff.mayEmergency && emergency.checked) r.urgency = "emergency";
    return r;
  }

  let valid = false;
  let lastAudienceKey = "";
  let estimateTimer: number | undefined;
  let estimateSeq = 0;
  let lastEstimate: number | undefined;

  function update(): void {
    const r = request();
    titleCount.textContent = `${r.title.length} / ${LIMITS.titleMax}`;
    titleCount.classList.toggle("over", r.title.length > LIMITS.titleMax);
    bodyCount.textContent = `${r.body.length} / ${LIMITS.bodyMax}`;
    bodyCount.classList.toggle("over", r.body.length > LIMITS.bodyMax);
    const { audience: _audience, sendAt: _sendAt, sendAtLocal: _sendAtLocal, badge: badgeValue, ...content } = r;
    const bytes = largestPayloadBytes({ ...content, ...(typeof badgeValue === "number" || badgeValue === "increment" ? { badge: badgeValue } : {}) });
    budget.value = Math.min(bytes, LIMITS.fcmPayloadBytes);
    budgetText.textContent = `${bytes.toLocaleString()} / ${LIMITS.fcmPayloadBytes.toLocaleString()} bytes`;
    budgetText.classList.toggle("over", bytes > LIMITS.fcmPayloadBytes);

    const parsed = sendMessageInput.safeParse(r);
    const problems = new Map<Field, string>();
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const top = String(issue.path[0] ?? "");
        const name: Field = (FIELDS as readonly string[]).includes(top) ? (top as Field) : "audience";
        if (!problems.has(name)) problems.set(name, issue.path.length > 1 ? `${issue.path.slice(1).join(".")}: ${issue.message}` : issue.message);
      }
    }
    const unfilled = placeholderProblem(r);
    if (unfilled && !problems.has(unfilled.field)) problems.set(unfilled.field, unfilled.message);
    // Over a limit shows at once; an empty required field only once it was touched.
    if (r.title.length > LIMITS.titleMax) touched.add("title");
    if (r.body.length > LIMITS.bodyMax || bytes > LIMITS.fcmPayloadBytes) touched.add("body");
    for (const [name, el] of errors) {
      const problem = problems.get(name);
      const show = problem !== undefined && touched.has(name);
      el.textContent = show ? `${labelOf(name)} ${problem}.` : "";
      document.getElementById(el.id.replace(/-error$/, ""))?.setAttribute("aria-invalid", show ? "true" : "false");
    }
    valid = parsed.success && !unfilled;
    const urgent = r.urgency === "emergency";
    sendButton.textContent = urgent ? "Send emergency" : r.sendAt || r.sendAtLocal ? "Schedule" : "Send";
    sendButton.classList.toggle("danger", urgent);
    sendButton.disabled = !valid;
    form.classList.toggle("urgent", urgent);

    const at = r.sendAt ? new Date(r.sendAt) : undefined;
    if (urgent) sendAtText.textContent = r.sendAt ? `An emergency waits only for this time: ${bothZones(new Date(r.sendAt))}.` : "An emergency goes out at once.";
    else if (r.sendAtLocal) sendAtText.textContent = `Each device gets it at ${r.sendAtLocal.replace("T", " ")} on its own clock (devices without a time zone: the site's); where that time has passed, at once. Quiet hours still apply.`;
    else sendAtText.textContent = at && !Number.isNaN(at.getTime()) ? `Sends ${bothZones(at)}; devices in their quiet hours get it when those end.` : `Leave empty to send now (devices in their quiet hours get it when those end); at most ${LIMITS.sendAheadDays} days ahead.`;
    sendAt.min = localInputValue(new Date());
    sendAt.max = localInputValue(new Date(Date.now() + LIMITS.sendAheadDays * 86_400_000));

    renderPreview(r);
    scheduleEstimate(r);
  }

  /**
   * A placeholder with no value would make every such recipient fail (400):
   * say so before sending. Values come from a CSV of users.
   */
  function placeholderProblem(r: SendMessageRequest): { field: Field; message: string } | undefined {
    const users = "users" in r.audience ? r.audience.users : [undefined];
    for (const userId of users.length > 0 ? users : [undefined]) {
      const vars = userId === undefined ? {} : (r.vars?.[userId] ?? {});
      for (const name of ["title", "body"] as const) {
        try {
          fillPlaceholders(r[name], vars, name);
        } catch (err) {
          const detail = err instanceof Error ? err.message : String(err);
          const who = userId === undefined ? "recipients of this audience" : `user ${userId}`;
          return { field: name, message: `has a placeholder without a value for ${who} (${detail}); load a CSV of users with that column, or remove it` };
        }
      }
    }
    return undefined;
  }

  function labelOf(name: Field): string {
    const labels: Record<Field, string> = {
      title: "Title",
      body: "Body",
      link: "Link",
      imageUrl: "Image URL",
      category: "Category",
      priority: "Priority",
      badge: "Badge",
      ttlSeconds: "Time to live",
      collapseKey: "Collapse key",
      sendAt: "Send at",
      sendAtLocal: "Send at",
      urgency: "Urgency",
      audience: "Audience",
      translations: "Translation",
    };
    return labels[name];
  }

  function renderPreview(r: SendMessageRequest): void {
    const [userId, vars] = Object.entries(r.vars ?? {})[0] ?? [undefined, {}];
    const fill = (text: string, name: string) => {
      try {
        return fillPlaceholders(text, vars, name);
      } catch {
        return text;
      }
    };
    preview.replaceChildren(
      h("p", { class: "hint" }, userId ? `As ${userId} sees it:` : "Placeholders are filled per recipient."),
      h("p", { class: "preview-title" }, fill(r.title, "title") || "Title"),
      h("p", { class: "preview-body" }, fill(r.body, "body") || "Body"),
    );
  }

  function scheduleEstimate(r: SendMessageRequest): void {
    const key = JSON.stringify([r.audience, r.category ?? null, r.urgency ?? null]);
    if (key === lastAudienceKey) return;
    lastAudienceKey = key;
    window.clearTimeout(estimateTimer);
    lastEstimate = undefined;
    const parsed = sendMessageInput.shape.audience.safeParse(r.audience);
    const categoryOk = r.category === undefined || sendMessageInput.shape.category.safeParse(r.category).success;
    if (!parsed.success || !categoryOk) {
      estimate.textContent = "Complete the audience to see how many devices will receive it.";
      return;
    }
    estimate.textContent = "Counting devices…";
    estimateTimer = window.setTimeout(() => void runEstimate(r), 300);
  }

  async function runEstimate(r: SendMessageRequest): Promise<number | undefined> {
    const seq = ++estimateSeq;
    try {
      const { devices, languages: spoken } = await estimateAudience({ audience: r.audience, ...(r.category && { category: r.category }), ...(r.urgency && { urgency: r.urgency }), languages: true });
      if (seq !== estimateSeq) return undefined;
      languages.showAudience(spoken);
      lastEstimate = devices;
      estimate.textContent = `${plural(devices, "device", "devices")} will receive it.`;
      return devices;
    } catch (err) {
      if (seq === estimateSeq) estimate.textContent = `Could not count the audience: ${callableProblem(err).message}`;
      return undefined;
    }
  }

  // One idempotency key per composed message: a double click or a retried
  // request sends once; an edited message is a new message with a new key.
  let keyedRequest = "";
  let idempotencyKey = crypto.randomUUID();
  const keyFor = (json: string) => {
    if (json !== keyedRequest) {
      keyedRequest = json;
      idempotencyKey = crypto.randomUUID();
    }
    return idempotencyKey;
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const name of FIELDS) touched.add(name);
    update();
    if (!valid) {
      formProblem.textContent = "Fix the fields marked above first.";
      return;
    }
    formProblem.textContent = "";
    const r = request();
    dialogProblem.textContent = "";
    confirm.disabled = true;
    const when = r.sendAt ? `on ${bothZones(new Date(r.sendAt))}` : r.sendAtLocal && r.urgency !== "emergency" ? `at ${r.sendAtLocal.replace("T", " ")} in each recipient's time zone` : "now";
    const urgent = r.urgency === "emergency";
    dialogHeading.textContent = urgent ? "Send an EMERGENCY message?" : "Send this message?";
    dialog.classList.toggle("urgent", urgent);
    confirm.textContent = urgent ? "Send emergency now" : "Confirm";
    confirm.classList.toggle("danger", urgent);
    const note = urgent ? " As an emergency: at high priority, past quiet hours and muted categories." : "";
    dialogText.textContent = lastEstimate === undefined ? "Counting devices…" : `It goes to ${plural(lastEstimate, "device", "devices")} ${when}.${note}`;
    dialog.showModal();
    void runEstimate(r).then((devices) => {
      if (devices === undefined) return;
      dialogText.textContent = `It goes to ${plural(devices, "device", "devices")} ${when}.${note}`;
      confirm.disabled = devices === 0;
      if (devices === 0) dialogProblem.textContent = "No device would receive it: change the audience.";
      else confirm.focus();
    });
  });
  back.addEventListener("click", () => dialog.close());
  confirm.addEventListener("click", () => {
    const r = request();
    confirm.disabled = true;
    sendMessage({ ...r, idempotencyKey: keyFor(JSON.stringify(r)) })
      .then(({ messageId }) => {
        dialog.close();
        location.hash = `#/messages/${messageId}`;
      })
      .catch((err: unknown) => {
        const { message, field } = callableProblem(err);
        dialogProblem.textContent = field ? `${message}` : `Not sent: ${message}`;
        confirm.disabled = false;
      });
  });

  form.addEventListener("input", () => update());
  form.addEventListener("change", () => update());
  update();
  title.focus();
  return () => window.clearTimeout(estimateTimer);
}
