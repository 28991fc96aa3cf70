from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Request, Response

from flask_authguard import CredentialsProvider, with_auth

USERS = {"alice": generate_password_hash("alice-admin-pw"), "bob": generate_password_hash("bob-user-pw")}


def authorize(*, credentials, **kwargs):
    name = credentials.get("username", "")
    if name in USERS and check_password_hash(USERS[name], credentials.get("password", "")):
        return {"id": name, "name": name.capitalize()}
    return None  # refused: the sign-in page says so


@Request.application
def site(request):
    token = request.environ["authguard.token"]  # the decoded session (protected paths only)
    return Response(f"Hello {token['name']}")


FIELDS = {"username": {"label": "Username"}, "password": {"label": "Password", "type": "password"}}
options = {
    "secret": "change me",  # in production: the NEXTAUTH_SECRET environment variable
    "providers": [CredentialsProvider(authorize=authorize, credentials=FIELDS)],
}
application = with_auth(site, options, matcher=["/dashboard/:path*"])
