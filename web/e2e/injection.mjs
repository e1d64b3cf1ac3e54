// Script and markdown injection stored as chat titles, user messages and answers render inert in
// Debian's Chromium (tests/e2e/web/test_injection.py arranges them): no dialog opens, no element
// the text spells out exists, no link leads to script, and the text shows as written.
// Env: MINICHAT_E2E_URL, MINICHAT_E2E_EMAIL, MINICHAT_E2E_CHAT (the chat of the messages),
// MINICHAT_E2E_PAYLOADS (a JSON list), MINICHAT_E2E_CHROMIUM, MINICHAT_E2E_ARTIFACTS.
import { chatLink, check, normalize, PASSWORD, required, scenario, until, WAIT } from "./lib.mjs";

const base = required("MINICHAT_E2E_URL");
const email = required("MINICHAT_E2E_EMAIL");
const messagesChat = required("MINICHAT_E2E_CHAT");
const payloads = JSON.parse(required("MINICHAT_E2E_PAYLOADS"));

// What only injected HTML could have made inside text the app renders.
const INJECTED = "script, iframe, svg, style, details, object, embed, [onerror], [onload], [ontoggle], [onmouseover]";
const SCRIPT_URL = /^\s*(javascript|vbscript|data):/i;

await scenario("injection", async (browser, step) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const dialogs = [];
  const watch = (page) => page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  context.on("page", watch);
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  const inert = async (where) => {
    await page.waitForLoadState("networkidle");
    const found = await page.evaluate((selector) => {
      const texts = document.querySelectorAll(".markdown, .bubble, .chat-name, .chat-title, .chat-list a");
      const injected = [...texts].flatMap((node) => [...node.querySelectorAll(selector)].map((e) => e.outerHTML));
      const bubbles = [...document.querySelectorAll(".bubble, .chat-name, .chat-title")].filter((n) => n.children.length > 0);
      const urls = [...document.querySelectorAll(".markdown a, .markdown img")].map((e) => e.getAttribute("href") ?? e.getAttribute("src") ?? "");
      return { injected, elementsInText: bubbles.map((n) => n.outerHTML), urls };
    }, INJECTED);
    check(found.injected.length === 0, `${where}: injected elements ${found.injected.join(" | ")}`);
    check(found.elementsInText.length === 0, `${where}: markup inside plain text ${found.elementsInText.join(" | ")}`);
    const scriptUrls = found.urls.filter((url) => SCRIPT_URL.test(url) || SCRIPT_URL.test(decodeURIComponent(url)));
    check(scriptUrls.length === 0, `${where}: links to script ${scriptUrls.join(" | ")}`);
    check(dialogs.length === 0, `${where}: dialogs opened: ${dialogs.join(" | ")}`);
  };

  step("sign in");
  await page.goto(`${base}/`);
  await page.waitForURL("**/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/chat");

  step("every title shows as text in the sidebar");
  for (const payload of payloads) await chatLink(page, payload).waitFor({ timeout: WAIT });
  await inert("the sidebar");

  step("messages and answers show their text, as text");
  await page.goto(`${base}/chat/${messagesChat}`);
  await page.locator("article.message.assistant").nth(payloads.length - 1).waitFor({ timeout: WAIT });
  const bubbles = await page.locator("article.message.user .bubble").allInnerTexts();
  check(JSON.stringify(bubbles) === JSON.stringify(payloads), `user messages as written: ${JSON.stringify(bubbles)}`);
  const answers = (await page.locator("article.message.assistant .markdown").allInnerTexts()).map(normalize);
  // Raw HTML in an answer is shown as the text it is (remarkHtmlAsText), not dropped.
  for (const [index, payload] of payloads.entries()) {
    if (payload.startsWith("<") && !payload.startsWith("<javascript:")) {
      check(answers[index].includes(normalize(payload)), `answer ${index} shows ${payload}: ${answers[index]}`);
    }
  }
  for (const article of await page.locator("article.message").all()) await article.hover();
  await inert("the thread");

  step("each chat's page shows its title as text");
  for (const link of await page.getByRole("navigation", { name: "Chats" }).getByRole("link").all()) {
    const title = await link.getAttribute("aria-label");
    if (!payloads.includes(title)) continue;
    await link.click();
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    await until(`the heading of "${title}"`, async () => (await page.locator("h1.chat-title").innerText()) === title);
    check((await page.title()) === `${title} · MiniChat`, `the tab's title: ${await page.title()}`);
    await inert(`the chat "${title}"`);
  }

  step("the delete confirmation quotes a title as text");
  await chatLink(page, payloads[0]).hover();
  await page.getByRole("button", { name: `Delete chat ${payloads[0]}`, exact: true }).click();
  await page.getByRole("dialog").getByText(payloads[0], { exact: false }).waitFor({ timeout: WAIT });
  check((await page.getByRole("dialog").locator(INJECTED).count()) === 0, "no element in the confirmation");
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
  await inert("the confirmation");

  check(pageErrors.length === 0, `no uncaught errors in the page: ${pageErrors.join("; ")}`);
});

