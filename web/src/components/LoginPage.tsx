/** Sign in or create an account; the api's errors are shown on the field they concern. */
import { useState, type FormEvent } from "react";
import type { Api } from "../api/client";
import { ApiError } from "../api/errors";
import { Logo } from "./icons";

type Mode = "login" | "register";
type Field = "email" | "password" | "display_name";
const FIELDS: readonly Field[] = ["email", "password", "display_name"];

export function LoginPage({ api }: { api: Api }) {
  const [mode, setMode] = useState<Mode>("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<Field, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFieldErrors({});
    setFormError(null);
    setPending(true);
    try {
      if (mode === "register") await api.register(email.trim(), password, name.trim() || undefined);
      else await api.login(email.trim(), password);
    } catch (e) {
      showError(e);
    } finally {
      setPending(false);
    }
  };

  const showError = (e: unknown) => {
    if (!(e instanceof ApiError)) return setFormError("Something went wrong. Please try again.");
    if (e.code === "email_taken") return setFieldErrors({ email: "An account with this email already exists. Sign in instead." });
    if (e.status === 422) {
      // Every field the api found wrong, at once, each on its own field.
      const shown: Partial<Record<Field, string>> = {};
      for (const [field, message] of Object.entries(e.fieldMessages)) {
        if (FIELDS.includes(field as Field)) shown[field as Field] = message;
      }
      if (Object.keys(shown).length > 0) return setFieldErrors(shown);
    }
    if (e.status === 401) return setFormError("Wrong email or password.");
    setFormError(e.friendly);
  };

  const switchMode = () => {
    setMode(mode === "login" ? "register" : "login");
    setFieldErrors({});
    setFormError(null);
  };

  const registering = mode === "register";
  return (
    <main className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <Logo />
          <span>MiniChat</span>
        </div>
        <h1>{registering ? "Create your account" : "Welcome back"}</h1>
        <form onSubmit={(e) => void submit(e)} noValidate aria-label={registering ? "Create account" : "Sign in"}>
          <TextField id="email" label="Email" type="email" autoComplete="email" value={email} onChange={setEmail} error={fieldErrors.email} />
          {registering ? (
            <TextField id="display_name" label="Name (optional)" type="text" autoComplete="name" value={name} onChange={setName} error={fieldErrors.display_name} />
          ) : null}
          <TextField
            id="password"
            label="Password"
            type="password"
            autoComplete={registering ? "new-password" : "current-password"}
            value={password}
            onChange={setPassword}
            error={fieldErrors.password}
            hint={registering ? "At least 8 characters." : undefined}
          />
          {formError ? <p className="error form-error" role="alert">{formError}</p> : null}
          <button type="submit" className="button primary wide" disabled={pending}>
            {pending ? "Please wait…" : registering ? "Create account" : "Sign in"}
          </button>
        </form>
        <p className="auth-switch">
          {registering ? "Already have an account?" : "New to MiniChat?"}{" "}
          <button type="button" className="link-button" onClick={switchMode}>
            {registering ? "Sign in" : "Create an account"}
          </button>
        </p>
      </div>
    </main>
  );
}

interface FieldProps {
  id: string;
  label: string;
  type: string;
  autoComplete: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  hint?: string | undefined;
}

function TextField({ id, label, type, autoComplete, value, onChange, error, hint }: FieldProps) {
  const described = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={id}
        type={type}
        autoComplete={autoComplete}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={described}
      />
      {error ? (
        <p id={`${id}-error`} className="field-error" role="alert">{error}</p>
      ) : hint ? (
        <p id={`${id}-hint`} className="field-hint">{hint}</p>
      ) : null}
    </div>
  );
}
