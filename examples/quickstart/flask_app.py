from flask import Flask
from werkzeug.security import check_password_hash, generate_password_hash

from flask_authguard import AuthGuard, CredentialsProvider, get_server_session

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
app = Flask(__name__)
AuthGuard(app, options, matcher=["/dashboard/:path*"])


@app.get("/dashboard")
def dashboard():
    return f"Hello {get_server_session()['user']['name']}"
