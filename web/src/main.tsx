import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Api } from "./api/client";
import { SessionStore } from "./api/session";
import { App } from "./App";
import "./styles.css";

const api = new Api(new SessionStore(window.localStorage));
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App api={api} />
    </StrictMode>,
  );
}
