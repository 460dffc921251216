// Entry of the single executable (scripts/build-sea.ts): the CLI's main, with the executable's arguments.
import { run } from './main.js';

run(process.argv.slice(2));
