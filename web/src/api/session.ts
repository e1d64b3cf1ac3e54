/**
 * The signed-in session kept in localStorage (so a reload keeps it), and the one refresh at a
 * time that token rotation needs: a refresh token works once, and reusing a dead one revokes
 * the whole family, so two requests or two tabs must never refresh with the same token.
 */
import { ApiError, errorOf } from "./errors";
import type { TokenPair, User } from "./types";

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms at which the access token expires, by this browser's clock. */
  expiresAt: number;
  ttlMs: number;
  user: User;
}

type Listener = (session: StoredSession | null) => void;

const KEY = "minichat.session";
const LOCK = "minichat.refresh";
const HOLD_AFTER_ROTATION_MS = 1000;

export class SessionStore {
  private listeners = new Set<Listener>();

  constructor(
    private readonly storage: Storage,
    target: Pick<Window, "addEventListener"> | null = typeof window === "undefined" ? null : window,
  ) {
    // Another tab signed in, refreshed or signed out.
    target?.addEventListener("storage", (event: Event) => {
      if ((event as StorageEvent).key === KEY || (event as StorageEvent).key === null) this.emit();
    });
  }

  get(): StoredSession | null {
    const raw = this.storage.getItem(KEY);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as StoredSession;
    } catch {
      return null;
    }
  }

  save(tokens: TokenPair, user: User, now = Date.now()): StoredSession {
    const session: StoredSession = {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: now + tokens.expires_in * 1000,
      ttlMs: tokens.expires_in * 1000,
      user,
    };
    this.storage.setItem(KEY, JSON.stringify(session));
    this.emit();
    return session;
  }

  clear(): void {
    this.storage.removeItem(KEY);
    this.emit();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    const session = this.get();
    for (const listener of this.listeners) listener(session);
  }
}

/** Refresh this long before expiry: a minute, or a third of a short lifetime. */
export function refreshMargin(session: StoredSession): number {
  return Math.min(60_000, session.ttlMs / 3);
}

export function needsRefresh(session: StoredSession, now = Date.now()): boolean {
  return session.expiresAt - now <= refreshMargin(session);
}

type Locks = Pick<LockManager, "request">;

export class Refresher {
  private inflight: Promise<StoredSession | null> | null = null;

  constructor(
    private readonly store: SessionStore,
    private readonly fetchFn: typeof fetch = (...args) => fetch(...args),
    private readonly locks: Locks | null = typeof navigator !== "undefined" && navigator.locks ? navigator.locks : null,
  ) {}

  /**
   * A fresh session in place of the one holding `staleRefreshToken`. Single-flight within the
   * tab (one promise), and across tabs (a Web Lock, then re-reading storage: if another tab
   * rotated meanwhile, its tokens are used instead of refreshing again). Null: signed out.
   */
  refresh(staleRefreshToken: string): Promise<StoredSession | null> {
    if (this.inflight) return this.inflight;
    const locks = this.locks;
    const task: Promise<StoredSession | null> = locks
      ? new Promise((resolve, reject) => {
          void locks.request(LOCK, async () => {
            try {
              const { session, rotated } = await this.rotate(staleRefreshToken);
              resolve(session);
              // localStorage reaches other tabs a little after the write, maybe after the
              // lock is free: hold it a moment so the next tab reads the new token, not the
              // dead one (reusing it would revoke the session everywhere).
              if (rotated) await new Promise((r) => setTimeout(r, HOLD_AFTER_ROTATION_MS));
            } catch (error) {
              reject(error);
            }
          });
        })
      : this.rotate(staleRefreshToken).then((r) => r.session);
    const inflight = task.finally(() => {
      this.inflight = null;
    });
    this.inflight = inflight;
    return inflight;
  }

  /** The access token to send now, refreshed first when it is about to expire. */
  async accessToken(): Promise<string | null> {
    const session = this.store.get();
    if (!session) return null;
    if (!needsRefresh(session)) return session.accessToken;
    const fresh = await this.refresh(session.refreshToken);
    return fresh?.accessToken ?? null;
  }

  private async rotate(staleRefreshToken: string): Promise<{ session: StoredSession | null; rotated: boolean }> {
    const current = this.store.get();
    if (!current) return { session: null, rotated: false };
    if (current.refreshToken !== staleRefreshToken && !needsRefresh(current)) return { session: current, rotated: false };
    let response: Response;
    try {
      response = await this.fetchFn("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refreshToken }),
      });
    } catch {
      throw new ApiError(0, "network_error", "cannot reach the server");
    }
    if (response.ok) {
      const tokens = (await response.json()) as TokenPair;
      return { session: this.store.save(tokens, current.user), rotated: true };
    }
    if (response.status === 401) {
      // The token is dead (expired, signed out elsewhere, or its family revoked).
      if (this.store.get()?.refreshToken === current.refreshToken) this.store.clear();
      return { session: null, rotated: false };
    }
    throw await errorOf(response);
  }
}
