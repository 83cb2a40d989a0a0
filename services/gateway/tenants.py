"""`python -m services.gateway.tenants create --tenant acme --admin admin --password '...'`: the first tenant
and its admin, written into the gateway's database (the gateway owns sign-ins). Then everything else is set up
through the admin API as that admin."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from services.gateway.adapters.store import ensure_indexes
from services.gateway.api_admin import create_user
from services.gateway.api_widget import TENANTS
from services.gateway.auth.passwords import (
    PasswordParams,
    PasswordTooShort,
    hash_password_async,
)
from services.gateway.settings import GatewaySettings


async def create_tenant(settings: GatewaySettings, tenant_id: str, admin: str, password: str) -> bool:
    """Creates the tenant and its admin; False if the tenant exists already (nothing changed)."""
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        db = client[settings.database_name]
        await ensure_indexes(db, replay_window_s=settings.replay_window_s)
        password_hash = await hash_password_async(password, params=PasswordParams(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib))
        try:
            await db[TENANTS].insert_one({"_id": tenant_id, "visitors": 0, "created_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        await create_user(db, tenant_id, admin, password_hash, "admin")
        return True
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a tenant and its first admin")
    create.add_argument("--tenant", required=True)
    create.add_argument("--admin", required=True, help="the admin's sign-in name")
    create.add_argument("--password", required=True, help="at least 10 characters")
    args = parser.parse_args(argv)
    try:
        created = asyncio.run(create_tenant(GatewaySettings(), args.tenant, args.admin, args.password))
    except PasswordTooShort as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"tenant {args.tenant} created with admin {args.admin}" if created
          else f"tenant {args.tenant} exists already: nothing changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
