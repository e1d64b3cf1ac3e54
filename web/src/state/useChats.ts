/**
 * The sidebar's chats: newest activity first, paged with next_cursor, kept in order locally.
 * Tabs of one browser tell each other of their changes, so a chat made in one shows in all.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { Api } from "../api/client";
import { ApiError } from "../api/errors";
import type { Chat } from "../api/types";

export interface ChatList {
  chats: Chat[];
  hasMore: boolean;
  loading: boolean;
  error: string | null;
  loadMore: () => void;
  add: (chat: Chat) => void;
  touch: (chatId: string) => void;
  rename: (chatId: string, title: string) => Promise<void>;
  remove: (chatId: string) => Promise<void>;
  /** Drop a chat from the list that is gone already. */
  forget: (chatId: string) => void;
}

const PAGE = 30;
const CHANNEL = "minichat.chats";

type Change = { kind: "changed" } | { kind: "removed"; chatId: string };

/** The tabs' channel; null where BroadcastChannel does not exist (old browsers, tests). */
function openChannel(): BroadcastChannel | null {
  return typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel(CHANNEL);
}

export function useChats(api: Api): ChatList {
  const [chats, setChats] = useState<Chat[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(true);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const busy = useRef(false);
  const channel = useRef<BroadcastChannel | null>(null);
  const tell = useCallback((change: Change) => channel.current?.postMessage(change), []);

  const fetchPage = useCallback(
    async (from: string | null) => {
      if (busy.current) return;
      busy.current = true;
      setLoading(true);
      try {
        const page = await api.listChats(from, PAGE);
        setChats((current) => {
          const seen = new Set(current.map((c) => c.id));
          return [...current, ...page.items.filter((c) => !seen.has(c.id))];
        });
        setCursor(page.next_cursor);
        setHasMore(page.next_cursor !== null);
        setError(null);
      } catch (e) {
        setError(e instanceof ApiError ? e.friendly : "Could not load your chats.");
      } finally {
        busy.current = false;
        setLoading(false);
      }
    },
    [api],
  );

  useEffect(() => {
    void fetchPage(null);
  }, [fetchPage]);

  // The newest page again, merged in front: what another tab created or used moves up.
  const refresh = useCallback(async () => {
    try {
      const page = await api.listChats(null, PAGE);
      setChats((current) => {
        const fresh = new Set(page.items.map((c) => c.id));
        return [...page.items, ...current.filter((c) => !fresh.has(c.id))];
      });
    } catch {
      // the next change or the next visit tries again
    }
  }, [api]);

  useEffect(() => {
    const opened = openChannel();
    channel.current = opened;
    const onChange = (event: MessageEvent<Change>) => {
      if (event.data.kind === "removed") {
        const gone = event.data.chatId;
        setChats((current) => current.filter((c) => c.id !== gone));
      } else void refresh();
    };
    opened?.addEventListener("message", onChange);
    const onVisible = () => {
      if (document.visibilityState === "visible") void refresh();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      opened?.close();
      channel.current = null;
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [refresh]);

  const loadMore = useCallback(() => {
    if (hasMore && cursor) void fetchPage(cursor);
  }, [cursor, hasMore, fetchPage]);

  const add = useCallback(
    (chat: Chat) => {
      setChats((current) => [chat, ...current.filter((c) => c.id !== chat.id)]);
      tell({ kind: "changed" });
    },
    [tell],
  );

  const touch = useCallback(
    (chatId: string) => {
      setChats((current) => {
        const chat = current.find((c) => c.id === chatId);
        if (!chat) return current;
        return [{ ...chat, updated_at: new Date().toISOString() }, ...current.filter((c) => c.id !== chatId)];
      });
      tell({ kind: "changed" });
    },
    [tell],
  );

  const rename = useCallback(
    async (chatId: string, title: string) => {
      const chat = await api.renameChat(chatId, title);
      setChats((current) => [chat, ...current.filter((c) => c.id !== chatId)]);
      tell({ kind: "changed" });
    },
    [api, tell],
  );

  const forget = useCallback(
    (chatId: string) => {
      setChats((current) => current.filter((c) => c.id !== chatId));
      tell({ kind: "removed", chatId });
    },
    [tell],
  );

  const remove = useCallback(
    async (chatId: string) => {
      try {
        await api.deleteChat(chatId);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      }
      forget(chatId);
    },
    [api, forget],
  );

  return { chats, hasMore, loading, error, loadMore, add, touch, rename, remove, forget };
}
