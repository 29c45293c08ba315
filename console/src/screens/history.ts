import { history, type HistoryRow, type Page, type Staff } from "../firebase";
import { h, uid } from "../dom";
import type { Cleanup } from "../main";
import { progressOf } from "../progress";

const PAGE = 20;

/** Messages newest first, a page at a time, with a filter for the signed-in sender's own. */
export function renderHistory(main: HTMLElement, staff: Staff): Cleanup {
  const mineId = uid("mine");
  const mine = h("input", { type: "checkbox", id: mineId });
  const list = h("div", { "aria-live": "polite" });
  const problem = h("p", { class: "error", role: "alert" });
  main.replaceChildren(h("section", {}, h("h1", {}, "History"), h("p", { class: "choice" }, mine, h("label", { for: mineId }, "Only my messages")), problem, list));

  const cursors: Array<Page<HistoryRow>["next"]> = [undefined];
  let index = 0;
  let alive = true;

  async function load(): Promise<void> {
    problem.textContent = "";
    try {
      const page = await history(PAGE, mine.checked ? staff.uid : undefined, cursors[index]);
      if (!alive) return;
      cursors[index + 1] = page.next;
      list.replaceChildren(
        page.items.length === 0
          ? h("p", {}, "No messages yet.")
          : h(
              "div",
              { class: "scroll" },
              h(
                "table",
                { class: "history" },
                h(
                  "thead",
                  {},
                  h("tr", {}, ...["Title", "Sender", "Created", "State", "Accepted", "Failed", "Pending", "Recipients"].map((t) => h("th", { scope: "col" }, t))),
                ),
                h("tbody", {}, ...page.items.map(row)),
              ),
            ),
        h(
          "div",
          { class: "pager" },
          h("button", { type: "button", class: "quiet", disabled: index === 0, onclick: () => ((index -= 1), void load()) }, "Previous page"),
          h("span", {}, `Page ${index + 1}`),
          h("button", { type: "button", class: "quiet", disabled: !page.next, onclick: () => ((index += 1), void load()) }, "Next page"),
        ),
      );
    } catch (err) {
      problem.textContent = `Could not read the history: ${String(err)}`;
    }
  }

  function row({ message, counts }: HistoryRow): HTMLElement {
    const progress = progressOf(message, counts);
    const sender = message.senderId === staff.uid ? "you" : (message.senderId ?? "automated");
    return h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/messages/${message.id}` }, message.title)),
      h("td", {}, sender),
      h("td", {}, message.createdAt ? message.createdAt.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "—"),
      h("td", { class: "state", "data-state": progress.state }, progress.state),
      h("td", {}, progress.groups.accepted.toLocaleString()),
      h("td", {}, progress.groups.failed.toLocaleString()),
      h("td", {}, progress.groups.pending.toLocaleString()),
      h("td", {}, progress.total === null ? "…" : progress.total.toLocaleString()),
    );
  }

  mine.addEventListener("change", () => {
    cursors.length = 1;
    index = 0;
    void load();
  });
  void load();
  return () => {
    alive = false;
  };
}
