// Writes TypeScript declarations for the contract (`wit/plugin.wit`) into `types/`, one
// module per world and interface, with jco's bindings generator (the `jco guest-types`
// command of jco 1.35 cannot read a WIT path, so this passes the WIT text instead).
// `npm run check` runs it and then `tsc`, which checks plugin.js and tollgate.js
// against them (`// @ts-check` and the JSDoc types in those files).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  $init,
  generateTypes,
} from "@bytecodealliance/jco-transpile/component";

const WORLDS = ["filter", "authorizer", "function", "message-router"];

await $init;
const wit = readFileSync("wit/plugin.wit", "utf8");
const decoder = new TextDecoder();
for (const world of WORLDS) {
  const files = generateTypes(world, {
    wit: { tag: "source", val: wit },
    world,
    guest: true,
    features: { tag: "list", val: [] },
    tlaCompat: false,
  });
  for (const [name, bytes] of files) {
    const path = join("types", name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, decoder.decode(bytes));
  }
}

// The world the build makes (`--world-name` in package.json's build script), and a check
// that plugin.js exports what that world asks for, with the right types.
const build = JSON.parse(readFileSync("package.json", "utf8")).scripts?.build ?? "";
const world = /--world-name\s+(\S+)/.exec(build)?.[1] ?? "filter";
writeFileSync(
  join("types", "exports.ts"),
  `// Written by types.mjs: tsc fails here when plugin.js does not implement the \`${world}\` world.\n` +
    `import * as plugin from "../plugin.js";\n` +
    `export const exports: typeof import("tollgate:plugin/${world}@0.1.0") = plugin;\n`,
);
