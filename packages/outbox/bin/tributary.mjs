#!/usr/bin/env node
// The `tributary` command. Runs the compiled CLI (build with `npm run build`). Exits
// explicitly: a stopped capturer must not be kept alive by a lingering client socket.
import { main } from '../dist/cli/main.js';

process.exit(await main(process.argv.slice(2)));
