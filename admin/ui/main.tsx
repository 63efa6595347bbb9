/**
 * Entry of the admin page's client bundle (built by `deno task build:ui`
 * into admin/ui/bundle.gen.ts): asks for the session, then shows the login
 * form or the page for the current path. Ships to the browser, so it imports
 * nothing from kv/ or relay/.
 */

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, setCsrfToken, setUnauthorizedHandler } from "./api.ts";
import { Layout } from "./components/layout.tsx";
import { AccountEditPage } from "./pages/account_edit.tsx";
import { AccountsPage } from "./pages/accounts.tsx";
import { ActivityPage } from "./pages/activity.tsx";
import { DashboardPage } from "./pages/dashboard.tsx";
import { DomainsPage } from "./pages/domains.tsx";
import { LoginPage } from "./pages/login.tsx";
import { QueueDetailPage } from "./pages/queue_detail.tsx";
import { QueuePage } from "./pages/queue.tsx";
import { EXTRA_PAGES } from "./pages/policy.tsx";
import { navigate, useLocation } from "./router.ts";

function Page(props: { path: string; params: URLSearchParams }) {
  const { path, params } = props;
  const account = /^\/accounts\/(.+)$/.exec(path);
  const entry = /^\/queue\/([^/]+)$/.exec(path);
  if (path === "/") return <DashboardPage />;
  if (path === "/domains") return <DomainsPage />;
  if (path === "/accounts") return <AccountsPage params={params} />;
  if (account) return <AccountEditPage login={decodeURIComponent(account[1])} />;
  if (path === "/queue") return <QueuePage params={params} />;
  if (entry) return <QueueDetailPage id={decodeURIComponent(entry[1])} />;
  if (path === "/activity") return <ActivityPage params={params} />;
  const extra = EXTRA_PAGES.find((p) => p.path === path);
  if (extra) return <extra.page params={params} />;
  return (
    <section>
      <h1>Not found</h1>
      <p class="muted">There is no page at {path}.</p>
    </section>
  );
}

function App() {
  const [state, setState] = useState<"checking" | "login" | "in">("checking");
  const { path, params } = useLocation();
  useEffect(() => {
    setUnauthorizedHandler(() => setState("login"));
    api<{ authenticated: boolean; csrf?: string }>("GET", "/api/session").then(
      (s) => {
        if (s.authenticated && s.csrf) setCsrfToken(s.csrf);
        setState(s.authenticated ? "in" : "login");
      },
      () => setState("login"),
    );
  }, []);

  if (state === "checking") return <p class="muted boot">Loading…</p>;
  if (state === "login") {
    return (
      <LoginPage
        onLogin={(csrf) => {
          setCsrfToken(csrf);
          setState("in");
          if (path === "/login") navigate("/", { replace: true });
        }}
      />
    );
  }
  async function logout() {
    await api("POST", "/api/logout").catch(() => {});
    setCsrfToken("");
    setState("login");
  }
  return (
    <Layout path={path} onLogout={logout}>
      <Page key={path} path={path} params={params} />
    </Layout>
  );
}

const root = document.getElementById("app");
if (root !== null) {
  root.textContent = "";
  render(<App />, root);
}
