"""One look for every page Loudong serves (units' pages now, street offices' later): the
layout `pages/base.html`, the macros `pages/macros.html` (buttons, forms, deadlines, the
timeline) and `style.css`, made for a phone 360 px wide and usable without JavaScript.

`install_pages(app, ...)` registers them with a service's Flask app: the Jinja loader, the
static route, the language of each request (Chinese unless `?lang=en` or the browser prefers
English), the words of the page in both languages (`t(key)` in templates), Flask-WTF's
CSRFProtect on every form post, and the headers that keep pages to themselves."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from flask import Blueprint, Flask, current_app, g, request, send_from_directory, session
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

PAGES = Path(__file__).resolve().parent
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
TEXTS = {
    "zh": {
        "site": "楼栋",
        "other_language": "English",
        "expired_form": "表单已过期，请返回重新打开页面再提交。",
        "too_large": "上传的内容过大。",
        "not_found": "页面不存在。",
        "error": "出错了",
        "countdown_left": "还剩{}",
        "countdown_over": "已超时{}",
        "countdown_units": "天|小时|分钟",
    },
    "en": {
        "site": "Loudong",
        "other_language": "中文",
        "expired_form": "This form has expired: go back, reload the page and send it again.",
        "too_large": "What you sent is too large.",
        "not_found": "There is no such page.",
        "error": "Something went wrong",
        "countdown_left": "{} left",
        "countdown_over": "{} overdue",
        "countdown_units": "d |h |min",
    },
}


def session_key(secret: str | None, purpose: str) -> str | None:
    """The key that signs one service's page sessions and CSRF tokens, derived from the shared
    LOUDONG_LINK_SECRET and its purpose (so one service's cookie opens nothing in another);
    None without a secret: then there are no pages."""
    if not secret:
        return None
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def install_pages(
    app: Flask,
    *,
    secret_key: str | None,
    texts: dict[str, dict[str, str]] | None = None,
    csrf_exempt: tuple[Blueprint, ...] = (),
) -> None:
    """Pages on `app`: `secret_key` signs their session cookie and CSRF tokens (without one,
    pages can show but not take a form); `texts` are the service's words per language;
    the blueprints in `csrf_exempt` (bearer-token APIs) are left out of CSRF checks."""
    words = {lang: {**TEXTS[lang], **(texts or {}).get(lang, {})} for lang in LANGUAGES}
    app.extensions["loudong_pages"] = {"texts": words}
    app.jinja_loader = ChoiceLoader(
        [PrefixLoader({"pages": FileSystemLoader(PAGES)}), app.jinja_loader]
    )
    app.add_url_rule(
        "/static/pages/<path:filename>",
        endpoint="pages_static",
        view_func=lambda filename: send_from_directory(PAGES / "static", filename, max_age=3600),
    )
    app.before_request(_raise_body_limit)  # before CSRFProtect reads the form
    if secret_key:
        app.config.update(
            SECRET_KEY=secret_key,
            WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the page's session
            SESSION_COOKIE_SAMESITE="Lax",
            SESSION_COOKIE_HTTPONLY=True,
        )
        csrf = CSRFProtect(app)
        for blueprint in csrf_exempt:
            csrf.exempt(blueprint)
    app.context_processor(_page_globals)
    app.after_request(_page_headers)


def language() -> str:
    """`?lang=` (remembered in the session), else the session's, else the browser's
    preference between Chinese and English; Chinese when it says nothing."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        if _has_session():
            session["lang"] = asked
        return asked
    if _has_session() and session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


def text(key: str, **values) -> str:
    """A page's word in the request's language, with `{name}` fields filled."""
    words = current_app.extensions["loudong_pages"]["texts"]
    lang = language()
    phrase = words[lang].get(key) or words[DEFAULT_LANGUAGE].get(key) or key
    return phrase.format(**values) if values else phrase


def moment(at: datetime) -> str:
    """A wall-clock time as the page's language writes it (`at` already in local time)."""
    if language() == "zh":
        return f"{at.month}月{at.day}日 {at:%H:%M}"
    return f"{at.day} {at:%b %H:%M}"


def deadline(due: datetime, now: datetime) -> dict:
    """What the `deadline` macro shows: the moment (`due` in local time) and the time left
    or past it, which the page's countdown refreshes."""
    left = due - now
    minutes = int(abs(left).total_seconds() // 60)
    units = text("countdown_units").split("|")
    days, hours = divmod(minutes, 1440)[0], minutes % 1440 // 60
    span = (f"{days}{units[0]}" if days else "") + (f"{hours}{units[1]}" if days or hours else "")
    words = text("countdown_left" if left >= timedelta(0) else "countdown_over")
    return {
        "iso": due.isoformat(),
        "local": moment(due),
        "remaining": words.replace("{}", f"{span}{minutes % 60}{units[2]}"),
        "overdue": left < timedelta(0),
    }


def accepts_uploads(max_bytes: int) -> Callable:
    """A view that takes files: its requests may carry `max_bytes`, the app's limit stays for
    the others (set on the request before anything reads the body)."""

    def mark(view):
        view.max_body = max_bytes
        return view

    return mark


def _raise_body_limit() -> None:
    view = request.endpoint and _view(request.endpoint)
    limit = getattr(view, "max_body", None)
    if limit is not None and request.method == "POST":
        request.max_content_length = limit


def _view(endpoint: str):
    return current_app.view_functions.get(endpoint)


def _has_session() -> bool:
    return bool(current_app.secret_key)


def _nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _page_globals() -> dict:
    return {"t": text, "lang": language(), "csp_nonce": _nonce}


def _page_headers(response):
    """Pages load only their own style and images, run only their own inline script, are
    never framed, and tell no other site where the unit was."""
    if response.mimetype == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            f"connect-src 'self'; "  # the desk's board fetches its own rows again
            f"frame-ancestors 'none'; base-uri 'none'; script-src 'nonce-{_nonce()}'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        response.vary.add("Accept-Language")
    return response
