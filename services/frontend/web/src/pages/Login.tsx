import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { ErrorBox, Loading, useTitle } from "../components/common";

/** A path on this site to go to after signing in (never another origin). */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function Login() {
  useTitle("Sign in");
  const [search] = useSearchParams();
  const next = safeNext(search.get("next"));
  const navigate = useNavigate();
  const queries = useQueryClient();
  const config = useQuery({ queryKey: ["auth-config"], queryFn: () => call(api.GET("/api/v1/auth/config")) });
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(search.get("error") === "invalid" ? new Error("Wrong email or password.") : null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call(api.POST("/api/v1/auth/login", { body: { email, password } }));
      queries.clear();
      navigate(next, { replace: true });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <div className="login-card">
        <h1>
          <img src="/favicon.svg" alt="" width="28" height="28" /> Sign in to Ironsmith
        </h1>
        {config.isPending && <Loading />}
        {config.error && <ErrorBox error={config.error} />}
        {config.data?.password_login && (
          <form onSubmit={submit}>
            <label>
              Email
              <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
            </label>
            <label>
              Password
              <input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
            </label>
            <ErrorBox error={error} title="Not signed in" />
            <button type="submit" className="primary" disabled={busy}>
              {busy ? "Signing in…" : "Sign in"}
            </button>
          </form>
        )}
        {config.data?.sso_login_url && (
          <a className="button" href={`${config.data.sso_login_url}${config.data.sso_login_url.includes("?") ? "&" : "?"}next=${encodeURIComponent(next)}`}>
            Sign in with single sign-on
          </a>
        )}
        <p className="muted small">
          <a href="/status">Stack status</a>
        </p>
      </div>
    </main>
  );
}
