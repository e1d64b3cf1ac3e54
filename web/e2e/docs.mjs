// /api/docs in Debian's Chromium with every request outside the api's origin refused, as on a
// machine with no internet: Swagger UI must come from the api itself and render the operations.
// Env: MINICHAT_E2E_URL (an api), MINICHAT_E2E_CHROMIUM.
import { chromium } from "playwright-core";

const base = process.env.MINICHAT_E2E_URL;
if (!base) throw new Error("MINICHAT_E2E_URL is not set");

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

const browser = await chromium.launch({
  executablePath: process.env.MINICHAT_E2E_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const context = await browser.newContext();
  const outside = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    outside.push(url);
    return route.abort("internetdisconnected");
  });
  const page = await context.newPage();
  await page.goto(`${base}/api/docs`);
  await page.locator(".opblock-summary-path", { hasText: "/api/chats/{chat_id}/generations" }).first().waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: /Authorize/ }).first().waitFor();
  check(outside.length === 0, `no request leaves the api: ${outside.join(", ")}`);

  // `ui` is the page's own global: FastAPI's docs page declares it.
  const redirect = await page.evaluate(() => ui.getConfigs().oauth2RedirectUrl);
  check(redirect === `${base}/api/docs/oauth2-redirect`, `the OAuth2 redirect is under /api/docs: ${redirect}`);
  const answer = await page.request.get(redirect);
  check(answer.status() === 200, `the OAuth2 redirect page is served (${answer.status()})`);
  check((await answer.text()).includes("oauth2"), "it is Swagger UI's redirect page");
  console.log("ok: /api/docs renders with no internet");
} finally {
  await browser.close();
}
