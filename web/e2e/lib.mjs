// What the e2e scripts share: Debian's Chromium, checks, waits for conditions, and the UI's
// controls by role and name. Every wait is for a condition, with generous deadlines.
import { chromium } from "playwright-core";

export const WAIT = 60_000;
export const PASSWORD = "correct horse battery staple";

export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

export function uniqueEmail(tag) {
  return `web-${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

export function normalize(text) {
  return text.replace(/\s+/g, " ").trim();
}

export async function until(what, fn, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.MINICHAT_E2E_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** Runs `steps(browser, step)`; a failure names its step and leaves a screenshot. */
export async function scenario(name, steps) {
  const browser = await launch();
  let current = "start";
  const step = (label) => {
    current = label;
    console.log(`- ${label}`);
  };
  try {
    await steps(browser, step);
    console.log(`ok: ${name}`);
  } catch (error) {
    const artifacts = process.env.MINICHAT_E2E_ARTIFACTS;
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        if (artifacts && !page.isClosed()) await page.screenshot({ path: `${artifacts}/${name}-failure.png` }).catch(() => undefined);
      }
    }
    console.error(`FAILED at step "${current}": ${error?.stack ?? error}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

export const composer = (page) => page.getByLabel("Message", { exact: true });
export const stopButton = (page) => page.getByRole("button", { name: "Stop generating" });
export const regenerateButton = (page) => page.getByRole("button", { name: "Regenerate answer" });
export const continueButton = (page) => page.getByRole("button", { name: "Continue answer" });
export const chatLinks = (page) => page.getByRole("navigation", { name: "Chats" }).getByRole("link");
export const chatLink = (page, title) => page.getByRole("navigation", { name: "Chats" }).getByRole("link", { name: title, exact: true });
export const lastAnswer = (page) => page.locator("article.message.assistant").last();

export async function register(page, url, email) {
  await page.goto(`${url}/`);
  await page.waitForURL("**/login");
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL("**/chat");
}

export async function waitForAnswer(page) {
  await regenerateButton(page).waitFor({ timeout: WAIT });
  await stopButton(page).waitFor({ state: "detached", timeout: WAIT });
}

export async function send(page, text) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}
