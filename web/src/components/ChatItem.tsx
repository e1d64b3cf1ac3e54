/** One chat in the sidebar: open it, rename it in place, or ask to delete it. */
import { useEffect, useRef, useState } from "react";
import type { Chat } from "../api/types";
import { lastUsed } from "../lib/dates";
import { PencilIcon, TrashIcon } from "./icons";

interface Props {
  chat: Chat;
  active: boolean;
  onOpen: () => void;
  onRename: (title: string) => Promise<void>;
  onDelete: () => void;
  now: Date;
}

export function ChatItem({ chat, active, onOpen, onRename, onDelete, now }: Props) {
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(chat.title);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (editing) input.current?.select();
  }, [editing]);

  const save = async () => {
    const next = title.trim();
    if (!next || next === chat.title) {
      setEditing(false);
      setTitle(chat.title);
      return;
    }
    try {
      await onRename(next);
      setEditing(false);
      setError(null);
    } catch {
      setError("Could not rename the chat.");
    }
  };

  if (editing) {
    return (
      <li className="chat-item editing">
        <input
          ref={input}
          value={title}
          maxLength={200}
          aria-label="Chat title"
          aria-invalid={error ? true : undefined}
          title={error ?? undefined}
          onChange={(event) => setTitle(event.target.value)}
          onBlur={() => void save()}
          onKeyDown={(event) => {
            if (event.key === "Enter") void save();
            if (event.key === "Escape") {
              setTitle(chat.title);
              setEditing(false);
            }
          }}
        />
      </li>
    );
  }

  return (
    <li className={active ? "chat-item active" : "chat-item"}>
      <a
        href={`/chat/${chat.id}`}
        aria-current={active ? "page" : undefined}
        aria-label={chat.title}
        aria-describedby={`used-${chat.id}`}
        onClick={(event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
          event.preventDefault();
          onOpen();
        }}
      >
        <span className="chat-name">{chat.title}</span>
        <time id={`used-${chat.id}`} className="chat-time" dateTime={chat.updated_at} title={new Date(chat.updated_at).toLocaleString()}>
          {lastUsed(chat.updated_at, now)}
        </time>
      </a>
      <div className="chat-actions">
        <button type="button" className="ghost-button icon" aria-label={`Rename chat ${chat.title}`} title="Rename" onClick={() => { setTitle(chat.title); setEditing(true); }}>
          <PencilIcon />
        </button>
        <button type="button" className="ghost-button icon" aria-label={`Delete chat ${chat.title}`} title="Delete" onClick={onDelete}>
          <TrashIcon />
        </button>
      </div>
    </li>
  );
}
