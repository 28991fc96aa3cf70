export const metadata = { title: "next-auth + flask_authguard" };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", margin: "2rem auto", maxWidth: "48rem" }}>
        {children}
      </body>
    </html>
  );
}
