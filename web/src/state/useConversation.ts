/**
 * One chat's thread and its generation: load the history, send, stream the answer in as it
 * arrives, stop, regenerate, and re-attach to a generation still running after a reload.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { Api } from "../api/client";
import { ApiError } from "../api/errors";
import { followGeneration } from "../api/sse";
import { TERMINAL, type Chat, type GenerationStatus } from "../api/types";
import { EMPTY_HISTORY, loadTail, type History } from "../lib/history";
import { navigate } from "../lib/router";
import { titleFrom } from "../lib/turns";
import { activeGenerations } from "./activeGenerations";

export interface GenerationIssue {
  code: string;
  message: string;
}

export interface Live {
  generationId: string;
  text: string;
  status: GenerationStatus | "canceling";
  error: GenerationIssue | null;
  /** It answers the same user message again: a new version of the last answer. */
  regenerate: boolean;
}

export interface Outcome {
  status: "succeeded" | "failed" | "canceled";
  error: GenerationIssue | null;
}

export type Phase = "ready" | "loading" | "missing" | "error";

export interface Conversation {
  history: History;
  phase: Phase;
  live: Live | null;
  outcome: Outcome | null;
  sending: boolean;
  actionError: string | null;
  send: (text: string) => Promise<boolean>;
  stop: () => void;
  regenerate: () => void;
  /** Continue an answer the token limit cut, as a new version of it. */
  continueAnswer: (messageId: string) => void;
  reload: () => void;
}

export interface ConversationEvents {
  onCreated: (chat: Chat) => void;
  onActivity: (chatId: string) => void;
  /** A chat made for a message the api then refused, deleted again. */
  onAbandoned: (chatId: string) => void;
}

