import { describe, expect, it } from "vitest";
import { Api } from "./client";
import { ApiError, errorOf } from "./errors";
import { SessionStore } from "./session";

function signedIn(fetchFn: typeof fetch): Api {
  const storage = new Map<string, string>();
  const store = new SessionStore({
    getItem: (k) => storage.get(k) ?? null,
    setItem: (k, v) => void storage.set(k, v),
    removeItem: (k) => void storage.delete(k),
  } as Storage);
  const user = { id: "u", email: "a@example.com", display_name: "", created_at: "2026-01-01T00:00:00Z" };
  store.save({ access_token: "t", refresh_token: "r", token_type: "bearer", expires_in: 900 }, user);
  return new Api(store, fetchFn);
}

const generation = { id: "g1", chat_id: "c", status: "queued" };

describe("startGeneration", () => {
  it("sends a request that got no answer again with the same Idempotency-Key", async () => {
    const keys: Array<string | null> = [];
    const api = signedIn(async (_path, init) => {
      keys.push(new Headers(init?.headers).get("Idempotency-Key"));
      if (keys.length === 1) throw new TypeError("network down");
      if (keys.length === 2) return new Response("bad gateway", { status: 502 });
      return new Response(JSON.stringify(generation), { status: 202 });
    });
    const created = await api.startGeneration("c", { retryDelaysMs: [0, 0, 0] });
    expect(created.id).toBe("g1");
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("does not send a refused request again, and asks to continue an answer in the body", async () => {
    const bodies: unknown[] = [];
    const api = signedIn(async (_path, init) => {
      bodies.push(init?.body ? JSON.parse(String(init.body)) : null);
      return new Response(JSON.stringify({ error: { code: "not_continuable", message: "no" } }), { status: 409 });
    });
    await expect(api.startGeneration("c", { continueFrom: "m1", retryDelaysMs: [0] })).rejects.toMatchObject({ status: 409 });
    expect(bodies).toEqual([{ continue_from: "m1" }]);
  });
});

describe("ApiError", () => {
  it("reads the running generation's id from the error body, not from its message", async () => {
    const body = { error: { code: "generation_in_progress", message: "busy", generation_id: "0b5f3a52-8a53-4a8f-9a51-7f1f6f0f6c11" } };
    const error = await errorOf(new Response(JSON.stringify(body), { status: 409 }));
    expect(error.runningGenerationId).toBe("0b5f3a52-8a53-4a8f-9a51-7f1f6f0f6c11");
    expect(new ApiError(409, "generation_in_progress", "generation 0b5f3a52-8a53-4a8f-9a51-7f1f6f0f6c11 runs").runningGenerationId).toBeNull();
  });

  it("gives every field's message of a validation error", async () => {
    const body = {
      error: {
        code: "validation_error",
        message: "email: value is not a valid email address",
        field: "email",
        errors: [
          { field: "email", message: "value is not a valid email address" },
          { field: "password", message: "String should have at least 8 characters" },
        ],
      },
    };
    const error = await errorOf(new Response(JSON.stringify(body), { status: 422 }));
    expect(Object.keys(error.fieldMessages)).toEqual(["email", "password"]);
    expect(error.fieldMessages.password).toBe("Should have at least 8 characters");
  });

  it("says a message is too long in words, with the limit", () => {
    const error = new ApiError(422, "validation_error", "content: String should have at most 32000 characters", "content");
    expect(error.friendly).toBe("Your message is too long: at most 32,000 characters. Shorten it and send again.");
  });

  it("names the field of other validation errors, in words", () => {
    const error = new ApiError(422, "validation_error", "title: String should have at most 200 characters", "title");
    expect(error.friendly).toBe("Title should have at most 200 characters.");
  });
});
