import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Api } from "./api/client";
import { SessionStore } from "./api/session";
import { App } from "./App";
import { ErrorBoundary } from "./components/ErrorBoundary";
import "./styles.css";

const api = new Api(new SessionStore(window.localStorage));
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <ErrorBoundary>
        <App api={api} />
      </ErrorBoundary>
    </StrictMode>,
  );
}
