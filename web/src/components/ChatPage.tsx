/** The signed-in screen: sidebar, the selected chat's thread, and the composer. */
import { useCallback, useEffect, useState } from "react";
import type { Api } from "../api/client";
import type { User } from "../api/types";
import { navigate } from "../lib/router";
import { useChats } from "../state/useChats";
import { useConversation } from "../state/useConversation";
import { Composer } from "./Composer";
import { ConfirmDialog } from "./ConfirmDialog";
import { Logo, MenuIcon, PlusIcon } from "./icons";
import { Sidebar } from "./Sidebar";
import { Thread } from "./Thread";

interface Props {
  api: Api;
  user: User;
  chatId: string | null;
}

export function ChatPage({ api, user, chatId }: Props) {
  const list = useChats(api);
  const [menuOpen, setMenuOpen] = useState(false);
  const [deleting, setDeleting] = useState<string | null>(null);
  const conversation = useConversation(api, chatId, { onCreated: list.add, onActivity: list.touch, onAbandoned: list.forget });
  const { live, history, phase } = conversation;
  const chat = list.chats.find((c) => c.id === chatId);

  useEffect(() => {
    document.title = chat ? `${chat.title} · MiniChat` : "MiniChat";
  }, [chat]);

  const open = useCallback((id: string | null) => {
    setMenuOpen(false);
    navigate(id ? `/chat/${id}` : "/chat");
  }, []);

  const confirmDelete = async () => {
    const id = deleting;
    setDeleting(null);
    if (!id) return;
    await list.remove(id).catch(() => undefined);
    if (id === chatId) navigate("/chat", { replace: true });
  };

  const deletingChat = list.chats.find((c) => c.id === deleting);
  const generating = live !== null;

  return (
    <div className="app">
      <Sidebar
        list={list}
        activeId={chatId}
        user={user}
        open={menuOpen}
        onClose={() => setMenuOpen(false)}
        onNew={() => open(null)}
        onOpen={open}
        onDelete={setDeleting}
        onSignOut={() => void api.logout()}
      />
      {menuOpen ? <div className="scrim" onClick={() => setMenuOpen(false)} aria-hidden="true" /> : null}
      <main className="main">
        <header className="topbar">
          <button type="button" className="ghost-button icon only-mobile" aria-label="Open sidebar" aria-expanded={menuOpen} onClick={() => setMenuOpen(true)}>
            <MenuIcon />
          </button>
          <h1 className="chat-title">{chatId ? (chat?.title ?? "") : "New chat"}</h1>
          <button type="button" className="ghost-button icon only-mobile" aria-label="New chat" onClick={() => open(null)}>
            <PlusIcon />
          </button>
        </header>
        {phase === "missing" ? (
          <Notice title="This chat is not available" body="It may have been deleted, or it belongs to someone else." />
        ) : phase === "error" ? (
          <Notice title="Could not load this chat" body="Check your connection." action={{ label: "Try again", run: conversation.reload }} />
        ) : chatId === null ? (
          <Welcome name={user.display_name} />
        ) : phase === "loading" ? (
          <div className="thread-loading" role="status" aria-label="Loading messages"><span className="spinner" /></div>
        ) : (
          <Thread
            chatId={chatId}
            messages={history.messages}
            live={live}
            outcome={conversation.outcome}
            busy={conversation.sending}
            onRegenerate={conversation.regenerate}
            onContinue={conversation.continueAnswer}
          />
        )}
        {phase === "missing" ? null : (
          <div className="composer-area">
            {conversation.actionError ? <p className="error composer-error" role="alert">{conversation.actionError}</p> : null}
            <Composer
              busy={conversation.sending || phase === "loading"}
              generating={generating}
              stopping={live?.status === "canceling"}
              onSend={conversation.send}
              onStop={conversation.stop}
            />
          </div>
        )}
      </main>
      {deletingChat ? (
        <ConfirmDialog
          title="Delete chat?"
          body={`“${deletingChat.title}” and all its messages will be deleted. This cannot be undone.`}
          confirmLabel="Delete"
          onConfirm={() => void confirmDelete()}
          onCancel={() => setDeleting(null)}
        />
      ) : null}
    </div>
  );
}

function Welcome({ name }: { name: string }) {
  return (
    <div className="welcome">
      <Logo />
      <h2>How can I help{name ? `, ${name}` : ""}?</h2>
      <p className="muted">Ask anything. Answers stream in as they are written.</p>
    </div>
  );
}

function Notice({ title, body, action }: { title: string; body: string; action?: { label: string; run: () => void } }) {
  return (
    <div className="welcome" role="status">
      <h2>{title}</h2>
      <p className="muted">{body}</p>
      {action ? <button type="button" className="button secondary" onClick={action.run}>{action.label}</button> : null}
      <a className="link" href="/chat" onClick={(e) => { e.preventDefault(); navigate("/chat"); }}>Start a new chat</a>
    </div>
  );
}
