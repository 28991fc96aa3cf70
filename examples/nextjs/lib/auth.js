// next-auth's options for both configurations of the example, chosen at run time by
// AUTH_SESSION_STRATEGY ("jwt", the default, or "database"). The Flask API (api.py) mirrors
// every setting that must agree: the secret, NEXTAUTH_URL, the role and the session shape.
import PostgresAdapter from "@auth/pg-adapter";
import CredentialsProvider from "next-auth/providers/credentials";
import pg from "pg";

export const DATABASE = process.env.AUTH_SESSION_STRATEGY === "database";

// Demo users of the JWT configuration (a real app checks a password hash in its user store).
// carol carries a large claim: her token no longer fits one cookie, so next-auth splits it into
// next-auth.session-token.0, .1, ... and Flask joins the chunks.
const USERS = {
  alice: { id: "1", password: "alice-admin-pw", name: "Alice", email: "alice@example.com", role: "admin" },
  bob: { id: "2", password: "bob-user-pw", name: "Bob", email: "bob@example.com", role: "user" },
  carol: {
    id: "3",
    password: "carol-user-pw",
    name: "Carol",
    email: "carol@example.com",
    role: "user",
    groups: Array.from({ length: 160 }, (_, i) => `team-${String(i).padStart(3, "0")}-of-the-big-org`),
  },
};

// Who is an admin under database sessions, where the cookie carries no claims: the same list
// the Flask API reads (ADMIN_EMAILS, comma-separated).
export function roleOf(email) {
  const admins = (process.env.ADMIN_EMAILS ?? "alice@example.com").split(",").map((e) => e.trim());
  return admins.includes(email) ? "admin" : "user";
}

const credentials = CredentialsProvider({
  name: "Demo users",
  credentials: {
    username: { label: "Username", type: "text" },
    password: { label: "Password", type: "password" },
  },
  async authorize(input) {
    const user = USERS[String(input?.username ?? "").trim().toLowerCase()];
    if (!user || user.password !== input?.password) return null;
    const { password, ...profile } = user;
    return profile;
  },
});

// Sign-in by email link for database sessions (next-auth v4 refuses credentials with the
// database strategy). The link is printed to the server's log instead of being mailed, which
// is also why this provider is written out instead of next-auth/providers/email (nodemailer).
const email = {
  id: "email",
  type: "email",
  name: "Email",
  server: "",
  from: "noreply@example.com",
  maxAge: 24 * 60 * 60,
  options: {},
  async sendVerificationRequest({ identifier, url }) {
    console.log(`[email] sign-in link for ${identifier}: ${url}`);
  },
};

function pool() {
  const schema = process.env.DATABASE_SCHEMA ?? "public";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) throw new Error(`DATABASE_SCHEMA ${schema} is not a plain name`);
  // The tables are the ones flask_authguard's SQLAlchemyAdapter creates: @auth/pg-adapter's schema.
  return new pg.Pool({ connectionString: process.env.DATABASE_URL, options: `-c search_path=${schema}`, max: 4 });
}

const jwtOptions = {
  session: { strategy: "jwt" },
  providers: [credentials],
  callbacks: {
    // The role (and carol's groups) go into the JWT at sign-in: Flask reads them in g.auth_token.
    async jwt({ token, user }) {
      if (user) {
        token.role = user.role;
        if (user.groups) token.groups = user.groups;
      }
      return token;
    },
    async session({ session, token }) {
      session.user.id = token.sub;
      session.user.role = token.role;
      return session;
    },
  },
};

const databaseOptions = {
  adapter: DATABASE ? PostgresAdapter(pool()) : undefined,
  session: { strategy: "database" },
  providers: [email],
  callbacks: {
    async session({ session, user }) {
      session.user.id = String(user.id); // @auth/pg-adapter reads the serial id as a number; Flask says "1"
      session.user.role = roleOf(user.email);
      return session;
    },
  },
};

export const authOptions = {
  secret: process.env.NEXTAUTH_SECRET,
  ...(DATABASE ? databaseOptions : jwtOptions),
};
