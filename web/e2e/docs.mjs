// /api/docs in Debian's Chromium with every request outside the api's origin refused, as on a
// machine with no internet: Swagger UI must come from the api itself and render the operations.
// Env: MINICHAT_E2E_URL (an api), MINICHAT_E2E_CHROMIUM.
import { check, required, scenario } from "./lib.mjs";

const base = required("MINICHAT_E2E_URL");

await scenario("docs", async (browser, step) => {
  const context = await browser.newContext();
  const outside = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    outside.push(url);
    return route.abort("internetdisconnected");
  });
  const page = await context.newPage();

  step("Swagger UI renders the operations with no request leaving the api");
  await page.goto(`${base}/api/docs`);
  await page.locator(".opblock-summary-path", { hasText: "/api/chats/{chat_id}/generations" }).first().waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: /Authorize/ }).first().waitFor();
  check(outside.length === 0, `no request leaves the api: ${outside.join(", ")}`);

  step("its OAuth2 redirect page is under /api/docs, and served");
  // `ui` is the page's own global: FastAPI's docs page declares it.
  const redirect = await page.evaluate(() => ui.getConfigs().oauth2RedirectUrl);
  check(redirect === `${base}/api/docs/oauth2-redirect`, `the OAuth2 redirect is under /api/docs: ${redirect}`);
  const answer = await page.request.get(redirect);
  check(answer.status() === 200, `the OAuth2 redirect page is served (${answer.status()})`);
  check((await answer.text()).includes("oauth2"), "it is Swagger UI's redirect page");
});
