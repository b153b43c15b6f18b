"""Signing in and out, API keys, and the session cookie, over real HTTP."""

from http.cookies import SimpleCookie

from recon.web.app import WebSettings, create_app
from recon.web.config import WebConfig
from recon.web.passwords import hash_secret
from tests.recon.cases.conftest import CHARGE
from tests.recon.web.conftest import API_KEY, Visitor, error_of
from tests.serving import serve


def test_a_visitor_who_has_not_signed_in_is_sent_to_sign_in_and_back(site):
    visitor = site.visitor()
    page = visitor.get("/cases?status=open")
    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=/cases%3Fstatus%3Dopen"
    assert visitor.get("/").headers["location"] == "/cases"
    token = visitor.csrf("/signin?next=/cases%3Fstatus%3Dopen")
    signed_in = visitor.post(
        "/signin",
        {
            "csrf": token,
            "name": "alice",
            "password": "alice-password",
            "next": "/cases?status=open",
        },
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/cases?status=open"
    assert "data-user>alice</strong> (operator)" in visitor.get("/cases").text


def test_the_session_cookie_is_http_only_and_same_site_lax(site):
    signed_in = site.visitor().sign_in("alice")
    [cookie] = signed_in.headers.get_list("set-cookie")
    morsel = SimpleCookie(cookie)["recon_session"]
    assert morsel["httponly"] and morsel["samesite"].lower() == "lax" and morsel["path"] == "/"
    assert "alice-password" not in cookie


def test_a_wrong_password_or_name_signs_nobody_in(site):
    visitor = site.visitor()
    for name, password in (("alice", "rita-password"), ("mallory", "alice-password")):
        refused = visitor.sign_in(name, password)
        assert refused.status_code == 401
        assert error_of(refused) == "wrong name or password"
        assert visitor.get("/cases").status_code == 303  # still not signed in


def test_signing_in_needs_the_sign_in_page_token(site):
    visitor = site.visitor()
    visitor.csrf("/signin")  # a session with a token, which this post does not carry
    forged = visitor.post("/signin", {"name": "alice", "password": "alice-password"})
    assert forged.status_code == 403
    assert visitor.get("/cases").status_code == 303


def test_after_signing_in_only_a_path_of_this_site_is_followed(site):
    visitor = site.visitor()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = visitor.csrf("/signin")
        fields = {"csrf": token, "name": "alice", "password": "alice-password", "next": target}
        assert visitor.post("/signin", fields).headers["location"] == "/cases"
        visitor.http.cookies.clear()


def test_signing_out_ends_the_session(site):
    visitor = site.visitor("alice")
    stolen = dict(visitor.http.cookies)
    out = visitor.post("/signout", {"csrf": visitor.csrf()})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    assert visitor.get("/cases").status_code == 303
    # The cookie is replaced, not revoked: the old one lasts until it expires (docs/web.md).
    assert Visitor(site.url, stolen).get("/cases").status_code == 200


def test_a_forged_cookie_is_no_session(site):
    visitor = site.visitor("rita")
    cookie = visitor.http.cookies["recon_session"]
    payload, signature = cookie.split(".")
    visitor.http.cookies.set("recon_session", payload[:-4] + "AAAA." + signature)
    assert visitor.get("/cases").status_code == 303


def test_an_api_key_reads_but_never_acts(site):
    script = Visitor(site.url)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    listed = script.get("/cases", headers=headers)
    assert listed.status_code == 200 and CHARGE.id in listed.text
    assert script.get(f"/cases/{CHARGE.id}", headers=headers).status_code == 200
    acted = script.post(f"/cases/{CHARGE.id}/acknowledge", {"csrf": "x"}, headers=headers)
    assert acted.status_code == 403
    assert site.events(CHARGE.id) == [("recon", "opened", "open", None, None, None)]


def test_a_wrong_api_key_is_401(site):
    for header in (f"Bearer {API_KEY}x", "Bearer", f"Basic {API_KEY}"):
        refused = Visitor(site.url).get("/cases", headers={"Authorization": header})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"


def test_a_changed_password_ends_the_sessions_signed_before(template, users, tmp_path):
    """Same session secret, new password hash for alice: her old cookie no longer works."""
    secret = b"s" * 32
    before = create_app(WebSettings(warehouse=template, config=users, session_secret=secret))
    changed = WebConfig(
        users=[
            user.model_copy(update={"password_hash": hash_secret("new")})
            if user.name == "alice"
            else user
            for user in users.users
        ]
    )
    after = create_app(WebSettings(warehouse=template, config=changed, session_secret=secret))
    with serve(before) as old_url, serve(after) as new_url:
        visitor = Visitor(old_url)
        visitor.sign_in("alice")
        cookies = dict(visitor.http.cookies)
        assert Visitor(old_url, cookies).get("/cases").status_code == 200
        assert Visitor(new_url, cookies).get("/cases").status_code == 303
