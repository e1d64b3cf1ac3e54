/** A tiny history router: /login, /chat, /chat/:id. */
import { useEffect, useState } from "react";

export type Route = { name: "login" } | { name: "chat"; chatId: string | null } | { name: "unknown" };

export function parseRoute(pathname: string): Route {
  if (pathname === "/login") return { name: "login" };
  if (pathname === "/" || pathname === "/chat" || pathname === "/chat/") return { name: "chat", chatId: null };
  const match = /^\/chat\/([0-9a-fA-F-]{36})\/?$/.exec(pathname);
  if (match?.[1]) return { name: "chat", chatId: match[1].toLowerCase() };
  return { name: "unknown" };
}

const EVENT = "minichat:navigate";

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  window.dispatchEvent(new Event(EVENT));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener("popstate", update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return route;
}
