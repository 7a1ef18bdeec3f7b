"""``vpnsmm users``: create, list, show, ban, unban and change roles."""

from __future__ import annotations

import sys
from typing import Any

import typer

from vpnsmm.application.identity import RegisterUserCommand
from vpnsmm.application.ports.persistence import UserFilter
from vpnsmm.container import Container
from vpnsmm.domain.identity import Role, User, UserStatus
from vpnsmm.entrypoints.cli.runtime import JsonOption, emit_json, emit_table, fail, out, run

app = typer.Typer(help="Manage users: create accounts, ban or unban them, change roles.", no_args_is_help=True)


def user_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "email": user.email, "telegram_id": user.telegram_id,
            "first_name": user.first_name, "last_name": user.last_name, "role": user.role.value,
            "status": user.status.value, "joined_at": user.joined_at.isoformat()}


def _show(user: User, as_json: bool) -> None:
    if as_json:
        emit_json(user_dict(user))
    else:
        emit_table(f"user {user.username}", ["field", "value"], list(user_dict(user).items()))


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            fail("--password-stdin given but nothing was read from standard input", 2)
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to prompt for a password: pass --password-stdin and pipe it in", 2)
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@app.command("create")
def create(
    username: str = typer.Argument(..., help="Login name: letters, digits and _ . @ + -, at most 64 characters."),
    email: str | None = typer.Option(None, help="Email address (unique)."),
    role: str = typer.Option("user", help="user, reseller, operator or admin."),
    telegram_id: int | None = typer.Option(None, help="Numeric Telegram user id (unique)."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from the first line of standard input."),
    as_json: bool = JsonOption,
) -> None:
    """Create a user. Without --password-stdin you are prompted for the password twice.

    Example: echo 's3cret-pass' | vpnsmm users create alice --role admin --password-stdin
    """
    parsed_role = _role(role)
    password = _read_password(password_stdin)

    async def action(c: Container) -> User:
        return await c.register_user()(RegisterUserCommand(username=username, password=password, email=email,
                                                           role=parsed_role, telegram_id=telegram_id))

    user = run(action)
    if as_json:
        emit_json(user_dict(user))
    else:
        out.print(f"created user [bold]{user.username}[/bold] (id {user.id}, role {user.role.value})")


def _role(raw: str) -> Role:
    try:
        return Role.parse(raw)
    except Exception as exc:  # ValidationError: a clear one-liner
        fail(str(exc), 2)


@app.command("list")
def list_users(
    role: str | None = typer.Option(None, help="Only users with this role."),
    banned: bool | None = typer.Option(None, "--banned/--active", help="Only banned, or only active, users."),
    search: str | None = typer.Option(None, help="Substring of username or email."),
    limit: int = typer.Option(50, min=1, max=500, help="Page size."),
    offset: int = typer.Option(0, min=0, help="Skip this many users."),
    as_json: bool = JsonOption,
) -> None:
    """List users, oldest first."""
    flt = UserFilter(role=_role(role) if role else None,
                     status=None if banned is None else (UserStatus.BANNED if banned else UserStatus.ACTIVE),
                     search=search)

    async def action(c: Container) -> tuple[Any, int]:
        return await c.list_users()(flt, limit=limit, offset=offset)

    users, total = run(action)
    if as_json:
        emit_json({"total": total, "items": [user_dict(u) for u in users]})
        return
    emit_table(f"users ({len(users)} of {total})", ["id", "username", "email", "role", "status", "joined"],
               [[u.id, u.username, u.email, u.role.value, u.status.value, u.joined_at.strftime("%Y-%m-%d")]
                for u in users])


@app.command("show")
def show(user: str = typer.Argument(..., help="Username or numeric id."), as_json: bool = JsonOption) -> None:
    """Show one user."""
    async def action(c: Container) -> User:
        return await c.find_user()(user)

    _show(run(action), as_json)


@app.command("ban")
def ban(user: str = typer.Argument(..., help="Username or numeric id."),
        reason: str = typer.Option("", help="Why (kept with the user)."), as_json: bool = JsonOption) -> None:
    """Ban a user: every session and token of theirs stops working at once."""
    async def action(c: Container) -> User:
        found = await c.find_user()(user)
        return await c.set_user_status()(found.id, banned=True, reason=reason)

    _show(run(action), as_json)


@app.command("unban")
def unban(user: str = typer.Argument(..., help="Username or numeric id."), as_json: bool = JsonOption) -> None:
    """Lift a ban."""
    async def action(c: Container) -> User:
        found = await c.find_user()(user)
        return await c.set_user_status()(found.id, banned=False)

    _show(run(action), as_json)


@app.command("set-role")
def set_role(user: str = typer.Argument(..., help="Username or numeric id."),
             role: str = typer.Argument(..., help="user, reseller, operator or admin."),
             as_json: bool = JsonOption) -> None:
    """Change a user's role; their sessions end so new tokens carry the new role."""
    parsed = _role(role)

    async def action(c: Container) -> User:
        found = await c.find_user()(user)
        return await c.set_user_role()(found.id, parsed)

    _show(run(action), as_json)
