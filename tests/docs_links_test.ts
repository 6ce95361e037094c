/**
 * The documents' relative links: every `[text](target)` in README.md,
 * CONTRIBUTING.md, CHANGELOG.md, `docs/`, `bench/README.md` and
 * `soak/README.md` that is not a URL points at a file of this checkout, and
 * its `#anchor`, if any, at a heading of the Markdown file it names (GitHub's
 * heading ids). No root, no network.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

async function documents(): Promise<string[]> {
  const files = [
    "README.md",
    "CONTRIBUTING.md",
    "CHANGELOG.md",
    "bench/README.md",
    "soak/README.md",
  ]
    .map((file) => join(REPO, file));
  for await (const entry of Deno.readDir(join(REPO, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(join(REPO, "docs", entry.name));
  }
  return files;
}

/** Markdown without fenced code blocks and inline code, where `](` is not a link. */
function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's id of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, "").replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(match[1] ?? "");
    const count = seen.get(base) ?? 0;
    ids.add(count === 0 ? base : `${base}-${count}`);
    seen.set(base, count + 1);
  }
  return ids;
}

Deno.test("slug follows GitHub's heading ids", () => {
  assert.equal(slug("Try it: two commands"), "try-it-two-commands");
  assert.equal(slug("Helm: DaemonSet, monitoring, security"), "helm-daemonset-monitoring-security");
  assert.equal(slug("Bare host (systemd)"), "bare-host-systemd");
});

Deno.test("relative links in the documents point at files and headings that exist", async () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of await documents()) {
    const text = await Deno.readTextFile(file);
    for (const match of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1] ?? "";
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
      checked++;
      const [path = "", anchor] = target.split("#", 2);
      const resolved = path === "" ? file : join(dirname(file), path);
      const where = `${relative(REPO, file)}: ${target}`;
      let isFile = false;
      try {
        isFile = (await Deno.stat(resolved)).isFile;
      } catch {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!isFile || !resolved.endsWith(".md")) {
        broken.push(`${where} (an anchor into a file that is not Markdown)`);
      } else if (!anchors(await Deno.readTextFile(resolved)).has(anchor)) {
        broken.push(`${where} (no heading #${anchor})`);
      }
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked >= 20, `only ${checked} relative links found`);
});
