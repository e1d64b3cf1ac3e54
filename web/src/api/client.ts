/** The api over fetch: bearer auth with silent refresh, JSON in and out, errors as ApiError. */
import { ApiError, errorOf } from "./errors";
import { Refresher, SessionStore } from "./session";
import type { AuthSession, Chat, Generation, Message, Page } from "./types";

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export class Api {
  readonly refresher: Refresher;

  constructor(
    readonly store: SessionStore,
    private readonly fetchFn: typeof fetch = (...args) => fetch(...args),
    refresher?: Refresher,
  ) {
    this.refresher = refresher ?? new Refresher(store, fetchFn);
  }

  /** A fetch with the current access token; one refresh-and-retry when the api says 401. */
  async authorized(path: string, init: RequestInit = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const session = this.store.get();
      const token = await this.refresher.accessToken();
      if (!session || !token) throw new ApiError(401, "not_authenticated", "Your session has ended. Sign in again.");
      const headers = new Headers(init.headers);
      headers.set("Authorization", `Bearer ${token}`);
      const response = await this.send(path, { ...init, headers });
      if (response.status !== 401 || attempt > 0) return response;
      const fresh = await this.refresher.refresh(this.store.get()?.refreshToken ?? session.refreshToken);
      if (!fresh) return response;
    }
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.authorized(path, this.init(method, options));
    return this.read<T>(response);
  }

  async register(email: string, password: string, displayName?: string): Promise<AuthSession> {
    const body: Record<string, string> = { email, password };
    if (displayName) body.display_name = displayName;
    return this.signIn("/api/auth/register", body);
  }

  async login(email: string, password: string): Promise<AuthSession> {
    return this.signIn("/api/auth/login", { email, password });
  }

  /** Revokes the refresh token on the server, then forgets the session whatever happened. */
  async logout(): Promise<void> {
    const session = this.store.get();
    try {
      if (session) await this.send("/api/auth/logout", this.init("POST", { body: { refresh_token: session.refreshToken } }));
    } catch {
      // offline: the token will expire on its own
    } finally {
      this.store.clear();
    }
  }

  listChats(cursor: string | null, limit = 30): Promise<Page<Chat>> {
    return this.json("GET", `/api/chats?${query({ cursor, limit })}`);
  }
  createChat(title?: string): Promise<Chat> {
    return this.json("POST", "/api/chats", { body: title ? { title } : {} });
  }
  renameChat(id: string, title: string): Promise<Chat> {
    return this.json("PATCH", `/api/chats/${id}`, { body: { title } });
  }
  getChat(id: string): Promise<Chat> {
    return this.json("GET", `/api/chats/${id}`);
  }
  async deleteChat(id: string): Promise<void> {
    await this.json("DELETE", `/api/chats/${id}`);
  }
  listMessages(chatId: string, cursor: string | null, limit = 200, signal?: AbortSignal): Promise<Page<Message>> {
    return this.json("GET", `/api/chats/${chatId}/messages?${query({ cursor, limit })}`, signal ? { signal } : {});
  }
  postMessage(chatId: string, content: string): Promise<Message> {
    return this.json("POST", `/api/chats/${chatId}/messages`, { body: { content } });
  }
  /**
   * Asks for an answer; `continueFrom`: an answer the token limit cut, to continue. A request
   * that may have reached the api (no response, or a 5xx) is sent again with the same
   * Idempotency-Key, so the api answers with the generation it started instead of a second one.
   */
  async startGeneration(
    chatId: string,
    options: { idempotencyKey?: string; continueFrom?: string; retryDelaysMs?: number[] } = {},
  ): Promise<Generation> {
    const key = options.idempotencyKey ?? crypto.randomUUID();
    const body = options.continueFrom ? { continue_from: options.continueFrom } : undefined;
    const delays = options.retryDelaysMs ?? [300, 1000, 3000];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.json<Generation>("POST", `/api/chats/${chatId}/generations`, {
          headers: { "Idempotency-Key": key },
          ...(body ? { body } : {}),
        });
      } catch (error) {
        const delay = delays[attempt];
        const unanswered = error instanceof ApiError && (error.status === 0 || error.status >= 500);
        if (!unanswered || delay === undefined) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
  getGeneration(id: string): Promise<Generation> {
    return this.json("GET", `/api/generations/${id}`);
  }
  cancelGeneration(id: string): Promise<Generation> {
    return this.json("POST", `/api/generations/${id}/cancel`);
  }

  private async signIn(path: string, body: Record<string, string>): Promise<AuthSession> {
    const response = await this.send(path, this.init("POST", { body }));
    const session = await this.read<AuthSession>(response);
    this.store.save(session, session.user);
    return session;
  }

  private init(method: string, options: RequestOptions): RequestInit {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    if (options.signal) init.signal = options.signal;
    return init;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchFn(path, init);
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new ApiError(0, "network_error", "Cannot reach MiniChat.");
    }
  }

  private async read<T>(response: Response): Promise<T> {
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
}

function query(params: Record<string, string | number | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null) search.set(key, String(value));
  return search.toString();
}
