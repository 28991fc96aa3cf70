// @auth/prisma-adapter with a real Prisma 7 client behind a JSON pipe, for flask_authguard's
// Prisma-layout interop tests (driven by tests/interop/test_interop_prisma.py).
//
// stdin: a JSON list of requests; stdout: a JSON list of results, in the same order.
//
//   push  {schema, url, dbSchema}   `prisma db push` of the schema file's models on PostgreSQL:
//         Prisma's own schema engine (the WebAssembly build from the npm registry, the command
//         behind `db push`) through @prisma/adapter-pg; answers {executedSteps, script}, script
//         being what `prisma migrate diff --from-empty` prints for the schema.
//   calls {client, provider, url, dbSchema?, calls: [{method, args}]}
//         the adapter's methods in order, on a client that `prisma generate` made (`client`: its
//         directory), with @prisma/adapter-pg (provider "postgresql") or @prisma/adapter-mariadb
//         ("mysql"); answers the list of their results. An argument {"$ref": [i, "field"]} is
//         that field of the i-th call's result (the id of a user created just before).
//
// Dates cross the pipe as {"$date": "<ISO 8601>"}, both ways.
// A result is {ok: true, value} or {ok: false, error: {name, message}}.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { PrismaAdapter } from "@auth/prisma-adapter";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaMariaDb } from "@prisma/adapter-mariadb";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";

const require = createRequire(import.meta.url);

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

// Prisma's schema engine as WebAssembly, instantiated by hand: its package is built for bundlers.
async function schemaEngine() {
  globalThis.PRISMA_WASM_PANIC_REGISTRY ??= {
    message: "",
    set_message(message) { this.message = message; },
    get() { return this.message; },
  };
  const bg = await import("@prisma/schema-engine-wasm/schema_engine_bg");
  const file = path.join(path.dirname(require.resolve("@prisma/schema-engine-wasm/schema_engine_bg")), "schema_engine_bg.wasm");
  const instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(file)), { "./schema_engine_bg.js": bg });
  bg.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  return bg.SchemaEngine;
}

// @prisma/adapter-pg 7.10 cannot describe PostgreSQL's one-byte "char" (the catalogue's relkind,
// contype...), which the schema engine reads to see the database's tables: it is text.
function readCatalogueChars(factory) {
  const connect = factory.connect.bind(factory);
  factory.connect = async (...args) => {
    const connection = await connect(...args);
    let proto = Object.getPrototypeOf(connection);
    while (proto && !Object.hasOwn(proto, "performIO")) proto = Object.getPrototypeOf(proto);
    if (proto && !proto.performIO.patched) {
      const performIO = proto.performIO;
      proto.performIO = async function (query) {
        const result = await performIO.call(this, query);
        for (const field of result.fields) if (field.dataTypeID === 18) field.dataTypeID = 25;
        return result;
      };
      proto.performIO.patched = true;
    }
    return connection;
  };
  return factory;
}

function driverAdapter(provider, url, dbSchema) {
  if (provider === "postgresql") {
    const options = dbSchema ? `-c search_path=${dbSchema}` : undefined;
    return new PrismaPg({ connectionString: url, options }, dbSchema ? { schema: dbSchema } : undefined);
  }
  if (provider === "mysql") return new PrismaMariaDb(url);
  throw new Error(`unknown provider ${provider}`);
}

const ops = {
  async push(p) {
    const SchemaEngine = await schemaEngine();
    const content = fs.readFileSync(p.schema, "utf8");
    const files = { files: [{ path: "schema.prisma", content }] };
    const filters = { externalTables: [], externalEnums: [] };
    const factory = readCatalogueChars(driverAdapter("postgresql", p.url, p.dbSchema));
    const engine = await SchemaEngine.new({ datamodels: [["schema.prisma", content]] }, () => {}, bindMigrationAwareSqlAdapterFactory(factory));
    const pushed = await engine.schemaPush({ force: false, schema: files, filters });
    if (pushed.unexecutable.length || pushed.warnings.length) throw new Error(JSON.stringify(pushed));
    const diff = await engine.diff({
      from: { tag: "empty" },
      to: { tag: "schemaDatamodel", ...files },
      script: true,
      shadowDatabaseUrl: null,
      exitCode: null,
      filters,
    });
    return { executedSteps: pushed.executedSteps, script: diff.stdout };
  },
  async calls(p) {
    const { PrismaClient } = await import(pathToFileURL(path.join(p.client, "index.js")).href);
    const prisma = new PrismaClient({ adapter: driverAdapter(p.provider, p.url, p.dbSchema) });
    try {
      const adapter = PrismaAdapter(prisma);
      const results = [];
      for (const { method, args } of p.calls) results.push((await adapter[method](...revive(args, results))) ?? null);
      return plain(results);
    } finally {
      await prisma.$disconnect();
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
// The schema engine keeps its database connections open: exit once the answer is written.
process.stdout.write(JSON.stringify(results) + "\n", () => process.exit(0));
