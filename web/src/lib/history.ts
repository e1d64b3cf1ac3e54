/**
 * A chat's messages, loaded through the api's oldest-to-newest keyset pages. The thread opens
 * at the newest message, so the whole history is walked once; afterwards only the tail page is
 * fetched again (from the cursor that produced it: the api's cursors are stable under inserts).
 */
import type { Message, Page } from "../api/types";

export interface History {
  messages: Message[];
  /** The cursor that fetched the last page (null: the first page). */
  tailCursor: string | null;
  /** Where the last page starts in `messages`. */
  tailStart: number;
}

export const EMPTY_HISTORY: History = { messages: [], tailCursor: null, tailStart: 0 };

export type FetchPage = (cursor: string | null) => Promise<Page<Message>>;

/** `history` with its last page and everything after it fetched again. */
export async function loadTail(fetchPage: FetchPage, history: History): Promise<History> {
  let messages = history.messages.slice(0, history.tailStart);
  let cursor = history.tailCursor;
  for (;;) {
    const page = await fetchPage(cursor);
    const start = messages.length;
    messages = messages.concat(page.items);
    if (!page.next_cursor || page.items.length === 0) return { messages, tailCursor: cursor, tailStart: start };
    cursor = page.next_cursor;
  }
}
