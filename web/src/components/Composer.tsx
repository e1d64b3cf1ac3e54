/** The message box: Enter sends, Shift+Enter breaks the line; Stop replaces Send while answering. */
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { MAX_MESSAGE_CHARS } from "../api/types";
import { SendIcon, StopIcon } from "./icons";

// The count shows from here on, so the limit is known before it is reached.
const COUNT_FROM = MAX_MESSAGE_CHARS * 0.8;

interface Props {
  busy: boolean;
  generating: boolean;
  stopping: boolean;
  onSend: (text: string) => Promise<boolean>;
  onStop: () => void;
}

export function Composer({ busy, generating, stopping, onSend, onStop }: Props) {
  const [text, setText] = useState("");
  const area = useRef<HTMLTextAreaElement>(null);
  const disabled = busy || generating;
  const length = text.length;
  const over = length > MAX_MESSAGE_CHARS;

  // Grow with the text up to a limit, then scroll inside.
  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
  }, [text]);

  useEffect(() => {
    if (!disabled) area.current?.focus({ preventScroll: true });
  }, [disabled]);

  const submit = async () => {
    const content = text.trim();
    if (!content || disabled || over) return;
    if (await onSend(text)) setText("");
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void submit();
    }
  };

  return (
    <form
      className="composer"
      aria-label="Send a message"
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <div className="composer-box">
        <textarea
          ref={area}
          value={text}
          rows={1}
          placeholder={generating ? "Answering…" : "Message MiniChat"}
          aria-label="Message"
          aria-invalid={over ? true : undefined}
          aria-describedby={length >= COUNT_FROM ? "composer-count" : undefined}
          disabled={disabled}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={onKeyDown}
        />
        {generating ? (
          <button type="button" className="round-button stop" aria-label="Stop generating" title="Stop generating" onClick={onStop} disabled={stopping}>
            <StopIcon />
          </button>
        ) : (
          <button type="submit" className="round-button" aria-label="Send message" title="Send (Enter)" disabled={disabled || over || !text.trim()}>
            <SendIcon />
          </button>
        )}
      </div>
      {length >= COUNT_FROM ? (
        <p id="composer-count" className={over ? "composer-count over" : "composer-count"} aria-live="polite">
          {over
            ? `${characters(length - MAX_MESSAGE_CHARS)} over the limit of ${MAX_MESSAGE_CHARS.toLocaleString("en")}: shorten the message to send it.`
            : `${length.toLocaleString("en")} / ${MAX_MESSAGE_CHARS.toLocaleString("en")} characters`}
        </p>
      ) : null}
      <p className="composer-hint">Enter to send · Shift+Enter for a new line · at most {MAX_MESSAGE_CHARS.toLocaleString("en")} characters</p>
    </form>
  );
}

function characters(count: number): string {
  return `${count.toLocaleString("en")} ${count === 1 ? "character" : "characters"}`;
}
