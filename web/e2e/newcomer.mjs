// What a newcomer meets, in Debian's Chromium against a real api whose answers stop at a token
// limit (tests/e2e/web/test_newcomer.py): every registration error at once, a refused message
// leaving no chat behind, the composer's limit, a send retried with its Idempotency-Key, an
// answer cut short and continued, the sidebar's groups, another tab's chats, a crash explained.
// Env: MINICHAT_E2E_URL, MINICHAT_E2E_ANSWER (the whole answer), MINICHAT_E2E_CUT (its start,
// as the token limit cuts it), MINICHAT_E2E_CHROMIUM, MINICHAT_E2E_ARTIFACTS.
import {
  chatLink, chatLinks, check, composer, continueButton, lastAnswer, normalize, register, required,
  scenario, send, uniqueEmail, until, WAIT, waitForAnswer,
} from "./lib.mjs";

const base = required("MINICHAT_E2E_URL");
const fullAnswer = normalize(required("MINICHAT_E2E_ANSWER"));
const cutAnswer = normalize(required("MINICHAT_E2E_CUT"));
const answerText = async (page) => normalize(await lastAnswer(page).locator(".markdown").innerText());

await scenario("newcomer", async (browser, step) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  step("registration shows every field's error at once");
  await page.goto(`${base}/`);
  await page.waitForURL("**/login");
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Email").fill("not-an-email");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator("#email-error").waitFor();
  await page.locator("#password-error").waitFor();
  check((await page.locator("#password-error").innerText()).includes("8"), "the password error names its minimum");

  step("register");
  await register(page, base, uniqueEmail("newcomer"));

  step("the composer tells the limit before sending");
  await composer(page).fill("x".repeat(32_001));
  await page.getByText("1 character over the limit of 32,000", { exact: false }).waitFor();
  check(await page.getByRole("button", { name: "Send message" }).isDisabled(), "Send is off over the limit");
  await composer(page).fill("");

  step("a message the api refuses leaves no empty chat and says why in words");
  // The api itself refuses: the message is made too long on its way there.
  await page.route("**/api/chats/*/messages", (route) => {
    if (route.request().method() !== "POST") return route.continue();
    return route.continue({ postData: JSON.stringify({ content: "y".repeat(32_001) }) });
  }, { times: 1 });
  await send(page, "Grows too long in transit");
  const refused = page.getByRole("alert").filter({ hasText: "Your message is too long: at most 32,000 characters" });
  await refused.waitFor({ timeout: WAIT });
  await until("the chat made for it to be gone", async () => (await chatLinks(page).count()) === 0);
  await page.reload();
  await page.getByText("No chats yet.").waitFor({ timeout: WAIT });

  step("a send whose reply was lost is sent again with the same Idempotency-Key: one answer");
  const keys = [];
  await page.route("**/api/chats/*/generations", async (route) => {
    keys.push(route.request().headers()["idempotency-key"]);
    if (keys.length > 1) return route.continue();
    await route.fetch(); // the api starts the answer; its reply never reaches the page
    return route.abort("connectionreset");
  });
  await send(page, "Tell me everything");
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/, { timeout: WAIT });
  await waitForAnswer(page);
  check(keys.length >= 2 && keys.every((k) => k && k === keys[0]), `one key for every try: ${keys.join(", ")}`);
  check((await page.getByRole("group", { name: "Answer versions" }).count()) === 0, "one answer, not two");
  check((await page.getByRole("alert").count()) === 0, "no error shown");
  await page.unroute("**/api/chats/*/generations");

  step("an answer cut by the token limit says so, and Continue finishes the same answer");
  check((await answerText(page)) === cutAnswer, "the answer stops at the limit");
  await page.getByRole("note").filter({ hasText: "cut short" }).waitFor();
  let continued = 0;
  while (await continueButton(page).isVisible()) {
    await continueButton(page).click();
    continued += 1;
    await waitForAnswer(page);
    check((await answerText(page)).startsWith(cutAnswer), "each continuation keeps the text before it");
    check(continued < 10, "the answer ends");
  }
  check((await answerText(page)) === fullAnswer, "continued to its end, it is the whole answer");
  check((await page.getByRole("note").count()) === 0, "the whole answer is not marked cut");
  await page.reload();
  await page.getByRole("group", { name: "Answer versions" }).getByText(`${continued + 1} / ${continued + 1}`).waitFor({ timeout: WAIT });
  check((await answerText(page)) === fullAnswer, "after a reload too");

  step("the sidebar shows when each chat was last used, grouped");
  const today = page.getByRole("region", { name: "Today" });
  await today.getByRole("heading", { name: "Today" }).waitFor();
  const link = chatLink(page, "Tell me everything");
  await link.waitFor();
  const used = await page.locator(`#${await link.getAttribute("aria-describedby")}`).textContent() ?? "";
  check(/^\d{1,2}:\d{2}/.test(used.trim()), `today's chat shows its time (${used})`);

  step("a chat created in another tab appears without a reload");
  const second = await context.newPage();
  second.on("pageerror", (e) => pageErrors.push(String(e)));
  await second.goto(`${base}/chat`);
  await chatLink(second, "Tell me everything").waitFor({ timeout: WAIT });
  await page.getByRole("button", { name: "New chat" }).first().click();
  await page.waitForURL("**/chat");
  await send(page, "From the first tab");
  await chatLink(second, "From the first tab").waitFor({ timeout: WAIT });
  await waitForAnswer(page);
  await second.close();
  check(pageErrors.length === 0, `no uncaught errors in the page: ${pageErrors.join("; ")}`);

  step("a page that fails to render says so instead of going blank");
  const brokenContext = await browser.newContext();
  // A session stored by some other version, without its user: the sidebar cannot render it.
  await brokenContext.addInitScript(() => {
    const session = { accessToken: "a", refreshToken: "r", expiresAt: Date.now() + 3_600_000, ttlMs: 900_000, user: {} };
    window.localStorage.setItem("minichat.session", JSON.stringify(session));
  });
  const broken = await brokenContext.newPage();
  await broken.goto(`${base}/chat`);
  await broken.getByRole("heading", { name: "Something went wrong" }).waitFor({ timeout: WAIT });
  await broken.getByRole("button", { name: "Reload MiniChat" }).waitFor();
  await brokenContext.close();
});
