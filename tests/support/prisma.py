"""@auth/prisma-adapter with a real Prisma 7 client under Node.js (``tests/node_prisma``), and the
Prisma schemas of Auth.js's docs, for ``tests/interop/test_interop_prisma.py``.

The packages pinned in ``tests/node_prisma/package.json`` are installed once per machine into the
cache of ``tests/support/nodejs.py`` (``prisma-<hash>``); each schema's client is made by
``prisma generate`` once, into ``clients/<hash of the schema>`` there. Prisma 7's client needs no
engine binary (its query compiler is WebAssembly, the database is reached through
``@prisma/adapter-pg`` / ``@prisma/adapter-mariadb``), so everything comes from the npm registry.
``prisma generate`` does not run the schema engine, which the CLI otherwise downloads from
binaries.prisma.sh at start-up (not a package registry): ``PRISMA_SCHEMA_ENGINE_BINARY`` names a
file so it downloads nothing. ``prisma db push`` on PostgreSQL runs Prisma's schema engine from
``@prisma/schema-engine-wasm`` (npm); that build has no MySQL connector, so on MySQL/MariaDB the
tables are made from the DDL ``prisma migrate`` writes for these models (:func:`mysql_ddl`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess
import typing as t

from support import jsadapters
from support.nodejs import INSTALL_TIMEOUT, InstallLock, NodeUnavailable, node_env, tool


@dataclasses.dataclass(frozen=True)
class Schema:
    """One of the Prisma schemas in circulation for Auth.js."""

    #: next-auth v4's docs (``Account``/``Session`` with an ``id``, ``@@unique`` keys) or Auth.js
    #: v5's (composite ids, ``Authenticator``).
    version: int
    #: ``createdAt DateTime @default(now())`` / ``updatedAt DateTime @updatedAt`` on ``User``,
    #: ``Account`` and ``Session`` (the current docs have them).
    stamps: bool
    #: ``@@map`` names by role (``users``, ``accounts``, ...), the rest keep the model's name.
    maps: t.Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"v{self.version}{'-stamps' if self.stamps else ''}{'-mapped' if self.maps else ''}"

    def table_names(self) -> dict[str, str]:
        """``SQLAlchemyAdapter``'s ``table_names`` for this schema."""
        return dict(self.maps)

    def prisma(self, provider: str, output: str) -> str:
        """The ``schema.prisma`` text (the models of the docs)."""
        long_text = " @db.Text" if provider == "mysql" or self.version == 4 else ""
        stamps = (
            "\n  createdAt DateTime @default(now())\n  updatedAt DateTime @updatedAt\n" if self.stamps else ""
        )
        own_id = "  id                String  @id @default(cuid())\n" if self.version == 4 else ""
        email = "String?  @unique" if self.version == 4 else "String   @unique"

        def mapped(role: str) -> str:
            return f'\n  @@map("{self.maps[role]}")' if role in self.maps else ""

        passkeys = "  Authenticator Authenticator[]\n" if self.version == 5 else ""
        text = f"""generator client {{
  provider = "prisma-client-js"
  output   = "{output}"
}}

datasource db {{
  provider = "{provider}"
}}

model User {{
  id            String    @id @default(cuid())
  name          String?
  email         {email}
  emailVerified DateTime?
  image         String?
  accounts      Account[]
  sessions      Session[]
{passkeys}{stamps}{mapped("users")}
}}

model Account {{
{own_id}  userId            String
  type              String
  provider          String
  providerAccountId String
  refresh_token     String?{long_text}
  access_token      String?{long_text}
  expires_at        Int?
  token_type        String?
  scope             String?
  id_token          String?{long_text}
  session_state     String?
{stamps}
  user User @relation(fields: [userId], references: [id], onDelete: Cascade)

  {"@@unique" if self.version == 4 else "@@id"}([provider, providerAccountId]){mapped("accounts")}
}}

model Session {{
{own_id}  sessionToken String   @unique
  userId       String
  expires      DateTime
  user         User     @relation(fields: [userId], references: [id], onDelete: Cascade)
{stamps}{mapped("sessions")}
}}

model VerificationToken {{
  identifier String
  token      String{"   @unique" if self.version == 4 else ""}
  expires    DateTime

  {"@@unique" if self.version == 4 else "@@id"}([identifier, token]){mapped("verification_token")}
}}
"""
        if self.version == 5:
            text += f"""
model Authenticator {{
  credentialID         String  @unique
  userId               String
  providerAccountId    String
  credentialPublicKey  String
  counter              Int
  credentialDeviceType String
  credentialBackedUp   Boolean
  transports           String?

  user User @relation(fields: [userId], references: [id], onDelete: Cascade)

  @@id([userId, credentialID]){mapped("authenticators")}
}}
"""
        return text

    def mysql_ddl(self) -> list[str]:
        """The statements of the migration ``prisma migrate dev`` writes for these models on MySQL
        (its ``migration.sql``: ``VARCHAR(191)`` for ``String``, ``DATETIME(3)``, unique indexes
        inside ``CREATE TABLE``, foreign keys added last)."""
        name = {
            role: self.maps.get(role, model)
            for role, model in (
                ("users", "User"),
                ("accounts", "Account"),
                ("sessions", "Session"),
                ("verification_token", "VerificationToken"),
                ("authenticators", "Authenticator"),
            )
        }
        stamps = (
            [
                "`createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)",
                "`updatedAt` DATETIME(3) NOT NULL",
            ]
            if self.stamps
            else []
        )
        own_id = ["`id` VARCHAR(191) NOT NULL"] if self.version == 4 else []
        email_null = "NULL" if self.version == 4 else "NOT NULL"

        def table(table_name: str, columns: list[str], keys: list[str]) -> str:
            body = ",\n    ".join(columns) + ",\n\n    " + ",\n    ".join(keys)
            return (
                f"CREATE TABLE `{table_name}` (\n    {body}\n) "
                "DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )

        user, account, session = name["users"], name["accounts"], name["sessions"]
        token, passkey = name["verification_token"], name["authenticators"]
        statements = [
            table(
                user,
                [
                    "`id` VARCHAR(191) NOT NULL",
                    "`name` VARCHAR(191) NULL",
                    f"`email` VARCHAR(191) {email_null}",
                    "`emailVerified` DATETIME(3) NULL",
                    "`image` VARCHAR(191) NULL",
                    *stamps,
                ],
                [f"UNIQUE INDEX `{user}_email_key`(`email`)", "PRIMARY KEY (`id`)"],
            ),
            table(
                account,
                [
                    *own_id,
                    "`userId` VARCHAR(191) NOT NULL",
                    "`type` VARCHAR(191) NOT NULL",
                    "`provider` VARCHAR(191) NOT NULL",
                    "`providerAccountId` VARCHAR(191) NOT NULL",
                    "`refresh_token` TEXT NULL",
                    "`access_token` TEXT NULL",
                    "`expires_at` INTEGER NULL",
                    "`token_type` VARCHAR(191) NULL",
                    "`scope` VARCHAR(191) NULL",
                    "`id_token` TEXT NULL",
                    "`session_state` VARCHAR(191) NULL",
                    *stamps,
                ],
                [
                    f"UNIQUE INDEX `{account}_provider_providerAccountId_key`"
                    "(`provider`, `providerAccountId`)",
                    "PRIMARY KEY (`id`)",
                ]
                if self.version == 4
                else ["PRIMARY KEY (`provider`, `providerAccountId`)"],
            ),
            table(
                session,
                [
                    *own_id,
                    "`sessionToken` VARCHAR(191) NOT NULL",
                    "`userId` VARCHAR(191) NOT NULL",
                    "`expires` DATETIME(3) NOT NULL",
                    *stamps,
                ],
                [f"UNIQUE INDEX `{session}_sessionToken_key`(`sessionToken`)"]
                + (["PRIMARY KEY (`id`)"] if self.version == 4 else []),
            ),
            table(
                token,
                [
                    "`identifier` VARCHAR(191) NOT NULL",
                    "`token` VARCHAR(191) NOT NULL",
                    "`expires` DATETIME(3) NOT NULL",
                ],
                [
                    f"UNIQUE INDEX `{token}_token_key`(`token`)",
                    f"UNIQUE INDEX `{token}_identifier_token_key`(`identifier`, `token`)",
                ]
                if self.version == 4
                else ["PRIMARY KEY (`identifier`, `token`)"],
            ),
        ]
        owned = [account, session]
        if self.version == 5:
            statements.append(
                table(
                    passkey,
                    [
                        "`credentialID` VARCHAR(191) NOT NULL",
                        "`userId` VARCHAR(191) NOT NULL",
                        "`providerAccountId` VARCHAR(191) NOT NULL",
                        "`credentialPublicKey` VARCHAR(191) NOT NULL",
                        "`counter` INTEGER NOT NULL",
                        "`credentialDeviceType` VARCHAR(191) NOT NULL",
                        "`credentialBackedUp` BOOLEAN NOT NULL",
                        "`transports` VARCHAR(191) NULL",
                    ],
                    [
                        f"UNIQUE INDEX `{passkey}_credentialID_key`(`credentialID`)",
                        "PRIMARY KEY (`userId`, `credentialID`)",
                    ],
                )
            )
            owned.append(passkey)
        statements += [
            f"ALTER TABLE `{child}` ADD CONSTRAINT `{child}_userId_fkey` FOREIGN KEY (`userId`) "
            f"REFERENCES `{user}`(`id`) ON DELETE CASCADE ON UPDATE CASCADE"
            for child in owned
        ]
        return statements


def install() -> pathlib.Path:
    """``tests/node_prisma``'s packages, installed unless the cache has them; the directory to run in.

    :raises NodeUnavailable: no Node.js/npm, or the install failed.
    """
    return jsadapters.install("prisma")


def _cli_env(where: pathlib.Path) -> dict[str, str]:
    env = node_env()
    # An existing file: the CLI then downloads no schema engine (generate never runs it).
    env["PRISMA_SCHEMA_ENGINE_BINARY"] = str(where / "helper.mjs")
    env["CHECKPOINT_DISABLE"] = "1"
    env["PRISMA_HIDE_UPDATE_MESSAGE"] = "1"
    return env


def generate(where: pathlib.Path, schema: Schema, provider: str) -> pathlib.Path:
    """A client of ``schema`` for ``provider``, made by ``prisma generate`` unless the cache has
    it; its directory.

    :raises NodeUnavailable: ``prisma generate`` failed.
    """
    probe = schema.prisma(provider, "./client")
    key = hashlib.sha256(probe.encode()).hexdigest()[:16]
    clients = where / "clients"
    target = clients / key
    if (target / ".generated").exists():
        return target
    clients.mkdir(exist_ok=True)
    with InstallLock(clients / f"{key}.lock"):
        if (target / ".generated").exists():
            return target
        building = clients / f"{key}.building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        try:
            (building / "schema.prisma").write_text(schema.prisma(provider, "./client"))
            cli = where / "node_modules" / "prisma" / "build" / "index.js"
            proc = subprocess.run(
                [tool("node"), str(cli), "generate", "--schema", str(building / "schema.prisma")],
                cwd=building,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                env=_cli_env(where),
            )
            if proc.returncode != 0:
                raise NodeUnavailable(f"`prisma generate` failed:\n{proc.stdout}\n{proc.stderr}")
            (building / ".generated").write_text("ok\n")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(building, target)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return target
