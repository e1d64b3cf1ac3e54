/** The sidebar's chats: newest activity first, paged with next_cursor, kept in order locally. */
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
}

const PAGE = 30;

export function useChats(api: Api): ChatList {
  const [chats, setChats] = useState<Chat[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(true);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const busy = useRef(false);

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

  const loadMore = useCallback(() => {
    if (hasMore && cursor) void fetchPage(cursor);
  }, [cursor, hasMore, fetchPage]);

  const add = useCallback((chat: Chat) => setChats((current) => [chat, ...current.filter((c) => c.id !== chat.id)]), []);

  const touch = useCallback((chatId: string) => {
    setChats((current) => {
      const chat = current.find((c) => c.id === chatId);
      if (!chat || current[0]?.id === chatId) return current;
      return [{ ...chat, updated_at: new Date().toISOString() }, ...current.filter((c) => c.id !== chatId)];
    });
  }, []);

  const rename = useCallback(
    async (chatId: string, title: string) => {
      const chat = await api.renameChat(chatId, title);
      setChats((current) => [chat, ...current.filter((c) => c.id !== chatId)]);
    },
    [api],
  );

  const remove = useCallback(
    async (chatId: string) => {
      try {
        await api.deleteChat(chatId);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      }
      setChats((current) => current.filter((c) => c.id !== chatId));
    },
    [api],
  );

  return { chats, hasMore, loading, error, loadMore, add, touch, rename, remove };
}
