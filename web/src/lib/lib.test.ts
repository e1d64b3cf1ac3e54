import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { loadTail, EMPTY_HISTORY } from "./history";
import { parseRoute } from "./router";
import { buildTurns, titleFrom } from "./turns";

const message = (seq: number, role: Message["role"] = "user"): Message => ({
  id: `m${seq}`, chat_id: "c", role, content: `text ${seq}`, status: "complete", finish_reason: null, created_at: "2026-01-01T00:00:00Z",
});

describe("loadTail", () => {
  it("walks every page to the newest, then refetches only from the last page's cursor", async () => {
    const all = Array.from({ length: 5 }, (_, i) => message(i));
    const asked: Array<string | null> = [];
    const fetchPage = async (cursor: string | null) => {
      asked.push(cursor);
      const start = cursor ? Number(cursor) : 0;
      const items = all.slice(start, start + 2);
      return { items, next_cursor: start + 2 < all.length ? String(start + 2) : null };
    };
    const first = await loadTail(fetchPage, EMPTY_HISTORY);
    expect(first.messages.map((m) => m.id)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(asked).toEqual([null, "2", "4"]);
    all.push(message(5, "assistant"));
    asked.length = 0;
    const next = await loadTail(fetchPage, first);
    expect(asked).toEqual(["4"]);
    expect(next.messages.map((m) => m.id)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
  });
});

describe("buildTurns", () => {
  it("groups consecutive answers as versions of one turn", () => {
    const turns = buildTurns([message(1), message(2, "assistant"), message(3, "assistant"), message(4)]);
    expect(turns.map((t) => (t.kind === "user" ? "user" : `answer x${t.versions.length}`))).toEqual(["user", "answer x2", "user"]);
  });
});

describe("titleFrom", () => {
  it("uses the first line, cut at a word", () => {
    expect(titleFrom("  Hello there\nsecond line")).toBe("Hello there");
    const long = "word ".repeat(30);
    expect(titleFrom(long).length).toBeLessThanOrEqual(61);
    expect(titleFrom(long).endsWith("…")).toBe(true);
  });
});

describe("parseRoute", () => {
  it("knows the app's pages", () => {
    expect(parseRoute("/login")).toEqual({ name: "login" });
    expect(parseRoute("/")).toEqual({ name: "chat", chatId: null });
    expect(parseRoute("/chat/0B5F3A52-8A53-4A8F-9A51-7F1F6F0F6C11")).toEqual({ name: "chat", chatId: "0b5f3a52-8a53-4a8f-9a51-7f1f6f0f6c11" });
    expect(parseRoute("/elsewhere")).toEqual({ name: "unknown" });
  });
});
