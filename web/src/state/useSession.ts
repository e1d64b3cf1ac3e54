/** The signed-in session as React state, and the silent refresh before the token expires. */
import { useEffect, useState } from "react";
import type { Api } from "../api/client";
import { refreshMargin, type StoredSession } from "../api/session";

export function useSession(api: Api): StoredSession | null {
  const [session, setSession] = useState(() => api.store.get());
  useEffect(() => api.store.subscribe(setSession), [api]);
  return session;
}

const RETRY_MS = 5_000;

export function useSilentRefresh(api: Api, session: StoredSession | null): void {
  const [retry, setRetry] = useState(0);
  const token = session?.refreshToken;
  useEffect(() => {
    if (!session) return;
    const delay = Math.max(0, session.expiresAt - refreshMargin(session) - Date.now());
    const timer = window.setTimeout(() => {
      // A failure that is not "signed out" (offline, a 5xx): try again a little later.
      api.refresher.refresh(session.refreshToken).catch(() => window.setTimeout(() => setRetry((n) => n + 1), RETRY_MS));
    }, delay);
    return () => window.clearTimeout(timer);
    // The timer is re-armed whenever the tokens rotate, here or in another tab.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, token, retry]);
}
