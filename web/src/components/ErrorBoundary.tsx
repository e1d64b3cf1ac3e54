/** What a crash of the UI shows instead of a blank page: what happened and a way back. */
import { Component, type ErrorInfo, type ReactNode } from "react";

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error("MiniChat's page failed", error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <main className="auth">
        <div className="auth-card" role="alert">
          <h1>Something went wrong</h1>
          <p>This page stopped working. Your chats are safe: reloading usually brings it back.</p>
          <p className="muted small">Details: {error.message || error.name}</p>
          <button type="button" className="button primary wide" onClick={() => window.location.reload()}>
            Reload MiniChat
          </button>
        </div>
      </main>
    );
  }
}
