/** The chats, newest activity first, with more loaded as the list is scrolled to its end. */
import { useEffect, useRef, useState } from "react";
import type { User } from "../api/types";
import { groupChats } from "../lib/dates";
import type { ChatList } from "../state/useChats";
import { ChatItem } from "./ChatItem";
import { CloseIcon, Logo, LogoutIcon, PlusIcon } from "./icons";

interface Props {
  list: ChatList;
  activeId: string | null;
  user: User;
  open: boolean;
  onClose: () => void;
  onNew: () => void;
  onOpen: (chatId: string) => void;
  onDelete: (chatId: string) => void;
  onSignOut: () => void;
}

export function Sidebar({ list, activeId, user, open, onClose, onNew, onOpen, onDelete, onSignOut }: Props) {
  const sentinel = useRef<HTMLDivElement>(null);
  const { hasMore, loadMore } = list;
  // The groups and times follow the clock: "today" moves on at midnight.
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), 60_000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => setNow(new Date()), [list.chats]);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !hasMore || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) loadMore();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasMore, loadMore]);

  return (
    <aside className={open ? "sidebar open" : "sidebar"} aria-label="Chats sidebar">
      <div className="sidebar-top">
        <div className="brand">
          <Logo />
          <span>MiniChat</span>
        </div>
        <button type="button" className="ghost-button icon only-mobile" aria-label="Close sidebar" onClick={onClose}>
          <CloseIcon />
        </button>
      </div>
      <button type="button" className="new-chat" onClick={onNew}>
        <PlusIcon />
        New chat
      </button>
      <nav className="chat-list" aria-label="Chats">
        {list.chats.length === 0 && !list.loading ? <p className="muted small">No chats yet.</p> : null}
        {groupChats(list.chats, now).map(({ group, chats }) => (
          <section key={group} className="chat-group" aria-label={group}>
            <h2 className="chat-group-title">{group}</h2>
            <ul>
              {chats.map((chat) => (
                <ChatItem
                  key={chat.id}
                  chat={chat}
                  now={now}
                  active={chat.id === activeId}
                  onOpen={() => onOpen(chat.id)}
                  onRename={(title) => list.rename(chat.id, title)}
                  onDelete={() => onDelete(chat.id)}
                />
              ))}
            </ul>
          </section>
        ))}
        {list.error ? <p className="error small" role="alert">{list.error}</p> : null}
        {hasMore ? (
          <div ref={sentinel} className="more">
            <button type="button" className="ghost-button" onClick={loadMore} disabled={list.loading}>
              {list.loading ? "Loading…" : "Load more chats"}
            </button>
          </div>
        ) : null}
      </nav>
      <div className="sidebar-bottom">
        <div className="user" title={user.email}>
          <span className="user-avatar" aria-hidden="true">{(user.display_name || user.email).charAt(0).toUpperCase()}</span>
          <span className="user-name">{user.display_name || user.email}</span>
        </div>
        <button type="button" className="ghost-button" onClick={onSignOut} aria-label="Sign out">
          <LogoutIcon />
          <span className="button-text">Sign out</span>
        </button>
      </div>
    </aside>
  );
}
