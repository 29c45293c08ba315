import { DEFAULT_TEXT, type CounterDoc } from "../../../functions/src/contract";
import { machineTranslations, type MachineTranslation, type MessageView } from "../firebase";
import { h, uid } from "../dom";

/**
 * The message page's languages: each text that was sent (the sender's
 * translations and the machine's, exactly as stored) with how many devices
 * FCM accepted it for, live from the counter documents the page already
 * watches, and the default text's count. Machine translations are read once
 * the message is final (a document per language).
 */
export function languagesSection(messageId: string): { element: HTMLElement; update(message: MessageView, counters: CounterDoc[], final: boolean): void } {
  const list = h("div", {});
  const headingId = uid("sent-languages");
  const element = h("section", { class: "card", hidden: true, "aria-labelledby": headingId }, h("h2", { id: headingId }, "Languages"), list);
  let machine: MachineTranslation[] = [];
  let machineRead: "no" | "reading" | "done" = "no";
  let last: [MessageView, CounterDoc[]] | undefined;

  function render(message: MessageView, counters: CounterDoc[]): void {
    const served: Record<string, number> = {};
    for (const counter of counters) for (const [tag, n] of Object.entries(counter.languages ?? {})) served[tag] = (served[tag] ?? 0) + n;
    const rows: HTMLElement[] = [];
    const devices = (n: number | undefined) => `${(n ?? 0).toLocaleString()} ${n === 1 ? "device" : "devices"}`;
    rows.push(h("div", { class: "language-sent" }, h("h3", {}, `Default text · ${devices(served[DEFAULT_TEXT])}`)));
    for (const [tag, text] of Object.entries(message.translations)) {
      rows.push(h("div", { class: "language-sent", lang: tag }, h("h3", {}, `${tag} · written · ${devices(served[tag])}`), h("p", { class: "preview-title" }, text.title), h("p", {}, text.body)));
    }
    for (const m of machine) {
      if (m.state === "done") rows.push(h("div", { class: "language-sent", lang: m.language }, h("h3", {}, `${m.language} · machine-translated · ${devices(served[m.language])}`), h("p", { class: "preview-title" }, m.title ?? ""), h("p", {}, m.body ?? "")));
      else if (m.state === "failed") rows.push(h("div", { class: "language-sent" }, h("h3", {}, `${m.language} · machine translation failed: its devices got the default text`), m.reason ? h("p", { class: "hint" }, m.reason) : null));
    }
    list.replaceChildren(...rows);
  }

  return {
    element,
    update(message, counters, final) {
      last = [message, counters];
      element.hidden = Object.keys(message.translations).length === 0 && !message.autoTranslate;
      if (element.hidden) return;
      if (message.autoTranslate && final && machineRead === "no") {
        machineRead = "reading";
        void machineTranslations(messageId).then(
          (found) => {
            machine = found;
            machineRead = "done";
            if (last) render(...last);
          },
          () => {
            machineRead = "no";
          },
        );
      }
      render(message, counters);
    },
  };
}