export function useConversation(
  api: Api,
  chatId: string | null,
  events: ConversationEvents,
): Conversation {
  const [history, setHistory] = useState<History>(EMPTY_HISTORY);
  const [phase, setPhase] = useState<Phase>("ready");
  const [live, setLive] = useState<Live | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [sending, setSending] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const historyRef = useRef(history);
  historyRef.current = history;
  const stream = useRef<AbortController | null>(null);
  const eventsRef = useRef(events);
  eventsRef.current = events;

  const fetchTail = useCallback(
    (id: string, from: History, signal?: AbortSignal) => loadTail((c) => api.listMessages(id, c, 200, signal), from),
    [api],
  );

  const attach = useCallback(
    async (id: string, generationId: string, regenerate: boolean) => {
      stream.current?.abort();
      const controller = new AbortController();
      stream.current = controller;
      setOutcome(null);
      setLive({ generationId, text: "", status: "queued", error: null, regenerate });
      let pending = "";
      let frame = 0;
      let issue: GenerationIssue | null = null;
      // Deltas arrive faster than frames: paint once per frame, not once per token.
      const flush = () => {
        frame = 0;
        const text = pending;
        pending = "";
        setLive((l) =>
          l && l.generationId === generationId
            ? { ...l, text: l.text + text, status: l.status === "canceling" ? l.status : "streaming" }
            : l,
        );
      };
      let status: Outcome["status"];
      try {
        status = await followGeneration({
          generationId,
          fetchAuthorized: (path, init) => api.authorized(path, init),
          signal: controller.signal,
          onEvent: (event) => {
            if (event.type === "delta") {
              pending += event.text;
              if (!frame) frame = requestAnimationFrame(flush);
            } else if (event.type === "error") {
              issue = { code: event.code, message: event.message };
              setLive((l) => (l && l.generationId === generationId ? { ...l, error: issue } : l));
            }
          },
        });
      } catch (error) {
        if (controller.signal.aborted) return;
        status = "failed";
        issue = error instanceof ApiError ? { code: error.code, message: error.friendly } : { code: "error", message: String(error) };
      } finally {
        if (frame) cancelAnimationFrame(frame);
      }
      if (pending) flush();
      activeGenerations.remove(id, generationId);
      let next = historyRef.current;
      try {
        next = await fetchTail(id, historyRef.current, controller.signal);
      } catch {
        // keep what we have; the stored answer shows on the next load
      }
      if (controller.signal.aborted) return;
      setHistory(next);
      setLive(null);
      setOutcome({ status, error: issue });
      eventsRef.current.onActivity(id);
    },
    [api, fetchTail],
  );

  const resume = useCallback(
    async (id: string, generationId: string, loaded: History) => {
      try {
        const found = await api.getGeneration(generationId);
        if (!TERMINAL.has(found.status)) {
          const last = loaded.messages[loaded.messages.length - 1];
          void attach(id, generationId, last?.role === "assistant");
          return;
        }
        activeGenerations.remove(id, generationId);
        // It ended after the history was read: read its stored answer too.
        setHistory(await fetchTail(id, loaded));
        if (found.status !== "succeeded") {
          setOutcome({ status: found.status as Outcome["status"], error: found.error });
        }
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) activeGenerations.remove(id, generationId);
      }
    },
    [api, attach, fetchTail],
  );

  useEffect(() => {
    setHistory(EMPTY_HISTORY);
    setLive(null);
    setOutcome(null);
    setActionError(null);
    if (!chatId) {
      setPhase("ready");
      return;
    }
    setPhase("loading");
    const controller = new AbortController();
    (async () => {
      try {
        const loaded = await fetchTail(chatId, EMPTY_HISTORY, controller.signal);
        if (controller.signal.aborted) return;
        const running = activeGenerations.get(chatId);
        setHistory(loaded);
        setPhase("ready");
        if (running) {
          // Until we know whether it still runs, offer neither Send nor Regenerate.
          setSending(true);
          await resume(chatId, running, loaded).finally(() => setSending(false));
        }
      } catch (e) {
        if (controller.signal.aborted) return;
        setPhase(e instanceof ApiError && e.status === 404 ? "missing" : "error");
      }
    })();
    return () => {
      controller.abort();
      stream.current?.abort();
    };
  }, [chatId, fetchTail, resume, generation]);

  const start = useCallback(
    async (id: string, continueFrom?: string) => {
      try {
        const created = await api.startGeneration(id, continueFrom ? { continueFrom } : {});
        activeGenerations.set(id, created.id);
        return created.id;
      } catch (e) {
        // Another tab already asked: follow that answer instead.
        const running = e instanceof ApiError && e.code === "generation_in_progress" ? e.runningGenerationId : null;
        if (!running) throw e;
        activeGenerations.set(id, running);
        return running;
      }
    },
    [api],
  );

  const send = useCallback(
    async (text: string) => {
      setActionError(null);
      setSending(true);
      let created: Chat | null = null;
      try {
        let id = chatId;
        if (!id) {
          created = await api.createChat(titleFrom(text));
          eventsRef.current.onCreated(created);
          id = created.id;
        }
        const message = await api.postMessage(id, text).catch(async (e: unknown) => {
          // Refused (too long, throttled): the chat made for it must not stay behind empty.
          if (created) {
            await api.deleteChat(created.id).catch(() => undefined);
            eventsRef.current.onAbandoned(created.id);
          }
          throw e;
        });
        if (id === chatId) setHistory((h) => ({ ...h, messages: [...h.messages, message] }));
        const generationId = await start(id);
        eventsRef.current.onActivity(id);
        if (id === chatId) void attach(id, generationId, false);
        else navigate(`/chat/${id}`);
        return true;
      } catch (e) {
        setActionError(e instanceof ApiError ? e.friendly : "Could not send the message.");
        return false;
      } finally {
        setSending(false);
      }
    },
    [api, attach, chatId, start],
  );

  const stop = useCallback(() => {
    if (!live) return;
    setLive((l) => (l ? { ...l, status: "canceling" } : l));
    api.cancelGeneration(live.generationId).catch((e: unknown) => {
      setActionError(e instanceof ApiError ? e.friendly : "Could not stop the answer.");
    });
  }, [api, live]);

  const answerAgain = useCallback(
    (continueFrom?: string) => {
      if (!chatId || live) return;
      setActionError(null);
      setSending(true);
      const last = historyRef.current.messages[historyRef.current.messages.length - 1];
      start(chatId, continueFrom)
        .then((generationId) => attach(chatId, generationId, last?.role === "assistant"))
        .catch((e: unknown) => setActionError(e instanceof ApiError ? e.friendly : "Could not ask for an answer."))
        .finally(() => setSending(false));
    },
    [attach, chatId, live, start],
  );
  const regenerate = useCallback(() => answerAgain(), [answerAgain]);
  const continueAnswer = useCallback((messageId: string) => answerAgain(messageId), [answerAgain]);

  const reload = useCallback(() => setGeneration((n) => n + 1), []);

  return { history, phase, live, outcome, sending, actionError, send, stop, regenerate, continueAnswer, reload };
}
