// @auth/drizzle-adapter on drizzle-orm behind a JSON pipe, for flask_authguard's Drizzle-layout
// interop tests (driven by tests/interop/test_interop_drizzle.py).
//
// stdin: a JSON list of requests; stdout: a JSON list of results, in the same order.
//
//   ddl   {dialect}   the statements drizzle-kit generates for the adapter's default tables
//         (`drizzle-kit generate` from an empty database), dialect "postgresql" | "mysql" | "sqlite".
//   calls {dialect, url, dbSchema?, calls: [{method, args}]}
//         DrizzleAdapter(db) with its default tables, db on node-postgres (search_path dbSchema),
//         mysql2 or better-sqlite3 (url: the file); the methods in order, answering their results.
//         An argument {"$ref": [i, "field"]} is that field of the i-th call's result.
//
// Dates cross the pipe as {"$date": "<ISO 8601>"}, both ways.
// A result is {ok: true, value} or {ok: false, error: {name, message}}.

import { createRequire } from "node:module";
import { DrizzleAdapter } from "@auth/drizzle-adapter";

const require = createRequire(import.meta.url);
// The adapter's default tables, as its dialect modules define them (not exported by name).
const tablesOf = {
  postgresql: () => import("./node_modules/@auth/drizzle-adapter/lib/pg.js"),
  mysql: () => import("./node_modules/@auth/drizzle-adapter/lib/mysql.js"),
  sqlite: () => import("./node_modules/@auth/drizzle-adapter/lib/sqlite.js"),
};

function revive(value, results = []) {
  if (Array.isArray(value)) return value.map((v) => revive(v, results));
  if (value && typeof value === "object") {
    if (typeof value.$date === "string") return new Date(value.$date);
    if (Array.isArray(value.$ref)) return results[value.$ref[0]][value.$ref[1]];
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v, results)]));
  }
  return value;
}

function plain(value) {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

async function database(p) {
  if (p.dialect === "postgresql") {
    const pg = (await import("pg")).default;
    const { drizzle } = await import("drizzle-orm/node-postgres");
    const pool = new pg.Pool({ connectionString: p.url, options: p.dbSchema ? `-c search_path=${p.dbSchema}` : undefined, max: 2 });
    return { db: drizzle(pool), close: () => pool.end() };
  }
  if (p.dialect === "mysql") {
    const mysql = (await import("mysql2/promise")).default;
    const { drizzle } = await import("drizzle-orm/mysql2");
    const pool = mysql.createPool({ uri: p.url, connectionLimit: 2 });
    return { db: drizzle(pool, { mode: "default" }), close: () => pool.end() };
  }
  if (p.dialect === "sqlite") {
    const Database = (await import("better-sqlite3")).default;
    const { drizzle } = await import("drizzle-orm/better-sqlite3");
    const file = new Database(p.url);
    file.pragma("foreign_keys = ON");
    return { db: drizzle(file), close: () => file.close() };
  }
  throw new Error(`unknown dialect ${p.dialect}`);
}

const ops = {
  async ddl(p) {
    const kit = require("drizzle-kit/api");
    const tables = (await tablesOf[p.dialect]()).defineTables();
    if (p.dialect === "postgresql") return kit.generateMigration(kit.generateDrizzleJson({}), kit.generateDrizzleJson(tables));
    if (p.dialect === "mysql") {
      return kit.generateMySQLMigration(await kit.generateMySQLDrizzleJson({}), await kit.generateMySQLDrizzleJson(tables));
    }
    return kit.generateSQLiteMigration(await kit.generateSQLiteDrizzleJson({}), await kit.generateSQLiteDrizzleJson(tables));
  },
  async calls(p) {
    const { db, close } = await database(p);
    try {
      const adapter = DrizzleAdapter(db);
      const results = [];
      for (const { method, args } of p.calls) results.push((await adapter[method](...revive(args, results))) ?? null);
      return plain(results);
    } finally {
      await close();
    }
  },
};

async function run(p) {
  const op = ops[p?.op];
  if (!op) return { ok: false, error: { name: "UsageError", message: `unknown op ${p?.op}` } };
  try {
    return { ok: true, value: (await op(p)) ?? null };
  } catch (err) {
    return { ok: false, error: { name: err?.name ?? "Error", message: String(err?.stack ?? err?.message ?? err) } };
  }
}

let input = "";
for await (const data of process.stdin) input += data;
const results = [];
for (const request of JSON.parse(input)) results.push(await run(request));
process.stdout.write(JSON.stringify(results) + "\n", () => process.exit(0));
