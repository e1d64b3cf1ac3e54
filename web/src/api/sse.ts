/**
 * Server-sent events over fetch (EventSource cannot send an Authorization header): a parser,
 * and `followGeneration`, which reads one generation's stream to its `done` event and, when
 * the connection drops, reconnects with `Last-Event-ID` so no event is lost or repeated.
 */
import { ApiError, errorOf } from "./errors";
import type { FinishReason, Generation } from "./types";

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Incremental parser of the text/event-stream format; feed it decoded text in any chunks. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | null = null;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!match || (match[0] === "\r" && match.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return null;
      }
      const event = { id: this.id, event: this.event || "message", data: this.data.join("\n") };
      this.data = [];
      this.event = "";
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}

export type GenerationEvent =
  | { type: "delta"; id: string | null; text: string; index: number }
  | { type: "usage"; id: string | null; promptTokens: number; completionTokens: number }
  | { type: "error"; id: string | null; code: string; message: string }
  | { type: "done"; id: string | null; status: FinalStatus; finishReason: FinishReason | null };

export type FinalStatus = "succeeded" | "failed" | "canceled";

export function toGenerationEvent(raw: SseEvent): GenerationEvent | null {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(raw.data) as Record<string, unknown>;
  } catch {
    return null;
  }
  switch (raw.event) {
    case "delta":
      return { type: "delta", id: raw.id, text: String(data.text ?? ""), index: Number(data.index ?? 0) };
    case "usage":
      return {
        type: "usage",
        id: raw.id,
        promptTokens: Number(data.prompt_tokens ?? 0),
        completionTokens: Number(data.completion_tokens ?? 0),
      };
    case "error":
      return { type: "error", id: raw.id, code: String(data.code ?? "error"), message: String(data.message ?? "") };
    case "done":
      return {
        type: "done",
        id: raw.id,
        status: data.status as FinalStatus,
        finishReason: data.finish_reason === "length" ? "length" : null,
      };
    default:
      return null;
  }
}

export interface FollowOptions {
  generationId: string;
  /** A fetch that adds the bearer token (and refreshes it on 401). */
  fetchAuthorized: (path: string, init: RequestInit) => Promise<Response>;
  onEvent: (event: GenerationEvent) => void;
  signal: AbortSignal;
  lastEventId?: string | null;
  /** Waits between reconnects; tests pass a fast one. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  maxQuietRetries?: number;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 4000];

/** Resolves with the final status; rejects with ApiError when the api refuses the stream. */
export async function followGeneration(options: FollowOptions): Promise<FinalStatus> {
  const sleep = options.sleep ?? abortableSleep;
  const maxQuietRetries = options.maxQuietRetries ?? 30;
  let lastEventId = options.lastEventId ?? null;
  let failures = 0;
  for (;;) {
    let progressed = false;
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await options.fetchAuthorized(`/api/generations/${options.generationId}/stream`, {
        headers,
        signal: options.signal,
        cache: "no-store",
      });
      if (response.status === 204) {
        // It ended, and the last event we read was its last: nothing more will come.
        return await endedStatus(options);
      }
      if (!response.ok) {
        const error = await errorOf(response);
        // 4xx will not get better by asking again; 5xx (a replica restarting) may.
        if (response.status < 500) throw error;
        throw Object.assign(error, { retryable: true });
      }
      if (!response.body) throw new ApiError(0, "no_body", "the stream has no body");
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const raw of parser.push(value)) {
            const event = toGenerationEvent(raw);
            if (raw.id) lastEventId = raw.id;
            if (!event) continue;
            progressed = true;
            failures = 0;
            options.onEvent(event);
            if (event.type === "done") return event.status;
          }
        }
      } finally {
        reader.cancel().catch(() => undefined);
      }
    } catch (error) {
      if (options.signal.aborted) throw error;
      if (error instanceof ApiError && !(error as ApiError & { retryable?: boolean }).retryable && error.status !== 0) {
        throw error;
      }
    }
    // The connection ended before `done`: resume after the last event we saw.
    if (!progressed) failures += 1;
    if (failures > maxQuietRetries) throw new ApiError(0, "stream_lost", "Lost the connection to the answer.");
    await sleep(BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)] ?? 4000, options.signal);
  }
}

/** The final state of a generation whose stream has nothing more to send (its `done` event). */
async function endedStatus(options: FollowOptions): Promise<FinalStatus> {
  const response = await options.fetchAuthorized(`/api/generations/${options.generationId}`, {
    headers: { Accept: "application/json" },
    signal: options.signal,
  });
  if (!response.ok) throw await errorOf(response);
  const generation = (await response.json()) as Generation;
  const status = generation.status;
  const finished = status === "succeeded" || status === "failed" || status === "canceled";
  options.onEvent({
    type: "done",
    id: null,
    status: finished ? status : "failed",
    finishReason: generation.finish_reason === "length" ? "length" : null,
  });
  return finished ? status : "failed";
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
