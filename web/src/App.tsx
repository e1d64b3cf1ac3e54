import { useEffect } from "react";
import type { Api } from "./api/client";
import { ChatPage } from "./components/ChatPage";
import { LoginPage } from "./components/LoginPage";
import { navigate, useRoute } from "./lib/router";
import { useSession, useSilentRefresh } from "./state/useSession";

export function App({ api }: { api: Api }) {
  const route = useRoute();
  const session = useSession(api);
  useSilentRefresh(api, session);

  useEffect(() => {
    if (!session && route.name !== "login") navigate("/login", { replace: true });
    else if (session && route.name !== "chat") navigate("/chat", { replace: true });
  }, [session, route.name]);

  if (!session) return <LoginPage api={api} />;
  return <ChatPage api={api} user={session.user} chatId={route.name === "chat" ? route.chatId : null} />;
}
