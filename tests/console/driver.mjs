// A thin bridge from tests/api/console.rs to a real Chromium: one JSON command per line on
// stdin, one JSON answer per line on stdout. The Rust test holds the scenario and its
// assertions; this file only drives the browser. playwright-core never downloads a browser:
// it launches Debian's (KLAXON_CHROMIUM, else /usr/bin/chromium).
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

const browser = await chromium.launch({
  executablePath: process.env.KLAXON_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // The machine's network is closed: Chromium's own background traffic is turned off.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
let page = await context.newPage();
const problems = [];
function watch(p) {
  p.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  p.on("pageerror", (e) => problems.push(String(e)));
}
watch(page);

async function view(resp) {
  return {
    status: resp ? resp.status() : null,
    headers: resp ? await resp.allHeaders() : {},
    url: page.url(),
    html: await page.content(),
  };
}

const commands = {
  async goto({ url }) { return view(await page.goto(url, { waitUntil: "load" })); },
  async fill({ selector, value }) { await page.fill(selector, value); return {}; },
  async select({ selector, value }) { await page.selectOption(selector, value); return {}; },
  // Clicks a link or a form's button and waits for the page that answers it.
  async click({ selector }) {
    const [resp] = await Promise.all([
      page.waitForNavigation({ waitUntil: "load" }),
      page.click(selector),
    ]);
    return view(resp);
  },
  async html() { return { url: page.url(), html: await page.content() }; },
  async text({ selector }) { return { text: await page.innerText(selector) }; },
  async eval({ expr }) { return { value: await page.evaluate(expr) }; },
  async viewport({ width, height }) { await page.setViewportSize({ width, height }); return {}; },
  async screenshot({ path }) {
    mkdirSync(dirname(path), { recursive: true });
    await page.screenshot({ path, fullPage: true });
    return {};
  },
  // A form post made outside any page, with the browser's cookies (as a forged request would
  // ride on them).
  async post({ url, form }) {
    const r = await context.request.post(url, { form, maxRedirects: 0 });
    return { status: r.status(), html: await r.text() };
  },
  async cookies() { return { cookies: await context.cookies() }; },
  async problems() { return { problems: problems.splice(0) }; },
  async close() { await browser.close(); return {}; },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  let answer;
  try {
    answer = { ok: true, ...(await commands[cmd.op](cmd)) };
  } catch (e) {
    answer = { ok: false, error: String(e && e.stack || e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
  if (cmd.op === "close") break;
}
process.exit(0);
