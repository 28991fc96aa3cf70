// next-auth's own routes: /api/auth/signin (its sign-in page), /callback, /session, /signout ...
import NextAuth from "next-auth";
import { authOptions } from "../../../../lib/auth";

const handler = NextAuth(authOptions);

export { handler as GET, handler as POST };
