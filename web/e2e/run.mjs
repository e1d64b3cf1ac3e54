// The web UI end to end in Debian's Chromium (playwright-core), against servers started by
// tests/e2e/web (pytest). Every wait is for a condition, with generous deadlines.
// Env: MINICHAT_E2E_URL (api serving the UI), MINICHAT_E2E_BROKEN_URL (same database, no model),
// MINICHAT_E2E_CHROMIUM, MINICHAT_E2E_ARTIFACTS (screenshots), MINICHAT_E2E_ANSWER (full text).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  chatLink, check, composer, lastAnswer, launch, normalize, regenerateButton, register, required,
  stopButton, uniqueEmail, until, WAIT, waitForAnswer, PASSWORD,
} from "./lib.mjs";

const base = required("MINICHAT_E2E_URL");
const brokenBase = required("MINICHAT_E2E_BROKEN_URL");
const artifacts = process.env.MINICHAT_E2E_ARTIFACTS ?? "test-artifacts/web";
const fullAnswer = normalize(required("MINICHAT_E2E_ANSWER"));
const FIRST_WORDS = fullAnswer.split(" ").slice(0, 4).join(" ");

let stepName = "start";
let lastPage = null;
function step(name) {
  stepName = name;
  console.log(`- ${name}`);
}
async function shot(page, name) {
  lastPage = page;
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
}

const userMessage = (page, text) => page.locator("article.message.user").getByText(text, { exact: true });
const streamingAnswer = (page) => page.locator('article.message.assistant[aria-busy="true"]');

