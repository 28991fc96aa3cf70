// next-auth's withAuth protects /dashboard before any page runs (JWT sessions only: the
// middleware decodes the cookie; it cannot look up a database session).
import { withAuth } from "next-auth/middleware";
import { NextResponse } from "next/server";

const guarded = withAuth({
  callbacks: {
    // The role travels in the JWT (see the jwt callback in lib/auth.js).
    authorized: ({ req, token }) =>
      req.nextUrl.pathname.startsWith("/admin") ? token?.role === "admin" : token !== null,
  },
});

export default function middleware(request, event) {
  // Database sessions: the cookie is an opaque id, so the page itself checks the session
  // (getServerSession in app/dashboard/page.js). Read at run time, so one build serves both.
  if (process.env.AUTH_SESSION_STRATEGY === "database") return NextResponse.next();
  return guarded(request, event);
}

export const config = { matcher: ["/dashboard/:path*"] };
