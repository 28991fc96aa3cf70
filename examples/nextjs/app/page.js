import ApiPanel from "./api-panel";

export default function Home() {
  return (
    <main>
      <h1>next-auth in front, Flask behind</h1>
      <p id="links">
        <a href="/dashboard">Dashboard</a> (protected) · <a id="signin-link" href="/api/auth/signin">Sign in</a> ·{" "}
        <a id="signout-link" href="/api/auth/signout">Sign out</a>
      </p>
      <ApiPanel />
    </main>
  );
}
