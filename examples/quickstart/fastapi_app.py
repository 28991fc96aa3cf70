from fastapi import FastAPI
from werkzeug.security import check_password_hash, generate_password_hash

from flask_authguard import CredentialsProvider
from flask_authguard.asgi import AuthMiddleware
from flask_authguard.asgi.fastapi import Token

USERS = {"alice": generate_password_hash("alice-admin-pw"), "bob": generate_password_hash("bob-user-pw")}


def authorize(*, credentials, **kwargs):
    name = credentials.get("username", "")
    if name in USERS and check_password_hash(USERS[name], credentials.get("password", "")):
        return {"id": name, "name": name.capitalize()}
    return None  # refused: the sign-in page says so


FIELDS = {"username": {"label": "Username"}, "password": {"label": "Password", "type": "password"}}
options = {
    "secret": "change me",  # in production: the NEXTAUTH_SECRET environment variable
    "providers": [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
}
app = FastAPI()
app.add_middleware(AuthMiddleware, options=options, matcher=["/dashboard/:path*"])


@app.get("/dashboard")
async def dashboard(token: Token):
    return {"hello": token["name"]}