async function sendAndFinish(page, text) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
  await userMessage(page, text).waitFor({ timeout: WAIT });
  await waitForAnswer(page);
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const browser = await launch();
  const pageErrors = [];
  const refreshes = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, colorScheme: "light", reducedMotion: "reduce" });
    context.on("response", (r) => {
      if (r.url().endsWith("/api/auth/refresh")) refreshes.push(r.status());
    });
    const page = await context.newPage();
    lastPage = page;
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    const email = uniqueEmail("a");

    step("the sign-in page, and the api's field errors shown on the field");
    await page.goto(`${base}/`);
    await page.waitForURL("**/login");
    await page.getByRole("heading", { name: "Welcome back" }).waitFor();
    await shot(page, "login");
    await page.getByRole("button", { name: "Create an account" }).click();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    const passwordError = page.locator("#password-error");
    await passwordError.waitFor();
    check((await passwordError.innerText()).includes("8"), "the password error names the minimum length");
    check((await page.getByLabel("Password").getAttribute("aria-invalid")) === "true", "the password field is marked invalid");
    await shot(page, "login-error");

    step("register");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL("**/chat");
    await page.getByRole("heading", { name: /How can I help/ }).waitFor();
    await shot(page, "chat-empty");

    step("Shift+Enter breaks the line; Enter sends; the answer streams in");
    await composer(page).fill("Hello there");
    await composer(page).press("Shift+Enter");
    await composer(page).pressSequentially("how are you?");
    check((await composer(page).inputValue()) === "Hello there\nhow are you?", "Shift+Enter adds a new line");
    await composer(page).press("Enter");
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/, { timeout: WAIT });
    const firstChatUrl = page.url();
    await stopButton(page).waitFor({ timeout: WAIT });
    await streamingAnswer(page).getByText(FIRST_WORDS).waitFor({ timeout: WAIT });
    check(await composer(page).isDisabled(), "the composer is disabled while the answer streams");
    await shot(page, "chat-streaming-light");
    await waitForAnswer(page);
    check(normalize(await lastAnswer(page).locator(".markdown").innerText()) === fullAnswer, "the whole answer arrived");
    check(!(await composer(page).isDisabled()), "the composer is enabled again");
    await chatLink(page, "Hello there").waitFor();

    step("Stop cancels mid-stream");
    await composer(page).fill("Please stop early");
    await composer(page).press("Enter");
    await stopButton(page).waitFor({ timeout: WAIT });
    await streamingAnswer(page).getByText(FIRST_WORDS).waitFor({ timeout: WAIT });
    await stopButton(page).click();
    await lastAnswer(page).getByText("Stopped", { exact: true }).waitFor({ timeout: WAIT });
    const stopped = normalize(await lastAnswer(page).locator(".markdown").innerText());
    check(stopped.length > 0 && stopped.length < fullAnswer.length, `a partial answer is kept (${stopped.length} chars)`);

    step("Regenerate answers the last message again, as a second version");
    await regenerateButton(page).click();
    await stopButton(page).waitFor({ timeout: WAIT });
    await waitForAnswer(page);
    const versions = page.getByRole("group", { name: "Answer versions" }).last();
    await versions.getByText("2 / 2").waitFor();
    check(normalize(await lastAnswer(page).locator(".markdown").innerText()) === fullAnswer, "the new version is complete");
    await versions.getByRole("button", { name: "Previous version" }).click();
    await versions.getByText("1 / 2").waitFor();
    await lastAnswer(page).getByText("Stopped", { exact: true }).waitFor();
    await versions.getByRole("button", { name: "Next version" }).click();

    step("rename the chat in the sidebar");
    await page.getByRole("button", { name: "Rename chat Hello there" }).click();
    await page.getByLabel("Chat title").fill("Renamed by e2e");
    await page.getByLabel("Chat title").press("Enter");
    await chatLink(page, "Renamed by e2e").waitFor();
    await page.getByRole("heading", { name: "Renamed by e2e" }).waitFor();

    step("a reload keeps the session and shows the history");
    await page.reload();
    await userMessage(page, "Please stop early").waitFor({ timeout: WAIT });
    await page.getByRole("heading", { name: "Renamed by e2e" }).waitFor();
    await page.getByRole("group", { name: "Answer versions" }).last().getByText("2 / 2").waitFor();
    check(page.url() === firstChatUrl, "the same chat is open after the reload");

    step("a reload during a generation re-attaches to its stream");
    await composer(page).fill("Keep going through a reload");
    await composer(page).press("Enter");
    await streamingAnswer(page).getByText(FIRST_WORDS).waitFor({ timeout: WAIT });
    await page.reload();
    await userMessage(page, "Keep going through a reload").waitFor({ timeout: WAIT });
    await waitForAnswer(page);
    check(normalize(await lastAnswer(page).locator(".markdown").innerText()) === fullAnswer, "the re-attached answer is whole, without repeats");

    step("dark theme and phone width follow the system and the viewport");
    await page.emulateMedia({ colorScheme: "dark" });
    await shot(page, "chat-dark");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "phone-dark");
    await page.getByRole("button", { name: "Open sidebar" }).click();
    await chatLink(page, "Renamed by e2e").waitFor();
    await shot(page, "phone-sidebar-dark");
    await page.emulateMedia({ colorScheme: "light" });
    await shot(page, "phone-sidebar-light");
    await page.getByRole("button", { name: "Close sidebar" }).click();
    await shot(page, "phone-light");
    await page.setViewportSize({ width: 1280, height: 820 });

    step("delete a chat, after confirming");
    await page.getByRole("button", { name: "New chat" }).first().click();
    await page.waitForURL("**/chat");
    await sendAndFinish(page, "A chat to delete");
    await chatLink(page, "A chat to delete").waitFor();
    await page.getByRole("button", { name: "Delete chat A chat to delete" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete chat?" });
    await dialog.waitFor();
    await shot(page, "delete-dialog");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    check(await chatLink(page, "A chat to delete").isVisible(), "Cancel keeps the chat");
    await page.getByRole("button", { name: "Delete chat A chat to delete" }).click();
    await dialog.getByRole("button", { name: "Delete" }).click();
    await chatLink(page, "A chat to delete").waitFor({ state: "detached" });
    await page.waitForURL("**/chat");
    check(await chatLink(page, "Renamed by e2e").isVisible(), "the other chat stays");

    step("a failed generation shows its error in place");
    const brokenContext = await browser.newContext({ viewport: { width: 1280, height: 820 }, colorScheme: "light" });
    const broken = await brokenContext.newPage();
    broken.on("pageerror", (e) => pageErrors.push(String(e)));
    await register(broken, brokenBase, uniqueEmail("broken"));
    await composer(broken).fill("This answer will fail");
    await composer(broken).press("Enter");
    const alert = broken.getByRole("alert").filter({ hasText: "The answer failed." });
    await alert.waitFor({ timeout: WAIT });
    await regenerateButton(broken).waitFor();
    await shot(broken, "generation-error");
    await brokenContext.close();

    step("two tabs share one session: every silent refresh succeeds, none reuses a token");
    const second = await context.newPage();
    second.on("pageerror", (e) => pageErrors.push(String(e)));
    await second.goto(firstChatUrl);
    await userMessage(second, "Keep going through a reload").waitFor({ timeout: WAIT });
    const before = refreshes.length;
    await until("a silent refresh while two tabs are open", () => refreshes.length > before, 90_000);
    await until("the next silent refresh", () => refreshes.length > before + 1, 90_000);
    check(refreshes.every((s) => s === 200), `every refresh succeeded: ${refreshes.join(",")}`);
    const stored = (p) => p.evaluate(() => JSON.parse(localStorage.getItem("minichat.session") ?? "{}").refreshToken ?? null);
    await until("both tabs to hold the same rotated token", async () => {
      const [a, b] = [await stored(page), await stored(second)];
      return a !== null && a === b;
    });
    await second.reload();
    await chatLink(second, "Renamed by e2e").waitFor({ timeout: WAIT });
    await page.reload();
    await chatLink(page, "Renamed by e2e").waitFor({ timeout: WAIT });
    await second.close();

    step("another user sees none of it");
    const otherContext = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    const other = await otherContext.newPage();
    await register(other, base, uniqueEmail("b"));
    await other.getByText("No chats yet.").waitFor();
    await other.goto(firstChatUrl);
    await other.getByRole("heading", { name: "This chat is not available" }).waitFor({ timeout: WAIT });
    check((await other.locator("article.message").count()) === 0, "no message of the first user shows");
    await otherContext.close();

    step("sign out, then sign in again");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("**/login");
    await page.reload();
    await page.getByRole("heading", { name: "Welcome back" }).waitFor();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Wrong email or password.").waitFor();
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("**/chat");
    await chatLink(page, "Renamed by e2e").waitFor();

    check(pageErrors.length === 0, `no uncaught errors in the page: ${pageErrors.join("; ")}`);
    console.log(`ok: ${refreshes.length} silent refreshes, screenshots in ${artifacts}`);
  } catch (error) {
    if (lastPage && !lastPage.isClosed()) await lastPage.screenshot({ path: join(artifacts, "failure.png") }).catch(() => undefined);
    throw error;
  } finally {
    // Playwright gives the browser a fresh, temporary profile and removes it on close.
    await browser.close();
  }
}

main().catch(async (error) => {
  console.error(`FAILED at step "${stepName}": ${error?.stack ?? error}`);
  process.exit(1);
});
