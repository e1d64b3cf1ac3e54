import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Composer } from "./Composer";
import { ErrorBoundary } from "./ErrorBoundary";
import { Markdown } from "./Markdown";

describe("Markdown", () => {
  it("never turns model output into HTML", () => {
    const { container } = render(<Markdown text={'Hi <img src=x onerror="alert(1)"> <script>alert(2)</script> [x](javascript:alert(3))'} />);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect(container.textContent).toContain("<img src=x");
    expect(container.querySelector("a")?.getAttribute("href") ?? "").not.toContain("javascript");
  });

  it("highlights code blocks and gives them a copy button", () => {
    const { container } = render(<Markdown text={"```python\ndef f():\n    return 1\n```"} />);
    expect(container.querySelector(".code-language")?.textContent).toBe("python");
    expect(container.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(screen.getByRole("button", { name: "Copy code" })).toBeTruthy();
  });
});

describe("Composer", () => {
  const setup = (props: Partial<Parameters<typeof Composer>[0]> = {}) => {
    const onSend = vi.fn(async () => true);
    render(<Composer busy={false} generating={false} stopping={false} onSend={onSend} onStop={() => undefined} {...props} />);
    return { onSend, box: screen.getByLabelText("Message") as HTMLTextAreaElement };
  };

  it("sends on Enter and keeps Shift+Enter for new lines", () => {
    const { onSend, box } = setup();
    fireEvent.change(box, { target: { value: "hello" } });
    fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).toHaveBeenCalledWith("hello");
  });

  it("is disabled while an answer runs, with a Stop button", () => {
    const onStop = vi.fn();
    const { box } = setup({ generating: true, onStop });
    expect(box.disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Stop generating" }));
    expect(onStop).toHaveBeenCalled();
  });
});

describe("ErrorBoundary", () => {
  it("shows what happened and a way back instead of a blank page", () => {
    const Broken = () => {
      throw new Error("the chat list was not a list");
    };
    const quiet = vi.spyOn(console, "error").mockImplementation(() => undefined);
    render(
      <ErrorBoundary>
        <Broken />
      </ErrorBoundary>,
    );
    quiet.mockRestore();
    expect(screen.getByRole("heading", { name: "Something went wrong" })).toBeTruthy();
    expect(screen.getByText(/the chat list was not a list/)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Reload MiniChat" })).toBeTruthy();
  });
});

describe("Composer's limit", () => {
  it("tells the limit before sending and refuses a message over it", () => {
    const onSend = vi.fn(async () => true);
    render(<Composer busy={false} generating={false} stopping={false} onSend={onSend} onStop={() => undefined} />);
    const box = screen.getByLabelText("Message") as HTMLTextAreaElement;
    fireEvent.change(box, { target: { value: "x".repeat(32_005) } });
    expect(screen.getByText(/5 characters over the limit of 32,000/)).toBeTruthy();
    expect((screen.getByRole("button", { name: "Send message" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).not.toHaveBeenCalled();
  });
});
