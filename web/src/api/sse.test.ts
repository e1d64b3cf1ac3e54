import { describe, expect, it } from "vitest";
import { followGeneration, SseParser, type GenerationEvent } from "./sse";

describe("SseParser", () => {
  it("parses events split across arbitrary chunks, CRLF and comments", () => {
    const parser = new SseParser();
    const wire = ': ping\r\n\r\nid: 1-0\r\nevent: delta\r\ndata: {"text":"Hi","index":0}\r\n\r\nid: 2-0\nevent: done\ndata: {"status":"succeeded"}\n\n';
    const events = [];
    for (const char of wire) events.push(...parser.push(char));
    expect(events).toEqual([
      { id: "1-0", event: "delta", data: '{"text":"Hi","index":0}' },
      { id: "2-0", event: "done", data: '{"status":"succeeded"}' },
    ]);
  });

  it("joins multi-line data", () => {
    const parser = new SseParser();
    expect(parser.push("data: a\ndata: b\n\n")).toEqual([{ id: null, event: "message", data: "a\nb" }]);
  });
});

function sse(frames: string[], close = true): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const frame of frames) controller.enqueue(new TextEncoder().encode(frame));
      if (close) controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

const delta = (id: string, text: string) => `id: ${id}\nevent: delta\ndata: ${JSON.stringify({ text, index: 0 })}\n\n`;

describe("followGeneration", () => {
  it("resumes with Last-Event-ID after a dropped connection, without gaps or repeats", async () => {
    const seen: Array<string | null> = [];
    const responses = [
      sse([delta("1-0", "Hello"), delta("2-0", " wor")]),
      sse([delta("3-0", "ld"), 'id: 4-0\nevent: done\ndata: {"status":"succeeded"}\n\n']),
    ];
    const events: GenerationEvent[] = [];
    const status = await followGeneration({
      generationId: "g",
      fetchAuthorized: async (_path, init) => {
        seen.push(new Headers(init.headers).get("Last-Event-ID"));
        const next = responses.shift();
        if (!next) throw new Error("no more responses");
        return next;
      },
      onEvent: (e) => events.push(e),
      signal: new AbortController().signal,
      sleep: async () => undefined,
    });
    expect(status).toBe("succeeded");
    expect(seen).toEqual([null, "2-0"]);
    expect(events.filter((e) => e.type === "delta").map((e) => (e.type === "delta" ? e.text : "")).join("")).toBe("Hello world");
  });

  it("reports the error event, then the failed status", async () => {
    const events: GenerationEvent[] = [];
    const status = await followGeneration({
      generationId: "g",
      fetchAuthorized: async () =>
        sse(['id: 1-0\nevent: error\ndata: {"code":"inference_unavailable","message":"down"}\n\n', 'id: 2-0\nevent: done\ndata: {"status":"failed"}\n\n']),
      onEvent: (e) => events.push(e),
      signal: new AbortController().signal,
    });
    expect(status).toBe("failed");
    expect(events[0]).toEqual({ type: "error", id: "1-0", code: "inference_unavailable", message: "down" });
  });

  it("gives up on a 404 instead of retrying", async () => {
    let calls = 0;
    const follow = followGeneration({
      generationId: "g",
      fetchAuthorized: async () => {
        calls += 1;
        return new Response(JSON.stringify({ error: { code: "generation_not_found", message: "generation not found" } }), { status: 404 });
      },
      onEvent: () => undefined,
      signal: new AbortController().signal,
      sleep: async () => undefined,
    });
    await expect(follow).rejects.toMatchObject({ status: 404, code: "generation_not_found" });
    expect(calls).toBe(1);
  });

  it("ends the reading at a 204 (the stream had nothing more) with the stored final state", async () => {
    const asked: string[] = [];
    const events: GenerationEvent[] = [];
    const status = await followGeneration({
      generationId: "g",
      lastEventId: "9-0",
      fetchAuthorized: async (path) => {
        asked.push(path);
        if (path.endsWith("/stream")) return new Response(null, { status: 204 });
        return new Response(JSON.stringify({ id: "g", status: "succeeded", finish_reason: "length" }), { status: 200 });
      },
      onEvent: (e) => events.push(e),
      signal: new AbortController().signal,
      sleep: async () => undefined,
    });
    expect(status).toBe("succeeded");
    expect(asked).toEqual(["/api/generations/g/stream", "/api/generations/g"]);
    expect(events).toEqual([{ type: "done", id: null, status: "succeeded", finishReason: "length" }]);
  });

  it("reads the done event's finish_reason", async () => {
    const events: GenerationEvent[] = [];
    await followGeneration({
      generationId: "g",
      fetchAuthorized: async () => sse(['id: 1-0\nevent: done\ndata: {"status":"succeeded","finish_reason":"length"}\n\n']),
      onEvent: (e) => events.push(e),
      signal: new AbortController().signal,
    });
    expect(events).toEqual([{ type: "done", id: "1-0", status: "succeeded", finishReason: "length" }]);
  });
});
