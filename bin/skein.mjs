#!/usr/bin/env node
// The `skein` command. skein ships TypeScript sources and runs them through tsx's loader, so
// there is no build step between a clone and a running daemon.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register();
const main = new URL('../src/cli/main.ts', import.meta.url);
const { runCli } = await import(fileURLToPath(main));
await runCli(process.argv);
