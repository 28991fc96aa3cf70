// The Next.js side of the example. Requests to /api/py/* are proxied to the Flask API.
//
// Rewrites are compiled into .next/routes-manifest.json by `next build`: FLASK_API_URL must be
// set when building, not only when starting (run.py rebuilds when it changes).
const api = (process.env.FLASK_API_URL ?? "http://127.0.0.1:5009").replace(/\/+$/, "");

/** @type {import("next").NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  eslint: { ignoreDuringBuilds: true },
  async rewrites() {
    // The path is kept: Flask serves /api/py/* too, so the API answers the same paths directly.
    return [{ source: "/api/py/:path*", destination: `${api}/api/py/:path*` }];
  },
};

export default nextConfig;
