/**
 * The documentation holds together: every relative link in README.md and
 * docs/*.md points at a file that exists, every `#anchor` (on the same page
 * or another) names a heading of its target page as GitHub slugs it, and
 * every `npm run <script>` the docs show is a script of package.json.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PAGES = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)];

/** The text outside fenced code blocks (``` or ~~~), line by line; fenced lines become empty. */
function proseLines(text: string): string[] {
  let fence: string | undefined;
  return text.split("\n").map((line) => {
    const opening = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === undefined && opening) {
      fence = opening[1]!.charAt(0).repeat(opening[1]!.length);
      return "";
    }
    if (fence !== undefined) {
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, "") === "") fence = undefined;
      return "";
    }
    return line;
  });
}

/**
 * GitHub's anchor for a heading: the text as rendered (link targets, code
 * ticks and HTML tags dropped), lower-cased, every character other than a
 * letter, digit, space, hyphen or underscore removed, spaces turned into
 * hyphens. Not trimmed of repeated hyphens.
 */
export function slugOf(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/`/g, "")
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

/** Every anchor a page's headings get, with GitHub's -1, -2… for repeats. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of proseLines(markdown)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = slugOf(heading[1]!);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

interface Link {
  line: number;
  target: string;
}

/** The targets of a page's Markdown links and images, outside code. */
export function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  proseLines(markdown).forEach((text, index) => {
    // Code spans are dropped: a link shown as code is not a link (a span inside a link's text leaves the link whole).
    const prose = text.replace(/(`+)(?:(?!\1).)+?\1/g, "");
    for (const match of prose.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line: index + 1, target: match[1]! });
  });
  return links;
}

/** What is wrong with one page's links: "line N: target: why" for each broken one. */
export function brokenLinks(page: string, read: (path: string) => string | undefined): string[] {
  const markdown = read(page);
  if (markdown === undefined) return [`${page}: no such page`];
  const problems: string[] = [];
  for (const { line, target } of linksOf(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not ours to check
    const hash = target.indexOf("#");
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const file = pathPart === "" ? page : join(dirname(page), pathPart);
    if (file.startsWith("..")) {
      problems.push(`line ${line}: ${target}: points outside the repository`);
      continue;
    }
    const content = read(file);
    if (content === undefined) {
      if (!existsSync(join(ROOT, file))) problems.push(`line ${line}: ${target}: ${file} does not exist`);
      else if (anchor !== undefined) problems.push(`line ${line}: ${target}: an anchor into ${file}, which is not a Markdown page`);
      continue;
    }
    if (anchor !== undefined && anchor !== "" && !anchorsOf(content).has(anchor)) problems.push(`line ${line}: ${target}: ${file} has no heading #${anchor}`);
  }
  return problems;
}

/** A repository file's text when it is a Markdown page, else undefined. */
function readPage(path: string): string | undefined {
  const full = join(ROOT, path);
  if (!path.endsWith(".md") || !existsSync(full) || !statSync(full).isFile()) return undefined;
  return readFileSync(full, "utf8");
}

describe("docs: slugs as GitHub makes them", () => {
  it("drops punctuation, keeps hyphens and underscores, numbers repeats", () => {
    assert.equal(slugOf("Attributes: the app's and the school's"), "attributes-the-apps-and-the-schools");
    assert.equal(slugOf("`messages/{messageId}/pages/{pageId}`"), "messagesmessageidpagespageid");
    assert.equal(slugOf("Sending (staff callables)"), "sending-staff-callables");
    assert.equal(slugOf("`metrics/{hour}_{slot}` and `ops/delivery`"), "metricshour_slot-and-opsdelivery");
    assert.equal(slugOf("Emergencies: `urgency: \"emergency\"`"), "emergencies-urgency-emergency");
    assert.equal(slugOf("6. Parameters"), "6-parameters");
    assert.deepEqual([...anchorsOf("# Cost\n\n```sh\n# not a heading\n```\n## Cost\n### Cost\n")], ["cost", "cost-1", "cost-2"]);
  });

  it("finds a broken link and a broken anchor, and passes good ones", () => {
    const pages: Record<string, string> = {
      "docs/a.md": "# A\n\n## Two words\n\nSee [b](b.md#there), [here](#two-words), [gone](missing.md), [bad](#nowhere), [far](b.md#nowhere), `[code](not-a-link.md)`.\n",
      "docs/b.md": "# B\n\n## There\n",
    };
    const problems = brokenLinks("docs/a.md", (path) => pages[path]);
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(problems[0]!, /missing\.md does not exist/);
    assert.match(problems[1]!, /docs\/a\.md has no heading #nowhere/);
    assert.match(problems[2]!, /docs\/b\.md has no heading #nowhere/);
  });
});

describe("docs: every link and anchor exists", () => {
  for (const page of PAGES) {
    it(page, () => {
      const problems = brokenLinks(page, readPage);
      assert.deepEqual(problems, [], `${page} has broken links:\n  ${problems.join("\n  ")}`);
    });
  }
});

describe("docs: every `npm run` names a script", () => {
  const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);
  for (const page of PAGES) {
    it(page, () => {
      const text = readFileSync(join(ROOT, page), "utf8");
      const unknown = [...text.matchAll(/npm run ([a-z0-9][a-z0-9:_-]*)/g)].map((match) => match[1]!).filter((name) => !scripts.includes(name));
      assert.deepEqual([...new Set(unknown)], [], `${relative(ROOT, join(ROOT, page))} runs scripts package.json does not have`);
    });
  }
});
