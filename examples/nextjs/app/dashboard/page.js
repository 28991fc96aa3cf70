// Protected twice: by withAuth (middleware.js, JWT sessions) before the page runs, and here, by
// next-auth's getServerSession, which is also what protects it under database sessions.
import { getServerSession } from "next-auth";
import { redirect } from "next/navigation";
import { authOptions } from "../../lib/auth";
import ApiPanel from "../api-panel";

export const dynamic = "force-dynamic";

export default async function Dashboard() {
  const session = await getServerSession(authOptions);
  if (!session) redirect("/api/auth/signin?callbackUrl=%2Fdashboard");
  const { user } = session;
  return (
    <main>
      <h1 id="welcome">
        Welcome, {user.name ?? user.email}! Your role is {user.role}.
      </h1>
      <p>next-auth&apos;s session, read by the page:</p>
      <pre id="session">{JSON.stringify(session)}</pre>
      <p>
        <a href="/">Home</a> · <a id="signout-link" href="/api/auth/signout">Sign out</a>
      </p>
      <ApiPanel />
    </main>
  );
}
