"""What each role may do: one table of permissions, checked in one place.

Every ``/v1`` route names the one :data:`Action` it performs
(:data:`scoring.service.api.ROUTE_ACTIONS`); the API's caller dependency checks the
caller's role against :data:`PERMISSIONS` before the route runs, so a route never
decides who may call it, and a route without an action is refused to everyone. A
refusal names the role and the action (403).

* an **agency admin** may do everything in its agency, and manage its API keys and its
  users;
* an **agent** works with facilities: adds and renames them, answers, submits and
  scores their assessments, invites them and takes their share codes;
* an **underwriter** reads everything of the agency, scores, and uploads books and
  reads their results; it never edits answers;
* a **facility user** reads its own facility and answers, submits and scores its own
  assessments (an invitation is a facility user that may not score);
* everyone may see who they act as, and end their own sign-in token.
"""

from __future__ import annotations

from typing import Literal, get_args

from scoring.service.tables import ROLES, Role

Action = Literal[
    "read_facilities",
    "edit_facilities",
    "read_assessments",
    "answer",
    "submit",
    "score",
    "read_scores",
    "invite",
    "take_shares",
    "upload_books",
    "read_books",
    "manage_api_keys",
    "manage_users",
    "sign_out",
    "read_self",
]
ACTIONS: tuple[Action, ...] = get_args(Action)
API_KEY_ROLES: tuple[Role, ...] = ("agency_admin", "agent", "underwriter", "facility_user")
"""The roles an API key may carry (an agency's keys, or a facility's own)."""

_READ: tuple[Action, ...] = ("read_facilities", "read_assessments", "read_scores")
_OWN: tuple[Action, ...] = ("sign_out", "read_self")
"""What every caller may do about itself."""
_GRANTS: dict[Role, frozenset[Action]] = {
    "agency_admin": frozenset(ACTIONS),
    "agent": frozenset(
        (*_READ, "edit_facilities", "answer", "submit", "score", "invite", "take_shares", *_OWN)
    ),
    "underwriter": frozenset((*_READ, "score", "upload_books", "read_books", *_OWN)),
    "facility_user": frozenset((*_READ, "answer", "submit", "score", *_OWN)),
}
PERMISSIONS: dict[Action, frozenset[Role]] = {
    action: frozenset(role for role in ROLES if action in _GRANTS[role]) for action in ACTIONS
}
"""For each action, the roles that may perform it."""
_ALLOWED: dict[str, frozenset[str]] = {str(a): frozenset(r) for a, r in PERMISSIONS.items()}


ROUTE_ACTIONS: dict[str, Action] = {
    "upload_book": "upload_books",
    "get_book": "read_books",
    "book_file": "read_books",
    "list_api_keys": "manage_api_keys",
    "create_api_key": "manage_api_keys",
    "revoke_api_key": "manage_api_keys",
    "list_users": "manage_users",
    "add_user": "manage_users",
    "get_user": "manage_users",
    "change_user": "manage_users",
    "disable_user": "manage_users",
    "user_password_link": "manage_users",
    "sign_out": "sign_out",
    "who_am_i": "read_self",
    "list_facilities": "read_facilities",
    "create_facility": "edit_facilities",
    "get_facility": "read_facilities",
    "update_facility": "edit_facilities",
    "list_assessments": "read_assessments",
    "create_assessment": "answer",
    "get_assessment": "read_assessments",
    "update_assessment": "answer",
    "submit_assessment": "submit",
    "score_assessment": "score",
    "get_score": "read_scores",
    "score_report": "read_scores",
    "invite_facility": "invite",
    "take_share": "take_shares",
    "facility_changes": "read_scores",
    "list_scores": "read_scores",
}
"""The action each ``/v1`` route performs, by the route's name: what the caller's role
must permit. A route missing here is refused to every role."""
PUBLIC_ROUTES = frozenset({"sign_in"})
"""The ``/v1`` routes that need no caller (a person signing in for a token)."""


class RoleError(PermissionError):
    """A caller whose role may not perform an action.

    Attributes
    ----------
    role, action
        Who asked, and for what.
    allowed
        The roles that may.
    """

    def __init__(self, role: str, action: str) -> None:
        self.role, self.action = role, action
        self.allowed = sorted(_ALLOWED.get(action, frozenset()))
        may = ", ".join(self.allowed) or "no role"
        super().__init__(f"the role {role!r} may not {action.replace('_', ' ')} (allowed: {may})")


def may(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action`` (False for an unknown role or action)."""
    return role in _ALLOWED.get(action, frozenset())


def require(role: str, action: str | None) -> None:
    """Refuse an action the role may not perform (or no action at all).

    Raises
    ------
    RoleError
        ``role`` may not perform ``action``; an action that is None (a route that
        names none) is refused to every role.

    Examples
    --------
    >>> require("agent", "score")
    >>> try:
    ...     require("underwriter", "answer")
    ... except RoleError as refused:
    ...     print(refused.allowed)
    ['agency_admin', 'agent', 'facility_user']
    """
    if action is None or not may(role, action):
        raise RoleError(role, action or "call a route that names no action")
