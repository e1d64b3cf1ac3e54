import { describe, expect, it } from "vitest";
import { Api } from "./client";
import { ApiError, errorOf, fieldMessage } from "./errors";
import { Refresher, SessionStore } from "./session";

const user = { id: "u", email: "a@example.com", display_name: "A", created_at: "2026-01-01T00:00:00Z" };
const tokens = (n: number, expiresIn = 900) => ({ access_token: `access-${n}`, refresh_token: `refresh-${n}`, token_type: "bearer" as const, expires_in: expiresIn });
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("Refresher", () => {
  it("refreshes once for concurrent callers, then hands out the new token", async () => {
    const store = new SessionStore(localStorage, null);
    store.save(tokens(1, 30), user, Date.now() - 25_000);
    let calls = 0;
    const fetchFn = (async (_url: string, init: RequestInit) => {
      calls += 1;
      expect(JSON.parse(String(init.body))).toEqual({ refresh_token: "refresh-1" });
      await new Promise((r) => setTimeout(r, 10));
      return json(tokens(2));
    }) as unknown as typeof fetch;
    const refresher = new Refresher(store, fetchFn, null);
    const results = await Promise.all([refresher.accessToken(), refresher.accessToken(), refresher.refresh("refresh-1")]);
    expect(calls).toBe(1);
    expect(results.map((r) => (typeof r === "string" ? r : r?.accessToken))).toEqual(["access-2", "access-2", "access-2"]);
    expect(store.get()?.refreshToken).toBe("refresh-2");
  });

  it("does not refresh a token another tab already rotated", async () => {
    const store = new SessionStore(localStorage, null);
    store.save(tokens(2), user);
    let calls = 0;
    const refresher = new Refresher(store, (async () => {
      calls += 1;
      return json(tokens(3));
    }) as unknown as typeof fetch, null);
    const session = await refresher.refresh("refresh-1");
    expect(calls).toBe(0);
    expect(session?.accessToken).toBe("access-2");
  });

  it("signs out when the refresh token is dead", async () => {
    const store = new SessionStore(localStorage, null);
    store.save(tokens(1, 30), user, Date.now() - 29_000);
    const refresher = new Refresher(store, (async () => json({ error: { code: "invalid_refresh_token", message: "no" } }, 401)) as unknown as typeof fetch, null);
    expect(await refresher.accessToken()).toBeNull();
    expect(store.get()).toBeNull();
  });
});

describe("Api", () => {
  it("retries once with a refreshed token after a 401", async () => {
    const store = new SessionStore(localStorage, null);
    store.save(tokens(1), user);
    const seen: string[] = [];
    const fetchFn = (async (url: string, init: RequestInit) => {
      if (url === "/api/auth/refresh") return json(tokens(2));
      const auth = new Headers(init.headers).get("Authorization") ?? "";
      seen.push(auth);
      return auth === "Bearer access-2" ? json({ items: [], next_cursor: null }) : json({ error: { code: "not_authenticated", message: "expired" } }, 401);
    }) as unknown as typeof fetch;
    const api = new Api(store, fetchFn, new Refresher(store, fetchFn, null));
    expect(await api.listChats(null)).toEqual({ items: [], next_cursor: null });
    expect(seen).toEqual(["Bearer access-1", "Bearer access-2"]);
  });

  it("turns the api's error body into an ApiError with its field", async () => {
    const store = new SessionStore(localStorage, null);
    const fetchFn = (async () =>
      json({ error: { code: "validation_error", message: "password: String should have at least 8 characters", field: "password" } }, 422)) as unknown as typeof fetch;
    const api = new Api(store, fetchFn);
    const error = await api.register("a@example.com", "short").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).field).toBe("password");
    expect(fieldMessage(error as ApiError)).toBe("Should have at least 8 characters");
    expect(store.get()).toBeNull();
  });

  it("reads Retry-After on 429", async () => {
    const error = await errorOf(new Response(JSON.stringify({ error: { code: "rate_limited", message: "slow down" } }), { status: 429, headers: { "Retry-After": "120" } }));
    expect(error.retryAfterSeconds).toBe(120);
    expect(error.friendly).toBe("Too many attempts. Try again in 2 min.");
  });
});
